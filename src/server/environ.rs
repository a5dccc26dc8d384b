//! Building the CGI variables of the environ from a request head (PEP 3333
//! "environ Variables", RFC 3875 section 4.1), as Werkzeug's request
//! handler does, with the differences documented in docs/wsgi-model.md.

use std::borrow::Cow;

use super::conn::Names;
use crate::http::RequestHead;
use crate::model::header_key;

/// The CGI variables and `HTTP_*` headers for `head`.
pub(crate) fn cgi_vars(
    head: &RequestHead,
    names: &Names,
    software: &str,
) -> Vec<(Cow<'static, str>, String)> {
    let (path, query) = split_target(&head.target);
    let mut vars: Vec<(Cow<'static, str>, String)> = Vec::with_capacity(16 + head.headers.len());
    let mut push = |k: &'static str, v: String| vars.push((Cow::Borrowed(k), v));
    push("REQUEST_METHOD", head.method.clone());
    push("SCRIPT_NAME", String::new());
    push("PATH_INFO", decode_path(path));
    push("QUERY_STRING", query.to_owned());
    push("REQUEST_URI", head.target.clone());
    push("RAW_URI", head.target.clone());
    push("SERVER_NAME", names.server_name.clone());
    push("SERVER_PORT", names.server_port.clone());
    push("SERVER_PROTOCOL", head.version.as_str().to_owned());
    push("SERVER_SOFTWARE", software.to_owned());
    push("GATEWAY_INTERFACE", "CGI/1.1".to_owned());
    push("REMOTE_ADDR", names.remote_addr.clone());
    push("REMOTE_PORT", names.remote_port.clone());
    for (name, value) in &head.headers {
        // Werkzeug 2.3+ drops names with underscores: `X-Forwarded_For`
        // would otherwise collide with `X-Forwarded-For` in the environ.
        if name.contains('_') {
            continue;
        }
        let key = header_key(name);
        let value = header_text(value);
        match vars.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) if key.starts_with("HTTP_") => {
                slot.1.push(',');
                slot.1.push_str(&value);
            }
            Some(slot) => slot.1 = value,
            None => vars.push((Cow::Owned(key), value)),
        }
    }
    if let Some(authority) = &head.target_authority {
        match vars.iter_mut().find(|(k, _)| k == "HTTP_HOST") {
            Some(slot) => slot.1 = authority.clone(),
            None => vars.push((Cow::Borrowed("HTTP_HOST"), authority.clone())),
        }
    }
    vars
}

/// A header value as text: UTF-8 when it is, otherwise ISO-8859-1 (each
/// byte one char), so that no byte is lost.
fn header_text(value: &[u8]) -> String {
    match std::str::from_utf8(value) {
        Ok(s) => s.to_owned(),
        Err(_) => value.iter().map(|&b| b as char).collect(),
    }
}

/// The path and query of a request target, without any fragment.
fn split_target(target: &str) -> (&str, &str) {
    let target = target.split('#').next().unwrap_or("");
    let target = strip_scheme_and_authority(target);
    match target.split_once('?') {
        Some((path, query)) => (path, query),
        None => (target, ""),
    }
}

/// The path and query of a target: an absolute-form target loses its
/// scheme and authority.
fn strip_scheme_and_authority(target: &str) -> &str {
    match crate::http::split_absolute(target) {
        Some((_, rest)) => rest,
        None => target,
    }
}

/// PATH_INFO: leading slashes collapsed to one (as Werkzeug does for
/// `//double-slash`), percent-escapes decoded, invalid UTF-8 replaced by
/// U+FFFD; an empty path is `/` for absolute-form targets.
pub(crate) fn decode_path(path: &str) -> String {
    if path == "*" {
        return path.to_owned();
    }
    let trimmed = path.trim_start_matches('/');
    let path = if path.is_empty() {
        "/".to_owned()
    } else {
        format!("/{trimmed}")
    };
    String::from_utf8_lossy(&percent_decode(path.as_bytes())).into_owned()
}

/// Decodes `%XX` escapes; a `%` not followed by two hex digits stays.
pub(crate) fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' && i + 2 < input.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(input[i + 1]), hex(input[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{parse_head, Limits, Parsed};
    use crate::server::conn::{Local, Peer};

    fn vars_for(request: &[u8]) -> Vec<(Cow<'static, str>, String)> {
        let Parsed::Complete(head) = parse_head(request, &Limits::default()).unwrap() else {
            panic!("partial");
        };
        let local = Local::Ip("127.0.0.1:5000".parse().unwrap());
        let peer = Peer::Ip("127.0.0.1:40000".parse().unwrap());
        let names = Names::of(&peer, &local);
        cgi_vars(&head, &names, "werk/test")
    }

    fn get<'a>(vars: &'a [(Cow<'static, str>, String)], key: &str) -> Option<&'a str> {
        vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
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

    #[test]
    fn percent_decoding_keeps_bad_escapes() {
        assert_eq!(percent_decode(b"%41%4a%zz%4"), b"AJ%zz%4");
        assert_eq!(percent_decode(b"a+b%2Fc"), b"a+b/c");
    }
}
