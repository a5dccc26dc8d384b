//! `Lint`: checks an application against the rules of PEP 3333 and HTTP
//! while it runs, and reports each broken rule as a warning line on
//! `wsgi.errors` (Werkzeug's `LintMiddleware`).
//!
//! The rules are listed on [`Lint`].
//!
//! # What "closed" means in Rust
//!
//! PEP 3333 has the server call the iterable's `close()` when the
//! response ends, however it ends; Werkzeug warns about an iterator that
//! was garbage collected unclosed, or iterated after `close()`. In Rust,
//! `close()` is [`Body`]'s `Drop`: it runs exactly once, and ownership
//! makes iterating a dropped body impossible, so those mistakes cannot
//! happen. What a server (or a middleware) can still do is drop the body
//! before its iterator ended: the client went away, the body failed, or
//! the response was replaced. `Lint` reports that as `body-unfinished`
//! (except for HEAD, where the server stops after the head by design), so
//! a response cut short is visible.
//!
//! Werkzeug's checks of Python types (a `str` where `bytes` belong, a
//! header list that is not a list, keyword arguments) have no Rust
//! counterpart: the compiler makes them. Neither has its relative
//! `Location` warning: RFC 9110 section 10.2.2 allows a relative
//! reference there.
//!
//! Bodies of known size (bytes, [`Body::file`]) pass through untouched,
//! so files keep the kernel's copy path; a streamed body is wrapped to
//! count its bytes.

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::model::{Field, Fields, Responder};
use crate::{App, Body, BodyChunks, Chunk, Environ, Errors, Input, StartError, StartResponse};

/// Checks the wrapped application against PEP 3333 and HTTP rules, and
/// writes a warning line to `wsgi.errors` for each rule it breaks. The
/// response itself is passed on unchanged.
///
/// A warning line names the rule and where it is written down:
///
/// ```text
/// werk lint [start-twice]: start_response was called a second time without an error (PEP 3333, "The start_response() Callable")
/// ```
///
/// | rule                  | what it catches | source |
/// |-----------------------|-----------------|--------|
/// | `environ-key`         | `REQUEST_METHOD`, `SERVER_NAME`, `SERVER_PORT` or `SERVER_PROTOCOL` missing | PEP 3333 "environ Variables" |
/// | `environ-slash`       | a non-empty `SCRIPT_NAME` or `PATH_INFO` not starting with `/` | PEP 3333 "environ Variables" |
/// | `start-twice`         | `start_response` called again without an error | PEP 3333 "The start_response() Callable" |
/// | `start-after-send`    | `start_response` with an error after the head was sent | PEP 3333 "The start_response() Callable" |
/// | `no-start`            | `start_response` never called | PEP 3333 "The start_response() Callable" |
/// | `body-before-start`   | body bytes before `start_response` | PEP 3333 "The start_response() Callable" |
/// | `status`              | status not three digits, a space and a reason; code outside 200-599 (1xx is informational, never final); control characters | PEP 3333 "The start_response() Callable", RFC 9110 section 15 |
/// | `header-name`         | a header name that is not a token | PEP 3333 "The start_response() Callable", RFC 9110 section 5.1 |
/// | `header-value`        | a control character (CR, LF, ...) in a header value | PEP 3333 "The start_response() Callable" |
/// | `header-status`       | a `Status` header (the CGI way to set the status) | RFC 3875 section 6.3.3 |
/// | `hop-by-hop`          | `Connection`, `Transfer-Encoding`, ... from the application | PEP 3333 "Other HTTP Features" |
/// | `etag`                | an unquoted `ETag`, or a weak one spelled `w/` | RFC 9110 section 8.8.3 |
/// | `content-length`      | `Content-Length` and the bytes of the body differ | PEP 3333 "Handling the Content-Length Header" |
/// | `no-body-status`      | a body (or a non-zero `Content-Length`) with 1xx or 204; a body or content headers with 304 | RFC 9110 sections 6.4.1, 15.3.5, 15.4.5 |
/// | `head-body`           | body bytes for a HEAD request (the server drops them) | RFC 9110 section 9.3.2 |
/// | `input-past-length`   | more of `wsgi.input` read than `CONTENT_LENGTH` says (the server's input ends there, so only after a middleware changed one of them) | PEP 3333 "Input and Error Streams" |
/// | `body-unfinished`     | the body was closed before its iterator ended (not for HEAD) | PEP 3333 "Specification Details" |
///
/// ```
/// use werk::middleware::Lint;
/// use werk::{testing, Body, Environ, StartResponse};
///
/// fn app(_: &Environ, sr: StartResponse) -> Body {
///     sr.start("200 OK", [("Content-Length", "10")]).unwrap();
///     Body::from("short")
/// }
///
/// let response = testing::call(&Lint::new(app), Environ::builder().build());
/// assert!(response.errors.contains("[content-length]"));
/// ```
pub struct Lint<A> {
    app: A,
}

impl<A: App> Lint<A> {
    /// Wraps `app`.
    pub fn new(app: A) -> Lint<A> {
        Lint { app }
    }
}

impl<A> fmt::Debug for Lint<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lint").finish_non_exhaustive()
    }
}

const START: &str = "PEP 3333, \"The start_response() Callable\"";
const ENVIRON: &str = "PEP 3333, \"environ Variables\"";

impl<A: App> App for Lint<A> {
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
        let checks = Arc::new(Checks {
            errors: environ.errors(),
            is_head: environ.method() == "HEAD",
            seen: Mutex::new(Seen::default()),
        });
        checks.environ(environ);
        let mut inner = environ.clone();
        inner.set_input(Input::new(LintInput {
            input: environ.input(),
            limit: environ.content_length(),
            read: 0,
            checks: checks.clone(),
        }));
        let responder = Arc::new(LintResponder {
            inner: start_response.responder(),
            checks: checks.clone(),
        });
        let body = self.app.call(&inner, StartResponse::new(responder));
        match body.len() {
            Some(len) => {
                checks.seen().body_bytes = len;
                checks.seen().exhausted = true;
                body.on_close(move || checks.at_close())
            }
            None => Body::try_stream(LintChunks {
                chunks: Some(body.into_chunks()),
                checks,
            }),
        }
    }
}

/// What the checks have seen of one request.
#[derive(Debug, Default)]
struct Seen {
    starts: u32,
    code: Option<u16>,
    headers: Fields,
    content_length: Option<u64>,
    /// Body bytes were handed on (by `write` or the body).
    sending: bool,
    written: u64,
    body_bytes: u64,
    exhausted: bool,
    input_warned: bool,
}

/// The checks for one request, shared by its responder, input and body.
struct Checks {
    errors: Errors,
    is_head: bool,
    seen: Mutex<Seen>,
}

impl Checks {
    fn seen(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn warn(&self, rule: &str, message: &str, source: &str) {
        let line = format!("werk lint [{rule}]: {message} ({source})\n");
        let _ = self.errors.clone().write_all(line.as_bytes());
    }

    fn environ(&self, environ: &Environ) {
        for key in [
            "REQUEST_METHOD",
            "SERVER_NAME",
            "SERVER_PORT",
            "SERVER_PROTOCOL",
        ] {
            if environ.get(key).is_none() {
                self.warn("environ-key", &format!("the environ has no {key}"), ENVIRON);
            }
        }
        for key in ["SCRIPT_NAME", "PATH_INFO"] {
            let value = environ.get(key).unwrap_or("");
            if !value.is_empty() && !value.starts_with('/') {
                self.warn(
                    "environ-slash",
                    &format!("{key} does not start with a slash: {value:?}"),
                    ENVIRON,
                );
            }
        }
    }

    /// The checks of one `start_response` call, before it is passed on.
    fn start(&self, status: &str, headers: &[(Field, Field)], with_error: bool) {
        let (starts, sending) = {
            let mut state = self.seen();
            state.starts += 1;
            (state.starts, state.sending)
        };
        if starts > 1 && !with_error {
            self.warn(
                "start-twice",
                "start_response was called a second time without an error",
                START,
            );
        }
        if with_error && sending {
            self.warn(
                "start-after-send",
                "start_response was called with an error after the head was sent; it fails, and the application must stop",
                START,
            );
        }
        self.status(status);
        for (name, value) in headers {
            self.header(name, value);
        }
    }

    fn status(&self, status: &str) {
        let code = status.split(' ').next().unwrap_or("");
        let three_digits = code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit());
        if !three_digits {
            self.warn(
                "status",
                &format!("the status code of {status:?} is not three digits"),
                START,
            );
        }
        if status.len() < 4 || status.as_bytes()[3] != b' ' {
            self.warn(
                "status",
                &format!("the status {status:?} is not three digits, a space and a reason phrase"),
                START,
            );
        }
        let digits: String = status.chars().take_while(char::is_ascii_digit).collect();
        match digits.parse::<u32>() {
            Ok(n) if n < 100 => self.warn(
                "status",
                &format!("the status code {n} is below 100"),
                "RFC 9110, section 15",
            ),
            Ok(n) if n > 599 => self.warn(
                "status",
                &format!("the status code {n} is above 599"),
                "RFC 9110, section 15",
            ),
            Ok(n) if n < 200 => self.warn(
                "status",
                &format!(
                    "the status code {n} is informational (1xx), not a final status; \
                     the server answers 500 instead"
                ),
                "RFC 9110, section 15.2",
            ),
            _ => {}
        }
        if status.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            self.warn(
                "status",
                &format!("the status {status:?} holds a control character"),
                START,
            );
        }
    }

    fn header(&self, name: &str, value: &str) {
        if !crate::http::is_token(name) {
            self.warn(
                "header-name",
                &format!("the header name {name:?} is not a token"),
                "PEP 3333, \"The start_response() Callable\"; RFC 9110, section 5.1",
            );
        }
        if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            self.warn(
                "header-value",
                &format!("the value of header {name:?} holds a control character: {value:?}"),
                START,
            );
        }
        let lower = name.to_ascii_lowercase();
        if lower == "status" {
            self.warn(
                "header-status",
                "a Status header conflicts with the CGI status; give the status to start_response",
                "RFC 3875, section 6.3.3",
            );
        }
        if crate::http::is_hop_by_hop(&lower) {
            self.warn(
                "hop-by-hop",
                &format!(
                    "the hop-by-hop header {name:?} belongs to the server, not the application"
                ),
                "PEP 3333, \"Other HTTP Features\"",
            );
        }
        if lower == "etag" {
            let tag = value.strip_prefix("W/").unwrap_or(value);
            if value.starts_with("w/") {
                self.warn(
                    "etag",
                    &format!("the weak ETag {value:?} must start with an upper-case W/"),
                    "RFC 9110, section 8.8.3",
                );
            }
            let tag = tag.strip_prefix("w/").unwrap_or(tag);
            if tag.len() < 2 || !tag.starts_with('"') || !tag.ends_with('"') {
                self.warn(
                    "etag",
                    &format!("the ETag {value:?} is not a quoted string"),
                    "RFC 9110, section 8.8.3",
                );
            }
        }
    }

    /// Records a head the server accepted.
    fn started(&self, status: &str, headers: Fields) {
        let mut state = self.seen();
        state.code = status.get(..3).and_then(|c| c.parse().ok());
        state.content_length = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse().ok());
        state.headers = headers;
    }

    /// Body bytes are about to go out (by `write` or from the body).
    fn sending(&self, written: u64, from_body: u64) {
        let started = {
            let mut state = self.seen();
            state.written += written;
            state.body_bytes += from_body;
            let first = !state.sending;
            state.sending = true;
            !first || state.code.is_some()
        };
        if !started {
            self.warn(
                "body-before-start",
                "the application produced body bytes before it called start_response",
                START,
            );
        }
    }

    /// The checks that need the whole response, when the body is closed.
    fn at_close(&self) {
        let state = std::mem::take(&mut *self.seen());
        let Some(code) = state.code else {
            if state.starts == 0 {
                self.warn(
                    "no-start",
                    "the application never called start_response",
                    START,
                );
            }
            return;
        };
        let sent = state.written + state.body_bytes;
        if self.is_head {
            if sent > 0 {
                self.warn(
                    "head-body",
                    &format!("the application produced {sent} body bytes for a HEAD request; the server drops them"),
                    "RFC 9110, section 9.3.2",
                );
            }
        } else if code < 200 || code == 204 {
            if state.content_length.is_some_and(|n| n != 0) || sent > 0 {
                self.warn(
                    "no-body-status",
                    &format!("a {code} response has no body, but this one has Content-Length {:?} and {sent} bytes", state.content_length),
                    "RFC 9110, sections 6.4.1 and 15.3.5",
                );
            }
        } else if code == 304 {
            if sent > 0 {
                self.warn(
                    "no-body-status",
                    &format!("a 304 response has no body, but this one has {sent} bytes"),
                    "RFC 9110, section 15.4.5",
                );
            }
            for (name, _) in &state.headers {
                let lower = name.to_ascii_lowercase();
                if matches!(
                    lower.as_str(),
                    "content-type" | "content-encoding" | "content-language" | "content-range"
                ) {
                    self.warn(
                        "no-body-status",
                        &format!("a 304 response carries the content header {name:?}"),
                        "RFC 9110, section 15.4.5",
                    );
                }
            }
        } else if let Some(length) = state.content_length {
            if sent > length || (state.exhausted && sent != length) {
                self.warn(
                    "content-length",
                    &format!(
                        "Content-Length is {length} but the body has {sent}{} bytes",
                        if state.exhausted { "" } else { " or more" }
                    ),
                    "PEP 3333, \"Handling the Content-Length Header\"",
                );
            }
        }
        if !state.exhausted && !self.is_head {
            self.warn(
                "body-unfinished",
                &format!("the body was closed after {sent} bytes, before its iterator ended: the response was cut short"),
                "PEP 3333, \"Specification Details\"",
            );
        }
    }
}

/// `start_response` as the application sees it: checks, then passes on.
struct LintResponder {
    inner: Arc<dyn Responder>,
    checks: Arc<Checks>,
}

impl Responder for LintResponder {
    fn start(
        &self,
        status: Field,
        headers: Fields,
        error: Option<String>,
    ) -> Result<(), StartError> {
        self.checks.start(&status, &headers, error.is_some());
        let accepted = self.inner.start(status.clone(), headers.clone(), error);
        if accepted.is_ok() {
            self.checks.started(&status, headers);
        }
        accepted
    }

    fn write(&self, data: &[u8]) -> io::Result<()> {
        self.checks.sending(data.len() as u64, 0);
        self.inner.write(data)
    }
}

/// A streamed body, counted on its way out.
struct LintChunks {
    chunks: Option<BodyChunks>,
    checks: Arc<Checks>,
}

impl Iterator for LintChunks {
    type Item = io::Result<Chunk>;

    fn next(&mut self) -> Option<io::Result<Chunk>> {
        let next = self.chunks.as_mut()?.next();
        match &next {
            None => self.checks.seen().exhausted = true,
            Some(Ok(chunk)) if !chunk.is_empty() => self.checks.sending(0, chunk.len() as u64),
            Some(_) => {}
        }
        next
    }
}

impl Drop for LintChunks {
    fn drop(&mut self) {
        // The application's own close runs first, then the checks.
        drop(self.chunks.take());
        self.checks.at_close();
    }
}

/// `wsgi.input`, counted.
struct LintInput {
    input: Input,
    limit: Option<u64>,
    read: u64,
    checks: Arc<Checks>,
}

impl Read for LintInput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.input.read(buf)?;
        self.read += n as u64;
        if let Some(limit) = self.limit.filter(|&limit| self.read > limit) {
            let first = !std::mem::replace(&mut self.checks.seen().input_warned, true);
            if first {
                self.checks.warn(
                    "input-past-length",
                    &format!(
                        "the application read {} bytes of wsgi.input, past CONTENT_LENGTH {limit}",
                        self.read
                    ),
                    "PEP 3333, \"Input and Error Streams\"",
                );
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::call;

    fn lint(app: impl App, environ: Environ) -> String {
        call(&Lint::new(app), environ).errors
    }

    #[test]
    fn a_clean_app_has_no_warnings() {
        let app = |_: &Environ, sr: StartResponse| {
            sr.start(
                "200 OK",
                [("Content-Type", "text/plain"), ("ETag", "\"x\"")],
            )
            .unwrap();
            Body::stream(["a", "b"])
        };
        assert_eq!(lint(app, Environ::builder().build()), "");
    }

    #[test]
    fn werkzeugs_three_status_warnings() {
        let app = |_: &Environ, sr: StartResponse| {
            let _ = sr.start("20 OK", [("Content-Type", "text/plain")]);
            Body::empty()
        };
        let errors = lint(app, Environ::builder().build());
        assert_eq!(errors.matches("[status]").count(), 3, "{errors}");
    }
}
