//! What a worker does with a connection when the server speaks SCGI
//! ([`Protocol::Scgi`](crate::Protocol::Scgi)): read the netstring head,
//! run the application once, write its CGI-style response, close.
//!
//! ```text
//!   readable conn ──► read what is there ──► parse netstring head
//!        ▲                 │ not all there         │ complete
//!        │                 ▼                       ▼
//!      parker ◄──── park (idle / partial)    run app (gateway::response),
//!                                            CONTENT_LENGTH bytes of input,
//!                                            `Status:` + headers + body,
//!                                            close
//! ```
//!
//! Accepting, the pool, the parker and their timeouts are the HTTP
//! server's; only this per-connection step differs. `handler::serve`
//! sends SCGI connections here before anything HTTP happens.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use super::conn::Conn;
use super::Shared;
use crate::gateway::response::{self, Gateway, GatewayInput, Transport};
use crate::gateway::scgi::{parse_head, Parsed, ScgiError, ScgiHead};
use crate::model::{Environ, Input};

impl Transport for Conn {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.read_into(out)
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        Conn::write_all(self, data)
    }
}

/// How long a worker with nothing else to do waits for the head of a
/// connection just accepted before handing it to the parker: a web server
/// sends it right after connecting.
const HEAD_SPIN_MS: i32 = 1;

/// Serves the one request of an SCGI connection, or parks the connection
/// until its head has arrived.
pub(crate) fn serve(mut conn: Conn, shared: &Arc<Shared>) {
    let mut owed_until: Option<Instant> = None;
    let mut spun = false;
    loop {
        if !conn.buffered().is_empty() {
            match parse_head(conn.buffered(), shared.config.limits.max_head) {
                Ok(Parsed::Complete(head)) => return handle(conn, head, shared),
                Ok(Parsed::Partial) => {
                    conn.arrival.start();
                    if conn.arrival.is_late(shared.config.head_timeout) {
                        let why = "the web server did not send a whole SCGI head in time";
                        return refuse(conn, 408, why, shared);
                    }
                }
                Err(ScgiError::NotNetstring) if looks_like_http(conn.buffered()) => {
                    return refuse_http(conn, shared);
                }
                Err(err) => return refuse(conn, err.status(), &err.to_string(), shared),
            }
        }
        match conn.fill_now() {
            Err(err) if super::conn::is_over_memory_cap(&err) => {
                let err = crate::http::HttpError::Overloaded;
                return refuse(conn, err.status(), &err.to_string(), shared);
            }
            Ok(Some(0)) | Err(_) => return,
            Ok(Some(_)) => {}
            Ok(None) if shared.is_shutting_down() => {
                // Every SCGI connection is a request in flight: give its
                // head a short grace to arrive, as the HTTP side does.
                let until = *owed_until
                    .get_or_insert_with(|| Instant::now() + super::handler::FIRST_REQUEST_GRACE);
                let left = until.saturating_duration_since(Instant::now()).as_millis() as i32;
                if left == 0 || !crate::sys::wait_readable(conn.fd(), left).unwrap_or(false) {
                    return;
                }
            }
            Ok(None) => {
                if !spun && shared.pool.is_quiet(shared) {
                    spun = true;
                    if let Ok(true) = crate::sys::wait_readable(conn.fd(), HEAD_SPIN_MS) {
                        continue;
                    }
                }
                match shared.parker.park(conn) {
                    None => return,
                    Some(readable) => conn = readable,
                }
            }
        }
    }
}

/// Runs the application for a complete head and closes the connection.
fn handle(mut conn: Conn, head: ScgiHead, shared: &Arc<Shared>) {
    conn.arrival.stop();
    conn.consume(head.head_len);
    let request = match crate::gateway::request_from_vars(head.vars) {
        Ok(request) => request,
        Err(refused) => return refuse(conn, refused.code, &refused.message, shared),
    };
    if let Some(max) = shared.config.limits.max_body {
        if request.content_length > max {
            let why = format!(
                "request body of {} bytes is over the limit of {max}",
                request.content_length
            );
            return refuse(conn, 413, &why, shared);
        }
    }
    let client = match request.get("REMOTE_ADDR") {
        Some(addr) if !addr.is_empty() => addr.to_owned(),
        _ => conn.peer.name(),
    };
    let line = request.request_line();
    let method = request.get("REQUEST_METHOD").unwrap_or("GET").to_owned();
    let gateway = Gateway::new(conn, request.content_length, &method);
    let input = Input::new(GatewayInput(gateway.clone()));
    let mut environ = Environ::from_parts(request.vars, request.scheme, input);
    environ.set_process_model(true, shared.config.multiprocess, false);
    let outcome = response::call(
        &*shared.app,
        environ,
        &gateway,
        shared.config.passthrough_errors,
    );
    for error in &outcome.errors {
        shared.log.error(&format!(
            "Error on request \"{line}\" from {client}: {error}"
        ));
    }
    shared.log.request(&client, &line, outcome.code);
    gateway.finish();
    if let Some(payload) = outcome.panic {
        shared.pass_through(payload);
    }
    if let Some((conn, unread)) = gateway.take_transport() {
        close(conn, unread, shared);
    }
}

/// Answers a request the server will not run (a bad head, a body over the
/// limit) with a CGI-style error page, then closes.
pub(crate) fn refuse(conn: Conn, code: u16, why: &str, shared: &Arc<Shared>) {
    let client = conn.peer.name();
    shared
        .log
        .client_error(&client, &format!("code {code}, message {why}"));
    let conn = response::refuse(conn, code, why);
    close(conn, true, shared);
}

/// True if the bytes start like an HTTP request line (`GET `, `POST `).
fn looks_like_http(buf: &[u8]) -> bool {
    let method = buf.iter().take_while(|b| b.is_ascii_uppercase()).count();
    method > 0 && buf.get(method) == Some(&b' ')
}

/// Answers an HTTP client that reached the SCGI port with an HTTP 400 it
/// can show, saying where to go instead, rather than a CGI response it
/// cannot read.
fn refuse_http(mut conn: Conn, shared: &Arc<Shared>) {
    let why = "this port speaks SCGI, for a web server in front of werk (lighttpd mod_scgi, \
               nginx scgi_pass, Apache mod_proxy_scgi): send HTTP requests to that web server";
    let client = conn.peer.name();
    shared.log.client_error(
        &client,
        "code 400, message an HTTP request on the SCGI port",
    );
    if conn
        .write_all(&crate::http::error_response(400, why))
        .is_ok()
    {
        close(conn, true, shared);
    }
}

/// Closes the connection. If the web server may still be sending (body
/// left unread), stop sending first and let the parker drop the rest for
/// a moment, so it reads the response instead of a connection reset.
fn close(mut conn: Conn, web_server_may_send: bool, shared: &Arc<Shared>) {
    if web_server_may_send {
        conn.shutdown_write();
        shared.parker.linger(conn);
    }
}
