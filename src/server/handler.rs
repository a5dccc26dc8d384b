//! What a worker does with a connection: read request heads, run the
//! application for each, send its response, and decide whether the
//! connection stays open, is parked until the client speaks again, or
//! closes.
//!
//! ```text
//!   readable conn ──► read what is there ──► parse head
//!        ▲                 │ nothing yet          │ complete
//!        │                 ▼                      ▼
//!      parker ◄──── park (idle / partial)    run app, send body ◄──┐
//!        │  ▲                                     │ socket full    │
//!        │  └──── park (writing) ◄────────────────┘                │
//!        └─ writable: an idle worker resumes ──────────────────────┘
//! ```
//!
//! A response is a [`Sending`]: the exchange, what is left of the body,
//! and what the log line needs. When the socket has no room for more, the
//! connection leaves the exchange and waits in the parker with its
//! `Sending`, holding no worker; the worker that takes it when it is
//! writable goes on where the last one stopped.

use std::borrow::Cow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use super::conn::Conn;
use super::environ::{cgi_vars, RequestLine};
use super::exchange::{Exchange, State, Wait};
use super::live::Answered;
use super::Shared;
use crate::http::{error_response, parse_head, Framing, HttpError, Parsed, RequestHead};
use crate::model::body::{next_chunk, Source};
use crate::model::reply::{Cut, Stop};
use crate::model::{Environ, Input, LockedResponse, ResponseWriter, StartResponse, Text};

/// Serves requests on `conn` until it must wait for the client (then it
/// is parked) or close. A connection with a response under way (parked
/// until writable, or cut short) goes on with it first.
pub(crate) fn serve(mut conn: Conn, shared: &Arc<Shared>) {
    if let Some(sending) = conn.sending.take() {
        sending.exchange.lock().conn = Some(conn);
        match proceed(*sending, shared) {
            Some(next) => conn = next,
            None => return,
        }
    }
    if shared.config.protocol == crate::Protocol::Scgi {
        // One request per connection, CGI-style response: server/scgi.rs.
        return super::scgi::serve(conn, shared);
    }
    let mut owed_until: Option<Instant> = None;
    // Served because it is new or became readable.
    conn.mark_readable();
    loop {
        if conn.served() == 0 && !conn.is_tls() && crate::http::is_tls_client_hello(conn.buffered())
        {
            return tls_on_plain_port(conn, shared);
        }
        if !conn.buffered().is_empty() {
            match parse_head(conn.buffered(), &shared.config.limits) {
                Ok(Parsed::Complete(head)) => match next_step(&mut conn, &head, shared) {
                    Step::Reserved(path) => {
                        let live = shared
                            .live
                            .as_ref()
                            .expect("reserved paths need live reload");
                        conn.consume(head.head_len);
                        match live.answer(conn, &head, &path) {
                            Answered::Keep(next) => conn = next,
                            Answered::Close(last) => {
                                return close_gracefully(
                                    last,
                                    head.framing != Framing::None,
                                    shared,
                                )
                            }
                            Answered::Taken => return,
                        }
                        continue;
                    }
                    Step::AwaitBody(expected) => {
                        // The body arrives before the app is called: wait
                        // for it here, where waiting holds no worker.
                        conn.arrival.await_body(body_allowance(expected));
                        if conn.arrival.is_late(shared.config.head_timeout) {
                            return reject(conn, HttpError::BodyTimeout, shared);
                        }
                    }
                    Step::Run => {
                        conn.arrival.stop();
                        conn.consume(head.head_len);
                        match handle_request(conn, head, shared) {
                            Some(next) => conn = next,
                            None => return,
                        }
                        continue;
                    }
                },
                Ok(Parsed::Partial) => {
                    conn.arrival.start();
                    if conn.arrival.is_late(shared.config.head_timeout) {
                        return reject(conn, HttpError::HeadTimeout, shared);
                    }
                }
                Err(err) => return reject(conn, err, shared),
            }
        }
        let read = if conn.seems_drained() {
            // Nothing waited after the last read: park without another.
            Ok(None)
        } else {
            conn.fill_now()
        };
        match read {
            Ok(Some(0)) => return,
            Err(err) if super::conn::is_over_memory_cap(&err) => {
                return reject(conn, HttpError::Overloaded, shared)
            }
            Err(err) => return connection_failed(&conn, &err, shared),
            Ok(Some(_)) => {}
            // The next request is not whole yet: what was held for it goes
            // now, before the connection waits.
            Ok(None) if conn.holds_output() && conn.flush_held().is_err() => return,
            Ok(None) if shared.is_shutting_down() => {
                // Between requests, closing loses nothing. A connection
                // that has not sent its first request yet (accepted just
                // before the shutdown) or is part way through a head is a
                // request in flight: it gets a short grace to arrive.
                if conn.served() > 0 && !conn.arrival.is_running() {
                    // A request may be crossing the close: FIN first.
                    return close_gracefully(conn, true, shared);
                }
                let until = *owed_until.get_or_insert_with(|| Instant::now() + FIRST_REQUEST_GRACE);
                let left = until.saturating_duration_since(Instant::now()).as_millis() as i32;
                if left == 0 || !crate::sys::wait_readable(conn.fd(), left).unwrap_or(false) {
                    return;
                }
                conn.mark_readable();
            }
            Ok(None) => {
                if !conn.arrival.is_running() && shared.pool.is_quiet(shared) {
                    // A client on a kept-alive connection usually sends its
                    // next request at once: wait a moment before the round
                    // trip through the parker, if no one else needs us.
                    if let Ok(true) = crate::sys::wait_readable(conn.fd(), KEEP_ALIVE_SPIN_MS) {
                        conn.mark_readable();
                        continue;
                    }
                }
                if conn.is_handshaking() {
                    // A TLS handshake under way is bounded like a head.
                    conn.arrival.start();
                }
                match shared.parker.park(conn) {
                    None => return,
                    // Data came while we held it.
                    Some(readable) => conn = readable,
                }
            }
        }
    }
}

/// Request bodies up to this size arrive whole before the application is
/// called: a client that sends slowly waits in the parker, between reads,
/// and holds no worker (as nginx buffers bodies before it passes them
/// on). Larger bodies are read as the application reads them.
const BUFFERED_BODY: u64 = 1024 * 1024;

/// The slowest rate, in bytes a second, at which a buffered body may
/// arrive on average: a body of `n` bytes has `head_timeout` plus
/// `n / MIN_BODY_RATE` seconds. An upload at a steady 50 KB/s completes;
/// one byte a second does not.
const MIN_BODY_RATE: u64 = 8 * 1024;

/// What to do with a request whose head is complete.
enum Step {
    /// Live reload answers it (the path under `/__werk/`).
    Reserved(String),
    /// Wait for its body, of about this many bytes, before the app runs.
    AwaitBody(u64),
    /// Call the application now.
    Run,
}

/// Decides between answering a reserved path, waiting for a body still
/// on its way, and running the application. At shutdown nothing more is
/// awaited: the application runs with the body as it comes, within the
/// shutdown's grace, as it would for a large body.
fn next_step(conn: &mut Conn, head: &RequestHead, shared: &Shared) -> Step {
    if shared.live.is_some() {
        if let Some(path) = super::live::Live::reserved(head.target()) {
            return Step::Reserved(path);
        }
    }
    // A client that sent `Expect: 100-continue` waits for the app: it
    // may refuse the body from the head alone (RFC 9110 section 10.1.1),
    // and `100 Continue` goes out when it first reads.
    if shared.is_shutting_down() || head.expect_continue {
        return Step::Run;
    }
    match body_to_wait_for(conn, head, shared) {
        Some(expected) => Step::AwaitBody(expected),
        None => Step::Run,
    }
}

/// The size of a body that must arrive whole before the application is
/// called and has not yet (`None`: call it now). A chunked body is
/// decoded as it arrives, from where the last look stopped, and bounded
/// with its framing, so a body of one-byte chunks costs neither quadratic
/// time nor unbounded memory.
fn body_to_wait_for(conn: &mut Conn, head: &RequestHead, shared: &Shared) -> Option<u64> {
    let arrived = conn.buffered().len() - head.head_len;
    let max_body = shared.config.limits.max_body;
    let within_limit = |n: u64| n <= BUFFERED_BODY && max_body.is_none_or(|m| n <= m);
    match head.framing {
        Framing::None => None,
        Framing::Length(n) => (within_limit(n) && (arrived as u64) < n).then_some(n),
        Framing::Chunked => {
            // Framing counts too: beyond this, the body streams to the app.
            if arrived as u64 > BUFFERED_BODY + BUFFERED_BODY / 4 {
                return None;
            }
            let mut scan = conn.arrival.body_scan.take().unwrap_or_default();
            let body = &conn.buf_after(head.head_len)[scan.scanned..];
            let mut at = 0;
            while at < body.len() && !scan.decoder.is_done() {
                // A bad chunk is the application's reader's to report.
                let Ok(step) = scan.decoder.decode(&body[at..], usize::MAX) else {
                    return None;
                };
                if step.consumed == 0 {
                    break;
                }
                at += step.consumed;
                scan.data += step.data.len() as u64;
            }
            scan.scanned += at;
            let waiting = !scan.decoder.is_done() && within_limit(scan.data);
            conn.arrival.body_scan = Some(scan);
            waiting.then_some(BUFFERED_BODY)
        }
    }
}

/// How long past `head_timeout` a body of `expected` bytes may take.
fn body_allowance(expected: u64) -> Duration {
    Duration::from_secs(expected.div_ceil(MIN_BODY_RATE))
}

/// Whether the connection's buffer holds the next request whole, one
/// the application will be called for at once: a complete head with no
/// body, or with all of its `Content-Length` body, not for a reserved
/// path and not waiting for `100 Continue`.
fn next_request_is_here(conn: &Conn, shared: &Shared) -> bool {
    let buffered = conn.buffered();
    if buffered.is_empty() {
        return false;
    }
    let Ok(Parsed::Complete(head)) = parse_head(buffered, &shared.config.limits) else {
        return false;
    };
    let whole = match head.framing {
        Framing::None => true,
        Framing::Length(n) => (buffered.len() - head.head_len) as u64 >= n,
        Framing::Chunked => false,
    };
    let reserved = shared.live.is_some() && super::live::Live::reserved(head.target()).is_some();
    whole && !head.expect_continue && !reserved
}

/// Logs why a connection failed before a request was read, in one line,
/// when it is worth saying (a failed TLS handshake, a plain HTTP request on
/// the HTTPS port); a client that just went away is not.
fn connection_failed(conn: &Conn, err: &std::io::Error, shared: &Shared) {
    if err.kind() == std::io::ErrorKind::InvalidData {
        let what = if conn.is_handshaking() {
            "TLS handshake failed"
        } else {
            "connection failed"
        };
        shared
            .log
            .client_error(&conn.peer.name(), &format!("{what}: {err}"));
    }
}

/// How long a worker with nothing else to do waits on its kept-alive
/// connection before handing it to the parker.
const KEEP_ALIVE_SPIN_MS: i32 = 1;

/// At shutdown, how long a connection accepted just before may take to
/// send its request (or the rest of a head) and still be served. Clients
/// send at once; the reloader's restarts rely on this so that no request
/// that reached the server is dropped.
pub(crate) const FIRST_REQUEST_GRACE: std::time::Duration = std::time::Duration::from_millis(250);

/// Answers a request the server cannot take, then closes.
pub(crate) fn reject(mut conn: Conn, err: HttpError, shared: &Arc<Shared>) {
    if shared.config.protocol == crate::Protocol::Scgi {
        return super::scgi::refuse(conn, err.status(), &err.to_string(), shared);
    }
    let code = err.status();
    let client = conn.peer.name();
    let line = request_line_of(conn.buffered());
    shared
        .log
        .client_error(&client, &format!("code {code}, message {err}"));
    shared.log.request(&client, &line, code);
    if conn
        .write_all(&error_response(code, &err.to_string()))
        .is_ok()
    {
        close_gracefully(conn, true, shared);
    }
}

/// What the log says when a client starts a TLS handshake on a plain HTTP
/// port: a browser or client given `https://` for this server.
#[cfg(feature = "tls")]
pub(crate) const TLS_ON_PLAIN_PORT: &str =
    "a TLS handshake came to a plain HTTP port: use http://, or serve with --cert local";
#[cfg(not(feature = "tls"))]
pub(crate) const TLS_ON_PLAIN_PORT: &str = "a TLS handshake came to a plain HTTP port: use http://";

/// A client that speaks TLS to this plain HTTP port: one log line that says
/// so and what to do, instead of a 400 for a request line of binary bytes,
/// and the connection closes (the client would not read an HTTP answer).
fn tls_on_plain_port(conn: Conn, shared: &Arc<Shared>) {
    shared
        .log
        .client_error(&conn.peer.name(), TLS_ON_PLAIN_PORT);
    close_gracefully(conn, true, shared);
}

/// The first line of what the client sent, for the log.
fn request_line_of(buf: &[u8]) -> String {
    let end = buf
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(buf.len())
        .min(200);
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Closes a connection; if the client may still be sending, stop sending
/// first and let the parker read and drop the rest for a moment, so the
/// client reads our response instead of a connection reset. A TLS session
/// always ends with close_notify, which tells a client (rustls insists)
/// that the response it read to the end was not cut short.
fn close_gracefully(mut conn: Conn, client_may_send: bool, shared: &Arc<Shared>) {
    if !client_may_send {
        if conn.is_tls() {
            conn.shutdown_write();
        }
        return;
    }
    if shared.is_shutting_down() {
        return shared.parker.linger_at_shutdown(conn);
    }
    conn.shutdown_write();
    shared.parker.linger(conn);
}

/// Runs the application for one request and sends the response. Returns
/// the connection if it can carry another request (`None` also when the
/// response waits in the parker for room to write).
fn handle_request(conn: Conn, head: RequestHead, shared: &Arc<Shared>) -> Option<Conn> {
    let scheme = if conn.is_tls() { "https" } else { "http" };
    let request_line = RequestLine::of(&head);
    let mut vars = cgi_vars(&head, &request_line, &conn.names, crate::SERVER_SOFTWARE);
    if let Some(pem) = conn.peer_certificate_pem() {
        vars.list.push(("SSL_CLIENT_CERT".into(), Text::Owned(pem)));
    }
    let client = conn.names.remote_addr.clone();
    let exchange = Arc::new(Exchange::new(conn, &head, shared));
    let input = Input::shared(exchange.clone());
    let mut environ = Environ::from_vars(vars.list, vars.texts, Text::Static(scheme), input);
    environ.set_process_model(true, shared.config.multiprocess, false);
    let start_response = StartResponse::new(exchange.clone());

    let called = catch_unwind(AssertUnwindSafe(|| {
        shared.app.call(&environ, start_response)
    }));
    let is_head = exchange.lock().reply.is_head();
    let mut sending = Sending {
        exchange,
        environ: Some(environ),
        body: None,
        source: Source::Empty,
        body_len: None,
        piece: None,
        file: None,
        is_head,
        stop: None,
        stage: Stage::Body,
        cut: None,
        client,
        line: request_line,
    };
    match called {
        Ok(mut body) => {
            sending.body_len = body.len();
            sending.source = body.take_source();
            sending.body = Some(body);
        }
        Err(payload) => sending.stop = Some(Stop::Panic(payload)),
    }
    proceed(sending, shared)
}

/// How long a worker that another idle worker could replace waits for
/// room to write before it parks the response: a client reading at full
/// speed makes room within this, and never pays the round trip through
/// the parker. (A busy pool parks at once.)
const WRITE_SPIN_MS: i32 = 5;

/// A response on its way out: what the worker holds between writes, and
/// what waits with a parked connection ([`Conn::sending`]) until its
/// socket is writable.
pub(crate) struct Sending {
    exchange: Arc<Exchange>,
    /// Dropped once the body is done, as before the response is concluded.
    environ: Option<Environ>,
    /// The app's body, for its close callbacks (its source is below).
    body: Option<crate::Body>,
    source: Source,
    /// The body's size, when it was known.
    body_len: Option<u64>,
    /// A chunk, or an in-memory body, being handed to the socket.
    piece: Option<Piece>,
    /// A file body under way: its framed length, and whether the kernel
    /// sends it (`sendfile`) or it is read in pieces.
    file: Option<FileBody>,
    is_head: bool,
    /// Why the body stopped early, for `conclude`.
    stop: Option<Stop>,
    stage: Stage,
    /// Cut the response short, for this reason (the client read nothing
    /// for `io_timeout`, or the shutdown grace is over).
    cut: Option<Cut>,
    client: Arc<str>,
    line: RequestLine,
}

impl std::fmt::Debug for Sending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sending")
            .field("line", &self.line.to_string())
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

/// Part of a body held in memory, being handed to the socket.
struct Piece {
    data: Cow<'static, [u8]>,
    at: usize,
    /// The bytes to send of it (fewer than its length past the app's
    /// Content-Length).
    end: usize,
    /// A chunk of a streamed body (PEP 3333's iterable): sent as soon as
    /// it is produced ([`State::end_streamed`]).
    streamed: bool,
}

#[derive(Debug, Clone, Copy)]
struct FileBody {
    framed: u64,
    in_pieces: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The body is being produced and sent.
    Body,
    /// The body is done and the response concluded: what is buffered is
    /// being sent.
    Concluded,
}

/// How far a response got.
enum Progress {
    /// It is all sent (or cut short).
    Done,
    /// The socket has no room: park until it has.
    Blocked,
}

impl Sending {
    /// Cuts the response short the next time it goes on: nothing more is
    /// sent, and the connection closes.
    pub(crate) fn cut_short(&mut self, why: Cut) {
        self.cut.get_or_insert(why);
    }

    /// Sends what the socket has room for, waiting up to `spin_ms` for
    /// more; concludes the response once the body is done.
    fn step(&mut self, spin_ms: i32, shared: &Shared) -> Progress {
        let cut = self.cut.take();
        if let Some(why) = &cut {
            self.exchange.lock().reply.cut_short(why.clone());
            if self.stage == Stage::Concluded {
                shared.log.error(&format!(
                    "Error on request \"{}\" from {}: {why}",
                    self.line, self.client
                ));
            }
        }
        let mut state = if self.stage == Stage::Body {
            let stop = match self.stop.take() {
                Some(stop) => Some(stop),
                // `conclude` logs why it was cut short.
                None if cut.is_some() => None,
                None => match self.send_some(spin_ms, shared) {
                    Ok(false) => return Progress::Blocked,
                    Ok(true) => None,
                    Err(stop) => Some(stop),
                },
            };
            self.conclude_body(stop, shared)
        } else {
            self.exchange.lock()
        };
        if state.reply.cut().is_some() {
            // Cut short: what is buffered goes if there is room, never
            // waiting (the client may be one that reads nothing); the rest
            // is dropped with the connection.
            let _ = state.flush_with(Wait::Now { spin_ms: 0 });
            state.discard_unsent();
            return Progress::Done;
        }
        if !shared.is_shutting_down()
            && state.hold_for_next(|conn| next_request_is_here(conn, shared))
        {
            return Progress::Done;
        }
        let _ = state.flush_with(Wait::Now { spin_ms });
        if state.is_blocked() {
            Progress::Blocked
        } else {
            Progress::Done
        }
    }

    /// Produces and sends the body until it is done (true), the socket is
    /// full (false) or it stops early.
    fn send_some(&mut self, spin_ms: i32, shared: &Shared) -> Result<bool, Stop> {
        let wait = Wait::Now { spin_ms };
        // The lock is held from step to step, and let go only while the
        // app's code runs (its body's next chunk, a file's next read).
        let mut state = self.exchange.lock();
        // What waited for room, after a park. (Output that is only
        // buffered, such as responses held for this one, goes with the
        // body.)
        if state.is_blocked() {
            state.flush_with(wait).map_err(Stop::Send)?;
        }
        loop {
            if state.is_blocked() {
                return Ok(false);
            }
            if let Some(piece) = &mut self.piece {
                if piece.at < piece.end {
                    let rest = &piece.data[piece.at..piece.end];
                    piece.at += match piece.streamed {
                        true => state.put_streamed(rest, wait),
                        false => state.put_some(rest, wait),
                    }
                    .map_err(Stop::Send)?;
                    continue;
                }
                let (end, streamed) = (piece.end as u64, piece.streamed);
                self.piece = None;
                state.end_piece(end).map_err(Stop::Send)?;
                if streamed {
                    let exchange = &self.exchange;
                    state
                        .end_streamed(wait, || shared.tails.watch(exchange))
                        .map_err(Stop::Send)?;
                }
                continue;
            }
            match &mut self.source {
                Source::Empty => {
                    if let Some(file) = self.file.take() {
                        state.end_piece(file.framed).map_err(Stop::Send)?;
                    }
                    // No chunk at all: the head, with a length of 0.
                    state.ensure_head(Some(0)).map_err(Stop::Send)?;
                    return Ok(true);
                }
                Source::Bytes(bytes) => {
                    let data = std::mem::take(bytes);
                    self.source = Source::Empty;
                    state.ensure_head(self.body_len).map_err(Stop::Send)?;
                    let end = state.begin_piece(data.len() as u64).map_err(Stop::Send)?;
                    self.piece = Some(Piece {
                        data,
                        at: 0,
                        end: end as usize,
                        streamed: false,
                    });
                }
                Source::File { file, len } => {
                    let body = match self.file {
                        Some(body) => body,
                        None => {
                            state.ensure_head(Some(*len)).map_err(Stop::Send)?;
                            *len = state.begin_file(*len);
                            let body = FileBody {
                                framed: *len,
                                in_pieces: false,
                            };
                            self.file = Some(body);
                            body
                        }
                    };
                    if *len == 0 {
                        self.source = Source::Empty;
                        continue;
                    }
                    if !body.in_pieces {
                        let sent = state.send_file_now(file, len, spin_ms);
                        match sent.map_err(Stop::Send)? {
                            true => continue,
                            false => {
                                self.file = Some(FileBody {
                                    in_pieces: true,
                                    ..body
                                })
                            }
                        }
                    }
                    // Read and written in pieces (TLS, or no sendfile).
                    drop(state);
                    let next = next_chunk(&mut self.source);
                    state = self.exchange.lock();
                    match next {
                        Some(Ok(piece)) => state.put(&piece, wait).map_err(Stop::Send)?,
                        Some(Err(e)) => return Err(Stop::Body(e)),
                        None => {
                            state.reply.cut_short(Cut::FileShort);
                            return Err(Stop::Send(Cut::FileShort.into()));
                        }
                    }
                }
                Source::Chunks(_) | Source::Reader(_) => {
                    if state.holds_earlier_responses() {
                        // A stream's next chunk may be long in coming (it
                        // may wait for events): the answers held for this
                        // response go now.
                        state.flush_with(wait).map_err(Stop::Send)?;
                        continue;
                    }
                    drop(state);
                    let next = catch_unwind(AssertUnwindSafe(|| next_chunk(&mut self.source)))
                        .map_err(Stop::Panic)?;
                    // At the end, `next_chunk` has dropped the app's
                    // iterator already: its drop may take the lock.
                    state = self.exchange.lock();
                    let chunk = match next {
                        None => continue,
                        Some(Err(e)) => return Err(Stop::Body(e)),
                        Some(Ok(chunk)) => chunk,
                    };
                    state.ensure_head(None).map_err(Stop::Send)?;
                    if self.is_head {
                        // The head is all a HEAD request gets: the rest of
                        // the body is never produced.
                        return Ok(true);
                    }
                    let end = state.begin_piece(chunk.len() as u64).map_err(Stop::Send)?;
                    self.piece = Some(Piece {
                        data: chunk.into_cow(),
                        at: 0,
                        end: end as usize,
                        streamed: true,
                    });
                }
            }
        }
    }

    /// The body is done (or stopped): its close callbacks run, the environ
    /// goes, and the response is settled. Returns the exchange, locked
    /// once the app's code has run.
    fn conclude_body(&mut self, mut stop: Option<Stop>, shared: &Shared) -> MutexGuard<'_, State> {
        if let Some(body) = self.body.take() {
            let closed = catch_unwind(AssertUnwindSafe(move || drop(body)));
            if let (None, Err(payload)) = (&stop, closed) {
                stop = Some(Stop::Panic(payload));
            }
        }
        self.source = Source::Empty;
        self.piece = None;
        self.environ = None;
        self.stage = Stage::Concluded;
        let keep_panic = shared.config.passthrough_errors;
        let stop = stop.map(|stop| {
            catch_unwind(AssertUnwindSafe(|| stop.detached(keep_panic))).unwrap_or_else(|_| {
                Stop::Panic(Box::new(
                    "the application's error panicked when shown or dropped",
                ))
            })
        });
        let mut state = self.exchange.lock();
        conclude(&mut state, stop, shared, &self.client, &self.line);
        state
    }

    /// The response is out: the rest of the request body is drained, the
    /// request logged, and the connection kept for another or closed.
    fn finish(self, shared: &Arc<Shared>) -> Option<Conn> {
        let mut state = self.exchange.lock();
        let keep = state.reply.keep_alive() && state.drain_body();
        shared
            .log
            .request(&self.client, &self.line, state.reply.code());
        let cut_short = state.reply.cut().is_some();
        let mut conn = state.take_conn()?;
        let body_unread = state.body_unread();
        drop(state);
        if cut_short && conn.is_tls() {
            // No close_notify: over TLS it would tell the client that a
            // response framed by the close ended normally.
            return None;
        }
        if keep {
            // Even at shutdown: the response said the connection stays,
            // so the client may be sending its next request already. The
            // serve loop answers one that is here, and closes with a FIN
            // and a linger otherwise.
            conn.count_served();
            Some(conn)
        } else {
            close_gracefully(conn, body_unread, shared);
            None
        }
    }
}

/// Goes on with a response until it is out (then returns the connection
/// if it can carry another request) or the socket is full: then the
/// connection waits in the parker, with the response, until it is
/// writable, and a worker that takes it goes on (see [`serve`]).
fn proceed(mut sending: Sending, shared: &Arc<Shared>) -> Option<Conn> {
    loop {
        // Wait a moment for room only if another worker is free for the
        // rest of the work.
        let spin_ms = if shared.pool.is_quiet(shared) {
            WRITE_SPIN_MS
        } else {
            0
        };
        match sending.step(spin_ms, shared) {
            Progress::Done => return sending.finish(shared),
            Progress::Blocked if shared.parker.is_finished() => {
                // No one would resume it: the server is stopping.
                sending.cut_short(Cut::GraceOver);
                continue;
            }
            Progress::Blocked => {}
        }
        let mut conn = sending.exchange.lock().conn.take()?;
        // Boxed only to wait: most responses never do.
        conn.sending = Some(Box::new(sending));
        let mut writable = shared.parker.park_writing(conn)?;
        // Room was made while we held it: go on at once.
        sending = *writable.sending.take()?;
        sending.exchange.lock().conn = Some(writable);
    }
}

/// Settles the response after the app and its body are done (see
/// [`Reply::conclude`](crate::model::reply::Reply::conclude)): the proper
/// end, an error page in its place, or a cut-short connection; logs what
/// went wrong.
fn conclude(
    state: &mut State,
    stop: Option<Stop>,
    shared: &Shared,
    client: &str,
    line: &RequestLine,
) {
    let unread = state.body.unread();
    let passthrough = shared.config.passthrough_errors;
    let ending = state.reply.conclude(
        stop,
        passthrough,
        state.body.error,
        unread,
        &mut state.out.buf,
    );
    if let Some(err) = ending.refused {
        let message = format!("code {}, message {err}", err.status());
        shared.log.client_error(client, &message);
    }
    for error in &ending.errors {
        shared.log.error(&format!(
            "Error on request \"{line}\" from {client}: {error}"
        ));
    }
    if let Some(payload) = ending.panic {
        shared.pass_through(payload);
    }
}
