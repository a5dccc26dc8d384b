//! Virtual hosts: [`HostDispatch`] picks an application by the requested
//! host name, and [`TrustedHosts`] refuses host names that are not on a
//! list (Werkzeug's `trusted_hosts` check, which defends against DNS
//! rebinding: a page on `evil.test` whose name is made to resolve to
//! 127.0.0.1 still sends `Host: evil.test`).
//!
//! Both read the host the client asked for: `HTTP_HOST` (else
//! `SERVER_NAME`, for an HTTP/1.0 request without `Host`), without the
//! port, in lower case, without a trailing dot. An IPv6 literal is
//! compared without its brackets, so `[::1]:5000` is `::1`.
//!
//! Names under `localhost` (`api.localhost`) resolve to the loopback
//! address on most systems without editing the hosts file (RFC 6761
//! section 6.3), so several virtual hosts can be tried on one machine.

use std::fmt;

use crate::{App, Body, Environ, StartResponse};

/// The host name a request asked for, normalised for comparison (see the
/// module documentation). Empty if there is none.
pub fn request_host(environ: &Environ) -> String {
    let raw = environ
        .get("HTTP_HOST")
        .filter(|h| !h.is_empty())
        .or_else(|| environ.get("SERVER_NAME"))
        .unwrap_or("");
    normalise_host(raw)
}

/// `Example.TEST.:8080` -> `example.test`; `[::1]:5000` -> `::1`.
fn normalise_host(raw: &str) -> String {
    let raw = raw.trim();
    let name = if let Some(v6) = raw.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else if raw.matches(':').count() > 1 {
        // A bare IPv6 literal, as SERVER_NAME holds it.
        raw
    } else {
        raw.split(':').next().unwrap_or("")
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// A host pattern: `api.localhost` (that name) or `*.example.test` (any
/// name ending in `.example.test`, not `example.test` itself).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Exact(String),
    /// The suffix, with its leading dot: `.example.test`.
    Wildcard(String),
}

impl Pattern {
    fn parse(pattern: &str) -> Pattern {
        let pattern = normalise_host(pattern.trim());
        match pattern.strip_prefix('*') {
            Some(suffix) if suffix.starts_with('.') => Pattern::Wildcard(suffix.to_owned()),
            _ => Pattern::Exact(pattern),
        }
    }

    /// The part `*` stood for, or `""` for an exact match.
    fn matches<'h>(&self, host: &'h str) -> Option<&'h str> {
        match self {
            Pattern::Exact(name) => (host == name).then_some(""),
            Pattern::Wildcard(suffix) => {
                host.strip_suffix(suffix.as_str()).filter(|s| !s.is_empty())
            }
        }
    }
}

/// Which [`HostDispatch`] entry answered a request; in the environ's
/// [`Extensions`](crate::Extensions) for the chosen application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostMatch {
    /// The normalised host name of the request.
    pub host: String,
    /// The pattern as it was given to [`HostDispatch::host`].
    pub pattern: String,
    /// What `*` stood for: `tenant1` for `tenant1.example.test` and
    /// `*.example.test`; empty for an exact name.
    pub wildcard: String,
}

/// Picks the application by host name: exact names first, then wildcard
/// patterns, longest suffix first; the default application for any other
/// host.
///
/// ```
/// use werk::middleware::HostDispatch;
/// use werk::{testing, Body, Environ, StartResponse};
///
/// fn text(s: &'static str) -> impl Fn(&Environ, StartResponse) -> Body {
///     move |_, sr| {
///         sr.start("200 OK", [("Content-Type", "text/plain")]).unwrap();
///         Body::from(s)
///     }
/// }
///
/// let app = HostDispatch::new(text("site"))
///     .host("api.localhost", text("api"))
///     .host("*.example.test", text("tenant"));
/// let on = |host: &str| {
///     let environ = Environ::builder().header("Host", host).build();
///     testing::call(&app, environ).text()
/// };
/// assert_eq!(on("api.localhost:5000"), "api");
/// assert_eq!(on("a.example.test"), "tenant");
/// assert_eq!(on("localhost:5000"), "site");
/// ```
pub struct HostDispatch {
    default: Box<dyn App>,
    hosts: Vec<(String, Pattern, Box<dyn App>)>,
}

impl HostDispatch {
    /// Sends requests for unlisted hosts to `default`.
    pub fn new(default: impl App) -> HostDispatch {
        HostDispatch {
            default: Box::new(default),
            hosts: Vec::new(),
        }
    }

    /// Serves `pattern` (`api.localhost` or `*.example.test`) with `app`.
    pub fn host(mut self, pattern: &str, app: impl App) -> HostDispatch {
        self.hosts
            .push((pattern.to_owned(), Pattern::parse(pattern), Box::new(app)));
        // Exact names first, then wildcards by decreasing suffix length;
        // the sort is stable, so equal patterns keep their order.
        self.hosts.sort_by_key(|(_, p, _)| match p {
            Pattern::Exact(_) => 0,
            Pattern::Wildcard(suffix) => usize::MAX - suffix.len(),
        });
        self
    }
}

impl fmt::Debug for HostDispatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostDispatch")
            .field(
                "hosts",
                &self.hosts.iter().map(|(p, _, _)| p).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl App for HostDispatch {
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
        let host = request_host(environ);
        for (given, pattern, app) in &self.hosts {
            if let Some(wildcard) = pattern.matches(&host) {
                let mut inner = environ.clone();
                inner.extensions_mut().insert(HostMatch {
                    host: host.clone(),
                    pattern: given.clone(),
                    wildcard: wildcard.to_owned(),
                });
                return app.call(&inner, start_response);
            }
        }
        self.default.call(environ, start_response)
    }
}

/// Answers `400 Bad Request` to a request whose host is not trusted, and
/// passes the others on.
///
/// An entry is a name (`localhost`, `127.0.0.1`, `::1`) or, with a leading
/// dot, a domain and every name under it (`.example.test` trusts
/// `example.test` and `a.b.example.test`).
///
/// ```
/// use werk::middleware::TrustedHosts;
/// use werk::{testing, Body, Environ, StartResponse};
///
/// fn app(_: &Environ, sr: StartResponse) -> Body {
///     sr.start("200 OK", [("Content-Type", "text/plain")]).unwrap();
///     Body::from("ok")
/// }
///
/// let app = TrustedHosts::new(app, ["localhost", ".localhost", "127.0.0.1"]);
/// let status = |host: &str| {
///     testing::call(&app, Environ::builder().header("Host", host).build()).status
/// };
/// assert_eq!(status("api.localhost:5000"), "200 OK");
/// assert_eq!(status("evil.test"), "400 Bad Request");
/// ```
pub struct TrustedHosts<A> {
    app: A,
    trusted: Vec<String>,
}

impl<A: App> TrustedHosts<A> {
    /// Wraps `app`, trusting the names in `hosts`.
    pub fn new<I, S>(app: A, hosts: I) -> TrustedHosts<A>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let trusted = hosts
            .into_iter()
            .map(|h| {
                let h = h.as_ref().trim();
                match h.strip_prefix('.') {
                    Some(domain) => format!(".{}", normalise_host(domain)),
                    None => normalise_host(h),
                }
            })
            .collect();
        TrustedHosts { app, trusted }
    }

    /// Whether `host` (normalised, see [`request_host`]) is trusted.
    pub fn is_trusted(&self, host: &str) -> bool {
        !host.is_empty()
            && self.trusted.iter().any(|t| match t.strip_prefix('.') {
                Some(domain) => {
                    host == domain
                        || host
                            .strip_suffix(domain)
                            .is_some_and(|sub| sub.ends_with('.'))
                }
                None => host == t,
            })
    }
}

impl<A> fmt::Debug for TrustedHosts<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedHosts")
            .field("trusted", &self.trusted)
            .finish_non_exhaustive()
    }
}

impl<A: App> App for TrustedHosts<A> {
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
        let host = request_host(environ);
        if self.is_trusted(&host) {
            return self.app.call(environ, start_response);
        }
        let text = format!("Bad Request: the host {host:?} is not trusted by this server.\n");
        let _ = start_response.start(
            "400 Bad Request",
            [
                ("Content-Type", "text/plain; charset=utf-8".to_owned()),
                ("Content-Length", text.len().to_string()),
            ],
        );
        Body::from(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_normalised() {
        assert_eq!(normalise_host("Example.TEST.:8080"), "example.test");
        assert_eq!(normalise_host("[::1]:5000"), "::1");
        assert_eq!(normalise_host("[::1]"), "::1");
        assert_eq!(normalise_host("::1"), "::1");
        assert_eq!(normalise_host("127.0.0.1:80"), "127.0.0.1");
    }

    #[test]
    fn patterns() {
        let wild = Pattern::parse("*.Example.test");
        assert_eq!(wild.matches("a.example.test"), Some("a"));
        assert_eq!(wild.matches("a.b.example.test"), Some("a.b"));
        assert_eq!(wild.matches("example.test"), None);
        assert_eq!(wild.matches("badexample.test"), None);
        assert_eq!(
            Pattern::parse("api.localhost").matches("api.localhost"),
            Some("")
        );
    }

    #[test]
    fn trust_rules() {
        let app = |_: &Environ, _: StartResponse| Body::empty();
        let t = TrustedHosts::new(app, [".example.test", "localhost", "[::1]"]);
        for ok in ["example.test", "a.example.test", "localhost", "::1"] {
            assert!(t.is_trusted(ok), "{ok}");
        }
        for bad in [
            "",
            "badexample.test",
            "example.test.evil",
            "api.localhost",
            "127.0.0.1",
        ] {
            assert!(!t.is_trusted(bad), "{bad}");
        }
    }
}
