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
use std::sync::{Arc, Mutex, MutexGuard};

use crate::model::reply::{Dialect, Reply, Unread};
use crate::model::{Field, Fields, Responder, StartError};
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

/// The response as it is recorded, in [`Dialect::Record`].
struct Recording {
    reply: Reply,
    body: Vec<u8>,
}

struct Recorder(Mutex<Recording>);

impl Recorder {
    fn lock(&self) -> MutexGuard<'_, Recording> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Recording {
    /// The head is "sent" before the first body bytes: refused, and
    /// recorded as a misuse, if `start_response` was not called.
    fn mark_sent(&mut self) -> io::Result<()> {
        if let Err(cut) = self.reply.head(None, Unread::Nothing, &mut self.body) {
            let misuse = &mut self.reply.start.misuse;
            misuse.get_or_insert_with(|| cut.to_string());
            return Err(cut.into());
        }
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
        self.lock().reply.start.start(status, headers, error)
    }

    fn write(&self, data: &[u8]) -> io::Result<()> {
        let mut recording = self.lock();
        recording.mark_sent()?;
        let Recording { reply, body } = &mut *recording;
        let len = reply.begin_piece(data.len() as u64, body)?;
        body.extend_from_slice(&data[..len as usize]);
        reply.end_piece(len, body)?;
        Ok(())
    }
}

/// Calls `app` with `environ` and collects the whole response. A panic in
/// the app propagates to the test.
pub fn call(app: &impl App, environ: Environ) -> TestResponse {
    let recording = Recording {
        reply: Reply::new(Dialect::Record, false, false),
        body: Vec::new(),
    };
    let recorder = Arc::new(Recorder(Mutex::new(recording)));
    let errors = environ.errors();
    let body = app.call(&environ, StartResponse::new(recorder.clone()));
    for chunk in body.into_chunks() {
        match chunk {
            Ok(chunk) if recorder.write(&chunk).is_ok() => {}
            _ => break,
        }
    }
    let mut recording = recorder.lock();
    let _ = recording.mark_sent();
    let start = &recording.reply.start;
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
    let misuse = start.misuse.clone();
    TestResponse {
        status,
        headers,
        body: std::mem::take(&mut recording.body),
        misuse,
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
