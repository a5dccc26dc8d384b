//! Middleware: applications that wrap an application (PEP 3333
//! "Middleware: Components that Play Both Sides"). Each is an [`App`]
//! that holds the [`App`] it wraps, so they nest in any order:
//!
//! ```
//! use werk::middleware::{Dispatcher, Lint, ProxyFix, StaticFiles};
//! # use werk::{Body, Environ, StartResponse};
//! # fn site(_: &Environ, sr: StartResponse) -> Body { sr.start("200 OK", [("A", "b")]).unwrap(); Body::empty() }
//! # fn api(_: &Environ, sr: StartResponse) -> Body { sr.start("200 OK", [("A", "b")]).unwrap(); Body::empty() }
//!
//! let app = ProxyFix::new(
//!     Dispatcher::new(StaticFiles::new(site).mount("/static", "assets"))
//!         .mount("/api", Lint::new(api)),
//! );
//! # let _ = app;
//! ```
//!
//! | middleware        | Werkzeug                | what it does |
//! |-------------------|-------------------------|--------------|
//! | [`StaticFiles`]   | `SharedDataMiddleware`  | serves files under URL prefixes |
//! | [`Debugger`]      | `DebuggedApplication`   | a panic becomes a page with its backtrace |
//! | [`Lint`]          | `LintMiddleware`        | warns about broken PEP 3333 and HTTP rules |
//! | [`Dispatcher`]    | `DispatcherMiddleware`  | applications under path prefixes |
//! | [`ProxyFix`]      | `ProxyFix`              | the environ from `X-Forwarded-*` headers |
//! | [`HostDispatch`]  | (host matching)         | applications by host name |
//! | [`TrustedHosts`]  | `trusted_hosts`         | 400 for hosts not on a list |
//!
//! `run_simple` adds two of them from its options, as Werkzeug does:
//! `Options::static_files` puts [`StaticFiles`] around the application and
//! `Options::use_debugger` puts [`Debugger`] around that (static files
//! inner, debugger outer). `docs/middleware.md` shows the environ each
//! one changes.

mod debugger;
mod dispatcher;
mod host_dispatch;
mod lint;
mod live_reload;
mod proxy_fix;
mod static_files;

pub use debugger::Debugger;
pub use dispatcher::Dispatcher;
pub use host_dispatch::{request_host, HostDispatch, HostMatch, TrustedHosts};
pub use lint::Lint;
pub(crate) use live_reload::LiveReload;
pub use proxy_fix::{ProxyFix, ProxyFixOriginal};
pub use static_files::StaticFiles;

use crate::{App, Options};

/// The application `make_server` serves for `options`: `app`, inside
/// [`StaticFiles`] if static files are exported, inside [`Debugger`] if
/// the debugger is on (Werkzeug's order since 2.1).
pub(crate) fn wrap_for_options(app: Box<dyn App>, options: &Options, host: &str) -> Box<dyn App> {
    let mut app = app;
    if !options.static_files.is_empty() {
        let mut files = StaticFiles::new(app).dot_files(options.static_dot_files);
        for (prefix, path) in &options.static_files {
            files = files.mount(prefix, path.clone());
        }
        app = Box::new(files);
    }
    if options.use_debugger {
        app = Box::new(
            Debugger::new(app)
                .passthrough_errors(options.passthrough_errors)
                .trusted_hosts(host_to_trust(host))
                .any_client(options.debugger_any_client),
        );
    }
    app
}

/// The host served on, which the debugger trusts besides the loopback
/// names (as Werkzeug's `run_simple` does), unless it names no host a
/// browser could ask for: a wildcard address or a Unix socket.
fn host_to_trust(host: &str) -> Option<&str> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let wildcard = host
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified());
    (!host.is_empty() && !host.starts_with("unix:") && !wildcard).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::host_to_trust;

    #[test]
    fn the_debugger_trusts_the_served_host_unless_it_is_no_name() {
        assert_eq!(host_to_trust("dev.example"), Some("dev.example"));
        assert_eq!(host_to_trust("[::1]"), Some("::1"));
        for none in ["0.0.0.0", "[::]", "::", "", "unix:///tmp/app.sock"] {
            assert_eq!(host_to_trust(none), None, "{none}");
        }
    }
}
