//! One request through a gateway: the body read from the web server, the
//! application called, and its response written CGI-style (RFC 3875
//! section 6): `Status: 200 OK`, the headers, a blank line, the body.
//!
//! The `start_response` rules are the HTTP server's ([`StartState`]): one
//! call, or another with an error while nothing was sent; a misuse before
//! the head went out is answered with a 500, after it the response is cut
//! short. The web server in front owns the HTTP framing, so there is no
//! chunked coding, keep-alive or `100 Continue` here: the body ends where
//! the output ends.

use std::any::Any;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::model::body::{next_chunk, Source};
use crate::model::reply::{Cut, Dialect, Reply, Stop, Unread, WRITE_BUFFER};
use crate::model::{LockedResponse, ResponseWriter, StartState};
use crate::{App, Body, Environ, StartResponse};

/// Where a gateway reads the request body and writes the response:
/// stdin and stdout for CGI, the connection for SCGI.
pub(crate) trait Transport: Send + 'static {
    /// Reads body bytes into `out` (0 only at end of stream).
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize>;
    /// Writes all of `data`.
    fn write_all(&mut self, data: &[u8]) -> io::Result<()>;
}

/// The state the environ's input, `start_response`, the `write` handle and
/// the response writer share while the application runs.
pub(crate) struct Gateway<T> {
    state: Mutex<State<T>>,
}

impl<T> std::fmt::Debug for Gateway<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").finish_non_exhaustive()
    }
}

/// See [`Gateway`].
pub(crate) struct State<T> {
    /// The transport; taken back by the caller when the request is over.
    io: Option<T>,
    /// Request body bytes not read yet.
    body_left: u64,
    /// The response, in [`Dialect::Cgi`].
    reply: Reply,
    /// Response bytes not written yet.
    buf: Vec<u8>,
}

impl<T: Transport> Gateway<T> {
    /// A gateway for one request whose body is `content_length` bytes.
    pub(crate) fn new(io: T, content_length: u64, method: &str) -> Arc<Gateway<T>> {
        let is_head = method.eq_ignore_ascii_case("HEAD");
        Arc::new(Gateway {
            state: Mutex::new(State {
                io: Some(io),
                body_left: content_length,
                reply: Reply::new(Dialect::Cgi, is_head, true),
                buf: Vec::new(),
            }),
        })
    }

    /// Writes out what is still buffered: the end of the response, or the
    /// whole of an error page. The caller logs the outcome of [`call`]
    /// first, because a CGI script may be stopped by the web server as
    /// soon as its response is complete.
    pub(crate) fn finish(&self) {
        let _ = self.lock().flush();
    }

    /// Takes the transport back, and whether request body bytes were left
    /// unread.
    pub(crate) fn take_transport(&self) -> Option<(T, bool)> {
        let mut state = self.lock();
        let unread = state.body_left > 0;
        state.io.take().map(|io| (io, unread))
    }
}

impl<T: Transport> LockedResponse for Gateway<T> {
    type State = State<T>;

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `wsgi.input` over a gateway: exactly `CONTENT_LENGTH` bytes.
pub(crate) struct GatewayInput<T>(pub Arc<Gateway<T>>);

impl<T: Transport> io::Read for GatewayInput<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.lock().read_body(buf)
    }
}

fn request_over() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the request is over")
}

impl<T: Transport> State<T> {
    fn read_body(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() || self.body_left == 0 {
            return Ok(0);
        }
        let want = out
            .len()
            .min(usize::try_from(self.body_left).unwrap_or(usize::MAX));
        let io = self.io.as_mut().ok_or_else(request_over)?;
        let n = loop {
            match io.read(&mut out[..want]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the web server closed the request body {} bytes before CONTENT_LENGTH",
                    self.body_left
                ),
            ));
        }
        self.body_left -= n as u64;
        Ok(n)
    }
}

impl<T: Transport> ResponseWriter for State<T> {
    fn start_state(&mut self) -> &mut StartState {
        &mut self.reply.start
    }

    /// Queues the head if it is not out yet (see [`Reply::head`]).
    fn ensure_head(&mut self, body_len: Option<u64>) -> io::Result<()> {
        Ok(self.reply.head(body_len, Unread::Nothing, &mut self.buf)?)
    }

    fn write_body(&mut self, data: &[u8]) -> io::Result<()> {
        let len = self.reply.begin_piece(data.len() as u64, &mut self.buf)?;
        self.buf.extend_from_slice(&data[..len as usize]);
        self.reply.end_piece(len, &mut self.buf)?;
        if self.buf.len() >= WRITE_BUFFER {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let io = self.io.as_mut().ok_or_else(request_over)?;
        let result = io.write_all(&self.buf);
        self.buf.clear();
        if result.is_err() {
            self.reply.cut_short(Cut::ClientGone);
        }
        result
    }
}

/// Answers a request that was refused before the application ran: the
/// status and an error page, CGI-style.
pub(crate) fn refuse<T: Transport>(io: T, code: u16, detail: &str) -> T {
    let gateway = Gateway::new(io, 0, "GET");
    let mut state = gateway.lock();
    let state = &mut *state;
    state
        .reply
        .answer_instead(code, detail, false, Unread::Nothing, &mut state.buf);
    let _ = state.flush();
    state.io.take().expect("the transport is still there")
}

/// What became of one request.
pub(crate) struct Outcome {
    /// The status code sent (0 if nothing was).
    pub code: u16,
    /// What went wrong, for the error log.
    pub errors: Vec<String>,
    /// The application's panic, when the caller asked to pass it through.
    pub panic: Option<Box<dyn Any + Send>>,
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outcome")
            .field("code", &self.code)
            .field("errors", &self.errors)
            .finish_non_exhaustive()
    }
}

/// Calls `app` with `environ` and writes its response through `gateway`,
/// all but what is still buffered: [`Gateway::finish`] sends that. A
/// panic becomes a 500 (or, with `passthrough`, is handed back in the
/// outcome, the response cut short); a web server that stops reading is
/// not an error.
pub(crate) fn call<T: Transport>(
    app: &dyn App,
    environ: Environ,
    gateway: &Arc<Gateway<T>>,
    passthrough: bool,
) -> Outcome {
    let start_response = StartResponse::new(gateway.clone());
    let called = catch_unwind(AssertUnwindSafe(|| app.call(&environ, start_response)));
    let stop = match called {
        Ok(body) => send_body(gateway, body).err(),
        Err(payload) => Some(Stop::Panic(payload)),
    };
    drop(environ);
    let mut state = gateway.lock();
    let state = &mut *state;
    let ending = state
        .reply
        .conclude(stop, passthrough, None, Unread::Nothing, &mut state.buf);
    Outcome {
        code: state.reply.code(),
        errors: ending.errors,
        panic: ending.panic,
    }
}

/// Sends the body the application returned, flushing each chunk (PEP 3333
/// "Buffering and Streaming"). For a response without a body only the
/// first chunk is produced, so an app that calls start_response lazily
/// still can.
fn send_body<T: Transport>(gateway: &Gateway<T>, mut body: Body) -> Result<(), Stop> {
    let len = body.len();
    let mut source = body.take_source();
    let result = (|| {
        if let Source::Empty | Source::Bytes(_) | Source::File { .. } = source {
            gateway.lock().ensure_head(len).map_err(Stop::Send)?;
        }
        loop {
            let next =
                catch_unwind(AssertUnwindSafe(|| next_chunk(&mut source))).map_err(Stop::Panic)?;
            let chunk = match next {
                None => break,
                Some(Err(e)) => return Err(Stop::Body(e)),
                Some(Ok(chunk)) => chunk,
            };
            let mut state = gateway.lock();
            state.ensure_head(None).map_err(Stop::Send)?;
            if !state.reply.has_body() {
                break;
            }
            state
                .write_body(&chunk)
                .and_then(|()| state.flush())
                .map_err(Stop::Send)?;
        }
        gateway.lock().ensure_head(Some(0)).map_err(Stop::Send)
    })();
    let closed = catch_unwind(AssertUnwindSafe(move || {
        drop(source);
        drop(body);
    }));
    result?;
    closed.map_err(Stop::Panic)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Input;
    use std::io::Write;

    /// A transport over bytes in memory.
    #[derive(Default)]
    struct Memory {
        input: io::Cursor<Vec<u8>>,
        output: Vec<u8>,
        fail_writes: bool,
    }

    impl Transport for Memory {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            io::Read::read(&mut self.input, out)
        }

        fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
            if self.fail_writes {
                return Err(io::Error::from(io::ErrorKind::BrokenPipe));
            }
            self.output.extend_from_slice(data);
            Ok(())
        }
    }

    fn run(app: impl App, method: &str, body: &[u8], declared: u64) -> (String, Outcome) {
        let memory = Memory {
            input: io::Cursor::new(body.to_vec()),
            ..Memory::default()
        };
        let gateway = Gateway::new(memory, declared, method);
        let environ = Environ::builder().method(method).build();
        let mut environ = environ;
        environ.set_input(Input::new(GatewayInput(gateway.clone())));
        let outcome = call(&app, environ, &gateway, false);
        gateway.finish();
        let (memory, _) = gateway.take_transport().unwrap();
        (
            String::from_utf8_lossy(&memory.output).into_owned(),
            outcome,
        )
    }

    #[test]
    fn status_headers_blank_line_body() {
        let app = |_: &Environ, sr: StartResponse| {
            sr.start("200 OK", [("Content-Type", "text/plain")])
                .unwrap();
            Body::from("hi")
        };
        let (out, outcome) = run(app, "GET", b"", 0);
        assert_eq!(
            out,
            "Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"
        );
        assert_eq!(outcome.code, 200);
        assert!(outcome.errors.is_empty());
    }

    #[test]
    fn streamed_body_has_no_length_and_head_has_no_body() {
        let app = |_: &Environ, sr: StartResponse| {
            sr.start("200 OK", [("X", "1")]).unwrap();
            Body::stream(["a", "b"])
        };
        let (out, _) = run(app, "GET", b"", 0);
        assert_eq!(out, "Status: 200 OK\r\nX: 1\r\n\r\nab");
        let (out, _) = run(app, "HEAD", b"", 0);
        assert_eq!(out, "Status: 200 OK\r\nX: 1\r\n\r\n");
    }

    #[test]
    fn body_is_read_up_to_content_length() {
        let app = |environ: &Environ, sr: StartResponse| {
            sr.start("200 OK", Vec::<(String, String)>::new()).unwrap();
            Body::from(environ.input().read_all().unwrap())
        };
        let (out, _) = run(app, "POST", b"hello, and more", 5);
        assert!(out.ends_with("\r\n\r\nhello"), "{out:?}");
    }

    #[test]
    fn short_body_is_an_error_for_the_app() {
        let app = |environ: &Environ, sr: StartResponse| {
            let err = environ.input().read_all().unwrap_err();
            sr.start("400 Bad Request", Vec::<(String, String)>::new())
                .unwrap();
            Body::from(err.to_string())
        };
        let (out, _) = run(app, "POST", b"abc", 10);
        assert!(out.contains("7 bytes before CONTENT_LENGTH"), "{out:?}");
    }

    #[test]
    fn panic_before_the_head_is_a_500() {
        let app = |_: &Environ, _: StartResponse| -> Body { panic!("boom") };
        let (out, outcome) = run(app, "GET", b"", 0);
        assert!(
            out.starts_with("Status: 500 Internal Server Error\r\n"),
            "{out}"
        );
        assert!(out.contains("internal error"));
        assert_eq!(outcome.code, 500);
        assert!(outcome.errors[0].contains("boom"));
    }

    #[test]
    fn misuse_follows_the_server_rules() {
        let twice = |_: &Environ, sr: StartResponse| {
            sr.start("200 OK", Vec::<(String, String)>::new()).unwrap();
            let _ = sr.start("201 Created", Vec::<(String, String)>::new());
            Body::from("x")
        };
        let (out, outcome) = run(twice, "GET", b"", 0);
        assert!(out.starts_with("Status: 500 "), "{out}");
        assert!(outcome.errors[0].contains("twice"));
        let none = |_: &Environ, _: StartResponse| Body::from("x");
        let (out, _) = run(none, "GET", b"", 0);
        assert!(out.starts_with("Status: 500 "), "{out}");
        let replaced = |_: &Environ, sr: StartResponse| {
            sr.start("200 OK", Vec::<(String, String)>::new()).unwrap();
            sr.start_with_error("503 Busy", [("Retry-After", "1")], "db down")
                .unwrap();
            Body::from("later")
        };
        let (out, outcome) = run(replaced, "GET", b"", 0);
        assert!(
            out.starts_with("Status: 503 Busy\r\nRetry-After: 1\r\n"),
            "{out}"
        );
        assert!(outcome.errors.is_empty());
    }

    #[test]
    fn too_long_a_body_is_cut_at_content_length() {
        let app = |_: &Environ, sr: StartResponse| {
            let mut w = sr.start("200 OK", [("Content-Length", "3")]).unwrap();
            let _ = w.write_all(b"abcdef");
            Body::empty()
        };
        let (out, outcome) = run(app, "GET", b"", 0);
        assert!(out.ends_with("\r\n\r\nabc"), "{out:?}");
        assert!(outcome.errors[0].contains("more than its Content-Length"));
    }

    #[test]
    fn a_web_server_that_stops_reading_is_not_an_error() {
        let memory = Memory {
            fail_writes: true,
            ..Memory::default()
        };
        let gateway = Gateway::new(memory, 0, "GET");
        let app = |_: &Environ, sr: StartResponse| {
            sr.start("200 OK", Vec::<(String, String)>::new()).unwrap();
            Body::stream(["a", "b"])
        };
        let outcome = call(&app, Environ::builder().build(), &gateway, false);
        assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    }

    #[test]
    fn refusal_is_a_cgi_error_page() {
        let memory = refuse(Memory::default(), 413, "too large");
        let out = String::from_utf8(memory.output).unwrap();
        assert!(out.starts_with("Status: 413 Content Too Large\r\nContent-Type: text/html"));
    }
}
