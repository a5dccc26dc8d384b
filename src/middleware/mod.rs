//! Middleware: applications that wrap an application (PEP 3333
//! "Middleware: Components that Play Both Sides"). Each is an [`App`](crate::App)
//! that holds the [`App`](crate::App) it wraps, so they nest in any order:
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
mod proxy_fix;
mod static_files;

pub use debugger::Debugger;
pub use dispatcher::Dispatcher;
pub use host_dispatch::{request_host, HostDispatch, HostMatch, TrustedHosts};
pub use lint::Lint;
pub use proxy_fix::{ProxyFix, ProxyFixOriginal};
pub use static_files::StaticFiles;
