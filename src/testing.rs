//! Calling an application without a server, for unit tests of apps and
//! middleware.
//!
//! ```
//! use werk::{Body, Environ, StartResponse};
//!
//! fn app(environ: &Environ, start_response: StartResponse) -> Body {
//!     start_response.start("200 OK", [("Content-Type", "text/plain")]).unwrap();
//!     Body::from(format!("you asked for {}", environ.path_info()))
//! }
//!
//! let response = werk::testing::call(&app, Environ::builder().path("/x").build());
//! assert_eq!(response.status, "200 OK");
//! assert_eq!(response.text(), "you asked for /x");
//! ```

use std::io;
use std::sync::{Arc, Mutex};

use crate::model::{Field, Fields, Responder, StartError, StartState};
use crate::{App, Environ, StartResponse};

/// What an application produced for one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResponse {
    /// The status line, or `500 Internal Server Error` if the app misused
    /// `start_response` (as the server would answer).
    pub status: String,
    /// The headers the app gave.
    pub headers: Vec<(String, String)>,
    /// The body: bytes from `write` and from the returned body, in order.
    pub body: Vec<u8>,
    /// How the app broke the `start_response` rules, if it did.
    pub misuse: Option<String>,
    /// What the app wrote to `wsgi.errors`.
    pub errors: String,
}

impl TestResponse {
    /// The first header with this name, any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8 text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Default)]
struct Recorder {
    start: Mutex<StartState>,
    body: Mutex<Vec<u8>>,
}

impl Recorder {
    fn mark_sent(&self) -> io::Result<()> {
        let mut start = self.start.lock().unwrap_or_else(|e| e.into_inner());
        if start.head.is_none() {
            let msg = "the application produced a body before calling start_response";
            start.misuse.get_or_insert_with(|| msg.to_owned());
            return Err(io::Error::other(msg));
        }
        start.head_sent = true;
        Ok(())
    }
}

impl Responder for Recorder {
    fn start(
        &self,
        status: Field,
        headers: Fields,
        error: Option<String>,
    ) -> Result<(), StartError> {
        self.start
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .start(status, headers, error)
    }

    fn write(&self, data: &[u8]) -> io::Result<()> {
        self.mark_sent()?;
        self.body
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(data);
        Ok(())
    }
}

/// Calls `app` with `environ` and collects the whole response. A panic in
/// the app propagates to the test.
pub fn call(app: &impl App, environ: Environ) -> TestResponse {
    let recorder = Arc::new(Recorder::default());
    let errors = environ.errors();
    let body = app.call(&environ, StartResponse::new(recorder.clone()));
    for chunk in body.into_chunks() {
        match chunk {
            Ok(chunk) if recorder.write(&chunk).is_ok() => {}
            _ => break,
        }
    }
    let _ = recorder.mark_sent();
    let start = recorder.start.lock().unwrap_or_else(|e| e.into_inner());
    let (status, headers) = match (&start.misuse, &start.head) {
        (None, Some(head)) => (head.status.to_string(), owned(&head.headers)),
        (misuse, head) => (
            "500 Internal Server Error".to_owned(),
            head.as_ref()
                .filter(|_| misuse.is_none())
                .map(|h| owned(&h.headers))
                .unwrap_or_default(),
        ),
    };
    let body = std::mem::take(&mut *recorder.body.lock().unwrap_or_else(|e| e.into_inner()));
    TestResponse {
        status,
        headers,
        body,
        misuse: start.misuse.clone(),
        errors: errors.captured(),
    }
}

fn owned(headers: &[(Field, Field)]) -> Vec<(String, String)> {
    let pairs = headers.iter();
    pairs.map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Body;
    use std::io::Write;

    #[test]
    fn write_handle_and_body_are_in_order() {
        let app = |_: &Environ, sr: StartResponse| {
            let mut write = sr.start("200 OK", [("X", "1")]).unwrap();
            write.write_all(b"first ").unwrap();
            Body::from("second")
        };
        let response = call(&app, Environ::builder().build());
        assert_eq!(response.text(), "first second");
        assert_eq!(response.header("x"), Some("1"));
    }

    #[test]
    fn no_start_response_is_a_500() {
        let app = |_: &Environ, _: StartResponse| Body::from("oops");
        let response = call(&app, Environ::builder().build());
        assert_eq!(response.status, "500 Internal Server Error");
        assert!(response.misuse.is_some());
    }
}
