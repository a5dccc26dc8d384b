//! Live reload: open pages reload when another server answers, and show
//! a failed build's errors over the page.
//!
//! The server answers two reserved paths itself, before the application:
//!
//! - `/__werk/live.js?id=ID`: the script that the live-reload middleware
//!   adds to HTML responses (`live.js` beside this file);
//! - `/__werk/live`: a server-sent event stream (WHATWG HTML "Server-sent
//!   events") that says `hello` with this server's id, then the build
//!   state: `ok`, `building`, or `failed` with the errors.
//!
//! An open stream holds no worker: once its head is written, the
//! connection moves to this hub, whose one thread (`werk-live`) writes
//! each new state to every stream, and a comment every
//! [`HEARTBEAT`] to notice the ones whose page was closed. At shutdown the
//! streams close; the pages' scripts reconnect, meet a server with another
//! id (the next build, or the 503 server of `werk run`), and reload.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Duration;

use super::conn::Conn;
use crate::http::{encode_head, Framing, HeadParts, RequestHead, Version};

/// The paths the server keeps for itself while live reload is on.
pub(crate) const PREFIX: &str = "/__werk/";

/// The event stream.
const EVENTS: &str = "/__werk/live";

/// The script.
const SCRIPT: &str = "/__werk/live.js";

const SCRIPT_TEXT: &str = include_str!("live.js");

/// How often an idle stream gets a comment, which finds closed pages.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// How long one write to a stream may wait; a page that reads slower is
/// dropped (it reconnects by itself).
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// The most streams open at once; beyond, new ones get 503.
const MOST_STREAMS: usize = 1024;

/// What a parent process knows of the code being served.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum BuildState {
    /// The last build succeeded (or there is no build step).
    #[default]
    Ok,
    /// A build is running.
    Building,
    /// The last build failed, or its process could not start: the
    /// compiler's errors, or the exit status and the last lines it wrote.
    Failed(String),
}

impl BuildState {
    /// The event that tells a page.
    fn event(&self) -> Vec<u8> {
        match self {
            BuildState::Ok => b"event: ok\ndata:\n\n".to_vec(),
            BuildState::Building => b"event: building\ndata:\n\n".to_vec(),
            BuildState::Failed(text) => event("failed", text),
        }
    }
}

/// One server-sent event; each line of `data` is a `data:` field.
fn event(name: &str, data: &str) -> Vec<u8> {
    let mut out = format!("event: {name}\n").into_bytes();
    for line in data.split('\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.trim_end_matches('\r').as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    out
}

/// What became of a connection whose request named a reserved path.
#[derive(Debug)]
pub(crate) enum Answered {
    /// It may carry another request.
    Keep(Conn),
    /// It must close; the client may still be sending a body.
    Close(Conn),
    /// It is an event stream now, or it failed.
    Taken,
}

/// The hub of one server's event streams.
#[derive(Debug)]
pub(crate) struct Live {
    /// Which server this is, for the pages: the build's generation under
    /// a werk parent, else when this process started.
    id: String,
    inner: Mutex<Inner>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct Inner {
    state: BuildState,
    /// Bumped at each new state; each stream keeps the one it last got.
    version: u64,
    streams: Vec<Stream>,
    closing: bool,
}

/// One open event stream.
#[derive(Debug)]
struct Stream {
    conn: Conn,
    /// The state version this page last got.
    sent: u64,
}

impl Live {
    /// A hub for the server `id` names (letters, digits, `-` and `.`), with
    /// its writer thread.
    pub(crate) fn start(id: &str) -> std::io::Result<Arc<Live>> {
        let id: String = id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
            .collect();
        let live = Arc::new(Live {
            id,
            inner: Mutex::default(),
            changed: Condvar::new(),
        });
        let writer = Arc::downgrade(&live);
        std::thread::Builder::new()
            .name("werk-live".into())
            .spawn(move || write_forever(&writer))?;
        Ok(live)
    }

    /// The tag that loads the script into a page.
    pub(crate) fn snippet(&self) -> String {
        format!("<script src=\"{SCRIPT}?id={}\" defer></script>", self.id)
    }

    /// A new build state, sent to every open stream.
    pub(crate) fn set_state(&self, state: BuildState) {
        let mut inner = self.lock();
        if inner.state != state {
            inner.state = state;
            inner.version += 1;
            self.changed.notify_all();
        }
    }

    /// Closes every stream, now and from now on (the server is stopping).
    pub(crate) fn close(&self) {
        let streams = {
            let mut inner = self.lock();
            inner.closing = true;
            self.changed.notify_all();
            std::mem::take(&mut inner.streams)
        };
        for mut stream in streams {
            stream.conn.shutdown_write();
        }
    }

    /// The number of open streams.
    #[cfg(test)]
    pub(crate) fn open_streams(&self) -> usize {
        self.lock().streams.len()
    }

    /// The reserved path a request target names, however it is spelled
    /// (absolute form, percent-escapes): the application sees the same
    /// PATH_INFO, so it must never get such a request.
    pub(crate) fn reserved(target: &str) -> Option<String> {
        let path = super::environ::path_info_of(target);
        path.starts_with(PREFIX).then_some(path)
    }

    /// Answers a request for the reserved `path`.
    pub(crate) fn answer(&self, mut conn: Conn, head: &RequestHead, path: &str) -> Answered {
        let is_head = head.method() == "HEAD";
        let reply = match path {
            EVENTS if head.method() == "GET" => {
                self.open_stream(conn);
                return Answered::Taken;
            }
            SCRIPT if head.method() == "GET" || is_head => Reply::script(),
            EVENTS => Reply::not_allowed("GET", "GET only\n"),
            SCRIPT => Reply::not_allowed("GET, HEAD", "GET or HEAD only\n"),
            _ => Reply::status("404 Not Found", "not a path of werk's live reload\n"),
        };
        // A body sent to these paths is not read: close after answering.
        let close = head.close || head.framing != Framing::None;
        let connection = match (close, head.version) {
            (true, _) => Some(true),
            // An HTTP/1.0 client keeps the connection only when told.
            (false, Version::Http10) => Some(false),
            (false, Version::Http11) => None,
        };
        // Whatever the status, the answer to HEAD has no body: the client
        // reads none, and the bytes would be taken for the next response.
        if conn.write_all(&reply.encode(connection, is_head)).is_err() {
            return Answered::Taken;
        }
        if close {
            return Answered::Close(conn);
        }
        Answered::Keep(conn)
    }

    /// Writes the stream's head and first events, then keeps the
    /// connection here: the worker is free again. The writing happens
    /// outside the hub's lock, so a page that reads slowly holds up no one
    /// else; a state that changes meanwhile reaches it from the writer,
    /// which sees the version it got.
    fn open_stream(&self, mut conn: Conn) {
        let (state, version) = {
            let inner = self.lock();
            if inner.closing || inner.streams.len() >= MOST_STREAMS {
                let why = if inner.closing {
                    "the server is stopping\n"
                } else {
                    "too many live reload streams\n"
                };
                drop(inner);
                let busy = Reply::status("503 Service Unavailable", why);
                let _ = conn.write_all(&busy.encode(Some(true), false));
                return;
            }
            (inner.state.clone(), inner.version)
        };
        let mut out = Vec::with_capacity(512);
        encode_head(
            &mut out,
            &HeadParts {
                status: "200 OK",
                headers: &[
                    ("Content-Type".into(), "text/event-stream".into()),
                    ("Cache-Control".into(), "no-store".into()),
                ],
                add_length: None,
                chunked: false,
                connection_close: Some(true),
                server: crate::SERVER_SOFTWARE,
            },
        );
        out.extend_from_slice(b"retry: 250\n\n");
        out.extend(event("hello", &self.id));
        out.extend(state.event());
        if conn.set_write_timeout(WRITE_TIMEOUT).is_err() || conn.write_all(&out).is_err() {
            return;
        }
        // Out of the parker: nothing is read from a stream any more.
        conn.registration = None;
        let mut inner = self.lock();
        if inner.closing {
            drop(inner);
            conn.shutdown_write();
            return;
        }
        inner.streams.push(Stream {
            conn,
            sent: version,
        });
        if inner.version != version {
            self.changed.notify_all();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The writer thread: the latest state to every stream that has not got
/// it, or a heartbeat to all when none changed for [`HEARTBEAT`]; a stream
/// whose write fails is closed. It ends when the hub closes, or when its
/// server is gone (one dropped without serving).
fn write_forever(hub: &Weak<Live>) {
    loop {
        let Some(live) = hub.upgrade() else { return };
        let mut inner = live.lock();
        let behind = |inner: &Inner| inner.streams.iter().any(|s| s.sent != inner.version);
        let mut heartbeat = false;
        if !behind(&inner) && !inner.closing {
            let (guard, waited) = live
                .changed
                .wait_timeout(inner, HEARTBEAT)
                .unwrap_or_else(|e| e.into_inner());
            inner = guard;
            heartbeat = waited.timed_out() && !behind(&inner);
        }
        if inner.closing {
            return;
        }
        let (version, state) = (inner.version, inner.state.event());
        let mut streams = std::mem::take(&mut inner.streams);
        drop(inner);
        streams.retain_mut(|stream| {
            if stream.sent != version {
                stream.sent = version;
                stream.conn.write_all(&state).is_ok()
            } else if heartbeat {
                stream.conn.write_all(b": heartbeat\n\n").is_ok()
            } else {
                true
            }
        });
        let mut inner = live.lock();
        if inner.closing {
            drop(inner);
            for mut stream in streams {
                stream.conn.shutdown_write();
            }
            return;
        }
        // Streams opened meanwhile stay, with the version they got.
        streams.append(&mut inner.streams);
        inner.streams = streams;
    }
}

/// A small whole response for the reserved paths.
struct Reply {
    status: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    /// The methods a 405 names (RFC 9110 section 15.5.6 requires them).
    allow: Option<&'static str>,
}

impl Reply {
    fn script() -> Reply {
        Reply {
            status: "200 OK",
            content_type: "text/javascript; charset=utf-8",
            body: SCRIPT_TEXT.as_bytes(),
            allow: None,
        }
    }

    fn status(status: &'static str, text: &'static str) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: text.as_bytes(),
            allow: None,
        }
    }

    fn not_allowed(methods: &'static str, text: &'static str) -> Reply {
        Reply {
            allow: Some(methods),
            ..Reply::status("405 Method Not Allowed", text)
        }
    }

    fn encode(&self, connection_close: Option<bool>, head_only: bool) -> Vec<u8> {
        let mut headers = vec![
            ("Content-Type".into(), self.content_type.into()),
            ("Cache-Control".into(), "no-cache".into()),
        ];
        if let Some(methods) = self.allow {
            headers.push(("Allow".into(), methods.into()));
        }
        let mut out = Vec::with_capacity(256 + self.body.len());
        encode_head(
            &mut out,
            &HeadParts {
                status: self.status,
                headers: &headers,
                add_length: Some(self.body.len() as u64),
                chunked: false,
                connection_close,
                server: crate::SERVER_SOFTWARE,
            },
        );
        if !head_only {
            out.extend_from_slice(self.body);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_of_the_errors_is_a_data_field() {
        let sent = BuildState::Failed("error: x\r\n --> src/main.rs:1:1\n".into()).event();
        assert_eq!(
            String::from_utf8(sent).unwrap(),
            "event: failed\ndata: error: x\ndata:  --> src/main.rs:1:1\ndata: \n\n"
        );
        assert_eq!(BuildState::Ok.event(), b"event: ok\ndata:\n\n");
    }

    #[test]
    fn the_snippet_carries_only_safe_characters_of_the_id() {
        let live = Live::start("7\"><x").unwrap();
        assert_eq!(
            live.snippet(),
            "<script src=\"/__werk/live.js?id=7x\" defer></script>"
        );
        live.close();
    }

    #[test]
    fn a_new_state_is_kept_once() {
        let live = Live::start("1").unwrap();
        live.set_state(BuildState::Building);
        live.set_state(BuildState::Building);
        assert_eq!(live.lock().version, 1);
        assert_eq!(live.open_streams(), 0);
        live.close();
    }
}
