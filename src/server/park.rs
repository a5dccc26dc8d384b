//! The parker: where connections wait without a worker.
//!
//! A kept-alive connection between requests, a client that sent part of a
//! head, and a closing connection whose client may still be sending all
//! wait here, watched by one thread through the OS's readiness API
//! (`crate::sys::Poller`). When one becomes readable it goes back to the
//! pool; when its deadline passes it is closed (a partial head gets a 408
//! first). This is what keeps a fixed pool from being starved by idle or
//! slow clients.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::conn::Conn;
use super::Shared;
use crate::sys::Poller;

/// How often deadlines are checked.
const SWEEP_EVERY: Duration = Duration::from_millis(100);

/// How long a closing connection may keep sending before it is dropped.
const LINGER: Duration = Duration::from_secs(2);

/// Bytes a closing connection may send that are read and dropped.
const LINGER_BYTES: usize = 1024 * 1024;

/// Why a connection waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parked {
    /// Between requests on a kept-alive connection.
    Idle,
    /// Part of a request head has arrived.
    PartialHead,
    /// The response is sent and our side is shut; the client's leftovers
    /// are read and dropped until it closes or the linger time runs out.
    Lingering,
}

#[derive(Debug)]
struct Entry {
    conn: Conn,
    kind: Parked,
    deadline: Instant,
    drained: usize,
}

/// Parked connections, by token. A token is a slot index plus a
/// generation, so a late readiness report can never reach the wrong
/// connection.
#[derive(Debug, Default)]
struct Slots {
    entries: Vec<Option<(u32, Entry)>>,
    free: Vec<usize>,
    generation: u32,
    count: usize,
}

impl Slots {
    fn insert(&mut self, entry: Entry) -> u64 {
        self.generation = self.generation.wrapping_add(1);
        let gen = self.generation;
        let index = match self.free.pop() {
            Some(i) => {
                self.entries[i] = Some((gen, entry));
                i
            }
            None => {
                self.entries.push(Some((gen, entry)));
                self.entries.len() - 1
            }
        };
        self.count += 1;
        (u64::from(gen) << 32) | index as u64
    }

    fn remove(&mut self, token: u64) -> Option<Entry> {
        let index = (token & 0xffff_ffff) as usize;
        let gen = (token >> 32) as u32;
        match self.entries.get(index) {
            Some(Some((g, _))) if *g == gen => {}
            _ => return None,
        }
        let (_, entry) = self.entries[index].take()?;
        self.free.push(index);
        self.count -= 1;
        Some(entry)
    }

    fn expired(&mut self, now: Instant) -> Vec<Entry> {
        let tokens: Vec<u64> = self
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, slot)| match slot {
                Some((gen, e)) if e.deadline <= now => Some((u64::from(*gen) << 32) | i as u64),
                _ => None,
            })
            .collect();
        tokens.into_iter().filter_map(|t| self.remove(t)).collect()
    }

    fn take_where(&mut self, pick: impl Fn(&Entry) -> bool) -> Vec<Entry> {
        let tokens: Vec<u64> = self
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, slot)| match slot {
                Some((gen, e)) if pick(e) => Some((u64::from(*gen) << 32) | i as u64),
                _ => None,
            })
            .collect();
        tokens.into_iter().filter_map(|t| self.remove(t)).collect()
    }

    fn drain(&mut self) -> Vec<Entry> {
        self.free.clear();
        self.count = 0;
        self.entries.drain(..).flatten().map(|(_, e)| e).collect()
    }
}

/// Readiness reports one wait takes at most. A worker serves the first
/// and queues the rest, for itself or for another worker: under load one
/// `epoll_wait` then covers several requests.
const BATCH: usize = 16;

/// The parked connections and the poller that watches them.
#[derive(Debug)]
pub(crate) struct Parker {
    poller: Poller,
    slots: Mutex<Slots>,
    /// Tokens of parked connections reported readable and not taken yet.
    reported: (Sender<u64>, Receiver<u64>),
    idle_timeout: Duration,
    head_timeout: Duration,
}

impl Parker {
    pub(crate) fn new(idle_timeout: Duration, head_timeout: Duration) -> std::io::Result<Parker> {
        Ok(Parker {
            poller: Poller::new()?,
            slots: Mutex::new(Slots::default()),
            reported: crossbeam_channel::unbounded(),
            idle_timeout,
            head_timeout,
        })
    }

    /// Hands `conn` to the parker until it is readable or times out.
    pub(crate) fn park(&self, conn: Conn, kind: Parked) {
        let now = Instant::now();
        let deadline = match kind {
            Parked::Idle => now + self.idle_timeout,
            Parked::PartialHead => conn.head_started.unwrap_or(now) + self.head_timeout,
            Parked::Lingering => now + LINGER,
        };
        self.watch(Entry {
            conn,
            kind,
            deadline,
            drained: 0,
        });
    }

    fn watch(&self, mut entry: Entry) {
        let fd = entry.conn.fd();
        let registered = std::mem::replace(&mut entry.conn.in_poller, true);
        let token = self.lock().insert(entry);
        let watched = if registered {
            self.poller.rearm(fd, token)
        } else {
            self.poller.add(fd, token)
        };
        if watched.is_err() {
            self.lock().remove(token);
        }
    }

    /// Stops watching a connection taken out of the parker for good.
    fn unwatch(&self, conn: &mut Conn) {
        let _ = self.poller.delete(conn.fd());
        conn.in_poller = false;
    }

    /// Wakes a thread waiting in [`Parker::take_ready`] (a worker, to take
    /// a new connection from the queue, or at shutdown).
    pub(crate) fn wake(&self) {
        let _ = self.poller.notify();
    }

    /// Connections parked now.
    pub(crate) fn len(&self) -> usize {
        self.lock().count
    }

    /// Connections still parked that wait for a request (not the closing
    /// ones), taken out of the parker: for the last step of a shutdown.
    pub(crate) fn take_waiting(&self) -> Vec<Conn> {
        let entries = self.lock().drain();
        entries
            .into_iter()
            .filter(|e| e.kind != Parked::Lingering)
            .map(|mut e| {
                self.unwatch(&mut e.conn);
                e.conn
            })
            .collect()
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
            if let Some(entry) = self.lock().remove(token) {
                return Some(Ready(entry));
            }
        }
        let mut tokens = [0u64; BATCH];
        let n = match self
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
        self.lock().remove(*first).map(Ready)
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A parked connection that became readable, taken by a worker.
#[derive(Debug)]
pub(crate) struct Ready(Entry);

/// Serves a connection a worker took with [`Parker::take_ready`].
pub(crate) fn serve_ready(ready: Ready, shared: &Arc<Shared>) {
    dispatch(ready.0, shared);
}

/// The parker thread: closes expired connections and grows the pool when
/// it is stuck, until shutdown; then, once no worker waits on the
/// readiness queue any more, gives the connections accepted just before
/// the shutdown their grace. (Readable connections are taken by idle
/// workers themselves, in [`Parker::take_ready`].)
pub(crate) fn run(shared: &Arc<Shared>) {
    let parker = &shared.parker;
    let mut ready = Vec::new();
    let mut next_sweep = Instant::now() + SWEEP_EVERY;
    let mut queue_waiting = false;
    loop {
        let mut timeout = next_sweep.saturating_duration_since(Instant::now());
        if queue_waiting {
            timeout = timeout.min(super::pool::STUCK_AFTER);
        }
        if shared.wait_for_shutdown(timeout) {
            break;
        }
        queue_waiting = shared.pool.grow_if_stuck(shared);
        let now = Instant::now();
        if now >= next_sweep {
            next_sweep = now + SWEEP_EVERY;
            let expired = parker.lock().expired(now);
            for entry in expired {
                expire(entry, shared);
            }
        }
    }
    // From here on only this thread takes readiness: a worker that took
    // a connection's readiness has also taken the connection.
    let until = Instant::now() + Duration::from_millis(500);
    while shared.pool.waiting_for_ready() > 0 && Instant::now() < until {
        parker.wake();
        std::thread::sleep(Duration::from_millis(1));
    }
    // Shutdown: connections between requests or lingering lose nothing by
    // closing. One parked just before, that has not sent its first request
    // yet, and one part way through a head, are requests in flight: they
    // are served here if they become readable within the grace.
    let now = Instant::now();
    let grace = super::handler::FIRST_REQUEST_GRACE;
    let owed = |e: &Entry| match e.kind {
        Parked::PartialHead => true,
        Parked::Idle => e.conn.served == 0 && e.deadline + grace >= now + parker.idle_timeout,
        Parked::Lingering => false,
    };
    for mut entry in parker.lock().take_where(|e| !owed(e)) {
        parker.unwatch(&mut entry.conn);
    }
    let until = now + grace;
    let waiting = |slots: &Slots| {
        slots
            .entries
            .iter()
            .flatten()
            .any(|(_, e)| e.kind != Parked::Lingering)
    };
    // Reported before the workers stopped but not taken: readable now.
    ready.extend(parker.reported.1.try_iter());
    while waiting(&parker.lock()) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        if ready.is_empty()
            && parker
                .poller
                .wait(&mut ready, left.as_millis() as i32 + 1)
                .is_err()
        {
            break;
        }
        for &token in &ready {
            let Some(mut entry) = parker.lock().remove(token) else {
                continue;
            };
            parker.unwatch(&mut entry.conn);
            if entry.kind != Parked::Lingering {
                super::handler::serve(entry.conn, shared);
            }
        }
        ready.clear();
    }
    let parked = parker.lock().drain();
    for mut entry in parked {
        parker.unwatch(&mut entry.conn);
    }
}

/// A readable connection: served here, or, if it is closing, what the
/// client sent is read and dropped.
fn dispatch(mut entry: Entry, shared: &Arc<Shared>) {
    if entry.kind != Parked::Lingering {
        super::handler::serve(entry.conn, shared);
        return;
    }
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
            Ok(None) => break,
        }
    }
    shared.parker.watch(entry);
}

/// A connection whose time ran out: a partial head is answered with 408.
fn expire(mut entry: Entry, shared: &Arc<Shared>) {
    shared.parker.unwatch(&mut entry.conn);
    if entry.kind == Parked::PartialHead {
        super::handler::reject(entry.conn, crate::http::HttpError::HeadTimeout, shared);
    }
}
