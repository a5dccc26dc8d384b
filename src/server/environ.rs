//! Building the CGI variables of the environ from a request head (PEP 3333
//! "environ Variables", RFC 3875 section 4.1), as Werkzeug's request
//! handler does, with the differences documented in docs/wsgi-model.md.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use super::conn::Names;
use crate::http::{RequestHead, Version};
use crate::model::{decode_path, header_key, SharedTexts, Text};

/// Which of the environ's [`SharedTexts`] a piece lies in.
const HEAD: u8 = 0;
const NAMES: u8 = 1;

/// The environ's variables, and the texts that those which are pieces
/// lie in: the request head and the connection's names. The values
/// need no reference counts of their own: building and dropping an
/// environ touches each shared text once.
pub(crate) struct Vars {
    pub list: Vec<(Cow<'static, str>, Text)>,
    pub texts: SharedTexts,
}

impl Vars {
    /// The value of `key`, as the environ will give it.
    #[cfg(test)]
    fn get(&self, key: &str) -> Option<&str> {
        let (_, value) = self.list.iter().find(|(k, _)| k == key)?;
        Some(value.as_str(&self.texts))
    }
}

/// The request line, kept for the log and error messages after the head
/// is turned into the environ; formatted only when something prints it.
#[derive(Clone)]
pub(crate) struct RequestLine {
    /// The head's text, which the method and target lie in.
    text: Arc<str>,
    method: Range<usize>,
    /// The target as sent (ASCII, see [`RequestHead::target`]).
    target: Range<usize>,
    version: Version,
}

impl RequestLine {
    /// The method and target of `head`, sharing its text.
    pub(crate) fn of(head: &RequestHead) -> RequestLine {
        let (method, target, _) = head.spans();
        RequestLine {
            text: head.text().clone(),
            method: method.range(),
            target: target.range(),
            version: head.version,
        }
    }

    fn method(&self) -> &str {
        &self.text[self.method.clone()]
    }

    fn target(&self) -> &str {
        &self.text[self.target.clone()]
    }
}

/// The line only: the head's text it holds has the other fields too,
/// credentials among them.
impl fmt::Debug for RequestLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequestLine")
            .field(&self.to_string())
            .finish()
    }
}

impl fmt::Display for RequestLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.method(),
            self.target(),
            self.version.as_str()
        )
    }
}

/// `part`, which lies in the head's `text` (the path and query of the
/// target do), as a piece of it; empty text needs no piece.
fn head_piece(text: &str, part: &str) -> Text {
    if part.is_empty() {
        return Text::Static("");
    }
    let start = (part.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
    match start.checked_add(part.len()) {
        Some(end) if end <= text.len() => Text::Piece {
            of: HEAD,
            range: start..end,
        },
        _ => Text::Owned(part.to_owned()),
    }
}

/// The CGI variables and `HTTP_*` headers for a request, from its line
/// ([`RequestLine::of`]) and its head.
pub(crate) fn cgi_vars(
    head: &RequestHead,
    line: &RequestLine,
    names: &Names,
    software: &'static str,
) -> Vars {
    let text = head.text();
    let target = line.target();
    let (path, query) = split_target(target);
    let mut vars = Vec::with_capacity(14 + head.headers().len());
    let mut push = |k: &'static str, v: Text| vars.push((Cow::Borrowed(k), v));
    push(
        "REQUEST_METHOD",
        Text::Piece {
            of: HEAD,
            range: line.method.clone(),
        },
    );
    push("SCRIPT_NAME", Text::Static(""));
    push(
        "PATH_INFO",
        match decode_path(path) {
            Cow::Borrowed(path) => head_piece(text, path),
            Cow::Owned(path) => Text::Owned(path),
        },
    );
    push("QUERY_STRING", head_piece(text, query));
    push(
        "REQUEST_URI",
        Text::Piece {
            of: HEAD,
            range: line.target.clone(),
        },
    );
    push(
        "RAW_URI",
        Text::Piece {
            of: HEAD,
            range: line.target.clone(),
        },
    );
    let [addr, port, name, server_port] = names.ends();
    let name_piece = |range| Text::Piece { of: NAMES, range };
    push("SERVER_NAME", name_piece(port..name));
    push("SERVER_PORT", name_piece(name..server_port));
    push("SERVER_PROTOCOL", Text::Static(line.version.as_str()));
    push("SERVER_SOFTWARE", Text::Static(software));
    push("GATEWAY_INTERFACE", Text::Static("CGI/1.1"));
    push("REMOTE_ADDR", name_piece(0..addr));
    push("REMOTE_PORT", name_piece(addr..port));
    let texts: SharedTexts = [Some(text.clone()), Some(names.text.clone())];
    let (_, _, fields) = head.spans();
    for &(name, value) in fields {
        let name = &text[name.range()];
        // Werkzeug 2.3+ drops names with underscores: `X-Forwarded_For`
        // would otherwise collide with `X-Forwarded-For` in the environ.
        if name.contains('_') {
            continue;
        }
        let key = header_key(name);
        let value = Text::Piece {
            of: HEAD,
            range: value.range(),
        };
        match vars.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) if key.starts_with("HTTP_") => {
                let earlier = std::mem::replace(&mut slot.1, Text::Static(""));
                let mut joined = earlier.into_string(&texts);
                joined.push(',');
                joined.push_str(value.as_str(&texts));
                slot.1 = Text::Owned(joined);
            }
            Some(slot) => slot.1 = value,
            None => vars.push((key, value)),
        }
    }
    if let Some(authority) = &head.target_authority {
        let authority = Text::Owned(authority.clone());
        match vars.iter_mut().find(|(k, _)| k == "HTTP_HOST") {
            Some(slot) => slot.1 = authority,
            None => vars.push((Cow::Borrowed("HTTP_HOST"), authority)),
        }
    }
    Vars { list: vars, texts }
}

/// The PATH_INFO a request target gives the application.
pub(crate) fn path_info_of(target: &str) -> String {
    decode_path(split_target(target).0).into_owned()
}

/// The path and query of a request target, without any fragment.
fn split_target(target: &str) -> (&str, &str) {
    let target = match target.bytes().position(|b| b == b'#') {
        Some(hash) => &target[..hash],
        None => target,
    };
    let target = strip_scheme_and_authority(target);
    match target.bytes().position(|b| b == b'?') {
        Some(mark) => (&target[..mark], &target[mark + 1..]),
        None => (target, ""),
    }
}

/// The path and query of a target: an absolute-form target loses its
/// scheme and authority.
fn strip_scheme_and_authority(target: &str) -> &str {
    if target.starts_with('/') {
        return target;
    }
    match crate::http::split_absolute(target) {
        Some((_, rest)) => rest,
        None => target,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{parse_head, Limits, Parsed};
    use crate::server::conn::{Local, Peer, ServerNames};

    fn vars_for(request: &[u8]) -> Vars {
        let Parsed::Complete(head) = parse_head(request, &Limits::default()).unwrap() else {
            panic!("partial");
        };
        let local = Local::Ip("127.0.0.1:5000".parse().unwrap());
        let peer = Peer::Ip("127.0.0.1:40000".parse().unwrap());
        let names = Names::of(&peer, ServerNames::of(&local));
        let line = RequestLine::of(&head);
        cgi_vars(&head, &line, &names, "werk/test")
    }

    fn get<'a>(vars: &'a Vars, key: &str) -> Option<&'a str> {
        vars.get(key)
    }

    #[test]
    fn path_and_query() {
        let v = vars_for(b"GET /a%20b/%E2%9C%93?x=1&y=%20#frag HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(get(&v, "PATH_INFO"), Some("/a b/\u{2713}"));
        assert_eq!(get(&v, "QUERY_STRING"), Some("x=1&y=%20"));
        assert_eq!(
            get(&v, "REQUEST_URI"),
            Some("/a%20b/%E2%9C%93?x=1&y=%20#frag")
        );
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let v = vars_for(b"GET /a%FFb HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(get(&v, "PATH_INFO"), Some("/a\u{FFFD}b"));
    }

    #[test]
    fn double_slash_is_a_path() {
        let v = vars_for(b"GET //double-slash HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(get(&v, "PATH_INFO"), Some("/double-slash"));
        assert_eq!(get(&v, "HTTP_HOST"), Some("h"));
    }

    #[test]
    fn absolute_form_sets_host() {
        let v = vars_for(
            b"GET http://missing.test:1337/index.html#ignore HTTP/1.1\r\nHost: other\r\n\r\n",
        );
        assert_eq!(get(&v, "HTTP_HOST"), Some("missing.test:1337"));
        assert_eq!(get(&v, "PATH_INFO"), Some("/index.html"));
        assert_eq!(get(&v, "SERVER_NAME"), Some("127.0.0.1"));
        assert_eq!(get(&v, "SERVER_PORT"), Some("5000"));
    }

    #[test]
    fn the_line_and_the_addresses_are_pieces_of_two_shared_texts() {
        let v = vars_for(b"PATCH /p?q HTTP/1.1\r\nHost: h:1\r\n\r\n");
        let want = [
            ("REQUEST_METHOD", "PATCH"),
            ("REQUEST_URI", "/p?q"),
            ("RAW_URI", "/p?q"),
            ("PATH_INFO", "/p"),
            ("QUERY_STRING", "q"),
            ("HTTP_HOST", "h:1"),
            ("REMOTE_ADDR", "127.0.0.1"),
            ("REMOTE_PORT", "40000"),
            ("SERVER_NAME", "127.0.0.1"),
            ("SERVER_PORT", "5000"),
        ];
        for (key, value) in want {
            assert_eq!(get(&v, key), Some(value), "{key}");
            let (_, text) = v.list.iter().find(|(k, _)| k == key).unwrap();
            assert!(matches!(text, Text::Piece { .. }), "{key}: {text:?}");
        }
        // Two reference counts for the environ, whatever its size.
        let [head, names] = &v.texts;
        assert!(head.is_some() && names.is_some());
    }

    #[test]
    fn repeated_headers_join_with_commas() {
        let v =
            vars_for(b"GET / HTTP/1.1\r\nHost: h\r\nXYZ: a \r\nA: 1\r\nXYZ: b\r\nXYZ: c \r\n\r\n");
        assert_eq!(get(&v, "HTTP_XYZ"), Some("a,b,c"));
    }

    #[test]
    fn content_headers_have_no_prefix_and_underscores_are_dropped() {
        let v = vars_for(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 2\r\nX_Bad: 1\r\n\r\n");
        assert_eq!(get(&v, "CONTENT_TYPE"), Some("application/json"));
        assert_eq!(get(&v, "CONTENT_LENGTH"), Some("2"));
        assert_eq!(get(&v, "HTTP_X_BAD"), None);
    }

    #[test]
    fn no_content_vars_without_body() {
        let v = vars_for(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(get(&v, "CONTENT_TYPE"), None);
        assert_eq!(get(&v, "CONTENT_LENGTH"), None);
    }

    #[test]
    fn latin1_header_bytes_survive() {
        let v = vars_for(b"GET / HTTP/1.1\r\nHost: h\r\nX-Name: caf\xe9\r\n\r\n");
        assert_eq!(get(&v, "HTTP_X_NAME"), Some("caf\u{e9}"));
    }
}
