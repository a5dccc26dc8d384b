//! Encoding responses: the status line and header block, chunked framing,
//! and the checks that keep an application's status and headers from
//! breaking the stream (RFC 9112 sections 4, 5 and 7; PEP 3333 "The
//! start_response() Callable").

use std::borrow::Cow;
use std::io::Write;

/// A status line, header name or header value: borrowed when it is a
/// literal (the app's or the server's), so fixed headers cost no copy.
pub(crate) type Field = Cow<'static, str>;

/// Response headers in the order they are sent.
pub(crate) type Fields = Vec<(Field, Field)>;

/// The zero-length chunk and empty trailer section that end a chunked body.
pub(crate) const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// How the response body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseFraming {
    /// `Content-Length` bytes follow (given by the app or computed).
    Length(u64),
    /// Chunked transfer coding (HTTP/1.1, length unknown).
    Chunked,
    /// The body ends when the connection closes (HTTP/1.0, length unknown).
    CloseDelimited,
    /// No body: HEAD, 1xx, 204, 304.
    NoBody,
}

/// Everything that goes into a response head.
#[derive(Debug)]
pub(crate) struct HeadParts<'a> {
    pub status: &'a str,
    pub headers: &'a [(Field, Field)],
    /// A Content-Length the server adds (the app gave none, the body's size
    /// is known).
    pub add_length: Option<u64>,
    /// Add `Transfer-Encoding: chunked`.
    pub chunked: bool,
    /// `Some(true)`: `Connection: close`; `Some(false)`: `Connection:
    /// keep-alive` (HTTP/1.0 clients need it spelled out); `None`: nothing.
    pub connection_close: Option<bool>,
    pub server: &'a str,
}

/// Appends the response head, ending with the blank line.
pub(crate) fn encode_head(out: &mut Vec<u8>, parts: &HeadParts<'_>) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(parts.status.as_bytes());
    if !parts.status.contains(' ') {
        // RFC 9112 section 4: the space after the code stays even when the
        // reason phrase is empty.
        out.push(b' ');
    }
    out.extend_from_slice(b"\r\n");
    let has = |name: &str| {
        parts
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    if !has("server") {
        out.extend_from_slice(b"Server: ");
        out.extend_from_slice(parts.server.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !has("date") {
        out.extend_from_slice(b"Date: ");
        super::date::append_http_date_now(out);
        out.extend_from_slice(b"\r\n");
    }
    encode_fields(out, parts.headers);
    if let Some(len) = parts.add_length {
        out.extend_from_slice(b"Content-Length: ");
        let _ = write!(out, "{len}");
        out.extend_from_slice(b"\r\n");
    }
    if parts.chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    }
    match parts.connection_close {
        Some(true) => out.extend_from_slice(b"Connection: close\r\n"),
        Some(false) => out.extend_from_slice(b"Connection: keep-alive\r\n"),
        None => {}
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends a CGI response head (RFC 3875 section 6): `Status:` with the
/// status (its standard reason phrase when it has none), the headers, a
/// Content-Length the server adds, and the blank line. The web server in
/// front writes the HTTP head from it.
pub(crate) fn encode_cgi_head(out: &mut Vec<u8>, code: u16, parts: &HeadParts<'_>) {
    out.extend_from_slice(b"Status: ");
    out.extend_from_slice(parts.status.as_bytes());
    if !parts.status.contains(' ') {
        out.push(b' ');
        out.extend_from_slice(reason_phrase(code).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    encode_fields(out, parts.headers);
    if let Some(len) = parts.add_length {
        let _ = write!(out, "Content-Length: {len}\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends header fields, one `Name: value` line each.
fn encode_fields(out: &mut Vec<u8>, headers: &[(Field, Field)]) {
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends the size line that starts a chunk of `len` bytes.
pub(crate) fn encode_chunk_size(out: &mut Vec<u8>, len: usize) {
    let _ = write!(out, "{len:x}\r\n");
}

/// Checks a WSGI status string, `"200 OK"`: three digits (100-599), then a
/// space and a reason phrase without control characters. Returns the code.
pub(crate) fn validate_status(status: &str) -> Result<u16, String> {
    let bytes = status.as_bytes();
    let code_ok = bytes.len() >= 3 && bytes[..3].iter().all(u8::is_ascii_digit);
    let code: u16 = if code_ok {
        status[..3].parse().unwrap_or(0)
    } else {
        0
    };
    if !(100..=599).contains(&code) {
        return Err(format!(
            "status {status:?} does not start with a code from 100 to 599"
        ));
    }
    match &bytes[3..] {
        [] => Ok(code),
        [b' ', reason @ ..] if reason.iter().all(|&b| b == b'\t' || !b.is_ascii_control()) => {
            Ok(code)
        }
        _ => Err(format!(
            "status {status:?} must be a code, a space and a reason phrase without control characters"
        )),
    }
}

/// Hop-by-hop headers belong to the server (PEP 3333: "a server should
/// consider it a fatal error for an application to attempt sending
/// hop-by-hop headers").
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
];

/// True for a hop-by-hop header name, in any case.
pub(crate) fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h))
}

/// The bytes of a token (RFC 9110 section 5.6.2: `tchar`).
const TOKEN: [bool; 256] = super::alphanumeric_and(b"!#$%&'*+-.^_`|~");

/// True if `name` is a token: a header name, a method.
pub(crate) fn is_token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| TOKEN[b as usize])
}

/// Checks an application header: a token name, a value without CR, LF or
/// other control characters (HTAB allowed), and not hop-by-hop.
pub(crate) fn validate_header(name: &str, value: &str) -> Result<(), String> {
    if !is_token(name) {
        return Err(format!("header name {name:?} is not a valid token"));
    }
    if value.bytes().any(|b| b != b'\t' && (b.is_ascii_control())) {
        return Err(format!(
            "header {name:?} has a value with CR, LF or another control character: {value:?}"
        ));
    }
    if is_hop_by_hop(name) {
        return Err(format!(
            "header {name:?} is hop-by-hop: the server sets it, an application must not (PEP 3333)"
        ));
    }
    Ok(())
}

/// The status lines werk knows, `"200 OK"`: the code, a space, the
/// reason phrase (RFC 9110 section 15).
const STATUS_LINES: [&str; 38] = [
    "100 Continue",
    "101 Switching Protocols",
    "200 OK",
    "201 Created",
    "202 Accepted",
    "204 No Content",
    "206 Partial Content",
    "301 Moved Permanently",
    "302 Found",
    "303 See Other",
    "304 Not Modified",
    "307 Temporary Redirect",
    "308 Permanent Redirect",
    "400 Bad Request",
    "401 Unauthorized",
    "403 Forbidden",
    "404 Not Found",
    "405 Method Not Allowed",
    "408 Request Timeout",
    "409 Conflict",
    "410 Gone",
    "411 Length Required",
    "412 Precondition Failed",
    "413 Content Too Large",
    "414 URI Too Long",
    "415 Unsupported Media Type",
    "416 Range Not Satisfiable",
    "417 Expectation Failed",
    "418 I'm a teapot",
    "422 Unprocessable Content",
    "429 Too Many Requests",
    "431 Request Header Fields Too Large",
    "500 Internal Server Error",
    "501 Not Implemented",
    "502 Bad Gateway",
    "503 Service Unavailable",
    "504 Gateway Timeout",
    "505 HTTP Version Not Supported",
];

/// The standard reason phrase for a status code, for responses the server
/// makes itself.
pub(crate) fn reason_phrase(code: u16) -> &'static str {
    status_line(code).map_or("Unknown", |line| &line[4..])
}

/// The status line for a response the server makes itself: `"404 Not
/// Found"`, borrowed for the codes werk knows.
pub(crate) fn status_of(code: u16) -> Field {
    match status_line(code) {
        Some(line) => Cow::Borrowed(line),
        None => Cow::Owned(format!("{code} {}", reason_phrase(code))),
    }
}

/// `status` as the server's own copy, if it is a standard status line
/// (`"200 OK"`), so that an app's status need not be copied.
pub(crate) fn standard_status(status: &str) -> Option<&'static str> {
    STATUS_LINES.iter().find(|line| **line == status).copied()
}

/// The standard status line of `code`, if werk knows its reason phrase.
fn status_line(code: u16) -> Option<&'static str> {
    let digits = [code / 100, code / 10 % 10, code % 10].map(|d| b'0' + d as u8);
    let line = STATUS_LINES
        .iter()
        .find(|line| line.as_bytes()[..3] == digits)?;
    (code < 1000).then_some(*line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_tchar_bytes_only() {
        const TCHAR: &[u8] = b"!#$%&'*+-.^_`|~";
        for b in 0..=255u8 {
            let text = [b];
            let Ok(one) = std::str::from_utf8(&text) else {
                continue;
            };
            let want = b.is_ascii_alphanumeric() || TCHAR.contains(&b);
            assert_eq!(is_token(one), want, "byte {b:#04x}");
        }
        assert!(!is_token(""));
        assert!(is_token("X-Request-Id"));
        assert!(!is_token("Bad Name") && !is_token("caf\u{e9}"));
    }

    #[test]
    fn head_with_computed_length_and_close() {
        let headers: Fields = vec![("Content-Type".into(), "text/plain".into())];
        let mut out = Vec::new();
        encode_head(
            &mut out,
            &HeadParts {
                status: "200 OK",
                headers: &headers,
                add_length: Some(5),
                chunked: false,
                connection_close: Some(true),
                server: "werk/test",
            },
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\nServer: werk/test\r\nDate: "));
        assert!(text.ends_with(
            "Content-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"
        ));
    }

    #[test]
    fn app_date_and_server_are_not_doubled() {
        let headers: Fields = vec![
            ("server".into(), "mine".into()),
            ("Date".into(), "x".into()),
        ];
        let mut out = Vec::new();
        encode_head(
            &mut out,
            &HeadParts {
                status: "204 No Content",
                headers: &headers,
                add_length: None,
                chunked: false,
                connection_close: None,
                server: "werk/test",
            },
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 204 No Content\r\nserver: mine\r\nDate: x\r\n\r\n"
        );
    }

    #[test]
    fn bare_code_keeps_its_space() {
        let mut out = Vec::new();
        encode_head(
            &mut out,
            &HeadParts {
                status: "299",
                headers: &[],
                add_length: None,
                chunked: false,
                connection_close: None,
                server: "werk/test",
            },
        );
        assert!(out.starts_with(b"HTTP/1.1 299 \r\n"));
    }

    #[test]
    fn chunks() {
        let mut out = Vec::new();
        encode_chunk_size(&mut out, 26);
        out.extend_from_slice(b"hello world, this is 26 b.\r\n");
        out.extend_from_slice(LAST_CHUNK);
        assert_eq!(out, b"1a\r\nhello world, this is 26 b.\r\n0\r\n\r\n");
    }

    #[test]
    fn statuses() {
        assert_eq!(validate_status("200 OK"), Ok(200));
        assert_eq!(validate_status("404 Not Found"), Ok(404));
        assert_eq!(validate_status("599"), Ok(599));
        assert!(validate_status("20 OK").is_err());
        assert!(validate_status("OK 200").is_err());
        assert!(validate_status("200 OK\r\nX: y").is_err());
        assert!(validate_status("600 Nope").is_err());
        assert!(validate_status("200OK").is_err());
    }

    #[test]
    fn a_standard_status_is_the_whole_line() {
        assert_eq!(standard_status("200 OK"), Some("200 OK"));
        assert_eq!(standard_status("404 Not Found"), Some("404 Not Found"));
        for other in ["200 Fine", "200 OK ", "200", "404 not found", ""] {
            assert_eq!(standard_status(other), None, "{other:?}");
        }
    }

    #[test]
    fn headers() {
        assert!(validate_header("Content-Type", "text/html; charset=utf-8").is_ok());
        assert!(validate_header("X-Tab", "a\tb").is_ok());
        assert!(validate_header("Bad Name", "x").is_err());
        assert!(validate_header("", "x").is_err());
        assert!(validate_header("X-Inject", "a\r\nSet-Cookie: b").is_err());
        assert!(validate_header("X-Nul", "a\0b").is_err());
        assert!(validate_header("Transfer-Encoding", "chunked").is_err());
        assert!(validate_header("connection", "close").is_err());
    }
}
