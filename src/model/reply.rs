//! A response as a state machine without I/O: the `start_response` rules,
//! the head for the wire, the body's framing, and how the response ends.
//! The server, the CGI and SCGI gateways and `werk::testing` drive one
//! [`Reply`] each; they own the sockets, pipes and buffers, it says what
//! to write into them.
//!
//! ```text
//!   start_response ──► head(body_len, unread) ──► begin_piece / end_piece
//!   (StartState)        │ refused: Cut           (begin_file) ... ──┐
//!                       ▼                                          ▼
//!   conclude(stop): an error page instead, the proper end (finish), or cut
//! ```
//!
//! - [`Reply::head`] checks that `start_response` was called and not
//!   misused, chooses the framing (Content-Length, chunked, or the end of
//!   the output; none for HEAD, 1xx, 204 and 304) and whether the
//!   connection stays open, and writes the head in the [`Dialect`].
//! - Each piece of body is framed ([`Reply::begin_piece`]): past the
//!   Content-Length it is cut there and the response cut short.
//! - [`Reply::conclude`] settles a response whose body is done or stopped
//!   ([`Stop`]): the last chunk, a Content-Length not met, or an error page
//!   while nothing was sent; it says what to log.
//! - Every reason a response does not end properly is a [`Cut`].

use std::any::Any;
use std::fmt;
use std::io;
use std::time::Duration;

use super::start_response::StartState;
use crate::http::{
    encode_cgi_head, encode_chunk_size, encode_head, error_page, status_of, HeadParts, HttpError,
    ResponseFraming, Version, LAST_CHUNK,
};

/// Bytes of response buffered before they are written out.
pub(crate) const WRITE_BUFFER: usize = 64 * 1024;

/// Unread request body a server reads and drops so the connection can be
/// reused; a larger remainder closes the connection instead.
pub(crate) const DRAIN_LIMIT: u64 = 64 * 1024;

/// The interim response a client that sent `Expect: 100-continue` waits
/// for before it sends the body.
pub(crate) const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// The form a response takes on its way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// HTTP/1.x to a client of this version: `HTTP/1.1 200 OK` with
    /// `Server` and `Date`; Content-Length, chunked (HTTP/1.1) or
    /// close-delimited (HTTP/1.0); the connection kept or closed.
    Http(Version),
    /// CGI-style to a web server (RFC 3875 section 6): `Status: 200 OK`;
    /// the web server owns the framing, so the body ends where the output
    /// ends.
    Cgi,
    /// Recorded as the application gave it (`werk::testing`): nothing on
    /// a wire, so no head is written and the body is neither framed nor
    /// checked against its length; a misuse of `start_response` is
    /// reported beside the response instead of refusing its body.
    Record,
}

/// What is left of the request body when the head goes out: whether the
/// connection can carry another request after this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unread {
    /// All of it was read, or there was none.
    Nothing,
    /// This many bytes of a Content-Length body.
    Bytes(u64),
    /// Part of a chunked body: how much is unknown.
    Chunked,
    /// The client waits for `100 Continue`, which it will not get now that
    /// the response has started: it may or may not send its body.
    AwaitingContinue,
}

impl Unread {
    /// True if the rest can be read and dropped before the next request.
    fn drainable(self) -> bool {
        match self {
            Unread::Nothing => true,
            Unread::Bytes(n) => n <= DRAIN_LIMIT,
            Unread::Chunked | Unread::AwaitingContinue => false,
        }
    }
}

/// Why a response does not end properly: its head was refused (the
/// server answers with an error page instead), or it was cut short (the
/// connection closes without the body's proper end, so the client sees
/// the failure).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cut {
    /// The client, or the web server in front, stopped reading.
    ClientGone,
    /// `start_response` was misused (its message).
    Misuse(Box<str>),
    /// The application produced a body before calling `start_response`.
    NotStarted,
    /// Reading the request body failed; the server answers that instead.
    RequestBody(HttpError),
    /// The application sent more than its Content-Length.
    Overrun { length: u64 },
    /// The application sent less than its Content-Length.
    Underrun { sent: u64, length: u64 },
    /// A file body ended before the size it had when the response started.
    FileShort,
    /// The application panicked after the head went out.
    Panicked,
    /// The body's iterator failed after the head went out.
    BodyFailed,
    /// The application panicked and `passthrough_errors` hands the panic on.
    Passthrough,
    /// The client read nothing for `io_timeout`.
    ClientIdle(Duration),
    /// The shutdown grace ended while the response waited for room.
    GraceOver,
}

impl fmt::Display for Cut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cut::ClientGone => f.write_str("the client stopped reading the response"),
            Cut::Misuse(misuse) => f.write_str(misuse),
            Cut::NotStarted => {
                f.write_str("the application produced a body before calling start_response")
            }
            Cut::RequestBody(err) => write!(f, "request body error: {err}"),
            Cut::Overrun { length } => write!(
                f,
                "the application sent more than its Content-Length of {length} bytes"
            ),
            Cut::Underrun { sent, length } => write!(
                f,
                "the application sent {sent} of the {length} bytes its Content-Length announced"
            ),
            Cut::FileShort => {
                f.write_str("the file was shorter than its size when the response started")
            }
            Cut::Panicked => f.write_str("the application panicked while sending the body"),
            Cut::BodyFailed => f.write_str("the body failed"),
            Cut::Passthrough => f.write_str("passthrough_errors"),
            Cut::ClientIdle(timeout) => write!(
                f,
                "the client read nothing for {} s (io_timeout); the response was cut short",
                timeout.as_secs_f64()
            ),
            Cut::GraceOver => {
                f.write_str("the shutdown grace period is over; the response was cut short")
            }
        }
    }
}

impl std::error::Error for Cut {}

impl From<Cut> for io::Error {
    fn from(cut: Cut) -> io::Error {
        io::Error::other(cut)
    }
}

/// Why a body stopped before its end.
pub(crate) enum Stop {
    /// The application panicked (in the call or while producing the body).
    Panic(Box<dyn Any + Send>),
    /// The body iterator returned an error.
    Body(io::Error),
    /// The head was refused (a [`Cut`]) or a write failed.
    Send(io::Error),
}

impl Stop {
    /// The same stop without the application's values, except a panic to
    /// hand on (`keep_panic`): its error as text, a panic as its message.
    /// Showing and dropping those values runs the app's code, which may
    /// use its handles; the server does it before it locks the exchange
    /// they lock.
    pub(crate) fn detached(self, keep_panic: bool) -> Stop {
        match self {
            Stop::Body(err) => Stop::Body(io::Error::new(err.kind(), err.to_string())),
            Stop::Panic(payload) if !keep_panic => {
                Stop::Panic(Box::new(super::panic_message(&*payload)))
            }
            other => other,
        }
    }
}

/// What the driver does once a response is concluded, besides writing
/// what [`Reply::conclude`] wrote.
#[derive(Default)]
pub(crate) struct Ending {
    /// What went wrong, a line each, for the error log.
    pub errors: Vec<String>,
    /// The request body was refused, and its error answered: the client's
    /// fault, logged as such.
    pub refused: Option<HttpError>,
    /// The application's panic, to hand on (`passthrough_errors`).
    pub panic: Option<Box<dyn Any + Send>>,
}

impl fmt::Debug for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ending")
            .field("errors", &self.errors)
            .field("refused", &self.refused)
            .finish_non_exhaustive()
    }
}

/// One response, from `start_response` to its end; see the module
/// documentation.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The `start_response` calls so far.
    pub start: StartState,
    dialect: Dialect,
    is_head: bool,
    /// The client or the server asked to close after this response.
    must_close: bool,
    framing: ResponseFraming,
    /// Body bytes framed so far.
    sent: u64,
    /// The connection may stay open after this response (decided with the
    /// head).
    keep_alive: bool,
    /// The status code sent (0 until the head went out).
    code: u16,
    cut: Option<Cut>,
}

impl Reply {
    /// A response in `dialect` to a request; `is_head` for HEAD, whose
    /// response has a head only; `must_close` when the connection closes
    /// after it whatever the response says.
    pub(crate) fn new(dialect: Dialect, is_head: bool, must_close: bool) -> Reply {
        Reply {
            start: StartState::default(),
            dialect,
            is_head,
            must_close,
            framing: ResponseFraming::NoBody,
            sent: 0,
            keep_alive: false,
            code: 0,
            cut: None,
        }
    }

    /// The connection closes after this response (the client stalled or
    /// went away while sending its body).
    pub(crate) fn close_after(&mut self) {
        self.must_close = true;
    }

    /// True for a response to HEAD: it has a head only.
    pub(crate) fn is_head(&self) -> bool {
        self.is_head
    }

    /// True once the head went out.
    pub(crate) fn head_sent(&self) -> bool {
        self.start.head_sent
    }

    /// True once the head went out with a body to follow (not for HEAD,
    /// 1xx, 204, 304).
    pub(crate) fn has_body(&self) -> bool {
        self.framing != ResponseFraming::NoBody
    }

    /// The status code sent, 0 until the head went out.
    pub(crate) fn code(&self) -> u16 {
        self.code
    }

    /// True if the connection may carry another request after this
    /// response: the head said so and nothing cut it short.
    pub(crate) fn keep_alive(&self) -> bool {
        self.keep_alive && self.cut.is_none()
    }

    /// Why the response was cut short, if it was.
    pub(crate) fn cut(&self) -> Option<&Cut> {
        self.cut.as_ref()
    }

    /// True if the `100 Continue` a client waits for may still go out:
    /// only before the response's head.
    pub(crate) fn may_continue(&self) -> bool {
        !self.start.head_sent
    }

    /// Cuts the response short: nothing more is framed and the connection
    /// closes without the body's proper end. The first reason stays.
    pub(crate) fn cut_short(&mut self, why: Cut) {
        self.keep_alive = false;
        self.cut.get_or_insert(why);
    }

    /// Writes the head into `out` if it is not out yet. `body_len` is the
    /// body's size when the driver knows it (it becomes Content-Length if
    /// the app gave none); `unread` is what is left of the request body.
    /// Refused, writing nothing, if `start_response` was misused or never
    /// called.
    pub(crate) fn head(
        &mut self,
        body_len: Option<u64>,
        unread: Unread,
        out: &mut Vec<u8>,
    ) -> Result<(), Cut> {
        if self.start.head_sent {
            return Ok(());
        }
        if let Some(misuse) = &self.start.misuse {
            if self.dialect != Dialect::Record {
                return Err(Cut::Misuse(misuse.as_str().into()));
            }
        }
        let Some(head) = self.start.head.take() else {
            return Err(Cut::NotStarted);
        };
        let bodiless_status = head.code < 200 || head.code == 204 || head.code == 304;
        let no_body = self.is_head || bodiless_status;
        let (framing, add_length) = match (head.content_length, body_len) {
            _ if self.dialect == Dialect::Record => (ResponseFraming::CloseDelimited, None),
            (Some(n), _) => (ResponseFraming::Length(n), None),
            (None, Some(n)) if !bodiless_status => (ResponseFraming::Length(n), Some(n)),
            (None, _) if no_body => (ResponseFraming::NoBody, None),
            (None, _) if self.dialect == Dialect::Http(Version::Http11) => {
                (ResponseFraming::Chunked, None)
            }
            (None, _) => (ResponseFraming::CloseDelimited, None),
        };
        let keep_alive = matches!(self.dialect, Dialect::Http(_))
            && !self.must_close
            && framing != ResponseFraming::CloseDelimited
            && unread.drainable();
        self.framing = if no_body && self.dialect != Dialect::Record {
            ResponseFraming::NoBody
        } else {
            framing
        };
        self.keep_alive = keep_alive;
        self.code = head.code;
        let parts = HeadParts {
            status: &head.status,
            headers: &head.headers,
            add_length,
            chunked: framing == ResponseFraming::Chunked,
            connection_close: match (keep_alive, self.dialect) {
                (false, _) => Some(true),
                (true, Dialect::Http(Version::Http10)) => Some(false),
                (true, _) => None,
            },
            server: crate::SERVER_SOFTWARE,
        };
        match self.dialect {
            Dialect::Http(_) => encode_head(out, &parts),
            Dialect::Cgi => encode_cgi_head(out, head.code, &parts),
            Dialect::Record => {}
        }
        self.start.head_sent = true;
        self.start.head = Some(head);
        Ok(())
    }

    /// A misuse of `start_response` once the head is out (a second call,
    /// or `start_with_error` too late): the response the client is getting
    /// is wrong, so it must not end properly.
    fn cut_if_misused(&mut self) {
        if self.start.head_sent && self.cut.is_none() && self.dialect != Dialect::Record {
            if let Some(misuse) = &self.start.misuse {
                self.cut_short(Cut::Misuse(misuse.as_str().into()));
            }
        }
    }

    /// Starts a piece of body of `len` bytes, writing its framing into
    /// `out`; returns how many of them to write after it (fewer past the
    /// Content-Length, which cuts the response short; none without a
    /// body). Refused once the response is cut short.
    pub(crate) fn begin_piece(&mut self, len: u64, out: &mut Vec<u8>) -> Result<u64, Cut> {
        self.cut_if_misused();
        if let Some(cut) = &self.cut {
            return Err(cut.clone());
        }
        let len = match self.framing {
            ResponseFraming::NoBody => return Ok(0),
            ResponseFraming::Length(length) if len > length - self.sent => {
                self.cut_short(Cut::Overrun { length });
                length - self.sent
            }
            ResponseFraming::Chunked if len > 0 => {
                encode_chunk_size(out, len as usize);
                len
            }
            _ => len,
        };
        self.sent += len;
        Ok(len)
    }

    /// Ends the piece begun with [`Reply::begin_piece`] of `len` bytes;
    /// refused if it went past the Content-Length.
    pub(crate) fn end_piece(&mut self, len: u64, out: &mut Vec<u8>) -> Result<(), Cut> {
        if self.framing == ResponseFraming::Chunked && len > 0 {
            out.extend_from_slice(b"\r\n");
        }
        match &self.cut {
            Some(cut) => Err(cut.clone()),
            None => Ok(()),
        }
    }

    /// Starts a file body of `len` bytes: how many the framing lets
    /// through (the app's Content-Length may be smaller: the file is cut
    /// there, as a range would be; none without a body). Counted as sent;
    /// [`Reply::end_piece`] ends it.
    pub(crate) fn begin_file(&mut self, len: u64, out: &mut Vec<u8>) -> u64 {
        let len = match self.framing {
            ResponseFraming::NoBody => return 0,
            ResponseFraming::Length(length) => len.min(length - self.sent),
            _ => len,
        };
        if self.framing == ResponseFraming::Chunked && len > 0 {
            // Only when the head went out before the app returned the file
            // (the legacy write): one chunk.
            encode_chunk_size(out, len as usize);
        }
        self.sent += len;
        len
    }

    /// Ends the body: the last chunk, or the check that Content-Length was
    /// met (a shortfall cuts the response short).
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        if self.cut.is_some() {
            return;
        }
        match self.framing {
            ResponseFraming::Chunked => out.extend_from_slice(LAST_CHUNK),
            ResponseFraming::Length(length) if self.sent < length => {
                let sent = self.sent;
                self.cut_short(Cut::Underrun { sent, length });
            }
            _ => {}
        }
    }

    /// Replaces the response with the error page for `code` while nothing
    /// was sent, writing all of it into `out`; the connection closes after
    /// it unless `keep_alive` allows otherwise.
    pub(crate) fn answer_instead(
        &mut self,
        code: u16,
        detail: &str,
        keep_alive: bool,
        unread: Unread,
        out: &mut Vec<u8>,
    ) {
        if self.start.head_sent {
            return;
        }
        let (headers, body) = error_page(code, detail);
        let status = status_of(code);
        self.start.head = None;
        self.start.misuse = None;
        if self
            .start
            .start(status, headers, Some("server response".to_owned()))
            .is_err()
        {
            return;
        }
        if !keep_alive {
            self.must_close = true;
        }
        let len = body.len() as u64;
        if self.head(Some(len), unread, out).is_err() {
            return;
        }
        if let Ok(n) = self.begin_piece(len, out) {
            out.extend_from_slice(&body[..n as usize]);
            let _ = self.end_piece(n, out);
        }
        self.finish(out);
    }

    /// Settles the response once the body is done (`stop` is `None`) or
    /// stopped: the proper end, an error page in its place while nothing
    /// was sent (the request body's error when it was `refused`, else a
    /// 500), or the response cut short. A panic is handed back with
    /// `passthrough`. Says what to log.
    pub(crate) fn conclude(
        &mut self,
        stop: Option<Stop>,
        passthrough: bool,
        refused: Option<HttpError>,
        unread: Unread,
        out: &mut Vec<u8>,
    ) -> Ending {
        let mut ending = Ending::default();
        self.cut_if_misused();
        let explained = matches!(stop, Some(Stop::Panic(_) | Stop::Body(_)));
        let head_sent = self.start.head_sent;
        match stop {
            None => self.finish(out),
            Some(Stop::Panic(payload)) => {
                ending.errors.push(format!(
                    "the application panicked: {}",
                    super::panic_message(&*payload)
                ));
                if passthrough {
                    self.cut_short(Cut::Passthrough);
                    ending.panic = Some(payload);
                } else if !head_sent {
                    self.answer_instead(500, "application panicked", true, unread, out);
                } else {
                    self.cut_short(Cut::Panicked);
                }
            }
            Some(Stop::Body(_) | Stop::Send(_)) if !head_sent && refused.is_some() => {
                // The app stopped because the request body was refused (too
                // large, bad chunking): answer with that status.
                let err = refused.unwrap_or(HttpError::BadChunk);
                self.answer_instead(err.status(), &err.to_string(), false, unread, out);
                ending.refused = Some(err);
            }
            Some(Stop::Body(err)) => {
                ending.errors.push(format!("the body failed: {err}"));
                if head_sent {
                    self.cut_short(Cut::BodyFailed);
                } else {
                    self.answer_instead(500, "the body failed", true, unread, out);
                }
            }
            Some(Stop::Send(err)) if !head_sent => {
                let detail = err.to_string();
                self.answer_instead(500, &detail, true, unread, out);
                ending.errors.push(detail);
            }
            Some(Stop::Send(_)) => {}
        }
        if !explained {
            if let Some(cut) = self.cut.as_ref().filter(|c| **c != Cut::ClientGone) {
                ending.errors.push(cut.to_string());
            }
        }
        ending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HTTP11: Dialect = Dialect::Http(Version::Http11);
    const HTTP10: Dialect = Dialect::Http(Version::Http10);

    /// A reply whose app called `start_response(status, headers)`.
    fn started(dialect: Dialect, is_head: bool, status: &str, headers: &[(&str, &str)]) -> Reply {
        let mut reply = Reply::new(dialect, is_head, false);
        let headers = headers.iter();
        let headers = headers.map(|(n, v)| ((*n).to_owned().into(), (*v).to_owned().into()));
        let status = status.to_owned().into();
        reply.start.start(status, headers.collect(), None).unwrap();
        reply
    }

    /// The head written for `body_len`, without its Date line.
    fn head_of(reply: &mut Reply, body_len: Option<u64>, unread: Unread) -> String {
        let mut out = Vec::new();
        reply.head(body_len, unread, &mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("Date: "))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// Sends `pieces` as body, then finishes: what was written after the
    /// head.
    fn body_of(reply: &mut Reply, pieces: &[&[u8]]) -> (Vec<u8>, Result<(), Cut>) {
        let mut out = Vec::new();
        for piece in pieces {
            let result = reply.begin_piece(piece.len() as u64, &mut out);
            let n = match result {
                Ok(n) => n,
                Err(cut) => return (out, Err(cut)),
            };
            out.extend_from_slice(&piece[..n as usize]);
            if let Err(cut) = reply.end_piece(n, &mut out) {
                return (out, Err(cut));
            }
        }
        reply.finish(&mut out);
        (out, Ok(()))
    }

    #[test]
    fn known_length_becomes_content_length() {
        let mut reply = started(HTTP11, false, "200 OK", &[("X", "1")]);
        let head = head_of(&mut reply, Some(5), Unread::Nothing);
        let server = crate::SERVER_SOFTWARE;
        assert_eq!(
            head,
            format!("HTTP/1.1 200 OK\nServer: {server}\nX: 1\nContent-Length: 5\n\n")
        );
        assert!(reply.keep_alive());
        assert_eq!(reply.code(), 200);
        assert_eq!(body_of(&mut reply, &[b"hel", b"lo"]).0, b"hello");
        assert!(reply.keep_alive());
    }

    #[test]
    fn unknown_length_is_chunked_on_http11() {
        let mut reply = started(HTTP11, false, "200 OK", &[]);
        let head = head_of(&mut reply, None, Unread::Nothing);
        assert!(head.ends_with("Transfer-Encoding: chunked\n\n"), "{head}");
        let (body, result) = body_of(&mut reply, &[b"hello", b"", b"world!"]);
        assert_eq!(result, Ok(()));
        assert_eq!(body, b"5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n");
        assert!(reply.keep_alive());
    }

    #[test]
    fn unknown_length_closes_on_http10() {
        let mut reply = started(HTTP10, false, "200 OK", &[]);
        let head = head_of(&mut reply, None, Unread::Nothing);
        assert!(head.ends_with("Connection: close\n\n"), "{head}");
        assert!(!head.contains("chunked"));
        assert!(!reply.keep_alive());
        assert_eq!(body_of(&mut reply, &[b"ab", b"c"]).0, b"abc");
    }

    #[test]
    fn http10_keep_alive_is_spelled_out() {
        let mut reply = started(HTTP10, false, "200 OK", &[]);
        let head = head_of(&mut reply, Some(0), Unread::Nothing);
        assert!(head.ends_with("Content-Length: 0\nConnection: keep-alive\n\n"));
        assert!(reply.keep_alive());
    }

    #[test]
    fn the_apps_content_length_is_not_repeated() {
        let mut reply = started(HTTP11, false, "200 OK", &[("Content-Length", "3")]);
        let head = head_of(&mut reply, Some(10), Unread::Nothing);
        assert_eq!(head.matches("Content-Length").count(), 1, "{head}");
        assert!(head.contains("Content-Length: 3\n"));
    }

    #[test]
    fn head_and_bodiless_statuses_have_no_body() {
        for (is_head, status) in [
            (true, "200 OK"),
            (false, "204 No Content"),
            (false, "304 Not Modified"),
        ] {
            let mut reply = started(HTTP11, is_head, status, &[]);
            let head = head_of(&mut reply, None, Unread::Nothing);
            assert!(!head.contains("chunked"), "{status}: {head}");
            assert!(!reply.has_body());
            let (body, result) = body_of(&mut reply, &[b"ignored"]);
            assert_eq!((body.as_slice(), result), (&b""[..], Ok(())));
            assert!(reply.keep_alive(), "{status}");
        }
    }

    #[test]
    fn head_keeps_a_known_length_but_sends_no_body() {
        let mut reply = started(HTTP11, true, "200 OK", &[]);
        let head = head_of(&mut reply, Some(7), Unread::Nothing);
        assert!(head.contains("Content-Length: 7\n"), "{head}");
        assert_eq!(body_of(&mut reply, &[b"abcdefg"]).0, b"");
        let mut reply = started(HTTP11, false, "204 No Content", &[]);
        let head = head_of(&mut reply, Some(7), Unread::Nothing);
        assert!(!head.contains("Content-Length"), "{head}");
    }

    #[test]
    fn overrun_is_cut_at_the_length() {
        let mut reply = started(HTTP11, false, "200 OK", &[("Content-Length", "3")]);
        head_of(&mut reply, None, Unread::Nothing);
        let (body, result) = body_of(&mut reply, &[b"ab", b"cdef", b"g"]);
        assert_eq!(body, b"abc");
        assert_eq!(result, Err(Cut::Overrun { length: 3 }));
        assert!(!reply.keep_alive());
        assert_eq!(
            reply.cut().unwrap().to_string(),
            "the application sent more than its Content-Length of 3 bytes"
        );
    }

    #[test]
    fn underrun_cuts_the_response_short() {
        let mut reply = started(HTTP11, false, "200 OK", &[("Content-Length", "5")]);
        head_of(&mut reply, None, Unread::Nothing);
        assert_eq!(body_of(&mut reply, &[b"ab"]).1, Ok(()));
        assert_eq!(reply.cut(), Some(&Cut::Underrun { sent: 2, length: 5 }));
        assert!(!reply.keep_alive());
    }

    #[test]
    fn unread_body_decides_keep_alive() {
        for (unread, keep) in [
            (Unread::Nothing, true),
            (Unread::Bytes(DRAIN_LIMIT), true),
            (Unread::Bytes(DRAIN_LIMIT + 1), false),
            (Unread::Chunked, false),
            (Unread::AwaitingContinue, false),
        ] {
            let mut reply = started(HTTP11, false, "200 OK", &[]);
            let head = head_of(&mut reply, Some(0), unread);
            assert_eq!(reply.keep_alive(), keep, "{unread:?}");
            assert_eq!(head.contains("Connection: close"), !keep);
        }
    }

    #[test]
    fn must_close_says_connection_close() {
        let mut reply = Reply::new(HTTP11, false, false);
        reply.close_after();
        reply.start.start("200 OK".into(), vec![], None).unwrap();
        let head = head_of(&mut reply, Some(0), Unread::Nothing);
        assert!(head.ends_with("Connection: close\n\n"));
        assert!(!reply.keep_alive());
    }

    #[test]
    fn continue_only_before_the_head() {
        let mut reply = started(HTTP11, false, "200 OK", &[]);
        assert!(reply.may_continue());
        head_of(&mut reply, Some(0), Unread::Nothing);
        assert!(!reply.may_continue());
    }

    #[test]
    fn body_before_start_response_is_refused() {
        let mut reply = Reply::new(HTTP11, false, false);
        let mut out = Vec::new();
        assert_eq!(
            reply.head(None, Unread::Nothing, &mut out),
            Err(Cut::NotStarted)
        );
        assert!(out.is_empty());
        assert!(!reply.head_sent());
    }

    #[test]
    fn misuse_before_the_head_refuses_it() {
        let mut reply = started(HTTP11, false, "200 OK", &[]);
        let _ = reply.start.start("201 Created".into(), vec![], None);
        let mut out = Vec::new();
        assert!(matches!(
            reply.head(None, Unread::Nothing, &mut out),
            Err(Cut::Misuse(_))
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn misuse_after_the_head_cuts_the_response() {
        let mut reply = started(HTTP11, false, "200 OK", &[]);
        head_of(&mut reply, None, Unread::Nothing);
        let err = reply
            .start
            .start("500 Oops".into(), vec![], Some("late".into()));
        assert!(err.is_err());
        let (body, result) = body_of(&mut reply, &[b"x"]);
        assert!(body.is_empty());
        assert!(matches!(result, Err(Cut::Misuse(_))));
        assert!(!reply.keep_alive());
    }

    #[test]
    fn file_is_cut_at_the_length_and_chunked_once() {
        let mut reply = started(HTTP11, false, "200 OK", &[("Content-Length", "4")]);
        head_of(&mut reply, None, Unread::Nothing);
        let mut out = Vec::new();
        assert_eq!(reply.begin_file(10, &mut out), 4);
        assert!(out.is_empty());
        let mut reply = started(HTTP11, false, "200 OK", &[]);
        head_of(&mut reply, None, Unread::Nothing);
        assert_eq!(reply.begin_file(26, &mut out), 26);
        reply.end_piece(26, &mut out).unwrap();
        assert_eq!(out, b"1a\r\n\r\n");
        let mut reply = started(HTTP11, true, "200 OK", &[]);
        head_of(&mut reply, Some(10), Unread::Nothing);
        assert_eq!(reply.begin_file(10, &mut out), 0);
    }

    #[test]
    fn cgi_head_has_status_and_no_framing() {
        let mut reply = started(Dialect::Cgi, false, "200", &[("X", "1")]);
        let head = head_of(&mut reply, Some(2), Unread::Nothing);
        assert_eq!(head, "Status: 200 OK\nX: 1\nContent-Length: 2\n\n");
        assert!(!reply.keep_alive());
        let mut reply = started(Dialect::Cgi, false, "200 OK", &[]);
        let head = head_of(&mut reply, None, Unread::Nothing);
        assert_eq!(head, "Status: 200 OK\n\n");
        assert_eq!(body_of(&mut reply, &[b"a", b"b"]).0, b"ab");
    }

    #[test]
    fn record_passes_the_body_as_given() {
        let mut reply = started(
            Dialect::Record,
            true,
            "204 No Content",
            &[("Content-Length", "1")],
        );
        let _ = reply.start.start("200 OK".into(), vec![], None);
        assert_eq!(head_of(&mut reply, None, Unread::Nothing), "");
        assert_eq!(body_of(&mut reply, &[b"abc"]), (b"abc".to_vec(), Ok(())));
        assert_eq!(reply.cut(), None);
    }

    #[test]
    fn the_first_cut_stays() {
        let mut reply = started(HTTP11, false, "200 OK", &[]);
        head_of(&mut reply, None, Unread::Nothing);
        reply.cut_short(Cut::ClientIdle(Duration::from_secs(2)));
        reply.cut_short(Cut::GraceOver);
        assert_eq!(
            reply.cut().unwrap().to_string(),
            "the client read nothing for 2 s (io_timeout); the response was cut short"
        );
        let mut out = Vec::new();
        reply.finish(&mut out);
        assert!(out.is_empty(), "no last chunk after a cut");
    }

    #[test]
    fn no_error_page_once_the_head_is_out() {
        let mut reply = started(HTTP11, false, "200 OK", &[]);
        head_of(&mut reply, None, Unread::Nothing);
        let mut out = Vec::new();
        reply.answer_instead(500, "late", true, Unread::Nothing, &mut out);
        assert!(out.is_empty());
        assert_eq!(reply.code(), 200);
    }

    #[test]
    fn an_error_page_to_head_has_its_length_and_no_body() {
        let mut reply = Reply::new(HTTP11, true, false);
        let mut out = Vec::new();
        reply.answer_instead(404, "gone", false, Unread::Nothing, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"), "{text}");
        assert!(text.contains("Content-Length: "), "{text}");
        assert!(text.ends_with("Connection: close\r\n\r\n"), "{text}");
    }

    #[test]
    fn conclude_ends_properly() {
        let mut reply = started(HTTP11, false, "200 OK", &[]);
        head_of(&mut reply, None, Unread::Nothing);
        let mut out = Vec::new();
        let ending = reply.conclude(None, false, None, Unread::Nothing, &mut out);
        assert_eq!(out, LAST_CHUNK);
        assert!(ending.errors.is_empty() && ending.panic.is_none());
        assert!(reply.keep_alive());
    }

    #[test]
    fn panic_before_the_head_is_a_500_that_keeps_the_connection() {
        let mut reply = started(HTTP11, false, "200 OK", &[]);
        let mut out = Vec::new();
        let stop = Stop::Panic(Box::new("boom"));
        let ending = reply.conclude(Some(stop), false, None, Unread::Nothing, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 500 Internal Server Error\r\n"));
        assert!(text.contains("Content-Type: text/html"));
        assert_eq!(ending.errors, ["the application panicked: boom"]);
        assert_eq!(reply.code(), 500);
        assert!(reply.keep_alive());
    }

    #[test]
    fn panic_after_the_head_cuts_it_short() {
        let mut reply = started(HTTP11, false, "200 OK", &[]);
        head_of(&mut reply, None, Unread::Nothing);
        let mut out = Vec::new();
        let stop = Stop::Panic(Box::new("boom"));
        let ending = reply.conclude(Some(stop), false, None, Unread::Nothing, &mut out);
        assert!(out.is_empty());
        assert_eq!(ending.errors.len(), 1, "{:?}", ending.errors);
        assert_eq!(reply.cut(), Some(&Cut::Panicked));
    }

    #[test]
    fn passthrough_hands_the_panic_on() {
        let mut reply = started(HTTP11, false, "200 OK", &[]);
        let mut out = Vec::new();
        let stop = Stop::Panic(Box::new("boom"));
        let ending = reply.conclude(Some(stop), true, None, Unread::Nothing, &mut out);
        assert!(ending.panic.is_some());
        assert!(out.is_empty());
        assert_eq!(reply.cut(), Some(&Cut::Passthrough));
    }

    #[test]
    fn a_refused_request_body_is_answered_with_its_status() {
        let mut reply = started(HTTP11, false, "200 OK", &[]);
        let mut out = Vec::new();
        let stop = Stop::Send(Cut::RequestBody(HttpError::BodyTooLarge).into());
        let refused = Some(HttpError::BodyTooLarge);
        let ending = reply.conclude(Some(stop), false, refused, Unread::Nothing, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
        assert!(text.contains("Connection: close"));
        assert_eq!(ending.refused, refused);
        assert!(ending.errors.is_empty());
    }

    #[test]
    fn a_refused_head_is_a_500_with_the_reason() {
        let mut reply = Reply::new(HTTP11, false, false);
        let mut out = Vec::new();
        let stop = Stop::Send(Cut::NotStarted.into());
        let ending = reply.conclude(Some(stop), false, None, Unread::Nothing, &mut out);
        assert!(out.starts_with(b"HTTP/1.1 500 "));
        assert_eq!(ending.errors, [Cut::NotStarted.to_string()]);
    }

    #[test]
    fn a_failed_body_after_the_head_cuts_it_short() {
        let mut reply = started(HTTP11, false, "200 OK", &[]);
        head_of(&mut reply, None, Unread::Nothing);
        let mut out = Vec::new();
        let stop = Stop::Body(io::Error::other("disk"));
        let ending = reply.conclude(Some(stop), false, None, Unread::Nothing, &mut out);
        assert_eq!(ending.errors, ["the body failed: disk"]);
        assert_eq!(reply.cut(), Some(&Cut::BodyFailed));
    }

    #[test]
    fn a_client_gone_is_not_an_error() {
        let mut reply = started(HTTP11, false, "200 OK", &[]);
        head_of(&mut reply, None, Unread::Nothing);
        reply.cut_short(Cut::ClientGone);
        let mut out = Vec::new();
        let stop = Stop::Send(io::Error::from(io::ErrorKind::BrokenPipe));
        let ending = reply.conclude(Some(stop), false, None, Unread::Nothing, &mut out);
        assert!(ending.errors.is_empty());
        assert!(out.is_empty());
    }

    #[test]
    fn an_unexplained_cut_is_logged() {
        let mut reply = started(HTTP11, false, "200 OK", &[("Content-Length", "9")]);
        head_of(&mut reply, None, Unread::Nothing);
        let mut out = Vec::new();
        let ending = reply.conclude(None, false, None, Unread::Nothing, &mut out);
        assert_eq!(
            ending.errors,
            ["the application sent 0 of the 9 bytes its Content-Length announced"]
        );
    }

    #[test]
    fn a_detached_stop_keeps_what_is_shown_and_a_panic_to_hand_on() {
        #[derive(Debug)]
        struct AppError;
        impl fmt::Display for AppError {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bad row 3")
            }
        }
        impl std::error::Error for AppError {}
        let err = io::Error::new(io::ErrorKind::InvalidData, AppError);
        let Stop::Body(err) = Stop::Body(err).detached(false) else {
            panic!("a body error stays one");
        };
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(err.to_string(), "bad row 3");
        assert!(err.get_ref().is_some_and(|inner| !inner.is::<AppError>()));

        struct Payload;
        let Stop::Panic(shown) = Stop::Panic(Box::new("boom")).detached(false) else {
            panic!("a panic stays one");
        };
        assert_eq!(
            shown.downcast_ref::<String>().map(String::as_str),
            Some("boom")
        );
        let Stop::Panic(kept) = Stop::Panic(Box::new(Payload)).detached(true) else {
            panic!("a panic stays one");
        };
        assert!(kept.is::<Payload>(), "passed through as it was");
    }
}
