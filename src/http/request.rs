//! Parsing a request head (RFC 9112 sections 2-3 and 6) into what the
//! server needs: method, target, version, headers and body framing.

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method token, case preserved.
    pub method: String,
    /// The request target as sent; bytes outside visible ASCII are
    /// percent-encoded so the string stays ASCII and nothing is lost.
    pub target: String,
    /// The request's version.
    pub version: Version,
    /// Header fields in arrival order: name as sent, raw value.
    pub headers: Vec<(String, Vec<u8>)>,
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

impl RequestHead {
    /// The first value of the named header, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// The request line as it is logged: `GET /path HTTP/1.1`.
    pub fn request_line(&self) -> String {
        format!("{} {} {}", self.method, self.target, self.version.as_str())
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

/// Parses the request head at the start of `buf`.
///
/// A partial head within the limits is `Ok(Parsed::Partial)`: the caller
/// reads more and calls again with the longer buffer.
pub fn parse_head(buf: &[u8], limits: &Limits) -> Result<Parsed, HttpError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return check_partial(buf, limits).map(|()| Parsed::Partial)
        }
        Err(e) => return Err(classify(e, buf)),
    };
    if head_len > limits.max_head {
        return Err(HttpError::HeadTooLarge);
    }
    let method = req.method.unwrap_or_default().to_owned();
    let raw_target = req.path.unwrap_or_default();
    if raw_target.len() > limits.max_uri {
        return Err(HttpError::UriTooLong);
    }
    let version = match req.version {
        Some(0) => Version::Http10,
        _ => Version::Http11,
    };
    let target = ascii_target(raw_target.as_bytes());
    let target_authority = check_target(&target)?;
    if target == "*" && method != "OPTIONS" {
        // RFC 9112 section 3.2.4: the asterisk form is for OPTIONS only.
        return Err(HttpError::Malformed("the target * is for OPTIONS only"));
    }
    let headers: Vec<(String, Vec<u8>)> = req
        .headers
        .iter()
        .map(|h| (h.name.to_owned(), h.value.to_vec()))
        .collect();
    let mut head = RequestHead {
        method,
        target,
        version,
        headers,
        framing: Framing::None,
        close: false,
        expect_continue: false,
        target_authority,
        head_len,
    };
    apply_headers(&mut head, limits)?;
    Ok(Parsed::Complete(head))
}

/// Decides between "read more" and a limit error for an incomplete head:
/// 414 once the target so far is longer than `max_uri`, 431 once the
/// bytes so far are more than `max_head`. Only the target counts towards
/// `max_uri`, as for a complete head, so a head accepted whole is never
/// refused for arriving in pieces.
fn check_partial(buf: &[u8], limits: &Limits) -> Result<(), HttpError> {
    if target_so_far(buf) > limits.max_uri {
        Err(HttpError::UriTooLong)
    } else if buf.len() > limits.max_head {
        Err(HttpError::HeadTooLarge)
    } else {
        Ok(())
    }
}

/// The length of the request target received so far: the bytes after
/// the method and its space, up to the next space or the line's end; 0
/// before the method's space.
fn target_so_far(buf: &[u8]) -> usize {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let line = &buf[start..];
    let end = line
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(line.len());
    let line = &line[..end];
    match line.iter().position(|&b| b == b' ') {
        Some(space) => {
            let target = &line[space + 1..];
            target
                .iter()
                .position(|&b| b == b' ')
                .unwrap_or(target.len())
        }
        None => 0,
    }
}

/// Maps httparse's error to a status, telling an unsupported but well
/// formed version (505) from a malformed one (400).
fn classify(err: httparse::Error, buf: &[u8]) -> HttpError {
    match err {
        httparse::Error::Version if has_wellformed_version(buf) => HttpError::UnsupportedVersion,
        httparse::Error::Version => HttpError::Malformed("malformed HTTP version"),
        httparse::Error::TooManyHeaders => HttpError::HeadTooLarge,
        httparse::Error::HeaderName => HttpError::Malformed("invalid header name"),
        httparse::Error::HeaderValue => HttpError::Malformed("invalid header value"),
        httparse::Error::NewLine => HttpError::Malformed("invalid line ending"),
        httparse::Error::Token => HttpError::Malformed("invalid request line"),
        httparse::Error::Status => HttpError::Malformed("invalid request line"),
    }
}

/// True if the request line is `METHOD TARGET HTTP/<digits>.<digits>`: three
/// words, the last a version (a space inside the target makes four words
/// and a malformed request, not an unsupported version).
fn has_wellformed_version(buf: &[u8]) -> bool {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(0);
    let line = &buf[start..];
    let end = line
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(line.len());
    let line = &line[..end];
    let words: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let [_, _, version] = words.as_slice() else {
        return false;
    };
    let Some(rest) = version.strip_prefix(b"HTTP/") else {
        return false;
    };
    let mut parts = rest.splitn(2, |&b| b == b'.');
    let major = parts.next().unwrap_or_default();
    let minor = parts.next().unwrap_or_default();
    let digits = |s: &[u8]| !s.is_empty() && s.len() <= 10 && s.iter().all(u8::is_ascii_digit);
    digits(major) && digits(minor)
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
    let name_ok = name
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b));
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
    for (name, value) in &head.headers {
        let value = value.as_slice();
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
        } else if name.eq_ignore_ascii_case("expect") && head.version == Version::Http11 {
            if trim(value).eq_ignore_ascii_case(b"100-continue") {
                head.expect_continue = true;
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
    if head.framing == Framing::None {
        head.expect_continue = false;
    }
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
    std::str::from_utf8(digits).ok()?.parse().ok()
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
        assert_eq!(head.method, "GET");
        assert_eq!(head.target, "/a?b=1");
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
            assert_eq!(head.target, "/caf%C3%A9");
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
