//! The SCGI request head, without sockets
//! (<https://python.ca/scgi/protocol.txt>).
//!
//! A web server opens a connection per request and sends the CGI
//! variables as one netstring of NUL-terminated names and values, then
//! the body:
//!
//! ```text
//! 70:CONTENT_LENGTH\027\0SCGI\01\0REQUEST_METHOD\0POST\0REQUEST_URI\0/deepthought\0,
//! What is the answer to life?
//! ```
//!
//! `CONTENT_LENGTH` must come first (the spec's one hard rule: it frames
//! the body). The spec also asks for `SCGI` = `1`; werk does not insist,
//! since an nginx configuration without `scgi_params` leaves it out. The
//! response is CGI-style, and the server closes the connection after it.
//!
//! [`parse_head`] works on what has arrived so far: it answers
//! [`Parsed::Partial`] until the whole netstring is there, and refuses a
//! head over the size limit as soon as its length prefix says so.

use std::fmt;

use super::text;

/// The most digits a netstring length may have (lengths are bounded by
/// the head limit long before that).
const MAX_LENGTH_DIGITS: usize = 10;

/// A complete SCGI head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScgiHead {
    /// The variables, in the order sent, `CONTENT_LENGTH` first.
    pub vars: Vec<(String, String)>,
    /// Bytes of the netstring, up to and including its final comma; the
    /// body starts there.
    pub head_len: usize,
}

/// The result of parsing what has arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// A whole head.
    Complete(ScgiHead),
    /// More bytes are needed.
    Partial,
}

/// Why an SCGI head was refused. The web server in front sent it, so
/// every one is a configuration or protocol mismatch, not a client's
/// mistake; the response says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScgiError {
    /// The head does not start with `<digits>:` (not an SCGI client).
    NotNetstring,
    /// The netstring does not end with a comma where its length says.
    NoComma,
    /// The head is longer than the limit.
    TooLarge,
    /// The headers are not NUL-terminated name/value pairs.
    BadHeaders,
    /// The first header is not `CONTENT_LENGTH`, or its value is not a
    /// number, or it appears twice.
    BadContentLength,
}

impl ScgiError {
    /// The status this error is answered with.
    pub(crate) fn status(self) -> u16 {
        match self {
            ScgiError::TooLarge => 431,
            _ => 400,
        }
    }
}

impl fmt::Display for ScgiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScgiError::NotNetstring => {
                "not an SCGI request (it must start with a netstring length; is an HTTP client talking to the SCGI port?)"
            }
            ScgiError::NoComma => "SCGI netstring does not end with a comma",
            ScgiError::TooLarge => "SCGI request head too large",
            ScgiError::BadHeaders => "SCGI headers are not NUL-terminated name/value pairs",
            ScgiError::BadContentLength => {
                "SCGI head must start with one CONTENT_LENGTH header whose value is a number"
            }
        })
    }
}

impl std::error::Error for ScgiError {}

/// Parses an SCGI head from the start of `buf`; `max_head` bounds the
/// netstring's length.
pub(crate) fn parse_head(buf: &[u8], max_head: usize) -> Result<Parsed, ScgiError> {
    let digits = buf.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits > MAX_LENGTH_DIGITS {
        return Err(ScgiError::TooLarge);
    }
    if digits == buf.len() {
        return Ok(Parsed::Partial);
    }
    if digits == 0 || buf[digits] != b':' {
        return Err(ScgiError::NotNetstring);
    }
    let len: usize = std::str::from_utf8(&buf[..digits])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(ScgiError::TooLarge)?;
    if len > max_head {
        return Err(ScgiError::TooLarge);
    }
    let start = digits + 1;
    let end = start + len;
    if buf.len() <= end {
        return Ok(Parsed::Partial);
    }
    if buf[end] != b',' {
        return Err(ScgiError::NoComma);
    }
    let vars = parse_headers(&buf[start..end])?;
    Ok(Parsed::Complete(ScgiHead {
        vars,
        head_len: end + 1,
    }))
}

/// `name\0value\0name\0value\0`, `CONTENT_LENGTH` first.
fn parse_headers(block: &[u8]) -> Result<Vec<(String, String)>, ScgiError> {
    let Some(block) = block.strip_suffix(b"\0") else {
        return Err(ScgiError::BadHeaders);
    };
    let mut items = block.split(|&b| b == 0);
    let mut vars = Vec::new();
    while let Some(name) = items.next() {
        let value = items.next().ok_or(ScgiError::BadHeaders)?;
        if name.is_empty() {
            return Err(ScgiError::BadHeaders);
        }
        let is_length = name == b"CONTENT_LENGTH";
        if is_length != vars.is_empty() {
            return Err(ScgiError::BadContentLength);
        }
        if is_length && crate::http::content_length(value).is_none() {
            return Err(ScgiError::BadContentLength);
        }
        vars.push((text(name), text(value)));
    }
    if vars.is_empty() {
        return Err(ScgiError::BadContentLength);
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a netstring head from pairs.
    fn head(pairs: &[(&str, &str)]) -> Vec<u8> {
        let mut block = Vec::new();
        for (k, v) in pairs {
            block.extend_from_slice(k.as_bytes());
            block.push(0);
            block.extend_from_slice(v.as_bytes());
            block.push(0);
        }
        let mut out = format!("{}:", block.len()).into_bytes();
        out.extend_from_slice(&block);
        out.push(b',');
        out
    }

    fn complete(buf: &[u8]) -> ScgiHead {
        match parse_head(buf, 64 * 1024) {
            Ok(Parsed::Complete(head)) => head,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_spec_example() {
        let buf = b"70:CONTENT_LENGTH\x0027\x00SCGI\x001\x00REQUEST_METHOD\x00POST\x00REQUEST_URI\x00/deepthought\x00,What is the answer to life?";
        let h = complete(buf);
        assert_eq!(h.head_len, 74);
        assert_eq!(&buf[h.head_len..], b"What is the answer to life?");
        assert_eq!(h.vars[0], ("CONTENT_LENGTH".into(), "27".into()));
        assert_eq!(h.vars[3], ("REQUEST_URI".into(), "/deepthought".into()));
    }

    #[test]
    fn every_prefix_is_partial() {
        let buf = head(&[("CONTENT_LENGTH", "0"), ("REQUEST_METHOD", "GET")]);
        for n in 0..buf.len() {
            assert_eq!(parse_head(&buf[..n], 1024), Ok(Parsed::Partial), "{n}");
        }
        assert_eq!(complete(&buf).head_len, buf.len());
    }

    #[test]
    fn bounds() {
        let buf = head(&[("CONTENT_LENGTH", "0"), ("X", &"y".repeat(100))]);
        assert_eq!(parse_head(&buf, 50), Err(ScgiError::TooLarge));
        // Refused from the length prefix alone, before the bytes arrive.
        assert_eq!(parse_head(b"99999:", 1024), Err(ScgiError::TooLarge));
        assert_eq!(parse_head(b"12345678901", 1024), Err(ScgiError::TooLarge));
        assert_eq!(
            parse_head(b"99999999999999999999999:", usize::MAX),
            Err(ScgiError::TooLarge)
        );
    }

    #[test]
    fn malformed_heads() {
        let cases: &[(&[u8], ScgiError)] = &[
            (b"GET / HTTP/1.1\r\n", ScgiError::NotNetstring),
            (b":", ScgiError::NotNetstring),
            (b"12x", ScgiError::NotNetstring),
            (b"3:a\0b;", ScgiError::NoComma),
            (b"3:a\0b,", ScgiError::BadHeaders),
            (b"4:a\0b\0,", ScgiError::BadContentLength),
            (b"0:,", ScgiError::BadHeaders),
            (b"2:\0\0,", ScgiError::BadHeaders),
            (b"17:CONTENT_LENGTH\0x\0,", ScgiError::BadContentLength),
            (b"16:CONTENT_LENGTH\0\0,", ScgiError::BadContentLength),
            (b"15:CONTENT_LENGTH\0,", ScgiError::BadHeaders),
        ];
        for (buf, want) in cases {
            assert_eq!(
                parse_head(buf, 1024),
                Err(*want),
                "{:?}",
                String::from_utf8_lossy(buf)
            );
        }
        let twice = head(&[("CONTENT_LENGTH", "0"), ("CONTENT_LENGTH", "5")]);
        assert_eq!(parse_head(&twice, 1024), Err(ScgiError::BadContentLength));
    }

    #[test]
    fn values_may_be_empty_and_latin1() {
        let mut buf = head(&[("CONTENT_LENGTH", "0"), ("QUERY_STRING", "")]);
        let h = complete(&buf);
        assert_eq!(h.vars[1], ("QUERY_STRING".into(), String::new()));
        buf = b"29:CONTENT_LENGTH\x000\x00HTTP_X\x00caf\xe9\x00,".to_vec();
        assert_eq!(complete(&buf).vars[1].1, "caf\u{e9}");
    }

    #[test]
    fn statuses() {
        assert_eq!(ScgiError::TooLarge.status(), 431);
        assert_eq!(ScgiError::NotNetstring.status(), 400);
        assert!(ScgiError::NotNetstring.to_string().contains("HTTP client"));
    }
}
