//! One request and its response on a connection: the state that the
//! environ's input, `start_response`, the `write` handle and the server's
//! response writer share while the application runs.
//!
//! All of it sits behind one mutex. The worker thread serving the
//! request takes it, and [`Tails`](super::tails::Tails) when a streamed
//! chunk's tail waits for the next chunk; it exists because the
//! application may move its handles into the body it returns.
//!
//! The response goes out in one of two ways ([`Wait`]). The server's own
//! sending loop (`handler.rs`) writes what the socket has room for and
//! keeps the rest as pending output ([`State::is_blocked`]): the loop then
//! stops producing body bytes, and the connection waits in the parker for
//! room, holding no worker. The application's legacy `write` cannot be
//! suspended, so it waits for the client (up to `io_timeout` per write).
//!
//! What to write (the head, the framing, whether the connection stays,
//! how the response ends) is the [`Reply`]'s to say; this module reads
//! the request body and writes the bytes.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::conn::Conn;
use super::shutdown::Shutdown;
use super::Shared;
use crate::http::{ChunkedDecoder, Framing, HttpError, RequestHead};
use crate::model::reply::{Cut, Dialect, Reply, Unread, CONTINUE, DRAIN_LIMIT, WRITE_BUFFER};
use crate::model::{LockedResponse, ResponseWriter, SharedRead, StartState};

/// The most output a finished response may leave in the buffer for the
/// next pipelined one: small answers are batched, large ones go at once.
const HOLD_LIMIT: usize = 16 * 1024;

/// A piece of body at least this large is written from the app's buffer
/// rather than copied into ours.
const DIRECT_WRITE: usize = 16 * 1024;

/// A streamed chunk's last partial TCP segment waits for the next chunk
/// when it is at most this fraction of a segment: sent alone, it would
/// cost the kernel a whole segment's work for a sliver of its room.
const TAIL_SHARE: usize = 16;

/// How a write that finds the socket full goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Wait for the client, up to the socket's write timeout per write:
    /// the application's legacy `write`, which cannot be suspended.
    Block,
    /// Write what the socket has room for; wait up to `spin_ms` in all
    /// for more room, then keep the rest as pending output (the response
    /// is then [blocked](State::is_blocked) until the socket is writable).
    Now { spin_ms: i32 },
}

/// How far the request body has been read.
#[derive(Debug)]
enum BodyLeft {
    Length(u64),
    Chunked(ChunkedDecoder),
    Done,
}

/// The request body as the application reads it.
#[derive(Debug)]
pub(crate) struct RequestBody {
    left: BodyLeft,
    received: u64,
    limit: Option<u64>,
    /// How long one read may wait for the client (`io_timeout`).
    read_timeout: Duration,
    /// At shutdown, reads wait no longer than its grace leaves.
    shutdown: Arc<Shutdown>,
    /// The client waits for `100 Continue` before it sends the body.
    continue_pending: bool,
    /// Why reading the body failed; answered instead of the app's response
    /// if nothing was sent yet.
    pub error: Option<HttpError>,
}

/// The response's bytes on their way out.
#[derive(Debug)]
pub(crate) struct Output {
    /// What the [`Reply`] wrote and the socket has not taken yet.
    pub buf: Vec<u8>,
    /// The last write found the socket full: `buf` (and, over TLS, the
    /// session) holds output that waits for room.
    blocked: bool,
    /// Bytes at the start of `buf` that are earlier responses, held for
    /// this pipelined request (see [`State::hold_for_next`]).
    held: usize,
    /// Whether `buf` ends with a streamed chunk's tail kept back.
    tail: Tail,
    /// Tails may be kept back: false once one came late, since this
    /// app is then slower than its socket and keeping them only delays.
    keep_tails: bool,
    /// [`Tails`](super::tails::Tails) watches this exchange for a late
    /// tail.
    watched: bool,
}

/// A streamed chunk's last partial segment, kept in the buffer so that it
/// goes out with the next chunk in whole segments
/// ([`State::put_streamed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    /// Nothing kept back.
    None,
    /// The chunk being sent left its tail in the buffer.
    Split,
    /// The chunk ended at this time and its tail waits for the next one.
    Held(Instant),
    /// The next chunk was late and the socket had no room for all of the
    /// tail: [`Tails`](super::tails::Tails) sends the rest as room comes,
    /// while the app works on.
    Late,
}

/// Everything about one request/response exchange.
#[derive(Debug)]
pub(crate) struct State {
    /// The connection, taken back by the worker when the exchange ends;
    /// handles the app kept past that point find `None`.
    pub conn: Option<Conn>,
    pub body: RequestBody,
    /// The response's rules: head, framing, keep-alive, how it ends.
    pub reply: Reply,
    pub out: Output,
}

/// The shared exchange; see the module documentation.
#[derive(Debug)]
pub(crate) struct Exchange {
    state: Mutex<State>,
}

impl Exchange {
    pub(crate) fn new(mut conn: Conn, head: &RequestHead, shared: &Shared) -> Exchange {
        let left = match head.framing {
            Framing::None => BodyLeft::Done,
            Framing::Length(n) => BodyLeft::Length(n),
            Framing::Chunked => BodyLeft::Chunked(ChunkedDecoder::new()),
        };
        let buf = conn.take_write_buffer();
        let held = buf.len();
        let dialect = Dialect::Http(head.version);
        let must_close = head.close || shared.is_shutting_down();
        Exchange {
            state: Mutex::new(State {
                conn: Some(conn),
                body: RequestBody {
                    left,
                    received: 0,
                    limit: shared.config.limits.max_body,
                    read_timeout: shared.config.io_timeout,
                    shutdown: shared.shutdown.clone(),
                    continue_pending: head.expect_continue,
                    error: None,
                },
                reply: Reply::new(dialect, head.method() == "HEAD", must_close),
                out: Output {
                    buf,
                    blocked: false,
                    held,
                    tail: Tail::None,
                    keep_tails: true,
                    watched: false,
                },
            }),
        }
    }
}

impl LockedResponse for Exchange {
    type State = State;

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Exchange {
    /// For [`Tails`](super::tails::Tails): sends the tail kept back
    /// ([`State::put_streamed`]) if it has waited `patience` (the next
    /// chunk is late). False once nothing waits any more, so the exchange
    /// is no longer watched. A worker busy with the exchange is left
    /// alone: it is about to send the tail itself.
    pub(crate) fn send_late_tail(&self, now: Instant, patience: Duration) -> bool {
        let mut state = match self.state.try_lock() {
            Ok(state) => state,
            Err(std::sync::TryLockError::WouldBlock) => return true,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
        };
        state.send_late_tail(now, patience)
    }
}

/// `wsgi.input` reads the request body through the exchange.
impl SharedRead for Exchange {
    fn read_shared(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.lock().read_body(buf)
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the request is over")
}

impl State {
    /// Takes the connection back when the exchange is over, with the write
    /// buffer for its next response.
    pub(crate) fn take_conn(&mut self) -> Option<Conn> {
        let mut conn = self.conn.take()?;
        conn.keep_write_buffer(std::mem::take(&mut self.out.buf));
        Some(conn)
    }

    /// Reads request body bytes into `out`: 0 at the end of the body.
    pub(crate) fn read_body(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() || matches!(self.body.left, BodyLeft::Done) {
            return Ok(0);
        }
        if let Some(err) = self.body.error {
            return Err(io::Error::new(io::ErrorKind::InvalidData, err));
        }
        if matches!(self.out.tail, Tail::Held(_) | Tail::Late) {
            // The end of the chunk just streamed goes first, however long
            // the client takes, as a legacy `write` would: the client may
            // wait for it before it sends more, and `Tails` cannot send it
            // while this read holds the exchange. An app that reads
            // between chunks gains nothing from kept tails.
            self.out.keep_tails = false;
            self.flush_with(Wait::Block)?;
        } else if self.out.held > 0 && !self.reply.head_sent() {
            // The responses before this request go first, if there is
            // room: the client may wait for them before it sends the body.
            self.flush_with(Wait::Now { spin_ms: 0 })?;
        }
        if self.body.continue_pending {
            self.body.continue_pending = false;
            if self.reply.may_continue() {
                let conn = self.conn.as_mut().ok_or_else(gone)?;
                conn.write_all(CONTINUE)?;
            }
        }
        let result = self
            .wait_no_longer_than_the_shutdown()
            .and_then(|()| self.read_body_inner(out));
        if let Err(e) = &result {
            if self.body.error.is_none() && e.kind() != io::ErrorKind::InvalidData {
                // The client went away or stalled: no point reusing it.
                self.reply.close_after();
            }
            if self.body.error.is_none() && e.kind() == io::ErrorKind::TimedOut {
                // As for a body awaited in the parker: the server answers
                // 408 in place of the app's response, if none has started.
                self.body.error = Some(HttpError::BodyTimeout);
            }
        }
        result
    }

    /// Once the server is shutting down, bounds the next read by what the
    /// grace leaves for reading (see [`Shutdown::body_reads_until`]): a
    /// body still arriving at shutdown is read while there is time, and a
    /// client that is too slow gets its 408 before the process ends. (A
    /// per-read timeout alone would not do: a client that trickles a byte
    /// at a time never lets a read time out.)
    fn wait_no_longer_than_the_shutdown(&mut self) -> io::Result<()> {
        let Some(until) = self.body.shutdown.body_reads_until() else {
            return Ok(());
        };
        let conn = self.conn.as_mut().ok_or_else(gone)?;
        if !conn.buffered().is_empty() {
            // Bytes that arrived already are read without waiting.
            return Ok(());
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the shutdown grace leaves no time to read the rest of the body",
            ));
        }
        conn.set_read_timeout(left.min(self.body.read_timeout))
    }

    fn read_body_inner(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let conn = self.conn.as_mut().ok_or_else(gone)?;
        let n = match &mut self.body.left {
            BodyLeft::Done => return Ok(0),
            BodyLeft::Length(left) => {
                let want = out.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                let n = conn.read_into(&mut out[..want])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "client closed the connection before sending the whole body",
                    ));
                }
                *left -= n as u64;
                if *left == 0 {
                    self.body.left = BodyLeft::Done;
                }
                n
            }
            BodyLeft::Chunked(decoder) => {
                let (n, done) = loop {
                    if conn.buffered().is_empty() && conn.fill_blocking()? == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "client closed the connection inside a chunked body",
                        ));
                    }
                    let decoded = match decoder.decode(conn.buffered(), out.len()) {
                        Ok(d) => d,
                        Err(e) => {
                            self.body.error = Some(e);
                            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                        }
                    };
                    let data = decoded.data.clone();
                    out[..data.len()].copy_from_slice(&conn.buffered()[data.clone()]);
                    conn.consume(decoded.consumed);
                    if !data.is_empty() || decoder.is_done() {
                        break (data.len(), decoder.is_done());
                    }
                };
                if done {
                    self.body.left = BodyLeft::Done;
                }
                n
            }
        };
        self.body.received += n as u64;
        if self.body.limit.is_some_and(|max| self.body.received > max) {
            self.body.error = Some(HttpError::BodyTooLarge);
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                HttpError::BodyTooLarge,
            ));
        }
        Ok(n)
    }

    /// Reads and drops what is left of the request body, if it is small
    /// enough; true if the connection can carry another request.
    pub(crate) fn drain_body(&mut self) -> bool {
        if self.body.error.is_some() {
            return false;
        }
        if self.body.continue_pending || matches!(self.body.left, BodyLeft::Done) {
            // Nothing left, or the client never got 100 Continue and may or
            // may not send the body.
            return matches!(self.body.left, BodyLeft::Done);
        }
        let mut scratch = [0u8; 8192];
        let mut drained = 0u64;
        while !matches!(self.body.left, BodyLeft::Done) {
            match self.read_body_inner(&mut scratch) {
                Ok(0) => break,
                Ok(n) => drained += n as u64,
                Err(_) => return false,
            }
            if drained > DRAIN_LIMIT {
                return false;
            }
        }
        matches!(self.body.left, BodyLeft::Done)
    }

    /// True if request body bytes may still be on their way.
    pub(crate) fn body_unread(&self) -> bool {
        !matches!(self.body.left, BodyLeft::Done)
    }

    /// Whether this finished response may wait in the buffer for the
    /// next one: the next request is already here whole (`next_ready`),
    /// so its response follows at once, and both go out in one write. A
    /// pipelining client then gets its answers in as few packets as it
    /// sent requests in. Only a complete response on a connection that
    /// stays open, while little is buffered.
    pub(crate) fn hold_for_next(&self, next_ready: impl FnOnce(&Conn) -> bool) -> bool {
        self.reply.keep_alive()
            && !self.out.blocked
            && self.out.buf.len() <= HOLD_LIMIT
            && !self.body_unread()
            && self.conn.as_ref().is_some_and(next_ready)
    }

    /// Whether the buffer still starts with earlier responses, held for
    /// this one ([`State::hold_for_next`]).
    pub(crate) fn holds_earlier_responses(&self) -> bool {
        self.out.held > 0
    }

    /// Drops the output that found no room: the response was cut short
    /// and the connection closes, so nothing may wait to write it.
    pub(crate) fn discard_unsent(&mut self) {
        self.out.buf.clear();
        self.out.held = 0;
        self.out.tail = Tail::None;
    }

    /// Starts a file body of `len` bytes: the bytes the framing lets
    /// through (see [`Reply::begin_file`]).
    pub(crate) fn begin_file(&mut self, len: u64) -> u64 {
        self.reply.begin_file(len, &mut self.out.buf)
    }

    /// Sends file bytes with `sendfile` after what is buffered, as far as
    /// the socket has room (waiting up to `spin_ms` in all for more):
    /// `left` counts down. False where the kernel cannot send files (TLS,
    /// other systems): the caller reads it in pieces. A file shorter than
    /// announced cuts the response short.
    pub(crate) fn send_file_now(
        &mut self,
        file: &std::fs::File,
        left: &mut u64,
        spin_ms: i32,
    ) -> io::Result<bool> {
        self.flush_with(Wait::Now { spin_ms })?;
        if self.out.blocked || *left == 0 {
            return Ok(true);
        }
        let deadline = spin_deadline(spin_ms);
        loop {
            let conn = self.conn.as_mut().ok_or_else(gone)?;
            let step = match conn.send_file_now(file, *left) {
                Ok(Some(step)) => step,
                Ok(None) => return Ok(false),
                Err(e) => return Err(self.client_gone(e)),
            };
            *left -= step.sent;
            if *left == 0 {
                return Ok(true);
            }
            if !step.blocked {
                self.reply.cut_short(Cut::FileShort);
                return Err(Cut::FileShort.into());
            }
            match wait_for_room(conn, deadline) {
                Ok(true) => {}
                Ok(false) => {
                    self.out.blocked = true;
                    return Ok(true);
                }
                Err(e) => return Err(self.client_gone(e)),
            }
        }
    }

    /// True when output waits for room in the socket: the sender stops
    /// producing body bytes until [`State::flush_with`] has sent it.
    pub(crate) fn is_blocked(&self) -> bool {
        self.out.blocked
    }

    /// Starts a piece of body of `len` bytes with the framing chosen for
    /// the head; returns how many of them to [`put`](State::put) (see
    /// [`Reply::begin_piece`]). Counted as sent.
    pub(crate) fn begin_piece(&mut self, len: u64) -> io::Result<u64> {
        Ok(self.reply.begin_piece(len, &mut self.out.buf)?)
    }

    /// Sends (or buffers) bytes of the piece begun with
    /// [`begin_piece`](State::begin_piece): a large piece goes out from
    /// the caller's buffer, with what is buffered, in one write. With
    /// [`Wait::Now`], what the socket has no room for is kept.
    pub(crate) fn put(&mut self, data: &[u8], wait: Wait) -> io::Result<()> {
        let may_write = wait == Wait::Block || !self.out.blocked;
        if data.len() >= DIRECT_WRITE && may_write {
            return self.send(data, wait);
        }
        self.out.buf.extend_from_slice(data);
        if self.out.buf.len() >= WRITE_BUFFER && may_write {
            return self.send(&[], wait);
        }
        Ok(())
    }

    /// Sends bytes of the piece begun with
    /// [`begin_piece`](State::begin_piece) straight from the caller's
    /// memory, as many as the socket takes now (a few are buffered
    /// instead); returns how many were taken. The rest stay with the
    /// caller, uncopied, and the output is blocked until there is room.
    pub(crate) fn put_some(&mut self, data: &[u8], wait: Wait) -> io::Result<usize> {
        if data.len() < DIRECT_WRITE || wait == Wait::Block {
            self.put(data, wait)?;
            return Ok(data.len());
        }
        if self.out.blocked {
            return Ok(0);
        }
        self.send_part(data, wait)
    }

    /// Like [`put_some`](State::put_some), for a chunk of a streamed body
    /// (PEP 3333's iterable): if the write would end in a small partial
    /// TCP segment, those bytes are kept in the buffer instead (the whole
    /// chunk counts as taken) and [`end_streamed`](State::end_streamed)
    /// decides whether they wait for the next chunk. On loopback, where a
    /// segment holds 65,483 bytes, a 64 KiB chunk written alone is a
    /// full segment and a 53-byte one: twice the segments.
    pub(crate) fn put_streamed(&mut self, data: &[u8], wait: Wait) -> io::Result<usize> {
        let may_keep = self.out.keep_tails && !self.out.blocked;
        let keep = match self.conn.as_mut().and_then(|c| c.segment_size()) {
            Some(segment) if may_keep => {
                tail_to_keep(self.out.buf.len() + data.len(), data.len(), segment)
            }
            _ => 0,
        };
        if keep == 0 || data.len() - keep < DIRECT_WRITE {
            return self.put_some(data, wait);
        }
        let (now, later) = data.split_at(data.len() - keep);
        let taken = self.put_some(now, wait)?;
        if taken < now.len() || self.out.blocked {
            return Ok(taken);
        }
        self.out.buf.extend_from_slice(later);
        self.out.tail = Tail::Split;
        Ok(data.len())
    }

    /// Ends a streamed chunk: what it left in the buffer goes out now,
    /// unless it is the tail [`put_streamed`](State::put_streamed) kept:
    /// that waits for the next chunk, if `watch` has
    /// [`Tails`](super::tails::Tails) send it should the chunk be late
    /// (PEP 3333, "Buffering and Streaming": another thread keeps the
    /// block moving while the application produces the next one).
    pub(crate) fn end_streamed(
        &mut self,
        wait: Wait,
        watch: impl FnOnce() -> bool,
    ) -> io::Result<()> {
        if self.out.tail == Tail::Split && !self.out.blocked && (self.out.watched || watch()) {
            self.out.watched = true;
            self.out.tail = Tail::Held(Instant::now());
            return Ok(());
        }
        self.flush_with(wait)
    }

    /// Sends the tail kept back once it has waited `patience`, as far as
    /// the socket has room; true while some of it still waits (see
    /// [`Exchange::send_late_tail`]).
    fn send_late_tail(&mut self, now: Instant, patience: Duration) -> bool {
        match self.out.tail {
            // Between the chunk's write and its end: the worker goes on.
            Tail::Split => return true,
            Tail::Held(since) if now.saturating_duration_since(since) < patience => return true,
            Tail::Held(_) | Tail::Late if self.conn.is_some() => {
                self.out.keep_tails = false;
                // A failure cuts the response short; the worker sees it.
                let _ = self.flush_with(Wait::Now { spin_ms: 0 });
                if self.out.blocked {
                    self.out.tail = Tail::Late;
                    return true;
                }
            }
            // Sent by the worker, or the connection is parked (with its
            // output) or gone.
            _ => {}
        }
        self.out.tail = Tail::None;
        self.out.watched = false;
        false
    }

    /// Ends the piece begun with [`begin_piece`](State::begin_piece) of
    /// `len` bytes; fails if it overflowed the app's Content-Length.
    pub(crate) fn end_piece(&mut self, len: u64) -> io::Result<()> {
        Ok(self.reply.end_piece(len, &mut self.out.buf)?)
    }

    /// Writes out everything buffered, waiting for the client or not.
    pub(crate) fn flush_with(&mut self, wait: Wait) -> io::Result<()> {
        if self.out.buf.is_empty() && !self.out.blocked {
            return Ok(());
        }
        self.send(&[], wait)
    }
}

impl ResponseWriter for State {
    fn start_state(&mut self) -> &mut StartState {
        &mut self.reply.start
    }

    /// Sends the head if it is not out yet (see [`Reply::head`]). Fails,
    /// without sending, if reading the request body failed, or
    /// `start_response` was misused or never called: the caller answers
    /// with an error page instead.
    fn ensure_head(&mut self, body_len: Option<u64>) -> io::Result<()> {
        if self.reply.head_sent() {
            return Ok(());
        }
        if let Some(err) = self.body.error {
            return Err(Cut::RequestBody(err).into());
        }
        let unread = self.body.unread();
        Ok(self.reply.head(body_len, unread, &mut self.out.buf)?)
    }

    /// Queues body bytes with the framing chosen for the head; writes
    /// them (waiting for the client) if they are many.
    fn write_body(&mut self, data: &[u8]) -> io::Result<()> {
        let len = self.begin_piece(data.len() as u64)?;
        self.put(&data[..len as usize], Wait::Block)?;
        self.end_piece(len)
    }

    /// Writes out everything buffered, waiting for the client.
    fn flush(&mut self) -> io::Result<()> {
        self.flush_with(Wait::Block)
    }
}

impl State {
    /// Writes out what is buffered, then `more`: all of it
    /// ([`Wait::Block`]), or what the socket has room for, keeping the rest
    /// ([`Wait::Now`]). A failure means the client is gone and the
    /// response ends there.
    fn send(&mut self, more: &[u8], wait: Wait) -> io::Result<()> {
        let taken = self.send_part(more, wait)?;
        self.out.buf.extend_from_slice(&more[taken..]);
        Ok(())
    }

    /// Like [`send`](State::send), but what the socket has no room for
    /// of `more` stays with the caller: returns how many bytes of it were
    /// sent (all of them with [`Wait::Block`]). With [`Wait::Now`] the
    /// wait for room restarts after each write that made progress, so a
    /// client reading at full speed keeps its worker and a stalled one
    /// does not; all the waits of one call stay within [`SPIN_ROUNDS`]
    /// times the spin, so a client that keeps making a little room does
    /// not hold a worker the pool may need (the response parks, and the
    /// pool is asked again when it resumes).
    fn send_part(&mut self, more: &[u8], wait: Wait) -> io::Result<usize> {
        // A tail kept back goes with this write.
        self.out.tail = Tail::None;
        let conn = self.conn.as_mut().ok_or_else(gone)?;
        let spin_ms = match wait {
            Wait::Block => {
                let result = conn.write_all_pair(&self.out.buf, more);
                self.out.buf.clear();
                self.out.held = 0;
                self.out.blocked = false;
                return result.map(|()| more.len()).map_err(|e| self.client_gone(e));
            }
            Wait::Now { spin_ms } => spin_ms,
        };
        let buf = &self.out.buf;
        let total = buf.len() + more.len();
        let mut done = 0;
        let cap = spin_deadline(spin_ms.saturating_mul(SPIN_ROUNDS));
        let mut deadline = cap;
        let result = loop {
            let (first, second) = if done < buf.len() {
                (&buf[done..], more)
            } else {
                (&[][..], &more[done - buf.len()..])
            };
            match conn.write_now_pair(first, second) {
                Ok(0) => {}
                Ok(n) => {
                    done += n;
                    deadline = spin_deadline(spin_ms).min(cap);
                }
                Err(e) => break Err(e),
            }
            if done == total {
                match conn.flush_now() {
                    Ok(true) => break Ok(true),
                    Ok(false) => {}
                    Err(e) => break Err(e),
                }
            }
            match wait_for_room(conn, deadline) {
                Ok(true) => {}
                Ok(false) => break Ok(false),
                Err(e) => break Err(e),
            }
        };
        match result {
            Ok(all_sent) => {
                let kept = done.min(self.out.buf.len());
                self.out.buf.drain(..kept);
                self.out.held = self.out.held.saturating_sub(kept);
                self.out.blocked = !all_sent;
                Ok(done - kept)
            }
            Err(e) => {
                self.out.buf.clear();
                self.out.held = 0;
                Err(self.client_gone(e))
            }
        }
    }

    /// Notes that a write failed: the client is gone (or timed out), and
    /// the response ends there.
    fn client_gone(&mut self, e: io::Error) -> io::Error {
        self.out.blocked = false;
        self.reply.cut_short(Cut::ClientGone);
        e
    }
}

/// How many of the last `len` bytes of a write of `total` bytes to keep
/// back: its last partial segment, when it is at most 1/[`TAIL_SHARE`] of
/// a `segment` and at least one whole segment goes before it.
fn tail_to_keep(total: usize, len: usize, segment: usize) -> usize {
    let tail = total % segment;
    if total >= segment && tail <= segment / TAIL_SHARE && tail < len {
        tail
    } else {
        0
    }
}

/// How many spins' worth of waiting for room one send may take in all,
/// each restarted by progress.
const SPIN_ROUNDS: i32 = 10;

/// Until when a write may wait for room before its rest is kept: `None`
/// when it may not wait at all.
fn spin_deadline(spin_ms: i32) -> Option<std::time::Instant> {
    (spin_ms > 0)
        .then(|| std::time::Instant::now() + std::time::Duration::from_millis(spin_ms as u64))
}

/// Waits for room to write until `deadline`; false once it has passed.
fn wait_for_room(conn: &Conn, deadline: Option<std::time::Instant>) -> io::Result<bool> {
    let Some(deadline) = deadline else {
        return Ok(false);
    };
    let left = deadline.saturating_duration_since(std::time::Instant::now());
    if left.is_zero() {
        return Ok(false);
    }
    conn.wait_writable((left.as_micros().div_ceil(1000)) as i32)
}

impl RequestBody {
    /// What is left to read, as the response's keep-alive decision needs it.
    pub(crate) fn unread(&self) -> Unread {
        match &self.left {
            BodyLeft::Done => Unread::Nothing,
            _ if self.continue_pending => Unread::AwaitingContinue,
            BodyLeft::Length(left) => Unread::Bytes(*left),
            BodyLeft::Chunked(_) => Unread::Chunked,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Version;
    use crate::model::reply::Dialect;
    use crate::server::conn::{Local, Peer, Plain, ServerNames, Stream};
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    /// The server's end of a loopback connection, with a small send
    /// buffer, as an exchange's state; and the client's end.
    fn small_connection() -> (State, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, peer) = listener.accept().unwrap();
        crate::sys::socket::set_send_buffer(server.as_raw_fd(), 4096).unwrap();
        let local = Local::Ip(server.local_addr().unwrap());
        let conn = Conn::new(
            Stream::Plain(Plain::Tcp(server)),
            Peer::Ip(peer),
            ServerNames::of(&local),
        );
        let state = State {
            conn: Some(conn),
            body: RequestBody {
                left: BodyLeft::Done,
                received: 0,
                limit: None,
                read_timeout: Duration::from_secs(5),
                shutdown: Arc::new(Shutdown::new(Duration::from_secs(1))),
                continue_pending: false,
                error: None,
            },
            reply: Reply::new(Dialect::Http(Version::Http11), false, false),
            out: Output {
                buf: Vec::new(),
                blocked: false,
                held: 0,
                tail: Tail::None,
                keep_tails: true,
                watched: true,
            },
        };
        (state, client)
    }

    /// A late tail that finds the socket full is sent as room comes, while
    /// the app may still be at its next chunk; it is not left behind.
    #[test]
    fn a_late_tail_that_finds_the_socket_full_goes_once_there_is_room() {
        let (mut state, mut client) = small_connection();
        // The client reads nothing yet: fill its window and our buffer.
        let filler = vec![b'f'; 64 * 1024];
        let mut sent = 0;
        loop {
            let conn = state.conn.as_mut().unwrap();
            match conn.write_now_pair(&filler, &[]).unwrap() {
                0 => break,
                n => sent += n,
            }
        }
        state.out.buf.extend_from_slice(b"tail");
        let since = Instant::now();
        state.out.tail = Tail::Held(since);
        let patience = Duration::from_millis(1);
        assert!(state.send_late_tail(since, patience), "not late yet");
        assert_eq!(state.out.tail, Tail::Held(since));

        assert!(state.send_late_tail(since + patience, patience));
        assert_eq!(state.out.tail, Tail::Late, "no room: the rest waits");
        assert!(state.out.blocked);
        assert!(!state.out.keep_tails, "after a late tail, none is kept");

        // As the tails thread does at each tick, while the client reads.
        client
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        let deadline = Instant::now() + Duration::from_secs(10);
        while got.len() < sent + 4 && Instant::now() < deadline {
            match client.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => assert!(
                    matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ),
                    "{e}"
                ),
            }
            state.send_late_tail(Instant::now(), patience);
        }
        assert_eq!(got.len(), sent + 4, "every byte came, the tail last");
        assert_eq!(&got[sent..], b"tail");
        assert!(!state.send_late_tail(Instant::now(), patience));
        assert!(!state.out.watched, "nothing waits: no longer watched");
        assert_eq!(state.out.tail, Tail::None);
    }

    /// Loopback's segment once the connection has warmed up.
    const LOOPBACK: usize = 65_483;

    #[test]
    fn a_small_last_partial_segment_is_kept() {
        // A 64 KiB chunk alone: one full segment and 53 bytes.
        assert_eq!(tail_to_keep(65_536, 65_536, LOOPBACK), 53);
        // After a kept tail of 53 bytes: 106 now.
        assert_eq!(tail_to_keep(53 + 65_536, 65_536, LOOPBACK), 106);
        // Up to 1/16 of a segment.
        assert_eq!(tail_to_keep(LOOPBACK + 4_092, 70_000, LOOPBACK), 4_092);
        assert_eq!(tail_to_keep(1_448 * 45 + 90, 65_250, 1_448), 90);
    }

    #[test]
    fn nothing_is_kept_without_a_whole_segment_before_it_or_when_it_is_large() {
        // Whole segments only: nothing to keep.
        assert_eq!(tail_to_keep(2 * LOOPBACK, 2 * LOOPBACK, LOOPBACK), 0);
        // Less than one segment: it would all wait.
        assert_eq!(tail_to_keep(60_000, 60_000, LOOPBACK), 0);
        // Larger than 1/16 of a segment: worth its own segment.
        assert_eq!(tail_to_keep(LOOPBACK + 4_093, 70_000, LOOPBACK), 0);
        // The tail would reach into bytes buffered before this piece.
        assert_eq!(tail_to_keep(LOOPBACK + 100, 50, LOOPBACK), 0);
    }
}
