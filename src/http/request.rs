//! Parsing a request head (RFC 9112 sections 2-3 and 6) into what the
//! server needs: method, target, version, headers and body framing.

use std::sync::Arc;

use super::HttpError;

/// The most header lines a request may carry (431 beyond), as CPython's
/// `http.client` and hyper allow.
const MAX_HEADERS: usize = 100;

/// Size limits for a request, each answered with its own status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest request head (request line plus headers) in bytes: 431.
    pub max_head: usize,
    /// The longest request target in bytes: 414.
    pub max_uri: usize,
    /// The largest request body in bytes, if limited: 413.
    pub max_body: Option<u64>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_head: 64 * 1024,
            max_uri: 16 * 1024,
            max_body: None,
        }
    }
}

/// The HTTP versions werk speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: one request per connection unless the client asks for
    /// keep-alive; no chunked bodies.
    Http10,
    /// HTTP/1.1: persistent connections, chunked bodies, 100-continue.
    Http11,
}

impl Version {
    /// The version as it appears on the wire, `HTTP/1.1`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// How the request body is delimited (RFC 9112 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    None,
    /// Exactly this many bytes follow the head.
    Length(u64),
    /// A chunked body follows the head.
    Chunked,
}

/// A parsed request head.
///
/// Its text (method, target, field names and values) is one shared
/// string, copied once from the connection's buffer; the accessors borrow
/// from it, and the server gives the environ pieces of it without copying
/// again.
#[derive(Debug, Clone)]
pub struct RequestHead {
    text: Arc<str>,
    method: Span,
    target: Span,
    headers: Vec<(Span, Span)>,
    /// The request's version.
    pub version: Version,
    /// How the body is delimited.
    pub framing: Framing,
    /// True when the connection must close after this request (HTTP/1.0
    /// without keep-alive, or `Connection: close`).
    pub close: bool,
    /// True for HTTP/1.1 requests with `Expect: 100-continue`.
    pub expect_continue: bool,
    /// The authority of an absolute-form target, which replaces the Host
    /// header (RFC 9112 section 3.2.2).
    pub target_authority: Option<String>,
    /// Bytes of the buffer the head took, including the blank line.
    pub head_len: usize,
}

/// Where a piece of a head lies in its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    start: usize,
    end: usize,
}

impl RequestHead {
    /// The method token, case preserved.
    pub fn method(&self) -> &str {
        self.piece(self.method)
    }

    /// The request target as sent; bytes outside visible ASCII are
    /// percent-encoded so the string stays ASCII and nothing is lost.
    pub fn target(&self) -> &str {
        self.piece(self.target)
    }

    /// Header fields in arrival order: the name as sent, the value as
    /// text (UTF-8 when it is, otherwise ISO-8859-1, one char per byte, so
    /// no byte is lost), without surrounding whitespace.
    pub fn headers(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        let pieces = self.headers.iter();
        pieces.map(|&(name, value)| (self.piece(name), self.piece(value)))
    }

    /// The first value of the named header, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut fields = self.headers();
        fields
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The request line as it is logged: `GET /path HTTP/1.1`.
    pub fn request_line(&self) -> String {
        format!(
            "{} {} {}",
            self.method(),
            self.target(),
            self.version.as_str()
        )
    }

    /// The head's text, which every piece lies in.
    pub(crate) fn text(&self) -> &Arc<str> {
        &self.text
    }

    /// The spans of the method, the target, and each field's name and
    /// value in [`RequestHead::text`].
    pub(crate) fn spans(&self) -> (Span, Span, &[(Span, Span)]) {
        (self.method, self.target, &self.headers)
    }

    fn piece(&self, span: Span) -> &str {
        &self.text[span.start..span.end]
    }
}

impl Span {
    /// The byte range in the head's text.
    pub(crate) fn range(self) -> std::ops::Range<usize> {
        self.start..self.end
    }
}

/// Two heads are equal when they say the same: method, target, fields in
/// order, and what was read from them, wherever the pieces lie in the
/// text (`: ` or `:` between a name and its value, say).
impl PartialEq for RequestHead {
    fn eq(&self, other: &RequestHead) -> bool {
        self.method() == other.method()
            && self.target() == other.target()
            && self.headers().eq(other.headers())
            && self.version == other.version
            && self.framing == other.framing
            && self.close == other.close
            && self.expect_continue == other.expect_continue
            && self.target_authority == other.target_authority
            && self.head_len == other.head_len
    }
}

impl Eq for RequestHead {}

/// Where a head's method, target and fields lie in its text.
type Pieces = (Span, Span, Vec<(Span, Span)>);

/// The text of a head and where its pieces lie: the head's bytes as they
/// are when they are UTF-8 and the target is visible ASCII (nearly
/// always), else the pieces rewritten one by one.
fn head_text(
    head: &[u8],
    req: &httparse::Request<'_, '_>,
) -> (Arc<str>, Span, Span, Vec<(Span, Span)>) {
    let method = req.method.unwrap_or_default().as_bytes();
    let target = req.path.unwrap_or_default().as_bytes();
    let as_sent = std::str::from_utf8(head)
        .ok()
        .filter(|_| target.iter().all(u8::is_ascii_graphic));
    // Where a piece httparse returned lies in `head` (it borrows from it).
    let span = |piece: &[u8]| {
        let start = (piece.as_ptr() as usize).wrapping_sub(head.as_ptr() as usize);
        let end = start.checked_add(piece.len())?;
        (end <= head.len()).then_some(Span { start, end })
    };
    let spans = || -> Option<Pieces> {
        let mut headers = Vec::with_capacity(req.headers.len());
        for h in req.headers.iter() {
            headers.push((span(h.name.as_bytes())?, span(h.value)?));
        }
        Some((span(method)?, span(target)?, headers))
    };
    if let Some(text) = as_sent {
        if let Some((method, target, headers)) = spans() {
            return (Arc::from(text), method, target, headers);
        }
    }
    let mut text = String::with_capacity(head.len() + 16);
    let mut push = |piece: &str| {
        let start = text.len();
        text.push_str(piece);
        Span {
            start,
            end: text.len(),
        }
    };
    let method = push(req.method.unwrap_or_default());
    let target = push(&ascii_target(target));
    let headers = req.headers.iter();
    let headers = headers.map(|h| (push(h.name), push(&field_text(h.value))));
    let headers = headers.collect();
    (Arc::from(text), method, target, headers)
}

/// A field value as text: UTF-8 when it is, otherwise ISO-8859-1 (each
/// byte one char), so that no byte is lost.
fn field_text(value: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(value) {
        Ok(text) => text.into(),
        Err(_) => value.iter().map(|&b| b as char).collect::<String>().into(),
    }
}

/// The outcome of parsing what has arrived so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A whole head; `head_len` says where the body starts.
    Complete(RequestHead),
    /// More bytes are needed (and the limits are not exceeded yet).
    Partial,
}

/// Parses the request head at the start of `buf`, which holds what has
/// arrived so far.
///
/// The answer is `Ok(Parsed::Partial)` while more bytes could still make
/// a head within the limits (the caller reads more and calls again with
/// the longer buffer), `Ok(Parsed::Complete)` once the head has ended,
/// or the refusal.
///
/// The answer depends on the bytes alone, never on how they were split
/// into reads: once a buffer is refused, every longer buffer that starts
/// with it is refused with the same error, and a complete head is the
/// same head whatever follows it. A server that answered 431 or 400 for
/// the same request depending on the network would be hard to debug, and
/// a client could not tell which problem to fix. So the bytes are read in
/// order, and the first one that shows a problem decides:
///
/// 1. The limits count the bytes so far. The first byte that takes the
///    request target (the bytes after the request line's first space, up
///    to the next space or the line's end) past `max_uri` is refused
///    with 414, the first byte past `max_head` before the head's end with
///    431, and the byte that crosses both at once with 431. Nothing after
///    that byte is read, so nothing that follows can change the answer.
/// 2. Before that byte, the first byte that breaks the syntax of the
///    request line (RFC 9112 section 3), a field line (section 5) or the
///    line endings (section 2.2) is refused with 400, the end of a 101st
///    field line with 431, and nothing after it is read either. The
///    version is judged once its line ends, or sooner once it can no
///    longer become well formed (`HTTP/` then digits, a dot, digits):
///    `HTTP/2` still reads more, as it may be the start of `HTTP/2.0`.
///    A well formed version other than 1.0 and 1.1 is refused with 505
///    (section 2.3), a malformed one with 400.
/// 3. A head that ends within the limits is then judged whole: its target
///    (section 3.2), Host (section 3.2), framing (section 6.3), Expect and
///    declared body size. These refusals (400, 413, 417, 501) need the
///    head's end, so no prefix of the head is refused.
pub fn parse_head(buf: &[u8], limits: &Limits) -> Result<Parsed, HttpError> {
    // Parse only the bytes within the limits: what follows the first
    // byte over one cannot change the answer.
    let (within, over) = match first_over_limit(buf, limits) {
        Some((at, err)) => (&buf[..at], Some(err)),
        None => (buf, None),
    };
    // More bytes are needed, unless the bytes so far are over a limit.
    let unfinished = || over.map_or(Ok(Parsed::Partial), Err);
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    let head_len = match req.parse(within) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return unfinished(),
        Err(e) => return classify(e, within).map_or_else(unfinished, Err),
    };
    // A head that ends before the first byte over a limit lies within
    // both: its length is at most max_head, its target at most max_uri.
    let version = match req.version {
        Some(0) => Version::Http10,
        _ => Version::Http11,
    };
    let (text, method, target, headers) = head_text(&within[..head_len], &req);
    let mut head = RequestHead {
        text,
        method,
        target,
        headers,
        version,
        framing: Framing::None,
        close: false,
        expect_continue: false,
        target_authority: None,
        head_len,
    };
    head.target_authority = check_target(head.target())?;
    if head.target() == "*" && head.method() != "OPTIONS" {
        // RFC 9112 section 3.2.4: the asterisk form is for OPTIONS only.
        return Err(HttpError::Malformed("the target * is for OPTIONS only"));
    }
    apply_headers(&mut head, limits)?;
    Ok(Parsed::Complete(head))
}

/// The first byte of `buf` over a limit, by its index, and the refusal it
/// calls for: the byte that takes the target past `max_uri` (414), or the
/// byte past `max_head` (431, also when one byte crosses both). Only the
/// target counts towards `max_uri`, as for a complete head, so a head
/// accepted whole is never refused for arriving in pieces.
///
/// Where a limit is crossed depends only on the bytes up to the crossing,
/// so every longer buffer crosses at the same byte.
fn first_over_limit(buf: &[u8], limits: &Limits) -> Option<(usize, HttpError)> {
    if buf.len() <= limits.max_head.min(limits.max_uri) {
        // Neither the head nor the target, a part of it, can be over.
        return None;
    }
    let head = (buf.len() > limits.max_head).then_some(limits.max_head);
    let (start, len) = target_so_far(buf);
    // start + max_uri < start + len <= buf.len(): no overflow.
    let uri = (len > limits.max_uri).then(|| start + limits.max_uri);
    match (head, uri) {
        (Some(h), Some(u)) if u < h => Some((u, HttpError::UriTooLong)),
        (Some(h), _) => Some((h, HttpError::HeadTooLarge)),
        (None, Some(u)) => Some((u, HttpError::UriTooLong)),
        (None, None) => None,
    }
}

/// The request line received so far, after the empty lines that may
/// precede it (RFC 9112 section 2.2): where it starts in `buf`, its bytes
/// without the line ending, and whether that ending (CR or LF) has
/// arrived.
fn request_line(buf: &[u8]) -> (usize, &[u8], bool) {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let line = &buf[start..];
    match line.iter().position(|&b| b == b'\r' || b == b'\n') {
        Some(end) => (start, &line[..end], true),
        None => (start, line, false),
    }
}

/// Where the request target starts in `buf` and how many of its bytes
/// have arrived: the bytes after the method and its space, up to the next
/// space or the line's end; a length of 0 before the method's space.
fn target_so_far(buf: &[u8]) -> (usize, usize) {
    let (line_start, line, _) = request_line(buf);
    match line.iter().position(|&b| b == b' ') {
        Some(space) => {
            let target = &line[space + 1..];
            let len = target
                .iter()
                .position(|&b| b == b' ')
                .unwrap_or(target.len());
            (line_start + space + 1, len)
        }
        None => (line_start, 0),
    }
}

/// Maps httparse's error to a refusal, telling an unsupported but well
/// formed version (505) from a malformed one (400); `None` for a version
/// that is neither yet, whose line has not ended (read more).
///
/// httparse refuses a version at its first byte that is not in
/// `HTTP/1.0` or `HTTP/1.1`, so `HTTP/2` is an error to it where
/// `HTTP/2.0` is a version werk answers 505: refusing `HTTP/2` with 400
/// would make the status depend on where the reads split the line.
fn classify(err: httparse::Error, buf: &[u8]) -> Option<HttpError> {
    Some(match err {
        httparse::Error::Version => match version_so_far(buf) {
            VersionSoFar::WellFormed => HttpError::UnsupportedVersion,
            VersionSoFar::Unfinished => return None,
            VersionSoFar::Malformed => HttpError::Malformed("malformed HTTP version"),
        },
        httparse::Error::TooManyHeaders => HttpError::HeadTooLarge,
        httparse::Error::HeaderName => HttpError::Malformed("invalid header name"),
        httparse::Error::HeaderValue => HttpError::Malformed("invalid header value"),
        httparse::Error::NewLine => HttpError::Malformed("invalid line ending"),
        httparse::Error::Token => HttpError::Malformed("invalid request line"),
        httparse::Error::Status => HttpError::Malformed("invalid request line"),
    })
}

/// What the version of a request line says so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VersionSoFar {
    /// The line has ended with `METHOD TARGET HTTP/<digits>.<digits>`.
    WellFormed,
    /// The line has not ended, and more bytes could make it well formed.
    Unfinished,
    /// No bytes that follow can make it well formed.
    Malformed,
}

/// Reads the request line's version: the line must be three words, the
/// last `HTTP/<digits>.<digits>` (a space inside the target makes four
/// words and a malformed request, not an unsupported version). Up to ten
/// digits are taken each side of the dot, where RFC 9112 section 2.3 has
/// one; more are malformed.
///
/// `Unfinished` holds exactly when some bytes that follow would give
/// `WellFormed`, so the answer for a line never changes once it is
/// `WellFormed` or `Malformed`.
fn version_so_far(buf: &[u8]) -> VersionSoFar {
    let (_, line, ended) = request_line(buf);
    let words: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let [_, _, version] = words.as_slice() else {
        return VersionSoFar::Malformed;
    };
    let digits = |s: &[u8]| s.len() <= 10 && s.iter().all(u8::is_ascii_digit);
    let Some(rest) = version.strip_prefix(b"HTTP/") else {
        // Only the start of `HTTP/` can still become it.
        return if !ended && b"HTTP/".starts_with(version) {
            VersionSoFar::Unfinished
        } else {
            VersionSoFar::Malformed
        };
    };
    let (major, minor) = match rest.iter().position(|&b| b == b'.') {
        Some(dot) => (&rest[..dot], Some(&rest[dot + 1..])),
        None => (rest, None),
    };
    match minor {
        Some(minor) if !major.is_empty() && digits(major) && digits(minor) => {
            if !minor.is_empty() && ended {
                VersionSoFar::WellFormed
            } else if !ended {
                VersionSoFar::Unfinished
            } else {
                VersionSoFar::Malformed
            }
        }
        None if digits(major) && !ended => VersionSoFar::Unfinished,
        _ => VersionSoFar::Malformed,
    }
}

/// Percent-encodes any byte outside visible ASCII.
fn ascii_target(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    for &b in raw {
        if b.is_ascii_graphic() {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Accepts origin-form, absolute-form (http/https) and asterisk-form
/// targets; returns the authority of an absolute-form one.
fn check_target(target: &str) -> Result<Option<String>, HttpError> {
    if target.starts_with('/') || target == "*" {
        return Ok(None);
    }
    let Some((authority, _)) = split_absolute(target) else {
        return Err(HttpError::Malformed("invalid request target"));
    };
    if authority.contains('@') || !valid_host(authority.as_bytes()) || authority.is_empty() {
        return Err(HttpError::Malformed("invalid authority in request target"));
    }
    Ok(Some(authority.to_owned()))
}

/// Splits an absolute-form target, `http://host:port/path?query`, into its
/// authority and the rest (path, query and fragment); `None` for any
/// other form.
pub(crate) fn split_absolute(target: &str) -> Option<(&str, &str)> {
    let scheme_len = ["http://", "https://"]
        .iter()
        .find(|scheme| {
            target
                .get(..scheme.len())
                .is_some_and(|t| t.eq_ignore_ascii_case(scheme))
        })?
        .len();
    let rest = &target[scheme_len..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(rest.split_at(end))
}

/// True if `bytes`, the first a client sent, start a TLS handshake record
/// rather than a request line: content type 22 (handshake), then protocol
/// version 3.x, and, once there, handshake type 1 (ClientHello) after the
/// five bytes of the record header (RFC 8446 sections 5.1 and 4). No
/// request line starts with byte 22, a control character.
pub(crate) fn is_tls_client_hello(bytes: &[u8]) -> bool {
    const HANDSHAKE: u8 = 0x16;
    const CLIENT_HELLO: u8 = 0x01;
    bytes.first() == Some(&HANDSHAKE)
        && bytes.get(1).is_none_or(|&major| major == 3)
        && bytes.get(5).is_none_or(|&kind| kind == CLIENT_HELLO)
}

/// The bytes of a reg-name (RFC 3986 section 3.2.2: unreserved,
/// pct-encoded, sub-delims).
const REG_NAME: [bool; 256] = super::alphanumeric_and(b"-._~%!$&'()*+,;=");

/// Host syntax of RFC 9110 section 7.2: a reg-name or an IP literal in
/// brackets, then an optional port. An empty value is allowed.
pub(crate) fn valid_host(host: &[u8]) -> bool {
    let (name, port) = match host.first() {
        Some(b'[') => match host.iter().position(|&b| b == b']') {
            Some(end) => {
                let inner = &host[1..end];
                let ok = !inner.is_empty()
                    && inner
                        .iter()
                        .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
                if !ok {
                    return false;
                }
                match &host[end + 1..] {
                    [] => (&host[..0], None),
                    [b':', port @ ..] => (&host[..0], Some(port)),
                    _ => return false,
                }
            }
            None => return false,
        },
        _ => match host.iter().position(|&b| b == b':') {
            Some(colon) => (&host[..colon], Some(&host[colon + 1..])),
            None => (host, None),
        },
    };
    let name_ok = name.iter().all(|&b| REG_NAME[b as usize]);
    let port_ok = port.is_none_or(|p| p.len() <= 5 && p.iter().all(u8::is_ascii_digit));
    name_ok && port_ok
}

/// Applies the headers that change how the request is read: framing,
/// persistence, 100-continue and Host.
fn apply_headers(head: &mut RequestHead, limits: &Limits) -> Result<(), HttpError> {
    let mut content_length: Option<u64> = None;
    let mut codings: Vec<String> = Vec::new();
    let mut saw_te = false;
    let mut hosts = 0usize;
    let mut keep_alive = false;
    let mut close = false;
    let mut expect_continue = false;
    let version = head.version;
    for (name, value) in head.headers() {
        let value = value.as_bytes();
        if name.eq_ignore_ascii_case("content-length") {
            for part in value.split(|&b| b == b',') {
                let n = parse_length(trim(part))?;
                if content_length.is_some_and(|prev| prev != n) {
                    return Err(HttpError::AmbiguousFraming);
                }
                content_length = Some(n);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            saw_te = true;
            for part in value.split(|&b| b == b',') {
                let coding = String::from_utf8_lossy(trim(part)).to_ascii_lowercase();
                if !coding.is_empty() {
                    codings.push(coding);
                }
            }
        } else if name.eq_ignore_ascii_case("host") {
            hosts += 1;
            if !valid_host(trim(value)) {
                return Err(HttpError::BadHost);
            }
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(|&b| b == b',') {
                let token = trim(token);
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case("expect") && version == Version::Http11 {
            if trim(value).eq_ignore_ascii_case(b"100-continue") {
                expect_continue = true;
            } else {
                return Err(HttpError::UnsupportedExpectation);
            }
        }
    }
    // RFC 9112 section 3.2: every HTTP/1.1 request carries Host, even one
    // whose absolute-form target names the authority (which then wins).
    if head.version == Version::Http11 && hosts != 1 {
        return Err(HttpError::BadHost);
    }
    if hosts > 1 {
        return Err(HttpError::BadHost);
    }
    head.framing = match (saw_te, content_length) {
        (true, Some(_)) => return Err(HttpError::AmbiguousFraming),
        (true, None) if head.version == Version::Http10 => {
            return Err(HttpError::Malformed(
                "Transfer-Encoding is not allowed in HTTP/1.0",
            ))
        }
        (true, None) => chunked_framing(&codings)?,
        (false, Some(0)) | (false, None) => Framing::None,
        (false, Some(n)) => Framing::Length(n),
    };
    if let (Framing::Length(n), Some(max)) = (head.framing, limits.max_body) {
        if n > max {
            return Err(HttpError::BodyTooLarge);
        }
    }
    head.expect_continue = expect_continue && head.framing != Framing::None;
    head.close = match head.version {
        Version::Http11 => close,
        Version::Http10 => close || !keep_alive,
    };
    Ok(())
}

/// RFC 9112 section 6.3: chunked must be the final coding, once; any
/// other coding is one werk does not decode (501).
fn chunked_framing(codings: &[String]) -> Result<Framing, HttpError> {
    const KNOWN: [&str; 5] = ["chunked", "gzip", "x-gzip", "deflate", "compress"];
    let chunked_count = codings.iter().filter(|c| *c == "chunked").count();
    match codings {
        [only] if only == "chunked" => Ok(Framing::Chunked),
        [.., last] if last == "chunked" && chunked_count == 1 => {
            Err(HttpError::UnsupportedTransferCoding)
        }
        _ if codings.iter().any(|c| !KNOWN.contains(&c.as_str())) => {
            Err(HttpError::UnsupportedTransferCoding)
        }
        _ => Err(HttpError::Malformed(
            "Transfer-Encoding must end with chunked, once",
        )),
    }
}

fn parse_length(digits: &[u8]) -> Result<u64, HttpError> {
    content_length(digits).ok_or(HttpError::Malformed("invalid Content-Length"))
}

/// A Content-Length value: one to nineteen ASCII digits and nothing else
/// (RFC 9110 section 8.6: `1*DIGIT`), so no sign, no space inside and no
/// overflow. Rust's integer parser alone would take `+5`. The request
/// parser, `start_response` and the CGI and SCGI gateways all read it so.
pub(crate) fn content_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Nineteen digits stay below u64::MAX (twenty digits).
    Some(digits.iter().fold(0, |n, &d| n * 10 + u64::from(d - b'0')))
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_hello_is_told_from_a_request_line() {
        // curl's first bytes: a TLS 1.0 record header for a ClientHello.
        assert!(is_tls_client_hello(&[
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00
        ]));
        // TLS 1.3 clients still say 3.1 in the record; any 3.x passes.
        assert!(is_tls_client_hello(&[0x16, 0x03, 0x03, 0x00, 0x10, 0x01]));
        // What arrived so far is enough.
        assert!(is_tls_client_hello(&[0x16]));
        assert!(is_tls_client_hello(&[0x16, 0x03]));
        for not in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"",
            &[0x16, 0x02, 0x01],
            &[0x16, 0x03, 0x01, 0x00, 0x10, 0x02],
            &[0x17, 0x03, 0x03],
        ] {
            assert!(!is_tls_client_hello(not), "{not:?}");
        }
    }

    fn parse(bytes: &[u8]) -> Result<RequestHead, HttpError> {
        match parse_head(bytes, &Limits::default())? {
            Parsed::Complete(head) => Ok(head),
            Parsed::Partial => panic!("partial head: {:?}", String::from_utf8_lossy(bytes)),
        }
    }

    macro_rules! rejects {
        ($name:ident, $bytes:expr, $status:expr) => {
            #[test]
            fn $name() {
                let err = parse($bytes).expect_err("request should be refused");
                assert_eq!(err.status(), $status, "{err}");
            }
        };
    }

    #[test]
    fn simple_get() {
        let head = parse(b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(head.method(), "GET");
        assert_eq!(head.target(), "/a?b=1");
        assert_eq!(head.version, Version::Http11);
        assert_eq!(head.framing, Framing::None);
        assert!(!head.close);
        assert_eq!(head.head_len, 32);
    }

    #[test]
    fn partial_head_asks_for_more() {
        let got = parse_head(b"GET / HTTP/1.1\r\nHost:", &Limits::default()).unwrap();
        assert_eq!(got, Parsed::Partial);
    }

    #[test]
    fn http10_closes_unless_keep_alive() {
        assert!(parse(b"GET / HTTP/1.0\r\n\r\n").unwrap().close);
        let ka = parse(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").unwrap();
        assert!(!ka.close);
    }

    #[test]
    fn connection_close_on_11() {
        let head = parse(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        assert!(head.close);
    }

    #[test]
    fn content_length_and_chunked() {
        let head = parse(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n").unwrap();
        assert_eq!(head.framing, Framing::Length(5));
        let head =
            parse(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n").unwrap();
        assert_eq!(head.framing, Framing::Chunked);
    }

    #[test]
    fn repeated_equal_lengths_are_one_length() {
        let head = parse(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n",
        )
        .unwrap();
        assert_eq!(head.framing, Framing::Length(5));
    }

    #[test]
    fn expect_continue_only_with_a_body() {
        let with =
            b"PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n";
        assert!(parse(with).unwrap().expect_continue);
        let without = b"GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n";
        assert!(!parse(without).unwrap().expect_continue);
    }

    #[test]
    fn absolute_form_carries_authority() {
        let head =
            parse(b"GET http://missing.test:1337/index.html#x HTTP/1.1\r\nHost: other\r\n\r\n")
                .unwrap();
        assert_eq!(head.target_authority.as_deref(), Some("missing.test:1337"));
        let old = parse(b"GET http://missing.test/x HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(old.target_authority.as_deref(), Some("missing.test"));
    }

    #[test]
    fn http11_needs_host_even_with_an_absolute_target() {
        assert_eq!(
            parse(b"GET http://other.test/p HTTP/1.1\r\n\r\n"),
            Err(HttpError::BadHost)
        );
    }

    #[test]
    fn the_asterisk_is_for_options_only() {
        assert!(parse(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").is_ok());
        for method in ["GET", "POST", "HEAD"] {
            let request = format!("{method} * HTTP/1.1\r\nHost: x\r\n\r\n");
            assert_eq!(
                parse(request.as_bytes()).map(|h| h.target),
                Err(HttpError::Malformed("the target * is for OPTIONS only")),
                "{method}"
            );
        }
    }

    #[test]
    fn non_ascii_target_is_percent_encoded() {
        let head = parse(b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n");
        if let Ok(head) = head {
            assert_eq!(head.target(), "/caf%C3%A9");
        }
    }

    #[test]
    fn hosts() {
        assert!(valid_host(b"localhost:5000"));
        assert!(valid_host(b"[::1]:5000"));
        assert!(valid_host(b"api.example.test"));
        assert!(valid_host(b""));
        assert!(!valid_host(b"a b"));
        assert!(!valid_host(b"a/b"));
        assert!(!valid_host(b"[::1"));
        assert!(!valid_host(b"host:port"));
    }

    #[test]
    fn a_host_name_is_reg_name_bytes_only() {
        const OTHERS: &[u8] = b"-._~%!$&'()*+,;=";
        // A colon starts the port.
        for b in (0..=255u8).filter(|&b| b != b':') {
            let want = b.is_ascii_alphanumeric() || OTHERS.contains(&b);
            assert_eq!(valid_host(&[b]), want, "byte {b:#04x}");
        }
    }

    #[test]
    fn a_length_is_one_to_nineteen_digits() {
        assert_eq!(content_length(b"0"), Some(0));
        assert_eq!(content_length(b"13"), Some(13));
        assert_eq!(content_length(b"007"), Some(7));
        let most = b"9999999999999999999";
        assert_eq!(content_length(most), Some(9_999_999_999_999_999_999));
        for refused in [
            &b""[..],
            b"12345678901234567890",
            b"+5",
            b"-1",
            b"1 2",
            b"0x10",
        ] {
            assert_eq!(content_length(refused), None, "{refused:?}");
        }
    }

    rejects!(
        two_lengths,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        400
    );
    rejects!(
        length_and_chunked,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        400
    );
    rejects!(
        bad_length,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5x\r\n\r\n",
        400
    );
    rejects!(
        negative_length,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        400
    );
    rejects!(
        unknown_coding,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: foo\r\n\r\n",
        501
    );
    rejects!(
        gzip_then_chunked,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        501
    );
    rejects!(
        chunked_not_last,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        400
    );
    rejects!(
        chunked_twice,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
        400
    );
    rejects!(
        te_on_http10,
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        400
    );
    rejects!(http2_version, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505);
    rejects!(garbage_version, b"GET / HTTX/1.1\r\nHost: x\r\n\r\n", 400);
    rejects!(
        space_in_target,
        b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
        400
    );
    rejects!(missing_host, b"GET / HTTP/1.1\r\n\r\n", 400);
    rejects!(
        two_hosts,
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        400
    );
    rejects!(bad_host, b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400);
    rejects!(
        bad_expect,
        b"PUT / HTTP/1.1\r\nHost: x\r\nExpect: fast\r\nContent-Length: 1\r\n\r\n",
        417
    );
    rejects!(
        space_in_header_name,
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n",
        400
    );
    rejects!(relative_target, b"GET foo HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    rejects!(
        folded_header,
        b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n",
        400
    );

    #[test]
    fn too_many_headers_is_431() {
        let mut req = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
        for i in 0..101 {
            req.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        req.extend_from_slice(b"\r\n");
        assert_eq!(parse(&req).unwrap_err().status(), 431);
    }

    #[test]
    fn oversized_partial_head_is_431() {
        let mut req = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
        req.resize(70 * 1024, b'a');
        let err = parse_head(&req, &Limits::default()).unwrap_err();
        assert_eq!(err.status(), 431);
    }

    #[test]
    fn long_request_line_is_414() {
        let mut req = b"GET /".to_vec();
        req.resize(20 * 1024, b'a');
        let err = parse_head(&req, &Limits::default()).unwrap_err();
        assert_eq!(err.status(), 414);
        let mut full = req.clone();
        full.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(parse(&full).unwrap_err().status(), 414);
    }

    /// Every prefix of `bytes` is partial or refused with `expected`, and
    /// `bytes` itself is refused with it.
    fn refused_alike(bytes: &[u8], limits: &Limits, expected: HttpError) {
        assert_eq!(parse_head(bytes, limits), Err(expected), "all of it");
        for k in 0..bytes.len() {
            let got = parse_head(&bytes[..k], limits);
            assert!(
                got == Ok(Parsed::Partial) || got == Err(expected),
                "the first {k} bytes of {:?} give {got:?}, all give {expected:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn bytes_over_max_head_win_over_what_follows() {
        let limits = Limits {
            max_head: 2,
            ..Limits::default()
        };
        refused_alike(b"ked\n", &limits, HttpError::HeadTooLarge);
        // A problem before the limit still comes first.
        refused_alike(
            b"k\x01d\n",
            &limits,
            HttpError::Malformed("invalid request line"),
        );
    }

    #[test]
    fn a_target_over_max_uri_wins_over_what_follows() {
        let limits = Limits {
            max_uri: 2,
            ..Limits::default()
        };
        refused_alike(b"T wh1\r\n", &limits, HttpError::UriTooLong);
        refused_alike(
            b"T w\x01h1\r",
            &limits,
            HttpError::Malformed("invalid request line"),
        );
        // The byte that crosses both limits: 431.
        let both = Limits {
            max_head: 4,
            max_uri: 2,
            max_body: None,
        };
        refused_alike(b"T wh1", &both, HttpError::HeadTooLarge);
        let uri_first = Limits {
            max_head: 5,
            ..both
        };
        refused_alike(b"T wh1", &uri_first, HttpError::UriTooLong);
    }

    #[test]
    fn a_version_is_judged_when_its_line_ends() {
        let limits = Limits::default();
        for unfinished in [
            &b"H b HTTP/2"[..],
            b"H b HTTP/",
            b"H b HTTP/2.",
            b"H b HTTP/2.0",
        ] {
            assert_eq!(parse_head(unfinished, &limits), Ok(Parsed::Partial));
        }
        refused_alike(b"H b HTTP/2.0\r\n", &limits, HttpError::UnsupportedVersion);
        refused_alike(b"GET / HTTP/1.2\n", &limits, HttpError::UnsupportedVersion);
        let malformed = HttpError::Malformed("malformed HTTP version");
        for bytes in [
            &b"H b HTTP/2\r\n"[..],
            b"H b HTTP/2.\r\n",
            b"H b HTTPS/2.0\r\n",
            b"H b HTTP/2.0 x\r\n",
            b"H b HTTP/2..0\r\n",
            b"H b HTTP/12345678901.0\r\n",
        ] {
            refused_alike(bytes, &limits, malformed);
        }
        // Unfinished, a version is still refused once it cannot become
        // well formed, or reaches a limit.
        assert_eq!(parse_head(b"H b HTTP/x", &limits), Err(malformed));
        let small = Limits {
            max_head: 10,
            ..limits
        };
        refused_alike(b"H b HTTP/2.0\r\n", &small, HttpError::HeadTooLarge);
    }

    #[test]
    fn declared_body_over_limit_is_413() {
        let limits = Limits {
            max_body: Some(10),
            ..Limits::default()
        };
        let err = parse_head(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n",
            &limits,
        )
        .unwrap_err();
        assert_eq!(err.status(), 413);
    }
}
