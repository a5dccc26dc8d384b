//! `start_response` and the legacy `write` callable (PEP 3333 "The
//! start_response() Callable"), with the rules both the server and the
//! test double enforce.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::sync::{Arc, MutexGuard};

use crate::http::{standard_status, validate_header, validate_status, Field, Fields};

/// What receives a response: the server's connection, or a test recorder.
pub(crate) trait Responder: Send + Sync {
    /// Applies a `start_response` call (see [`StartState::start`]).
    fn start(
        &self,
        status: Field,
        headers: Fields,
        error: Option<String>,
    ) -> Result<(), StartError>;

    /// The legacy `write`: sends the head if needed, then `data`.
    fn write(&self, data: &[u8]) -> io::Result<()>;
}

/// A response written behind one lock, as the server's exchange and a
/// gateway keep it: `start_response` and `write` act on the locked state.
pub(crate) trait LockedResponse: Send + Sync {
    /// The response in progress.
    type State: ResponseWriter;

    /// Takes the lock.
    fn lock(&self) -> MutexGuard<'_, Self::State>;
}

/// What writes a response: the `start_response` rules, then the head and
/// the body in whatever form the other side expects.
pub(crate) trait ResponseWriter {
    /// The `start_response` state.
    fn start_state(&mut self) -> &mut StartState;

    /// Sends the head if it is not out yet. `body_len` is the body's size
    /// when known (it becomes Content-Length if the app gave none). Fails,
    /// without sending, if `start_response` was misused or never called.
    fn ensure_head(&mut self, body_len: Option<u64>) -> io::Result<()>;

    /// Queues body bytes.
    fn write_body(&mut self, data: &[u8]) -> io::Result<()>;

    /// Writes out everything buffered.
    fn flush(&mut self) -> io::Result<()>;
}

impl<R: LockedResponse> Responder for R {
    fn start(
        &self,
        status: Field,
        headers: Fields,
        error: Option<String>,
    ) -> Result<(), StartError> {
        self.lock().start_state().start(status, headers, error)
    }

    fn write(&self, data: &[u8]) -> io::Result<()> {
        let mut state = self.lock();
        state.ensure_head(None)?;
        state.write_body(data)?;
        state.flush()
    }
}

/// The status and headers an application chose, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResponseHead {
    pub status: Field,
    pub code: u16,
    pub headers: Fields,
    /// The app's Content-Length, if it gave one.
    pub content_length: Option<u64>,
}

/// The `start_response` rules, shared by every [`Responder`].
#[derive(Debug, Default)]
pub(crate) struct StartState {
    /// The head to send, once `start_response` succeeded.
    pub head: Option<ResponseHead>,
    /// A misuse to report with a 500 (or, once the head went out, by
    /// cutting the response short).
    pub misuse: Option<String>,
    /// True once the head is on the wire.
    pub head_sent: bool,
}

impl StartState {
    /// One call of `start_response`: exactly once, or again with an error
    /// while nothing has been sent.
    pub fn start(
        &mut self,
        status: Field,
        headers: Fields,
        error: Option<String>,
    ) -> Result<(), StartError> {
        let result = self.check(&status, &headers, error.as_deref());
        match &result {
            &Ok((code, content_length)) => {
                self.head = Some(ResponseHead {
                    status,
                    code,
                    headers,
                    content_length,
                });
                if error.is_some() {
                    self.misuse = None;
                }
            }
            Err(e) => {
                self.misuse.get_or_insert_with(|| e.to_string());
            }
        }
        result.map(drop)
    }

    fn check(
        &self,
        status: &str,
        headers: &[(Field, Field)],
        error: Option<&str>,
    ) -> Result<(u16, Option<u64>), StartError> {
        match (error, self.head_sent, self.head.is_some()) {
            (Some(error), true, _) => return Err(StartError::HeadersSent(error.to_owned())),
            (None, _, true) => return Err(StartError::AlreadyStarted),
            _ => {}
        }
        let code = validate_status(status).map_err(StartError::InvalidStatus)?;
        if code < 200 {
            // 100 Continue is the server's to send; 101 would switch
            // protocols, which a WSGI app cannot; any 1xx as the final
            // answer leaves the client waiting for the real one.
            return Err(StartError::InvalidStatus(format!(
                "status {status:?} is informational (1xx), not a final status: \
                 the final status is 200 to 599"
            )));
        }
        let mut content_length = None;
        for (name, value) in headers {
            validate_header(name, value).map_err(StartError::InvalidHeader)?;
            if name.eq_ignore_ascii_case("content-length") {
                let n = crate::http::content_length(value.trim().as_bytes()).ok_or_else(|| {
                    StartError::InvalidHeader(format!(
                        "Content-Length {value:?} is not a number of bytes (digits only)"
                    ))
                })?;
                if content_length.is_some_and(|prev| prev != n) {
                    return Err(StartError::InvalidHeader(
                        "two different Content-Length headers".to_owned(),
                    ));
                }
                content_length = Some(n);
            }
        }
        Ok((code, content_length))
    }
}

/// Why a `start_response` call was refused. The server also reports it:
/// with a 500 response and a log line if nothing was sent yet.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartError {
    /// `start` was called twice without an error (PEP 3333 allows a second
    /// call only with `exc_info`).
    AlreadyStarted,
    /// `start_with_error` after the head was sent: too late to replace the
    /// response. The app should stop; the server cuts the response short so
    /// the client sees the failure.
    HeadersSent(String),
    /// The status is not `"NNN Reason"`.
    InvalidStatus(String),
    /// A header name or value is invalid, or hop-by-hop.
    InvalidHeader(String),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::AlreadyStarted => f.write_str(
                "start_response called twice without an error (PEP 3333 allows a second call only to report an error)",
            ),
            StartError::HeadersSent(error) => write!(
                f,
                "start_response called with an error after the headers were sent: {error}"
            ),
            StartError::InvalidStatus(msg) => write!(f, "invalid status: {msg}"),
            StartError::InvalidHeader(msg) => write!(f, "invalid header: {msg}"),
        }
    }
}

impl std::error::Error for StartError {}

/// PEP 3333's `start_response` callable, handed to the app by value.
///
/// Call [`StartResponse::start`] once with the status and headers before
/// (or while) producing the body. To replace a response after an error,
/// call [`StartResponse::start_with_error`]; it works while nothing has
/// been sent. The handle is cheap to clone and may be moved into a lazily
/// produced [`Body`](crate::Body).
#[derive(Clone)]
pub struct StartResponse {
    responder: Arc<dyn Responder>,
}

impl StartResponse {
    pub(crate) fn new(responder: Arc<dyn Responder>) -> StartResponse {
        StartResponse { responder }
    }

    /// Sets the status (`"200 OK"`) and headers. Returns the legacy `write`
    /// handle.
    ///
    /// ```
    /// # use werk::{Body, Environ, StartResponse};
    /// fn app(_: &Environ, start_response: StartResponse) -> Body {
    ///     start_response
    ///         .start("404 Not Found", [("Content-Type", "text/plain")])
    ///         .expect("first and valid");
    ///     Body::from("nothing here")
    /// }
    /// let response = werk::testing::call(&app, Environ::builder().build());
    /// assert_eq!(response.status, "404 Not Found");
    /// ```
    pub fn start<H, K, V>(&self, status: &str, headers: H) -> Result<WriteHandle, StartError>
    where
        H: IntoIterator<Item = (K, V)>,
        K: Into<Field>,
        V: Into<Field>,
    {
        self.responder
            .start(status_text(status), collect(headers), None)?;
        Ok(self.write_handle())
    }

    /// Replaces the response after an error (`exc_info` in PEP 3333). Fails
    /// with [`StartError::HeadersSent`] once the head went out; the server
    /// then ends the response abruptly.
    pub fn start_with_error<H, K, V>(
        &self,
        status: &str,
        headers: H,
        error: impl fmt::Display,
    ) -> Result<WriteHandle, StartError>
    where
        H: IntoIterator<Item = (K, V)>,
        K: Into<Field>,
        V: Into<Field>,
    {
        self.responder.start(
            status_text(status),
            collect(headers),
            Some(error.to_string()),
        )?;
        Ok(self.write_handle())
    }

    /// What this `start_response` reports to, for middleware in this crate
    /// that watches the calls and passes them on.
    pub(crate) fn responder(&self) -> Arc<dyn Responder> {
        self.responder.clone()
    }

    /// A `start_response` that passes every call through `f` on its way
    /// to this one: how middleware changes the status or headers of the
    /// app it wraps, as a PEP 3333 middleware wraps `start_response` in its
    /// own function.
    ///
    /// ```
    /// use werk::{App, Body, Environ, StartResponse};
    ///
    /// /// Adds `X-Served-By` to every response of the wrapped app.
    /// struct Tag<A>(A);
    ///
    /// impl<A: App> App for Tag<A> {
    ///     fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
    ///         let tagged = start_response.map(|status, mut headers| {
    ///             headers.push(("X-Served-By".into(), "werk".into()));
    ///             (status, headers)
    ///         });
    ///         self.0.call(environ, tagged)
    ///     }
    /// }
    ///
    /// let app = Tag(werk::apps::hello);
    /// let response = werk::testing::call(&app, Environ::builder().build());
    /// assert_eq!(response.header("x-served-by"), Some("werk"));
    /// ```
    pub fn map<F>(self, f: F) -> StartResponse
    where
        F: Fn(String, Vec<(String, String)>) -> (String, Vec<(String, String)>)
            + Send
            + Sync
            + 'static,
    {
        StartResponse {
            responder: Arc::new(Mapped {
                inner: self.responder,
                f,
            }),
        }
    }

    fn write_handle(&self) -> WriteHandle {
        WriteHandle {
            responder: self.responder.clone(),
        }
    }
}

impl fmt::Debug for StartResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartResponse").finish_non_exhaustive()
    }
}

/// The status as a [`Field`]: a standard status line (`"200 OK"`) is
/// borrowed from the server's table, any other is copied.
fn status_text(status: &str) -> Field {
    match standard_status(status) {
        Some(line) => Cow::Borrowed(line),
        None => Cow::Owned(status.to_owned()),
    }
}

fn collect<H, K, V>(headers: H) -> Fields
where
    H: IntoIterator<Item = (K, V)>,
    K: Into<Field>,
    V: Into<Field>,
{
    headers
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
}

/// A responder that rewrites status and headers before passing them on.
struct Mapped<F> {
    inner: Arc<dyn Responder>,
    f: F,
}

impl<F> Responder for Mapped<F>
where
    F: Fn(String, Vec<(String, String)>) -> (String, Vec<(String, String)>) + Send + Sync,
{
    fn start(
        &self,
        status: Field,
        headers: Fields,
        error: Option<String>,
    ) -> Result<(), StartError> {
        let headers = headers
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v.into_owned()));
        let (status, headers) = (self.f)(status.into_owned(), headers.collect());
        let headers = headers.into_iter().map(|(k, v)| (k.into(), v.into()));
        self.inner.start(status.into(), headers.collect(), error)
    }

    fn write(&self, data: &[u8]) -> io::Result<()> {
        self.inner.write(data)
    }
}

/// The legacy `write` callable PEP 3333 keeps for old frameworks: each
/// `write` sends the head (the first time) and then the bytes, before it
/// returns. New code returns a [`Body`](crate::Body) instead.
#[derive(Clone)]
pub struct WriteHandle {
    responder: Arc<dyn Responder>,
}

impl io::Write for WriteHandle {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.responder.write(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for WriteHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteHandle").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdrs(pairs: &[(&'static str, &'static str)]) -> Fields {
        pairs.iter().map(|&(k, v)| (k.into(), v.into())).collect()
    }

    #[test]
    fn second_call_without_error_is_misuse() {
        let mut s = StartState::default();
        s.start("200 OK".into(), vec![], None).unwrap();
        assert_eq!(
            s.start("200 OK".into(), vec![], None),
            Err(StartError::AlreadyStarted)
        );
        assert!(s.misuse.is_some());
    }

    #[test]
    fn error_replaces_head_before_sending() {
        let mut s = StartState::default();
        s.start("200 OK".into(), vec![], None).unwrap();
        s.start("500 Oops".into(), vec![], Some("boom".into()))
            .unwrap();
        assert_eq!(s.head.as_ref().unwrap().code, 500);
        assert!(s.misuse.is_none());
        s.head_sent = true;
        assert!(matches!(
            s.start("500 Oops".into(), vec![], Some("boom".into())),
            Err(StartError::HeadersSent(_))
        ));
    }

    #[test]
    fn invalid_status_and_headers() {
        let mut s = StartState::default();
        assert!(matches!(
            s.start("OK".into(), vec![], None),
            Err(StartError::InvalidStatus(_))
        ));
        let mut s = StartState::default();
        assert!(matches!(
            s.start("200 OK".into(), hdrs(&[("X", "a\r\nb")]), None),
            Err(StartError::InvalidHeader(_))
        ));
        assert!(s.head.is_none());
        assert!(s.misuse.is_some());
    }

    #[test]
    fn content_length_is_read() {
        let mut s = StartState::default();
        s.start("200 OK".into(), hdrs(&[("content-length", "12")]), None)
            .unwrap();
        assert_eq!(s.head.unwrap().content_length, Some(12));
        let mut s = StartState::default();
        assert!(s
            .start("200 OK".into(), hdrs(&[("Content-Length", "x")]), None)
            .is_err());
    }
}
