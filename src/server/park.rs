//! The parker: where connections wait without a worker.
//!
//! A kept-alive connection between requests, a client that sent part of a
//! head, a response whose client reads more slowly than it is produced,
//! and a closing connection whose client may still be sending all wait
//! here, watched through the OS's readiness API (`crate::sys::Poller`).
//! Idle workers wait on it; when a connection becomes readable (or, for a
//! response, writable) one of them takes it. When its deadline passes
//! (the parker thread checks) it is closed (a partial head gets a 408
//! first; a response is cut short). This is what keeps a fixed pool from
//! being starved by idle or slow clients.
//!
//! A connection is registered once, at its first park, and stays
//! registered until it closes ([`Registration`]). On Linux the
//! registration is edge-triggered: the kernel reports data as it arrives,
//! so parking again costs no system call. A report can come while a worker
//! still holds the connection (the client was quick); its slot remembers
//! it, and the worker, about to park it, serves it again instead. Because
//! reports are of arrivals, a connection is parked only once a read found
//! its socket empty.

use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::accept::Socket;
use super::conn::Conn;
use super::pool::Next;
use super::Shared;
use crate::model::reply::Cut;
use crate::sys::{Interest, Poller};

/// How often deadlines are checked.
const SWEEP_EVERY: Duration = Duration::from_millis(100);

/// How long a closing connection may keep sending before it is dropped.
const LINGER: Duration = Duration::from_secs(2);

/// Bytes a closing connection may send that are read and dropped.
const LINGER_BYTES: usize = 1024 * 1024;

/// Tokens of listening sockets: this bit and the listener's index. Slot
/// tokens never have it (generations stay below 2^31).
const LISTENER: u64 = 1 << 63;

/// Readiness reports one wait takes at most. A worker serves the first
/// and queues the rest, for itself or for another worker: under load one
/// `epoll_wait` then covers several requests.
const BATCH: usize = 16;

/// Why a connection waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parked {
    /// Between requests on a kept-alive connection.
    Idle,
    /// Part of a request head has arrived.
    PartialHead,
    /// The response is sent and our side is shut; the client's leftovers
    /// are read and dropped until it closes or the linger time runs out.
    Lingering,
    /// A response under way ([`Conn::sending`]) waits for room to write:
    /// its socket was full.
    Writing,
}

#[derive(Debug)]
pub(crate) struct Entry {
    conn: Conn,
    kind: Parked,
    deadline: Instant,
    drained: usize,
}

/// A registered connection's slot. (Entries live in the slots, which are
/// reused; boxing them would allocate at every park.)
#[derive(Debug)]
enum Slot<E> {
    /// Waiting for the client.
    Parked(E),
    /// Held by a worker (or about to be parked); `reported`: the socket
    /// was reported readable meanwhile.
    Busy { reported: bool },
}

/// What became of a connection handed to [`Slots::park`].
enum Parking<E> {
    Parked,
    /// It was reported readable while a worker held it: serve it again.
    Readable(E),
}

/// Registered connections, by token. A token is a slot index plus a
/// generation, so a late readiness report can never reach the wrong
/// connection. Generic over the entry, so that its rules are tested
/// without sockets.
#[derive(Debug)]
struct Slots<E> {
    entries: Vec<Option<(u32, Slot<E>)>>,
    free: Vec<usize>,
    generation: u32,
    /// Slots in the `Parked` state.
    parked: usize,
}

impl<E> Default for Slots<E> {
    fn default() -> Slots<E> {
        Slots {
            entries: Vec::new(),
            free: Vec::new(),
            generation: 0,
            parked: 0,
        }
    }
}

impl<E> Slots<E> {
    fn token(index: usize, gen: u32) -> u64 {
        (u64::from(gen) << 32) | index as u64
    }

    fn slot(&mut self, token: u64) -> Option<&mut Slot<E>> {
        let index = (token & 0xffff_ffff) as usize;
        let gen = (token >> 32) as u32;
        match self.entries.get_mut(index) {
            Some(Some((g, slot))) if *g == gen => Some(slot),
            _ => None,
        }
    }

    /// A new slot, held by the caller.
    fn reserve(&mut self) -> u64 {
        self.generation = self.generation.wrapping_add(1) & 0x7fff_ffff;
        let gen = self.generation;
        let busy = Slot::Busy { reported: false };
        let index = match self.free.pop() {
            Some(i) => {
                self.entries[i] = Some((gen, busy));
                i
            }
            None => {
                self.entries.push(Some((gen, busy)));
                self.entries.len() - 1
            }
        };
        Self::token(index, gen)
    }

    /// Parks a held connection, unless it was reported readable meanwhile.
    fn park(&mut self, token: u64, entry: E) -> Parking<E> {
        let Some(slot) = self.slot(token) else {
            // Not ours (cannot happen while the registration lives): serve
            // it again rather than lose it.
            return Parking::Readable(entry);
        };
        match slot {
            Slot::Busy { reported: true } => {
                *slot = Slot::Busy { reported: false };
                Parking::Readable(entry)
            }
            _ => {
                *slot = Slot::Parked(entry);
                self.parked += 1;
                Parking::Parked
            }
        }
    }

    /// Takes a parked connection reported readable; one held by a worker
    /// is marked instead.
    fn take(&mut self, token: u64) -> Option<E> {
        let slot = self.slot(token)?;
        match std::mem::replace(slot, Slot::Busy { reported: false }) {
            Slot::Parked(entry) => {
                self.parked -= 1;
                Some(entry)
            }
            Slot::Busy { .. } => {
                *slot = Slot::Busy { reported: true };
                None
            }
        }
    }

    /// Frees the slot of a connection that is closing.
    fn release(&mut self, token: u64) {
        let index = (token & 0xffff_ffff) as usize;
        if self.slot(token).is_some() {
            self.entries[index] = None;
            self.free.push(index);
        }
    }

    /// Takes every parked connection `pick` chooses.
    fn take_where(&mut self, pick: impl Fn(&E) -> bool) -> Vec<E> {
        let tokens: Vec<u64> = self
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, slot)| match slot {
                Some((gen, Slot::Parked(e))) if pick(e) => Some(Self::token(i, *gen)),
                _ => None,
            })
            .collect();
        tokens.into_iter().filter_map(|t| self.take(t)).collect()
    }

    fn any_parked(&self, pick: impl Fn(&E) -> bool) -> bool {
        self.entries
            .iter()
            .flatten()
            .any(|(_, slot)| matches!(slot, Slot::Parked(e) if pick(e)))
    }
}

/// The poller and the slots, shared with each connection's
/// [`Registration`].
#[derive(Debug)]
struct Core {
    poller: Poller,
    slots: Mutex<Slots<Entry>>,
}

impl Core {
    fn lock(&self) -> MutexGuard<'_, Slots<Entry>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A connection's place in the parker, from its first park until it
/// closes: dropping it (before the socket closes, so the descriptor cannot
/// have been reused) stops the watch and frees the slot.
#[derive(Debug)]
pub(crate) struct Registration {
    core: Arc<Core>,
    token: u64,
    fd: RawFd,
    /// What the poller watches it for now.
    interest: Interest,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = self.core.poller.delete(self.fd);
        self.core.lock().release(self.token);
    }
}

/// The parked connections and the poller that watches them.
#[derive(Debug)]
pub(crate) struct Parker {
    core: Arc<Core>,
    /// The listening sockets, watched like connections: an idle worker
    /// that hears of a new connection accepts it and serves it itself.
    /// Locked while a worker accepts, so that closing them at shutdown
    /// waits for it.
    listeners: Mutex<Vec<Socket>>,
    /// Tokens of parked connections reported readable and not taken yet.
    reported: (Sender<u64>, Receiver<u64>),
    idle_timeout: Duration,
    head_timeout: Duration,
    /// How long a parked response may wait for room to write.
    io_timeout: Duration,
    /// The parker thread has ended (at shutdown): nothing parked from now
    /// on would be taken again.
    finished: AtomicBool,
    /// A socket pair whose second end becomes readable at shutdown
    /// ([`Parker::ring_stop_bell`]), so that the parker thread, waiting
    /// on the listeners while every worker is held, wakes for it.
    stop_bell: (UnixStream, UnixStream),
}

impl Parker {
    pub(crate) fn new(
        idle_timeout: Duration,
        head_timeout: Duration,
        io_timeout: Duration,
    ) -> std::io::Result<Parker> {
        Ok(Parker {
            core: Arc::new(Core {
                poller: Poller::new()?,
                slots: Mutex::new(Slots::default()),
            }),
            listeners: Mutex::new(Vec::new()),
            reported: crossbeam_channel::unbounded(),
            idle_timeout,
            head_timeout,
            io_timeout,
            finished: AtomicBool::new(false),
            stop_bell: UnixStream::pair()?,
        })
    }

    /// Wakes the parker thread from [`Parker::wait_for_arrival`], for good:
    /// the server is stopping.
    pub(crate) fn ring_stop_bell(&self) {
        use std::io::Write;
        let _ = (&self.stop_bell.0).write(&[1]);
    }

    /// True once the parker thread has ended: a response that would wait
    /// for room now is cut short instead.
    pub(crate) fn is_finished(&self) -> bool {
        self.finished.load(Ordering::SeqCst)
    }

    /// Hands `conn`, whose response ([`Conn::sending`]) found its socket
    /// full, to the parker until it is writable (then a worker takes it
    /// and goes on) or `io_timeout` passes (then the response is cut
    /// short). Returns it if room was made while the caller held it: go
    /// on at once.
    pub(crate) fn park_writing(&self, conn: Conn) -> Option<Conn> {
        let entry = Entry {
            conn,
            kind: Parked::Writing,
            deadline: Instant::now() + self.io_timeout,
            drained: 0,
        };
        self.watch(entry).map(|entry| entry.conn)
    }

    /// Hands `conn`, waiting for a request (`PartialHead` once part of a
    /// head, or a TLS handshake, has begun: its arrival runs; else `Idle`),
    /// to the parker until it is readable or times out. The caller read
    /// until its socket was empty. Returns it if it was reported readable
    /// while the caller held it, marked so: serve it again.
    pub(crate) fn park(&self, conn: Conn) -> Option<Conn> {
        let (kind, deadline) = match conn.arrival.deadline(self.head_timeout) {
            Some(deadline) => (Parked::PartialHead, deadline),
            None => (Parked::Idle, Instant::now() + self.idle_timeout),
        };
        let entry = Entry {
            conn,
            kind,
            deadline,
            drained: 0,
        };
        let mut readable = self.watch(entry)?.conn;
        readable.mark_readable();
        Some(readable)
    }

    /// Takes a connection whose response is sent and whose sending side is
    /// shut: what the client still sends is read and dropped, for a while,
    /// so that it reads our response rather than a connection reset.
    pub(crate) fn linger(&self, conn: Conn) {
        self.linger_for(conn, LINGER);
    }

    /// Closes a connection at shutdown: a FIN, then what the client sends
    /// is read and dropped for [`LINGER_AT_SHUTDOWN`], so that a request
    /// crossing the close meets the end of the stream (and is sent again),
    /// not a reset. On the parker thread, which must not wait for one
    /// connection, its shutdown loop lingers the entry; a worker lingers
    /// itself, as the parker may be past watching anything by now.
    pub(crate) fn linger_at_shutdown(&self, mut conn: Conn) {
        conn.shutdown_write();
        if on_parker_thread() {
            return self.linger_for(conn, LINGER_AT_SHUTDOWN);
        }
        let until = Instant::now() + LINGER_AT_SHUTDOWN;
        let mut drained = 0;
        loop {
            match conn.fill_now() {
                Ok(Some(0)) | Err(_) => return,
                Ok(Some(_)) if drained > LINGER_BYTES || Instant::now() >= until => return,
                Ok(Some(_)) => {
                    let len = conn.buffered().len();
                    drained += len;
                    conn.consume(len);
                }
                Ok(None) => {
                    let left = until.saturating_duration_since(Instant::now()).as_millis() as i32;
                    if left == 0 || !crate::sys::wait_readable(conn.fd(), left).unwrap_or(false) {
                        return;
                    }
                }
            }
        }
    }

    fn linger_for(&self, conn: Conn, time: Duration) {
        let entry = Entry {
            conn,
            kind: Parked::Lingering,
            deadline: Instant::now() + time,
            drained: 0,
        };
        linger(entry, self);
    }

    /// Parks `entry`; returns it if it is readable already. The socket is
    /// watched before the slot says parked: once it does, the parker
    /// thread may take the entry and close it, and the descriptor could
    /// be another connection's by the time a watch came. A report that
    /// comes in between finds the slot busy, and the entry comes back.
    fn watch(&self, mut entry: Entry) -> Option<Entry> {
        let fd = entry.conn.fd();
        let interest = match entry.kind {
            Parked::Writing => Interest::Write,
            _ => Interest::Read,
        };
        let watched = match &mut entry.conn.registration {
            Some(r) if r.interest == interest => self
                .core
                .poller
                .rearm(fd, r.token, interest)
                .map(|()| r.token),
            Some(r) => {
                r.interest = interest;
                self.core
                    .poller
                    .modify(fd, r.token, interest)
                    .map(|()| r.token)
            }
            None => {
                let token = self.core.lock().reserve();
                entry.conn.registration = Some(Registration {
                    core: self.core.clone(),
                    token,
                    fd,
                    interest,
                });
                self.core.poller.add(fd, token, interest).map(|()| token)
            }
        };
        // Unwatched, it would wait for nothing: dropped, it closes.
        let token = watched.ok()?;
        match self.core.lock().park(token, entry) {
            Parking::Parked => None,
            Parking::Readable(entry) => Some(entry),
        }
    }

    /// Watches the listening sockets, readied for the workers to accept on
    /// ([`Socket::prepare`]).
    pub(crate) fn listen(
        &self,
        mut sockets: Vec<Socket>,
        io_timeout: Duration,
    ) -> std::io::Result<()> {
        for socket in &mut sockets {
            socket.prepare(io_timeout)?;
        }
        // In place before they are watched: a worker that hears of a
        // connection (one may wait already) must find its listener, or
        // the report is lost until the next sweep.
        let mut listeners = self.lock_listeners();
        *listeners = sockets;
        for (index, socket) in listeners.iter().enumerate() {
            self.core
                .poller
                .add(socket.fd(), LISTENER | index as u64, Interest::Read)?;
        }
        Ok(())
    }

    /// Accepts what is pending on listener `index` (unless a shutdown
    /// began): the first connection, for the calling worker to serve; the
    /// others go to the pool's queue.
    fn accept(&self, index: usize, shared: &Arc<Shared>) -> Option<Conn> {
        let listeners = self.lock_listeners();
        let socket = listeners.get(index)?;
        let first = super::accept::accept_pending(socket, shared);
        let _ = self
            .core
            .poller
            .rearm(socket.fd(), LISTENER | index as u64, Interest::Read);
        first
    }

    /// The listeners with connections waiting to be accepted, by index;
    /// none while a worker is accepting.
    fn listeners_pending(&self) -> Vec<usize> {
        let Some(fds) = self.listener_fds() else {
            return Vec::new();
        };
        match crate::sys::wait_any_readable(&fds, 0) {
            Ok(ready) => (0..ready.len()).filter(|&i| ready[i]).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Waits until a listener has a connection to accept, the server
    /// stops, or `timeout` passes (a millisecond at most while a worker is
    /// accepting).
    fn wait_for_arrival(&self, timeout: Duration) {
        let Some(mut fds) = self.listener_fds() else {
            return std::thread::sleep(timeout.min(Duration::from_millis(1)));
        };
        fds.push(self.stop_bell.1.as_raw_fd());
        // The listeners stay open meanwhile: only the parker thread, the
        // caller, closes them, after its loop.
        let _ = crate::sys::wait_any_readable(&fds, timeout.as_millis() as i32);
    }

    /// The listening sockets; `None` while a worker is accepting (the
    /// parker thread does not wait for it).
    fn listener_fds(&self) -> Option<Vec<RawFd>> {
        let listeners = self.listeners.try_lock().ok()?;
        Some(listeners.iter().map(Socket::fd).collect())
    }

    /// True if a listener has connections waiting to be accepted (while
    /// every worker is busy, say); false if a worker is accepting now.
    pub(crate) fn connections_pending(&self) -> bool {
        !self.listeners_pending().is_empty()
    }

    /// Reports again the listeners that still have connections waiting: a
    /// listener is reported when connections arrive, and accepting can stop
    /// before it emptied the queue (out of descriptors, say). Run by the
    /// parker thread now and then; an idle worker takes the report.
    fn recheck_listeners(&self) {
        let pending = self.listeners_pending();
        for &index in &pending {
            let _ = self.reported.0.send(LISTENER | index as u64);
        }
        if !pending.is_empty() {
            self.wake();
        }
    }

    /// Stops watching and closes the listening sockets (at shutdown: new
    /// clients are refused from here on), once no worker accepts on them.
    fn close_listeners(&self) {
        let sockets = std::mem::take(&mut *self.lock_listeners());
        for socket in &sockets {
            let _ = self.core.poller.delete(socket.fd());
        }
    }

    fn lock_listeners(&self) -> MutexGuard<'_, Vec<Socket>> {
        self.listeners.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes a thread waiting in [`Parker::take_ready`] (a worker, to take
    /// a new connection from the queue, or at shutdown).
    pub(crate) fn wake(&self) {
        let _ = self.core.poller.notify();
    }

    /// Connections parked now.
    pub(crate) fn len(&self) -> usize {
        self.core.lock().parked
    }

    /// Connections still parked that wait for a request or for room to
    /// write (not the closing ones), taken out of the parker: for the last
    /// step of a shutdown.
    pub(crate) fn take_waiting(&self) -> Vec<Conn> {
        let waiting = self.core.lock().take_where(|e| e.kind != Parked::Lingering);
        waiting.into_iter().map(|e| e.conn).collect()
    }

    /// Closes every connection still parked: the last step of a server's
    /// life (a parked connection holds the parker, through its
    /// registration, so they would otherwise keep each other).
    pub(crate) fn close_all(&self) {
        let parked = self.core.lock().take_where(|_| true);
        parked.into_iter().for_each(close);
    }

    /// True when no connection reported readable waits to be taken.
    pub(crate) fn none_reported(&self) -> bool {
        self.reported.1.is_empty()
    }

    /// Takes a parked connection that became readable: one reported
    /// earlier and not taken yet, or else the first of those reported
    /// within `timeout` (the others are queued, and `wake_another` is
    /// called so that an idle worker can take them). `None` on a timeout
    /// or a wake-up. Idle workers wait here, so a kept-alive connection
    /// goes from the kernel's readiness queue straight to a worker.
    pub(crate) fn take_ready(&self, timeout: Duration, wake_another: impl Fn()) -> Option<Ready> {
        while let Ok(token) = self.reported.1.try_recv() {
            if let Some(ready) = self.ready(token) {
                if !self.reported.1.is_empty() {
                    wake_another();
                }
                return Some(ready);
            }
        }
        let mut tokens = [0u64; BATCH];
        let n = match self
            .core
            .poller
            .wait_some(&mut tokens, timeout.as_millis() as i32)
        {
            Ok(n) => n,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(10));
                return None;
            }
        };
        let (first, rest) = tokens[..n].split_first()?;
        if !rest.is_empty() {
            for &token in rest {
                let _ = self.reported.0.send(token);
            }
            wake_another();
        }
        self.ready(*first)
    }

    /// What a report is about: a listener, or a parked connection (taken
    /// out of its slot).
    fn ready(&self, token: u64) -> Option<Ready> {
        if token & LISTENER != 0 {
            return Some(Ready::Listener((token & !LISTENER) as usize));
        }
        let taken = self.core.lock().take(token);
        taken.map(Ready::Conn)
    }
}

/// What a worker took with [`Parker::take_ready`].
#[derive(Debug)]
pub(crate) enum Ready {
    /// A parked connection that became readable.
    Conn(Entry),
    /// A listener with connections to accept.
    Listener(usize),
}

/// Serves what a worker took with [`Parker::take_ready`].
pub(crate) fn serve_ready(ready: Ready, shared: &Arc<Shared>) {
    match ready {
        Ready::Conn(entry) if entry.kind == Parked::Lingering => linger(entry, &shared.parker),
        Ready::Conn(entry) => super::handler::serve(entry.conn, shared),
        Ready::Listener(index) => {
            if let Some(conn) = shared.parker.accept(index, shared) {
                super::handler::serve(conn, shared);
            }
        }
    }
}

/// The parker thread: closes expired connections, grows the pool when
/// it is stuck and shrinks it when its workers only take turns, until
/// shutdown; then, once no worker waits on the readiness queue any more,
/// gives the connections accepted just before the shutdown their grace. (Readable connections are taken by idle
/// workers themselves, in [`Parker::take_ready`].)
pub(crate) fn parker_thread(shared: &Arc<Shared>) {
    ON_PARKER_THREAD.with(|on| on.set(true));
    let parker = &shared.parker;
    let mut ready = Vec::new();
    let mut next_sweep = Instant::now() + SWEEP_EVERY;
    let mut next = Next::Sweep;
    loop {
        let mut timeout = next_sweep.saturating_duration_since(Instant::now());
        if next == Next::Soon {
            timeout = timeout.min(super::pool::STUCK_AFTER);
        }
        if next == Next::OnArrival {
            // A shutdown rings the stop bell, which ends the wait.
            if shared.is_shutting_down() {
                break;
            }
            parker.wait_for_arrival(timeout);
        } else if shared.wait_for_shutdown(timeout) {
            break;
        }
        next = shared.pool.grow_if_stuck(shared);
        let now = Instant::now();
        if now >= next_sweep {
            next_sweep = now + SWEEP_EVERY;
            let expired = parker.core.lock().take_where(|e| e.deadline <= now);
            for entry in expired {
                expire(entry, shared);
            }
            parker.recheck_listeners();
            shared.pool.shrink_if_taking_turns();
        }
    }
    parker.close_listeners();
    let after = shared
        .after_accepting
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    if let Some(f) = after {
        f();
    }
    // From here on only this thread takes readiness: a worker that took
    // a connection's readiness has also taken the connection.
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        // One wake-up reaches one waiter, which passes it on; each that
        // leaves signals the pool.
        parker.wake();
        let soon = until.min(Instant::now() + Duration::from_millis(10));
        if shared
            .pool
            .wait_until(soon, |pool| pool.waiting_for_ready() == 0)
        {
            break;
        }
    }
    // Shutdown. One connection parked just before, that has not sent its
    // first request yet, and one part way through a head, are requests in
    // flight: they are served here if they become readable within the
    // grace. So is a kept-alive one whose next request has arrived. The
    // other kept-alive ones lose nothing by closing, but a request may be
    // crossing the close: they get a FIN first and are read and dropped
    // for a moment, so that such a request meets the end of the stream
    // (and the client sends it again elsewhere), not a reset.
    // A request whose head has come and whose body is on its way is in
    // progress: it goes to a worker (or to `serve_forever` after them),
    // which runs the application with the body as it comes, within the
    // shutdown's grace, as for a large body. Responses waiting for room
    // go on here, on this thread, until the shutdown grace is over
    // (workers that are still busy may park more of them).
    let awaiting = parker
        .core
        .lock()
        .take_where(|e| e.kind == Parked::PartialHead && e.conn.arrival.awaits_body());
    for entry in awaiting {
        shared.pool.queue(entry.conn);
        parker.wake();
    }
    let now = Instant::now();
    let grace = super::handler::FIRST_REQUEST_GRACE;
    let owed = |e: &Entry| match e.kind {
        Parked::PartialHead | Parked::Writing => true,
        Parked::Idle => {
            (e.conn.served() == 0 && e.deadline + grace >= now + parker.idle_timeout)
                || crate::sys::wait_readable(e.conn.fd(), 0).unwrap_or(false)
        }
        Parked::Lingering => false,
    };
    let closing = parker.core.lock().take_where(|e| !owed(e));
    let mut fins = false;
    for mut entry in closing {
        if entry.kind == Parked::Idle {
            entry.conn.shutdown_write();
            entry.kind = Parked::Lingering;
            entry.deadline = now + LINGER_AT_SHUTDOWN;
            fins = true;
        }
        linger(entry, parker);
    }
    let heads_until = now + grace;
    let writes_until = shared.shutdown_deadline();
    let linger_until = now
        + if fins {
            LINGER_AT_SHUTDOWN
        } else {
            Duration::ZERO
        };
    let is_request = |e: &Entry| matches!(e.kind, Parked::Idle | Parked::PartialHead);
    // Reported before the workers stopped but not taken: readable now.
    ready.extend(parker.reported.1.try_iter());
    loop {
        let now = Instant::now();
        let heads = now < heads_until && parker.core.lock().any_parked(is_request);
        let lingering = now < linger_until
            && parker
                .core
                .lock()
                .any_parked(|e| e.kind == Parked::Lingering);
        let writes = now < writes_until
            && (shared.pool.running() > 0
                || parker.core.lock().any_parked(|e| e.kind == Parked::Writing));
        if !heads && !writes && !lingering {
            break;
        }
        let late = parker
            .core
            .lock()
            .take_where(|e| e.kind == Parked::Writing && e.deadline <= now);
        for entry in late {
            expire(entry, shared);
        }
        let until = if writes {
            writes_until
        } else {
            heads_until.max(linger_until)
        };
        let left = until.saturating_duration_since(now).min(SHUTDOWN_SLICE);
        if ready.is_empty()
            && parker
                .core
                .poller
                .wait(&mut ready, left.as_millis() as i32 + 1)
                .is_err()
        {
            break;
        }
        for token in ready.drain(..) {
            let taken = parker.core.lock().take(token);
            match taken {
                Some(entry) if entry.kind == Parked::Lingering => linger(entry, parker),
                Some(entry) if entry.kind == Parked::Writing => {
                    super::handler::serve(entry.conn, shared);
                }
                Some(entry) if is_request(&entry) && Instant::now() < heads_until => {
                    super::handler::serve(entry.conn, shared);
                }
                Some(entry) => close(entry),
                None => {}
            }
        }
    }
    // From here on, a response that finds its socket full is cut short.
    parker.finished.store(true, Ordering::SeqCst);
    let writing = parker.core.lock().take_where(|e| e.kind == Parked::Writing);
    for entry in writing {
        let mut conn = entry.conn;
        if let Some(sending) = conn.sending.as_mut() {
            sending.cut_short(Cut::GraceOver);
        }
        super::handler::serve(conn, shared);
    }
    let parked = parker.core.lock().take_where(|_| true);
    parked.into_iter().for_each(close);
}

thread_local! {
    /// True on the parker thread, which serves responses at shutdown.
    static ON_PARKER_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// True when called on the parker thread: at shutdown it goes on with
/// parked responses itself, and must not block on any one connection.
fn on_parker_thread() -> bool {
    ON_PARKER_THREAD.with(|on| on.get())
}

/// Closes a parked connection, reading first what the client sent: a
/// socket closed with unread data sends a reset, which can reach the
/// client before the end of our response.
fn close(mut entry: Entry) {
    while let Ok(Some(n)) = entry.conn.fill_now() {
        entry.drained += n;
        if n == 0 || entry.drained > LINGER_BYTES {
            break;
        }
        let len = entry.conn.buffered().len();
        entry.conn.consume(len);
    }
}

/// How long a kept-alive connection closed at shutdown is read and dropped
/// after its FIN: long enough for a request that crossed it on loopback or
/// a LAN.
const LINGER_AT_SHUTDOWN: Duration = Duration::from_millis(50);

/// How often the shutdown's last phase looks again at what it waits for.
const SHUTDOWN_SLICE: Duration = Duration::from_millis(10);

/// A closing connection: what the client sent is read and dropped until
/// it closes, sends too much, or its time runs out (then it is parked
/// until it sends more).
fn linger(mut entry: Entry, parker: &Parker) {
    loop {
        match entry.conn.fill_now() {
            Ok(Some(0)) | Err(_) => return,
            Ok(Some(n)) => {
                entry.drained += n;
                let len = entry.conn.buffered().len();
                entry.conn.consume(len);
                if entry.drained > LINGER_BYTES {
                    return;
                }
            }
            Ok(None) => match parker.watch(entry) {
                Some(readable) => entry = readable,
                None => return,
            },
        }
    }
}

/// A connection whose time ran out: a partial head is answered with 408;
/// a response whose client read nothing for `io_timeout` is cut short,
/// by a worker (its body's close callbacks are the application's code),
/// or at shutdown here.
fn expire(entry: Entry, shared: &Arc<Shared>) {
    if entry.kind == Parked::Writing {
        let mut conn = entry.conn;
        if let Some(sending) = conn.sending.as_mut() {
            sending.cut_short(Cut::ClientIdle(shared.config.io_timeout));
        }
        if shared.is_shutting_down() {
            super::handler::serve(conn, shared);
        } else {
            shared.pool.queue(conn);
            shared.parker.wake();
        }
        return;
    }
    if entry.kind == Parked::PartialHead {
        let late = if entry.conn.arrival.awaits_body() {
            crate::http::HttpError::BodyTimeout
        } else {
            crate::http::HttpError::HeadTimeout
        };
        super::handler::reject(entry.conn, late, shared);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parked_entry_is_taken_once_by_its_token() {
        let mut slots = Slots::default();
        let token = slots.reserve();
        assert!(matches!(slots.park(token, "a"), Parking::Parked));
        assert_eq!(slots.parked, 1);
        assert_eq!(slots.take(token), Some("a"));
        assert_eq!(slots.parked, 0);
        // Held by the worker that took it now: a second report marks it.
        assert_eq!(slots.take(token), None);
    }

    #[test]
    fn a_report_while_held_hands_the_entry_back_at_park() {
        let mut slots = Slots::default();
        let token = slots.reserve();
        assert_eq!(slots.take(token), None, "held: the report is noted");
        match slots.park(token, "b") {
            Parking::Readable(entry) => assert_eq!(entry, "b"),
            Parking::Parked => panic!("a connection reported readable was parked"),
        }
        assert_eq!(slots.parked, 0);
        // The note is used up: the next park parks.
        assert!(matches!(slots.park(token, "b"), Parking::Parked));
    }

    #[test]
    fn a_freed_slot_is_reused_and_the_old_token_reaches_nothing() {
        let mut slots = Slots::default();
        let old = slots.reserve();
        assert!(matches!(slots.park(old, 1), Parking::Parked));
        assert_eq!(slots.take(old), Some(1));
        slots.release(old);
        let new = slots.reserve();
        assert_eq!(new & 0xffff_ffff, old & 0xffff_ffff, "the index is reused");
        assert_ne!(new, old, "with a new generation");
        assert!(matches!(slots.park(new, 2), Parking::Parked));
        assert_eq!(slots.take(old), None, "a late report for the old token");
        slots.release(old);
        assert_eq!(slots.take(new), Some(2), "the new entry is untouched");
    }

    #[test]
    fn take_where_takes_only_the_picked_parked_entries() {
        let mut slots = Slots::default();
        let tokens: Vec<u64> = (0..5).map(|_| slots.reserve()).collect();
        for (i, &t) in tokens.iter().enumerate().take(4) {
            assert!(matches!(slots.park(t, i), Parking::Parked));
        }
        let mut even = slots.take_where(|&i| i % 2 == 0);
        even.sort_unstable();
        assert_eq!(even, vec![0, 2]);
        assert!(slots.any_parked(|&i| i == 3));
        assert!(!slots.any_parked(|&i| i == 4), "slot 4 is held, not parked");
        assert_eq!(slots.parked, 2);
    }

    #[test]
    fn tokens_never_look_like_a_listener() {
        let mut slots: Slots<()> = Slots {
            generation: u32::MAX - 1,
            ..Slots::default()
        };
        for _ in 0..4 {
            let token = slots.reserve();
            assert_eq!(token & LISTENER, 0);
            slots.release(token);
        }
    }
}
