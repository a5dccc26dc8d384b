//! `ProxyFix`: the environ as the client saw the request, rebuilt from the
//! `X-Forwarded-*` headers that reverse proxies in front of the server add
//! (Werkzeug's `ProxyFix`).
//!
//! Behind a proxy, the server's view of a request is the proxy's: the
//! peer address is the proxy, the scheme is plain HTTP even when the
//! client used HTTPS, and the host may be an internal name. Each proxy
//! appends what it saw to a header; `ProxyFix` trusts a configured number
//! of values, counted from the right (the closest proxy), and ignores the
//! rest, which any client can forge.
//!
//! | header               | sets                                           |
//! |----------------------|------------------------------------------------|
//! | `X-Forwarded-For`    | `REMOTE_ADDR`                                  |
//! | `X-Forwarded-Proto`  | `wsgi.url_scheme` (`http` or `https` only)     |
//! | `X-Forwarded-Host`   | `HTTP_HOST`, `SERVER_NAME` (and `SERVER_PORT` if it has one) |
//! | `X-Forwarded-Port`   | the port in `HTTP_HOST`, and `SERVER_PORT`     |
//! | `X-Forwarded-Prefix` | `SCRIPT_NAME`                                  |
//!
//! The values before the change are kept in the environ's extensions as a
//! [`ProxyFixOriginal`] (Werkzeug keeps them in the
//! `werkzeug.proxy_fix.orig` dict): a typed value, so the CGI variables stay
//! the ones PEP 3333 defines.

use std::fmt;

use crate::{App, Body, Environ, StartResponse};

/// Rewrites the environ from `X-Forwarded-*` headers, trusting as many
/// values of each as there are proxies that set it.
///
/// The defaults are Werkzeug's: one proxy sets `X-Forwarded-For` and
/// `X-Forwarded-Proto`, nothing trusts the other headers. Never trust more
/// values than there are proxies: the extra ones come from the client.
///
/// ```
/// use werk::middleware::ProxyFix;
/// use werk::{testing, Body, Environ, StartResponse};
///
/// fn app(environ: &Environ, sr: StartResponse) -> Body {
///     sr.start("200 OK", [("Content-Type", "text/plain")]).unwrap();
///     Body::from(format!("{} {}", environ.remote_addr(), environ.url()))
/// }
///
/// // One proxy (nginx, say) sets -For, -Proto and -Host.
/// let app = ProxyFix::new(app).x_host(1);
/// let environ = Environ::builder()
///     .header("X-Forwarded-For", "203.0.113.7")
///     .header("X-Forwarded-Proto", "https")
///     .header("X-Forwarded-Host", "example.test")
///     .build();
/// let response = testing::call(&app, environ);
/// assert_eq!(response.text(), "203.0.113.7 https://example.test/");
/// ```
#[derive(Clone, Copy)]
pub struct ProxyFix<A> {
    app: A,
    x_for: usize,
    x_proto: usize,
    x_host: usize,
    x_port: usize,
    x_prefix: usize,
}

/// The environ values [`ProxyFix`] replaced, as the server set them; in
/// the environ's [`Extensions`](crate::Extensions).
///
/// ```
/// # use werk::{Body, Environ, StartResponse};
/// use werk::middleware::ProxyFixOriginal;
///
/// fn app(environ: &Environ, sr: StartResponse) -> Body {
///     let proxy = environ
///         .extensions()
///         .get::<ProxyFixOriginal>()
///         .map_or("", |orig| orig.remote_addr.as_str());
///     sr.start("200 OK", [("Content-Type", "text/plain")]).unwrap();
///     Body::from(format!("via {proxy}"))
/// }
/// # let _ = app;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyFixOriginal {
    /// `REMOTE_ADDR`: the closest proxy's address.
    pub remote_addr: String,
    /// `wsgi.url_scheme`.
    pub url_scheme: String,
    /// `HTTP_HOST`, if the request had one.
    pub http_host: Option<String>,
    /// `SERVER_NAME`.
    pub server_name: String,
    /// `SERVER_PORT`.
    pub server_port: String,
    /// `SCRIPT_NAME`.
    pub script_name: String,
}

impl<A: App> ProxyFix<A> {
    /// Wraps `app`, trusting one value of `X-Forwarded-For` and of
    /// `X-Forwarded-Proto`.
    pub fn new(app: A) -> ProxyFix<A> {
        ProxyFix {
            app,
            x_for: 1,
            x_proto: 1,
            x_host: 0,
            x_port: 0,
            x_prefix: 0,
        }
    }

    /// How many values of `X-Forwarded-For` to trust (0: ignore it).
    pub fn x_for(mut self, n: usize) -> ProxyFix<A> {
        self.x_for = n;
        self
    }

    /// How many values of `X-Forwarded-Proto` to trust.
    pub fn x_proto(mut self, n: usize) -> ProxyFix<A> {
        self.x_proto = n;
        self
    }

    /// How many values of `X-Forwarded-Host` to trust.
    pub fn x_host(mut self, n: usize) -> ProxyFix<A> {
        self.x_host = n;
        self
    }

    /// How many values of `X-Forwarded-Port` to trust.
    pub fn x_port(mut self, n: usize) -> ProxyFix<A> {
        self.x_port = n;
        self
    }

    /// How many values of `X-Forwarded-Prefix` to trust.
    pub fn x_prefix(mut self, n: usize) -> ProxyFix<A> {
        self.x_prefix = n;
        self
    }

    /// The environ the wrapped application sees.
    pub fn fix(&self, environ: &Environ) -> Environ {
        let mut env = environ.clone();
        env.extensions_mut().insert(ProxyFixOriginal {
            remote_addr: environ.remote_addr().to_owned(),
            url_scheme: environ.url_scheme().to_owned(),
            http_host: environ.get("HTTP_HOST").map(str::to_owned),
            server_name: environ.get("SERVER_NAME").unwrap_or("").to_owned(),
            server_port: environ.get("SERVER_PORT").unwrap_or("").to_owned(),
            script_name: environ.script_name().to_owned(),
        });
        let trusted = |n: usize, header: &str| trusted_value(n, environ.header(header)?);
        if let Some(addr) = trusted(self.x_for, "X-Forwarded-For") {
            env.set("REMOTE_ADDR", addr);
        }
        if let Some(proto) = trusted(self.x_proto, "X-Forwarded-Proto") {
            let proto = proto.to_ascii_lowercase();
            if proto == "http" || proto == "https" {
                env.set_url_scheme(proto);
            }
        }
        if let Some(host) = trusted(self.x_host, "X-Forwarded-Host") {
            let (name, port) = split_port(&host);
            env.set(
                "SERVER_NAME",
                name.trim_start_matches('[').trim_end_matches(']'),
            );
            if let Some(port) = port {
                env.set("SERVER_PORT", port);
            }
            env.set("HTTP_HOST", host);
        }
        let port = trusted(self.x_port, "X-Forwarded-Port")
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if let Some(port) = port {
            if let Some(host) = env.get("HTTP_HOST") {
                let name = split_port(host).0.to_owned();
                env.set("HTTP_HOST", format!("{name}:{port}"));
            }
            env.set("SERVER_PORT", port);
        }
        if let Some(prefix) = trusted(self.x_prefix, "X-Forwarded-Prefix") {
            env.set("SCRIPT_NAME", prefix.trim_end_matches('/'));
        }
        env
    }
}

impl<A> fmt::Debug for ProxyFix<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyFix")
            .field("x_for", &self.x_for)
            .field("x_proto", &self.x_proto)
            .field("x_host", &self.x_host)
            .field("x_port", &self.x_port)
            .field("x_prefix", &self.x_prefix)
            .finish_non_exhaustive()
    }
}

impl<A: App> App for ProxyFix<A> {
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
        self.app.call(&self.fix(environ), start_response)
    }
}

/// The value `trusted` places from the right of a comma-separated header,
/// or `None` if there are fewer values than that, it is empty, or nothing
/// is trusted: then the header is ignored, as if `ProxyFix` were not there.
fn trusted_value(trusted: usize, header: &str) -> Option<String> {
    if trusted == 0 {
        return None;
    }
    let values = list_values(header);
    let value = values.len().checked_sub(trusted).map(|i| &values[i])?;
    (!value.is_empty()).then(|| value.clone())
}

/// Splits a comma-separated header into its values (RFC 9110 section 5.6.1),
/// trimming spaces and unquoting quoted strings; empty values are kept, so
/// they count as a hop.
fn list_values(header: &str) -> Vec<String> {
    let mut values = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in header.chars() {
        match c {
            _ if escaped => {
                current.push(c);
                escaped = false;
            }
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => values.push(std::mem::take(&mut current).trim().to_owned()),
            c => current.push(c),
        }
    }
    values.push(current.trim().to_owned());
    values
}

/// `host:port` into its parts; `[v6]` and `[v6]:port` keep the brackets
/// on the name.
fn split_port(host: &str) -> (&str, Option<&str>) {
    if host.ends_with(']') {
        return (host, None);
    }
    match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_from_the_right() {
        assert_eq!(trusted_value(1, "a, b"), Some("b".into()));
        assert_eq!(trusted_value(2, "a, b"), Some("a".into()));
        assert_eq!(trusted_value(3, "a, b"), None);
        assert_eq!(trusted_value(0, "a"), None);
        assert_eq!(trusted_value(2, ", b"), None);
        assert_eq!(trusted_value(1, "\"x, y\""), Some("x, y".into()));
    }

    #[test]
    fn ports() {
        assert_eq!(split_port("spam:9000"), ("spam", Some("9000")));
        assert_eq!(split_port("[::1]"), ("[::1]", None));
        assert_eq!(split_port("[::1]:80"), ("[::1]", Some("80")));
        assert_eq!(split_port("spam"), ("spam", None));
    }
}
