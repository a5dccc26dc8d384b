//! What a worker does with a connection: read request heads, run the
//! application for each, send its response, and decide whether the
//! connection stays open, is parked until the client speaks again, or
//! closes.
//!
//! ```text
//!   readable conn ──► read what is there ──► parse head
//!        ▲                 │ nothing yet          │ complete
//!        │                 ▼                      ▼
//!      parker ◄──── park (idle / partial)    run app, send body
//!                                                 │ keep-alive
//!                                                 └──► next head
//! ```

use std::any::Any;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::conn::Conn;
use super::environ::{cgi_vars, RequestLine};
use super::exchange::{BodyReader, Exchange, State, CLIENT_GONE};
use super::live::Answered;
use super::pages::{error_page, error_response};
use super::Shared;
use crate::http::{parse_head, Framing, HttpError, Parsed, RequestHead};
use crate::model::body::{next_chunk, Source};
use crate::model::{Environ, Input, LockedResponse, ResponseWriter, StartResponse, Text};

/// Serves requests on `conn` until it must wait for the client (then it
/// is parked) or close.
pub(crate) fn serve(mut conn: Conn, shared: &Arc<Shared>) {
    if shared.config.protocol == crate::Protocol::Scgi {
        // One request per connection, CGI-style response: server/scgi.rs.
        return super::scgi::serve(conn, shared);
    }
    let mut owed_until: Option<Instant> = None;
    // Served because it is new or became readable.
    conn.mark_readable();
    loop {
        if conn.served == 0 && !conn.is_tls() && crate::http::is_tls_client_hello(conn.buffered()) {
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
                        let started = *conn.head_started.get_or_insert_with(Instant::now);
                        conn.body_allowance = body_allowance(expected);
                        if started.elapsed() >= shared.config.head_timeout + conn.body_allowance {
                            return reject(conn, HttpError::BodyTimeout, shared);
                        }
                    }
                    Step::Run => {
                        conn.head_started = None;
                        conn.body_allowance = Duration::ZERO;
                        conn.body_scan = None;
                        conn.consume(head.head_len);
                        match handle_request(conn, head, shared) {
                            Some(next) => conn = next,
                            None => return,
                        }
                        continue;
                    }
                },
                Ok(Parsed::Partial) => {
                    let started = *conn.head_started.get_or_insert_with(Instant::now);
                    if started.elapsed() >= shared.config.head_timeout {
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
            Ok(None) if shared.is_shutting_down() => {
                // Between requests, closing loses nothing. A connection
                // that has not sent its first request yet (accepted just
                // before the shutdown) or is part way through a head is a
                // request in flight: it gets a short grace to arrive.
                if conn.served > 0 && conn.head_started.is_none() {
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
                if conn.head_started.is_none() && shared.pool.is_quiet(shared) {
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
                    conn.head_started.get_or_insert_with(Instant::now);
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
        if let Some(path) = super::live::Live::reserved(&head.target) {
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
            let mut scan = conn.body_scan.take().unwrap_or_default();
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
            conn.body_scan = Some(scan);
            waiting.then_some(BUFFERED_BODY)
        }
    }
}

/// How long past `head_timeout` a body of `expected` bytes may take.
fn body_allowance(expected: u64) -> Duration {
    Duration::from_secs(expected.div_ceil(MIN_BODY_RATE))
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
/// client reads our response instead of a connection reset.
fn close_gracefully(mut conn: Conn, client_may_send: bool, shared: &Arc<Shared>) {
    if client_may_send {
        conn.shutdown_write();
        shared.parker.linger(conn);
    }
}

/// Why sending a response stopped early.
enum Stop {
    /// The application panicked (in the call or while producing the body).
    Panic(Box<dyn Any + Send>),
    /// The body iterator returned an error.
    Body(io::Error),
    /// The head could not be sent (misuse, body error) or the write failed.
    Send(io::Error),
}

/// Runs the application for one request and sends the response. Returns
/// the connection if it can carry another request.
fn handle_request(conn: Conn, mut head: RequestHead, shared: &Arc<Shared>) -> Option<Conn> {
    let names = conn.names.clone();
    let scheme = if conn.is_tls() { "https" } else { "http" };
    let client_cert = conn.peer_certificate_pem();
    let exchange = Arc::new(Exchange::new(
        conn,
        &head,
        shared.config.limits.max_body,
        shared.is_shutting_down(),
        crate::SERVER_SOFTWARE,
    ));
    let request_line = RequestLine::take(&mut head);
    let mut vars = cgi_vars(head, &request_line, &names, crate::SERVER_SOFTWARE);
    if let Some(pem) = client_cert {
        vars.push(("SSL_CLIENT_CERT".into(), Text::Owned(pem)));
    }
    let input = Input::new(BodyReader(exchange.clone()));
    let mut environ = Environ::from_vars(vars, Text::Static(scheme), input);
    environ.set_process_model(true, shared.config.multiprocess, false);
    let start_response = StartResponse::new(exchange.clone());

    let called = catch_unwind(AssertUnwindSafe(|| {
        shared.app.call(&environ, start_response)
    }));
    let stop = match called {
        Ok(body) => send_body(&exchange, body).err(),
        Err(payload) => Some(Stop::Panic(payload)),
    };
    drop(environ);

    let mut state = exchange.lock();
    let client = names.remote_addr;
    conclude(&mut state, stop, shared, &client, &request_line);
    let keep = state.out.keep_alive && state.out.aborted.is_none() && state.drain_body();
    shared.log.request(&client, &request_line, state.out.code);
    let mut conn = state.take_conn()?;
    let body_unread = state.body_unread();
    drop(state);
    if keep && !shared.is_shutting_down() {
        conn.served += 1;
        Some(conn)
    } else {
        close_gracefully(conn, body_unread, shared);
        None
    }
}

/// Sends the body the application returned, chunk by chunk.
fn send_body(exchange: &Exchange, mut body: crate::Body) -> Result<(), Stop> {
    let len = body.len();
    let mut source = body.take_source();
    let is_head = exchange.lock().out_is_head();
    let result = match &mut source {
        Source::Empty => exchange.lock().ensure_head(Some(0)).map_err(Stop::Send),
        Source::Bytes(bytes) => {
            let mut state = exchange.lock();
            state
                .ensure_head(len)
                .and_then(|()| state.write_body(bytes))
                .map_err(Stop::Send)
        }
        Source::File { file, len } => {
            let mut state = exchange.lock();
            state
                .ensure_head(Some(*len))
                .and_then(|()| state.send_file(file, *len))
                .map_err(Stop::Send)
        }
        Source::Chunks(_) | Source::Reader(_) => send_chunks(exchange, &mut source, is_head),
    };
    let closed = catch_unwind(AssertUnwindSafe(move || drop(body)));
    result?;
    closed.map_err(Stop::Panic)
}

/// Streams an iterator or reader body, flushing each chunk as PEP 3333
/// asks ("Buffering and Streaming"). For HEAD only the first chunk is
/// produced, so an app that calls start_response lazily still can.
fn send_chunks(exchange: &Exchange, source: &mut Source, is_head: bool) -> Result<(), Stop> {
    loop {
        let next = catch_unwind(AssertUnwindSafe(|| next_chunk(source))).map_err(Stop::Panic)?;
        let chunk = match next {
            None => break,
            Some(Err(e)) => return Err(Stop::Body(e)),
            Some(Ok(chunk)) => chunk,
        };
        let mut state = exchange.lock();
        state.ensure_head(None).map_err(Stop::Send)?;
        if is_head {
            break;
        }
        state
            .write_body(&chunk)
            .and_then(|()| state.flush())
            .map_err(Stop::Send)?;
    }
    exchange.lock().ensure_head(Some(0)).map_err(Stop::Send)
}

/// Settles the response after the app and its body are done: the proper
/// end, an error page in its place, or a cut-short connection.
fn conclude(
    state: &mut State,
    stop: Option<Stop>,
    shared: &Shared,
    client: &str,
    line: &RequestLine,
) {
    let log = &shared.log;
    if state.start.head_sent && state.out.aborted.is_none() {
        // start_with_error too late, or a second start: the response the
        // client is getting is wrong, so it must not end properly.
        if let Some(misuse) = state.start.misuse.clone() {
            state.abort(&misuse);
        }
    }
    let explained = matches!(stop, Some(Stop::Panic(_) | Stop::Body(_)));
    match stop {
        None => state.finish(),
        Some(Stop::Panic(payload)) => {
            log.error(&format!(
                "Error on request \"{line}\" from {client}: the application panicked: {}",
                panic_message(&*payload)
            ));
            if shared.config.passthrough_errors {
                state.abort("passthrough_errors");
                shared.pass_through(payload);
            } else if !state.start.head_sent {
                send_error(state, 500, "application panicked");
            } else {
                state.abort("the application panicked while sending the body");
            }
        }
        Some(Stop::Body(_) | Stop::Send(_))
            if !state.start.head_sent && state.body.error.is_some() =>
        {
            // The app stopped because the request body was refused (too
            // large, bad chunking): answer with that status.
            let body_err = state.body.error.unwrap_or(HttpError::BadChunk);
            log.client_error(
                client,
                &format!("code {}, message {body_err}", body_err.status()),
            );
            send_error(state, body_err.status(), &body_err.to_string());
        }
        Some(Stop::Body(err)) => {
            log.error(&format!(
                "Error on request \"{line}\" from {client}: the body failed: {err}"
            ));
            if state.start.head_sent {
                state.abort("the body failed");
            } else {
                send_error(state, 500, "the body failed");
            }
        }
        Some(Stop::Send(err)) if !state.start.head_sent => {
            log.error(&format!("Error on request \"{line}\" from {client}: {err}"));
            send_error(state, 500, &err.to_string());
        }
        Some(Stop::Send(_)) => {}
    }
    if !explained {
        if let Some(why) = state.out.aborted.as_deref().filter(|w| *w != CLIENT_GONE) {
            log.error(&format!("Error on request \"{line}\" from {client}: {why}"));
        }
    }
    let _ = state.flush();
}

/// Replaces the response with an error page (nothing was sent yet).
fn send_error(state: &mut State, code: u16, detail: &str) {
    let (headers, body) = error_page(code, detail);
    let keep_alive = code == 500;
    let _ = state.send_own_response(code, headers, &body, keep_alive);
}

/// The text of a panic payload (`&str` or `String`), as the default hook
/// prints it.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}
