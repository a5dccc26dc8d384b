//! Running an application behind another web server: CGI (RFC 3875), a
//! process per request, and SCGI, a persistent process that the web
//! server connects to once per request.
//!
//! Both hand the application the same thing: the request as CGI
//! meta-variables (from the process environment, or from an SCGI request
//! head), a body of exactly `CONTENT_LENGTH` bytes, and a CGI-style
//! response going back (`Status: 200 OK`, the headers, a blank line, the
//! body). This module turns those variables into an environ; [`response`]
//! writes the response; [`cgi`] and [`scgi`] are the two transports.
//!
//! ```text
//!  web server ──env + stdin──► werk cgi ──Status: + headers + body──► stdout
//!  web server ──SCGI netstring + body──► werk (SCGI) ──Status: ...──► socket
//! ```
//!
//! Why SCGI for the persistent gateway, and not FastCGI: see
//! `docs/deploying.md`. In short, an SCGI request is one netstring of the
//! same variables CGI uses followed by the body, and the response is a CGI
//! response; there is no record framing, multiplexing or management
//! record to get wrong, and lighttpd, nginx and Apache all speak it.

pub mod cgi;
pub(crate) mod response;
pub(crate) mod scgi;

use crate::model::percent_encode_path;

/// The protocol a server speaks on its sockets: HTTP for browsers and
/// clients, or SCGI for a web server in front of it (see
/// [`Options::protocol`](crate::Options::protocol)).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// HTTP/1.1 (and 1.0), the default.
    #[default]
    Http,
    /// SCGI: one request per connection from lighttpd (`mod_scgi`), nginx
    /// (`scgi_pass`) or Apache (`mod_proxy_scgi`); the response is
    /// CGI-style and the connection closes after it.
    Scgi,
}

/// A request a gateway refuses before the application sees it: the
/// status to answer with, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused {
    pub code: u16,
    pub message: String,
}

impl Refused {
    pub(crate) fn new(code: u16, message: impl Into<String>) -> Refused {
        Refused {
            code,
            message: message.into(),
        }
    }
}

/// A request as a web server handed it over, made ready for an environ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GatewayRequest {
    /// The environ's string variables.
    pub vars: Vec<(String, String)>,
    /// `wsgi.url_scheme`.
    pub scheme: &'static str,
    /// Bytes of body that follow (0 when CONTENT_LENGTH is unset or empty).
    pub content_length: u64,
}

impl GatewayRequest {
    /// A variable by name.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        get(&self.vars, key)
    }

    /// The request line for the log: `GET /path?q HTTP/1.1`.
    pub(crate) fn request_line(&self) -> String {
        format!(
            "{} {} {}",
            self.get("REQUEST_METHOD").unwrap_or("-"),
            self.get("REQUEST_URI").unwrap_or("-"),
            self.get("SERVER_PROTOCOL").unwrap_or("-")
        )
    }
}

fn get<'a>(vars: &'a [(String, String)], key: &str) -> Option<&'a str> {
    vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn set(vars: &mut Vec<(String, String)>, key: &str, value: String) {
    match vars.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => vars.push((key.to_owned(), value)),
    }
}

fn remove(vars: &mut Vec<(String, String)>, key: &str) -> Option<String> {
    let pos = vars.iter().position(|(k, _)| k == key)?;
    Some(vars.remove(pos).1)
}

/// Turns the variables a web server passed (CGI environment or SCGI head)
/// into what the environ holds, tolerating what real servers do:
///
/// - `CONTENT_LENGTH` empty (nginx with fcgiwrap) or unset (Apache,
///   busybox) means no body; `0` (lighttpd on GET) too. Anything else
///   that is not a number is refused with 400.
/// - `CONTENT_TYPE` empty (nginx) is dropped; so are `HTTP_CONTENT_LENGTH`
///   and `HTTP_CONTENT_TYPE`, copies of the same headers some servers add.
/// - `PATH_INFO` unset (nginx `scgi_params` sends none) is taken from
///   `REQUEST_URI`, percent-decoded, less the `SCRIPT_NAME` prefix;
///   `QUERY_STRING` unset, from the query of `REQUEST_URI`.
/// - `REQUEST_URI` unset (a plain RFC 3875 server) is rebuilt from
///   `SCRIPT_NAME`, `PATH_INFO` and `QUERY_STRING`; `RAW_URI` is the same.
/// - `SERVER_NAME`/`SERVER_PORT` unset or empty (busybox, nginx without
///   `server_name`) come from `HTTP_HOST`. URL reconstruction prefers
///   `HTTP_HOST` anyway ([`Environ::host`](crate::Environ::host)).
/// - `HTTPS=on` (or `1`), or `REQUEST_SCHEME=https`, gives
///   `wsgi.url_scheme` https.
///
/// Only `REQUEST_METHOD` is required, as in Go's `net/http/cgi`.
pub(crate) fn request_from_vars(
    mut vars: Vec<(String, String)>,
) -> Result<GatewayRequest, Refused> {
    let method = get(&vars, "REQUEST_METHOD").unwrap_or("");
    if method.is_empty() {
        return Err(Refused::new(
            400,
            "REQUEST_METHOD is missing: the web server did not pass the CGI variables",
        ));
    }
    let content_length = match remove(&mut vars, "CONTENT_LENGTH") {
        None => 0,
        Some(text) if text.trim().is_empty() => 0,
        Some(text) => {
            let n = crate::http::content_length(text.trim().as_bytes()).ok_or_else(|| {
                Refused::new(
                    400,
                    format!("CONTENT_LENGTH {text:?} is not a number of bytes (digits only)"),
                )
            })?;
            vars.push(("CONTENT_LENGTH".to_owned(), n.to_string()));
            n
        }
    };
    if get(&vars, "CONTENT_TYPE").is_some_and(str::is_empty) {
        remove(&mut vars, "CONTENT_TYPE");
    }
    remove(&mut vars, "HTTP_CONTENT_LENGTH");
    remove(&mut vars, "HTTP_CONTENT_TYPE");
    if get(&vars, "SERVER_PROTOCOL").is_none_or(str::is_empty) {
        set(&mut vars, "SERVER_PROTOCOL", "HTTP/1.0".to_owned());
    }
    if get(&vars, "SCRIPT_NAME").is_none() {
        set(&mut vars, "SCRIPT_NAME", String::new());
    }
    let uri = get(&vars, "REQUEST_URI").map(str::to_owned);
    if get(&vars, "PATH_INFO").is_none() {
        let path = match &uri {
            Some(uri) => path_from_uri(uri, get(&vars, "SCRIPT_NAME").unwrap_or("")),
            None => String::new(),
        };
        set(&mut vars, "PATH_INFO", path);
    }
    if get(&vars, "QUERY_STRING").is_none() {
        let query = uri
            .as_deref()
            .and_then(|u| u.split_once('?'))
            .map_or("", |(_, q)| q.split('#').next().unwrap_or(""));
        set(&mut vars, "QUERY_STRING", query.to_owned());
    }
    let uri = match uri {
        Some(uri) => uri,
        None => {
            let mut uri = percent_encode_path(get(&vars, "SCRIPT_NAME").unwrap_or(""));
            uri.push_str(&percent_encode_path(get(&vars, "PATH_INFO").unwrap_or("")));
            if uri.is_empty() {
                uri.push('/');
            }
            let query = get(&vars, "QUERY_STRING").unwrap_or("");
            if !query.is_empty() {
                uri.push('?');
                uri.push_str(query);
            }
            set(&mut vars, "REQUEST_URI", uri.clone());
            uri
        }
    };
    if get(&vars, "RAW_URI").is_none() {
        set(&mut vars, "RAW_URI", uri);
    }
    let https = get(&vars, "HTTPS").is_some_and(|v| v.eq_ignore_ascii_case("on") || v == "1")
        || get(&vars, "REQUEST_SCHEME").is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let scheme = if https { "https" } else { "http" };
    fill_server_name(&mut vars, scheme);
    Ok(GatewayRequest {
        vars,
        scheme,
        content_length,
    })
}

/// PATH_INFO from a request URI: the path, percent-decoded, with the
/// SCRIPT_NAME prefix removed when it is there.
fn path_from_uri(uri: &str, script_name: &str) -> String {
    let path = uri.split(['?', '#']).next().unwrap_or("");
    let path = crate::model::decode_path(path).into_owned();
    match path.strip_prefix(script_name) {
        Some(rest) if !script_name.is_empty() && (rest.is_empty() || rest.starts_with('/')) => {
            rest.to_owned()
        }
        _ => path,
    }
}

/// SERVER_NAME and SERVER_PORT, when missing or empty, from HTTP_HOST
/// (`name`, `name:port`, `[v6]:port`), the port defaulting by scheme.
fn fill_server_name(vars: &mut Vec<(String, String)>, scheme: &str) {
    let missing = |vars: &[(String, String)], key| get(vars, key).is_none_or(str::is_empty);
    if !missing(vars, "SERVER_NAME") && !missing(vars, "SERVER_PORT") {
        return;
    }
    let Some(host) = get(vars, "HTTP_HOST").filter(|h| !h.is_empty()) else {
        return;
    };
    let (name, port) = split_host(host);
    let port = port.map_or(if scheme == "https" { "443" } else { "80" }, |p| p);
    let (name, port) = (name.to_owned(), port.to_owned());
    if missing(vars, "SERVER_NAME") {
        set(vars, "SERVER_NAME", name);
    }
    if missing(vars, "SERVER_PORT") {
        set(vars, "SERVER_PORT", port);
    }
}

/// `example.com:8080` -> (`example.com`, Some(`8080`)); `[::1]:80` ->
/// (`::1`, Some(`80`)); `example.com` -> (`example.com`, None).
fn split_host(host: &str) -> (&str, Option<&str>) {
    if let Some(rest) = host.strip_prefix('[') {
        if let Some((ip, after)) = rest.split_once(']') {
            return (ip, after.strip_prefix(':').filter(|p| !p.is_empty()));
        }
        return (host, None);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            (name, Some(port).filter(|p| !p.is_empty()))
        }
        _ => (host, None),
    }
}

/// Bytes from a web server as text: UTF-8 when they are, otherwise
/// ISO-8859-1 (one char per byte), as the HTTP server reads header values,
/// so that no byte is lost.
pub(crate) fn text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn request(pairs: &[(&str, &str)]) -> GatewayRequest {
        request_from_vars(vars(pairs)).unwrap()
    }

    #[test]
    fn lighttpd_cgi_get() {
        let r = request(&[
            ("GATEWAY_INTERFACE", "CGI/1.1"),
            ("REQUEST_METHOD", "GET"),
            ("SERVER_PROTOCOL", "HTTP/1.1"),
            ("SCRIPT_NAME", "/cgi-bin/app"),
            ("PATH_INFO", "/a b"),
            ("QUERY_STRING", "x=1"),
            ("REQUEST_URI", "/cgi-bin/app/a%20b?x=1"),
            ("SERVER_NAME", "127.0.0.1"),
            ("SERVER_PORT", "8080"),
            ("CONTENT_LENGTH", "0"),
            ("HTTP_HOST", "localhost:8080"),
        ]);
        assert_eq!(r.content_length, 0);
        assert_eq!(r.scheme, "http");
        assert_eq!(r.get("PATH_INFO"), Some("/a b"));
        assert_eq!(r.get("CONTENT_LENGTH"), Some("0"));
        assert_eq!(r.get("RAW_URI"), Some("/cgi-bin/app/a%20b?x=1"));
        assert_eq!(r.request_line(), "GET /cgi-bin/app/a%20b?x=1 HTTP/1.1");
    }

    #[test]
    fn empty_content_length_and_type_mean_none() {
        let r = request(&[
            ("REQUEST_METHOD", "GET"),
            ("CONTENT_LENGTH", ""),
            ("CONTENT_TYPE", ""),
        ]);
        assert_eq!(r.content_length, 0);
        assert_eq!(r.get("CONTENT_LENGTH"), None);
        assert_eq!(r.get("CONTENT_TYPE"), None);
        let r = request(&[("REQUEST_METHOD", "POST"), ("CONTENT_LENGTH", " 12 ")]);
        assert_eq!(r.content_length, 12);
        assert_eq!(r.get("CONTENT_LENGTH"), Some("12"));
    }

    #[test]
    fn bad_or_missing_required_values_are_refused() {
        let e = request_from_vars(vars(&[("REQUEST_METHOD", "POST"), ("CONTENT_LENGTH", "x")]));
        assert_eq!(e.unwrap_err().code, 400);
        let e = request_from_vars(vars(&[("CONTENT_LENGTH", "1")]));
        assert!(e.unwrap_err().message.contains("REQUEST_METHOD"));
    }

    #[test]
    fn busybox_without_server_name_uses_the_host_header() {
        let r = request(&[("REQUEST_METHOD", "GET"), ("HTTP_HOST", "[::1]:8000")]);
        assert_eq!(r.get("SERVER_NAME"), Some("::1"));
        assert_eq!(r.get("SERVER_PORT"), Some("8000"));
        let r = request(&[
            ("REQUEST_METHOD", "GET"),
            ("HTTPS", "on"),
            ("HTTP_HOST", "example.com"),
            ("SERVER_NAME", ""),
        ]);
        assert_eq!(r.scheme, "https");
        assert_eq!(r.get("SERVER_NAME"), Some("example.com"));
        assert_eq!(r.get("SERVER_PORT"), Some("443"));
        let r = request(&[("REQUEST_METHOD", "GET")]);
        assert_eq!(r.get("SERVER_NAME"), None);
    }

    #[test]
    fn nginx_scgi_params_path_from_request_uri() {
        let r = request(&[
            ("CONTENT_LENGTH", "0"),
            ("REQUEST_METHOD", "GET"),
            ("REQUEST_URI", "/a/b%20c?x=1"),
            ("QUERY_STRING", "x=1"),
            ("REQUEST_SCHEME", "https"),
            ("HTTP_CONTENT_LENGTH", "0"),
        ]);
        assert_eq!(r.get("PATH_INFO"), Some("/a/b c"));
        assert_eq!(r.get("SCRIPT_NAME"), Some(""));
        assert_eq!(r.scheme, "https");
        assert_eq!(r.get("HTTP_CONTENT_LENGTH"), None);
        let r = request(&[
            ("REQUEST_METHOD", "GET"),
            ("SCRIPT_NAME", "/app"),
            ("REQUEST_URI", "/app/x?q"),
        ]);
        assert_eq!(r.get("PATH_INFO"), Some("/x"));
        assert_eq!(r.get("QUERY_STRING"), Some("q"));
        let r = request(&[
            ("REQUEST_METHOD", "GET"),
            ("SCRIPT_NAME", "/app"),
            ("REQUEST_URI", "/application"),
        ]);
        assert_eq!(r.get("PATH_INFO"), Some("/application"));
    }

    #[test]
    fn request_uri_is_rebuilt_when_missing() {
        let r = request(&[
            ("REQUEST_METHOD", "GET"),
            ("SCRIPT_NAME", "/cgi-bin/app"),
            ("PATH_INFO", "/a b"),
            ("QUERY_STRING", "x=1"),
        ]);
        assert_eq!(r.get("REQUEST_URI"), Some("/cgi-bin/app/a%20b?x=1"));
        assert_eq!(r.get("SERVER_PROTOCOL"), Some("HTTP/1.0"));
    }

    #[test]
    fn host_splitting() {
        assert_eq!(split_host("a:1"), ("a", Some("1")));
        assert_eq!(split_host("a"), ("a", None));
        assert_eq!(split_host("[::1]"), ("::1", None));
        assert_eq!(split_host("::1"), ("::1", None));
        assert_eq!(text(b"caf\xe9"), "caf\u{e9}");
    }
}
