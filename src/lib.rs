//! # werk
//!
//! A development web server in the WSGI model: what Werkzeug's
//! `run_simple` is to Python, [`run_simple`] is to Rust.
//!
//! An application is a function of the request environ and a
//! `start_response` callable that returns the body, as in PEP 3333:
//!
//! ```no_run
//! use werk::{Body, Environ, Options, StartResponse};
//!
//! fn app(environ: &Environ, start_response: StartResponse) -> Body {
//!     start_response
//!         .start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
//!         .expect("first call");
//!     Body::from(format!("Hello from {}\n", environ.path_info()))
//! }
//!
//! werk::run_simple("localhost", 8080, app, Options::default());
//! ```
//!
//! The port is a `u16`, so a port given as text does not compile:
//!
//! ```compile_fail
//! # use werk::{Body, Environ, Options, StartResponse};
//! # fn app(_: &Environ, _: StartResponse) -> Body { Body::empty() }
//! werk::run_simple("localhost", "8080", app, Options::default());
//! ```
//!
//! The server is HTTP/1.1 over blocking sockets: a thread accepts, a pool
//! of worker threads serves, and connections that wait for their client
//! wait without a worker, so idle or slow clients cannot starve the pool.
//! See `docs/wsgi-model.md` for the model and `docs/architecture.md` for
//! the inside.

#![deny(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![cfg_attr(test, deny(warnings))]

/// Writes a line to standard error, as `eprintln!` does, except that a
/// failed write (a closed pipe, `werk serve 2>&1 | head`) is ignored
/// instead of panicking: a message never takes down a worker, the signal
/// thread or a supervisor.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// [`say!`] for standard output.
#[allow(unused_macros)]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

#[cfg(feature = "cli")]
pub mod apps;
#[cfg(feature = "cli")]
pub mod cli;
mod error;
mod escape;
mod gateway;
#[cfg(feature = "fuzzing")]
pub mod http;
// Parts of the parser's surface are there for the fuzz targets only.
#[cfg(not(feature = "fuzzing"))]
#[allow(dead_code, unused_imports)]
mod http;
pub mod middleware;
mod model;
mod net;
mod procs;
mod reload;
mod server;
#[allow(unsafe_code)]
mod sys;
pub mod testing;
#[cfg(feature = "tls")]
mod tls;

use std::path::PathBuf;
use std::time::Duration;

pub use error::Error;
pub use gateway::{cgi, Protocol};
pub use model::{
    App, Body, BodyChunks, Environ, EnvironBuilder, Errors, Extensions, Input, StartError,
    StartResponse, WriteHandle,
};
pub use reload::{is_running_from_reloader, ReloaderType};
pub use server::{Server, ServerHandle};
#[cfg(feature = "tls")]
pub use tls::{make_ssl_devcert, SslContext};

/// `SERVER_SOFTWARE` and the `Server` header: `werk/<version>`.
pub const SERVER_SOFTWARE: &str = concat!("werk/", env!("CARGO_PKG_VERSION"));

/// How the server runs: the Rust form of `run_simple`'s keyword arguments.
///
/// ```
/// use std::time::Duration;
/// let options = werk::Options::default()
///     .threads(8)
///     .max_body_size(10 * 1024 * 1024)
///     .keep_alive_timeout(Duration::from_secs(5));
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
pub struct Options {
    /// `threads` and `max_threads` as the caller set them: the defaults
    /// depend on each other, whatever the order of the calls.
    threads: Option<usize>,
    max_threads: Option<usize>,
    passthrough_errors: bool,
    log_requests: bool,
    limits: http::Limits,
    head_timeout: Duration,
    idle_timeout: Duration,
    io_timeout: Duration,
    shutdown_grace: Duration,
    static_files: Vec<(String, PathBuf)>,
    static_dot_files: bool,
    use_debugger: bool,
    debugger_any_client: bool,
    #[cfg(feature = "tls")]
    ssl_context: Option<SslContext>,
    use_reloader: bool,
    reloader: reload::Settings,
    processes: usize,
    /// This process is one of the `processes` (`wsgi.multiprocess`).
    one_of_processes: bool,
    protocol: Protocol,
    live_reload: bool,
    /// The server's id for live reload, when a werk parent gave one.
    live_id: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            threads: None,
            max_threads: None,
            passthrough_errors: false,
            log_requests: true,
            limits: http::Limits::default(),
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(15),
            io_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            static_files: Vec::new(),
            static_dot_files: false,
            use_debugger: false,
            debugger_any_client: false,
            #[cfg(feature = "tls")]
            ssl_context: None,
            use_reloader: false,
            processes: 1,
            one_of_processes: false,
            protocol: Protocol::Http,
            reloader: reload::Settings::default(),
            live_reload: false,
            live_id: None,
        }
    }
}

impl Options {
    /// Workers that always run (default: the CPU count, or `max_threads`
    /// if that is lower). More start when queued connections wait because
    /// every worker is held by a slow request (see
    /// [`Options::max_threads`]); more than the cores at once only adds
    /// waiting for the CPU to quick requests.
    pub fn threads(mut self, n: usize) -> Options {
        self.threads = Some(n);
        self
    }

    /// The most workers when every one is busy with a slow request or a
    /// long streaming response (default 256, or `threads` if that is
    /// higher). Connections beyond that wait in the queue; none is
    /// refused. Set below an explicit `threads`, the server does not
    /// start (whatever the order of the two calls).
    pub fn max_threads(mut self, n: usize) -> Options {
        self.max_threads = Some(n);
        self
    }

    /// The workers that always run and the most there may be, from what
    /// was set and the defaults.
    fn pool_size(&self) -> Result<(usize, usize), Error> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        if self.max_threads == Some(0) {
            return Err(Error::Config("max_threads must be at least 1".into()));
        }
        let (threads, max) = match (self.threads, self.max_threads) {
            (Some(t), Some(m)) if m < t => {
                return Err(Error::Config(format!(
                    "max_threads ({m}) must be at least threads ({t})"
                )))
            }
            (Some(t), Some(m)) => (t, m),
            (Some(t), None) => (t, t.max(256)),
            (None, Some(m)) => (cores.min(m), m),
            (None, None) => (cores, 256.max(cores)),
        };
        if threads == 0 {
            return Err(Error::Config("threads must be at least 1".into()));
        }
        Ok((threads, max))
    }

    /// Lets a panic in the application propagate out of `serve_forever`
    /// instead of becoming a 500 page, for debuggers (Werkzeug's
    /// `passthrough_errors`).
    pub fn passthrough_errors(mut self, on: bool) -> Options {
        self.passthrough_errors = on;
        self
    }

    /// Logs a line per request to standard error (default on).
    pub fn log_requests(mut self, on: bool) -> Options {
        self.log_requests = on;
        self
    }

    /// The largest request body accepted, in bytes (default: no limit);
    /// larger bodies get 413.
    pub fn max_body_size(mut self, bytes: u64) -> Options {
        self.limits.max_body = Some(bytes);
        self
    }

    /// The largest request head (request line and headers), in bytes
    /// (default 64 KiB); larger heads get 431.
    pub fn max_head_size(mut self, bytes: usize) -> Options {
        self.limits.max_head = bytes;
        self
    }

    /// The longest request target, in bytes (default 16 KiB); longer ones
    /// get 414.
    pub fn max_uri_length(mut self, bytes: usize) -> Options {
        self.limits.max_uri = bytes;
        self
    }

    /// How long a client may take to send a whole request head (default
    /// 10 s); then it gets 408.
    pub fn head_timeout(mut self, timeout: Duration) -> Options {
        self.head_timeout = timeout;
        self
    }

    /// How long a kept-alive connection may sit idle between requests
    /// (default 15 s).
    pub fn keep_alive_timeout(mut self, timeout: Duration) -> Options {
        self.idle_timeout = timeout;
        self
    }

    /// How long one read of a request body or one write of a response may
    /// wait for the client (default 30 s): a response whose client makes
    /// no room for more within it is cut short.
    pub fn io_timeout(mut self, timeout: Duration) -> Options {
        self.io_timeout = timeout;
        self
    }

    /// How long a shutdown waits for in-flight requests (default 10 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Options {
        self.shutdown_grace = grace;
        self
    }

    /// Serves HTTPS with this certificate (Werkzeug's `ssl_context`): the
    /// port then speaks HTTPS only, and a plain HTTP request on it gets a
    /// 400 that says to use https.
    #[cfg(feature = "tls")]
    pub fn ssl_context(mut self, context: SslContext) -> Options {
        self.ssl_context = Some(context);
        self
    }

    /// Serves the files under `path` (a directory, or a single file) at
    /// the URL `prefix`, before the application sees the request
    /// (Werkzeug's `static_files`); call it once per prefix. See
    /// [`middleware::StaticFiles`].
    pub fn static_files(mut self, prefix: &str, path: impl Into<PathBuf>) -> Options {
        self.static_files.push((prefix.to_owned(), path.into()));
        self
    }

    /// Lets [`Options::static_files`] serve files and directories whose
    /// name starts with a dot, such as `.well-known/` (default off, so
    /// that `.env` and `.git/` are not found). See
    /// [`middleware::StaticFiles::dot_files`].
    pub fn static_dot_files(mut self, on: bool) -> Options {
        self.static_dot_files = on;
        self
    }

    /// Shows a page with the panic and its backtrace when the application
    /// panics (default off; Werkzeug's `use_debugger`). See
    /// [`middleware::Debugger`]. The page shows source code, so only
    /// clients on this machine get it, for a host the server is known by;
    /// see [`Options::debugger_any_client`].
    pub fn use_debugger(mut self, on: bool) -> Options {
        self.use_debugger = on;
        self
    }

    /// Shows the debugger's page to every client that can connect (default
    /// off: only clients on this machine, asking for `localhost`, a name
    /// under it, a loopback address or the server's host, get it; the
    /// others get a plain 500). For a trusted network only: the page shows
    /// your code. The banner says when it is on.
    pub fn debugger_any_client(mut self, on: bool) -> Options {
        self.debugger_any_client = on;
        self
    }

    /// Runs the server under the reloader (Werkzeug's `use_reloader`): a
    /// supervisor process holds the listening sockets and restarts a child
    /// process that serves whenever the executable (a `cargo build`) or
    /// one of the [`extra_files`](Options::extra_files) changes. Only
    /// [`run_simple`] and `werk serve --reload` honour it; [`make_server`]
    /// refuses it. `werk run` does the same and also builds. See
    /// `docs/reloader.md`.
    pub fn use_reloader(mut self, on: bool) -> Options {
        self.use_reloader = on;
        self
    }

    /// More files for the reloader to watch besides the executable
    /// (configuration, templates); a directory is watched with everything
    /// below it.
    pub fn extra_files<P: Into<PathBuf>>(mut self, paths: impl IntoIterator<Item = P>) -> Options {
        self.reloader
            .extra_files
            .extend(paths.into_iter().map(Into::into));
        self
    }

    /// Glob patterns of paths whose changes the reloader ignores, matched
    /// against the file name and the full path: `*` within a path
    /// component, `**` across them, `?`, `[a-z]`, `[!a-z]`. For example
    /// `*.log`, `**/cache/**`.
    pub fn exclude_patterns<S: Into<String>>(
        mut self,
        patterns: impl IntoIterator<Item = S>,
    ) -> Options {
        self.reloader
            .exclude_patterns
            .extend(patterns.into_iter().map(Into::into));
        self
    }

    /// How often the stat reloader looks at the files (default 1 s).
    pub fn reloader_interval(mut self, interval: Duration) -> Options {
        self.reloader.interval = interval;
        self
    }

    /// Which file watcher the reloader uses (default
    /// [`ReloaderType::Auto`]).
    pub fn reloader_type(mut self, kind: ReloaderType) -> Options {
        self.reloader.kind = kind;
        self
    }

    /// How many processes serve (default 1, this one), Werkzeug's
    /// `processes`. Above 1, the first process binds the sockets, prints
    /// the banner and starts `n` processes that all accept on those
    /// sockets, each with its own worker pool (`threads` and `max_threads`
    /// count per process). It forwards Ctrl-C and SIGTERM to them, waits
    /// for them to finish their requests, and replaces one that dies.
    ///
    /// Werkzeug forks a process per request, up to `n` at a time, and
    /// refuses `processes` with `threaded`; werk starts its processes
    /// once, and each is threaded. More processes help when the
    /// application holds a lock or a single-threaded resource, or to
    /// check that it keeps no state in memory between requests (a
    /// request may reach any process; `wsgi.multiprocess` is true).
    ///
    /// Each process is this program executed again with the same
    /// arguments (never a bare `fork`), as the reloader does: everything
    /// before [`run_simple`] runs again in each of them. Only
    /// [`run_simple`] and `werk serve --processes N` honour it
    /// ([`make_server`] refuses it); with
    /// [`use_reloader`](Options::use_reloader), the reloader restarts all
    /// the processes on a change. See `docs/serving.md`.
    pub fn processes(mut self, n: usize) -> Options {
        self.processes = n;
        self
    }

    /// What the server speaks on its sockets (default [`Protocol::Http`]).
    /// [`Protocol::Scgi`] serves the app to a web server in front of it
    /// (lighttpd `mod_scgi`, nginx `scgi_pass`, Apache `mod_proxy_scgi`),
    /// one request per connection, on the same worker pool; see
    /// `docs/deploying.md`.
    ///
    /// ```no_run
    /// use werk::{Options, Protocol};
    ///
    /// let options = Options::default().protocol(Protocol::Scgi);
    /// werk::run_simple("127.0.0.1", 9000, werk::apps::hello, options);
    /// ```
    pub fn protocol(mut self, protocol: Protocol) -> Options {
        self.protocol = protocol;
        self
    }

    /// Reloads open pages when the server restarts, and shows a failed
    /// build's errors over them (default off; on under `werk run`, which
    /// `--no-live-reload` turns off). The server adds a small script to
    /// HTML responses and answers its event stream itself, at paths under
    /// `/__werk/` that the application never sees. See
    /// `docs/reloader.md#live-reload`.
    pub fn live_reload(mut self, on: bool) -> Options {
        self.live_reload = on;
        self
    }

    fn config(&self) -> Result<server::Config, Error> {
        let (threads, max_threads) = self.pool_size()?;
        if self.processes == 0 {
            return Err(Error::Config("processes must be at least 1".into()));
        }
        for (name, d) in [
            ("head_timeout", self.head_timeout),
            ("keep_alive_timeout", self.idle_timeout),
            ("io_timeout", self.io_timeout),
            ("reloader_interval", self.reloader.interval),
        ] {
            if d.is_zero() {
                return Err(Error::Config(format!("{name} must be more than zero")));
            }
        }
        #[cfg(feature = "tls")]
        if self.protocol == Protocol::Scgi && self.ssl_context.is_some() {
            return Err(Error::Config(
                "SCGI has no TLS: the web server in front terminates HTTPS (it passes HTTPS=on)"
                    .into(),
            ));
        }
        #[cfg(feature = "reload")]
        for pattern in &self.reloader.exclude_patterns {
            reload::glob::Glob::check(pattern)
                .map_err(|e| Error::Config(format!("exclude_patterns: {e}")))?;
        }
        for (prefix, path) in &self.static_files {
            if !prefix.starts_with('/') {
                return Err(Error::Config(format!(
                    "static files prefix {prefix:?} must start with /"
                )));
            }
            if !path.exists() {
                return Err(Error::Config(format!(
                    "static files for {prefix}: {} does not exist",
                    path.display()
                )));
            }
        }
        Ok(server::Config {
            threads,
            max_threads,
            limits: self.limits,
            head_timeout: self.head_timeout,
            idle_timeout: self.idle_timeout,
            io_timeout: self.io_timeout,
            shutdown_grace: self.shutdown_grace,
            passthrough_errors: self.passthrough_errors,
            debugger: self.use_debugger.then_some(if self.debugger_any_client {
                server::Debugging::AnyClient
            } else {
                server::Debugging::Local
            }),
            protocol: self.protocol,
            multiprocess: self.one_of_processes,
            live_reload: self.live_reload.then(|| {
                self.live_id.clone().unwrap_or_else(|| {
                    format!("{:x}", reload::to_micros(std::time::SystemTime::now()))
                })
            }),
        })
    }
}

/// Binds `host:port` and returns a [`Server`] ready to
/// [`serve_forever`](Server::serve_forever).
///
/// `host` is a name (every address it resolves to is bound; `localhost`
/// and `*.localhost` are every loopback address), an IP literal, `0.0.0.0`
/// (IPv4 only), `::` (IPv6 and IPv4 on one socket), or `unix:///path` for
/// a Unix socket. Port 0 picks a free port, shared by all addresses;
/// [`Server::addresses`] shows it.
///
/// If the process was started with listening sockets (`LISTEN_PID` is its
/// process id and `LISTEN_FDS` counts descriptors from 3, as systemd
/// socket activation and systemfd pass them), those are served instead,
/// and `host` and `port` are ignored. Under `werk run` the same holds, and
/// the server also takes `werk run`'s certificate and live reload, reports
/// when it serves, and stops on SIGTERM when a newer build replaces it
/// (see `docs/reloader.md`).
///
/// ```no_run
/// use werk::{make_server, Body, Environ, Options, StartResponse};
///
/// fn app(_: &Environ, start_response: StartResponse) -> Body {
///     start_response.start("200 OK", [("Content-Type", "text/plain")]).unwrap();
///     Body::from("hi")
/// }
///
/// let server = make_server("127.0.0.1", 0, app, Options::default())?;
/// let handle = server.handle();
/// let port = server.addresses()[0].port();
/// let thread = std::thread::spawn(move || server.serve_forever());
/// // ... talk to 127.0.0.1:port ...
/// # let _ = port;
/// handle.shutdown();
/// thread.join().unwrap()?;
/// # Ok::<(), werk::Error>(())
/// ```
pub fn make_server(
    host: &str,
    port: u16,
    app: impl App,
    options: Options,
) -> Result<Server, Error> {
    let options = procs::with_parent_settings(options)?;
    if options.use_reloader {
        return Err(Error::Config(
            "use_reloader needs run_simple (or werk run): make_server serves in this \
             process, and the reloader restarts processes"
                .into(),
        ));
    }
    if options.processes > 1 {
        return Err(Error::Config(
            "processes needs run_simple: make_server serves in this process".into(),
        ));
    }
    make_server_here(host, port, app, options)
}

/// [`make_server`] for a process that a werk parent may have started,
/// whatever `use_reloader` and `processes` say (the reloader's child and
/// the processes serve here).
pub(crate) fn make_server_here(
    host: &str,
    port: u16,
    app: impl App,
    options: Options,
) -> Result<Server, Error> {
    let options = procs::with_parent_settings(options)?;
    let mut server = server::make_server(host, port, app, options)?;
    procs::connect_to_parent(&mut server)?;
    Ok(server)
}

/// Serves `app` on `host:port` until Ctrl-C (or SIGTERM), as Werkzeug's
/// `run_simple` does: prints the banner, logs each request, and on the
/// first Ctrl-C lets in-flight requests finish; a second Ctrl-C exits at
/// once.
///
/// Like Werkzeug, it does not return an error: if the server cannot start
/// (the port is in use, the host does not resolve) it prints why and exits
/// the process with status 1. Use [`make_server`] to handle errors
/// yourself.
///
/// With [`Options::use_reloader`], or [`Options::processes`] above 1, it
/// never returns: the process supervises the processes that serve (or, in
/// a process it starts, is one of them) and exits when the session ends.
/// Call it from the main thread.
pub fn run_simple(host: &str, port: u16, app: impl App, options: Options) {
    let options = match procs::with_parent_settings(options) {
        Ok(options) => options,
        Err(e) => {
            say!("{e}");
            std::process::exit(1);
        }
    };
    if procs::wanted(&options) {
        std::process::exit(procs::run(host, port, app, options));
    }
    let server = match make_server(host, port, app, options) {
        Ok(server) => server,
        Err(e) => {
            say!("{e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = serve_until_signalled(server) {
        say!("{e}");
        std::process::exit(1);
    }
}

/// Runs `app` wherever the program was started: as a CGI script when a web
/// server started it for a request (`GATEWAY_INTERFACE` is set in the
/// environment; see [`cgi::run`]), otherwise as a development server on
/// `localhost:5000` ([`run_simple`] with the default [`Options`]). The same
/// binary is then a dev server on your machine and a CGI script under
/// lighttpd, nginx (with fcgiwrap) or Apache.
///
/// ```no_run
/// use werk::{Body, Environ, StartResponse};
///
/// fn app(environ: &Environ, start_response: StartResponse) -> Body {
///     start_response
///         .start("200 OK", [("Content-Type", "text/plain")])
///         .expect("first call");
///     Body::from(format!("Hello from {}\n", environ.path_info()))
/// }
///
/// fn main() {
///     werk::run(app);
/// }
/// ```
///
/// In CGI mode it returns after the one response, or exits the process
/// with status 1 if the request could not be answered as the app meant (a
/// panic, a bad request from the web server). Use [`cgi::run`] and
/// [`run_simple`] directly for other choices.
pub fn run(app: impl App) {
    if cgi::is_cgi() {
        let status = cgi::run(app);
        if status != 0 {
            std::process::exit(status);
        }
        return;
    }
    run_simple("localhost", 5000, app, Options::default());
}

/// The port in the `PORT` environment variable, as process managers and
/// hosting platforms set it, or `default` when it is unset: so that two
/// programs (two examples, say) can run at once with `PORT=8081`. A value
/// that is not a port number is reported on standard error, and `default`
/// used.
///
/// ```no_run
/// # use werk::{Body, Environ, Options, StartResponse};
/// # fn app(_: &Environ, _: StartResponse) -> Body { Body::empty() }
/// werk::run_simple("localhost", werk::port_from_env(8080), app, Options::default());
/// ```
pub fn port_from_env(default: u16) -> u16 {
    match std::env::var("PORT") {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| {
            say!("PORT={text:?} is not a port number (0 to 65535); using {default}");
            default
        }),
        Err(_) => default,
    }
}

/// Prints the banner and serves until SIGINT or SIGTERM; a second signal
/// exits the process at once with status 130.
pub fn serve_until_signalled(server: Server) -> Result<(), Error> {
    if !server.signals_handled() {
        procs::handle_signals(false, server.handle())?;
    }
    // A werk parent printed the banner already.
    if !procs::started_by_werk() {
        server.log_startup();
    }
    server.serve_forever()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(options: Options) -> Result<(usize, usize), String> {
        options
            .config()
            .map(|c| (c.threads, c.max_threads))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn threads_and_max_threads_agree_in_any_order() {
        assert_eq!(
            pool(Options::default().threads(4).max_threads(8)),
            pool(Options::default().max_threads(8).threads(4))
        );
        assert_eq!(
            pool(Options::default().threads(4).max_threads(8)),
            Ok((4, 8))
        );
        assert_eq!(pool(Options::default().threads(300)), Ok((300, 300)));
        assert_eq!(pool(Options::default().max_threads(1)), Ok((1, 1)));
        for wrong in [
            Options::default().threads(8).max_threads(4),
            Options::default().max_threads(4).threads(8),
        ] {
            let err = pool(wrong).unwrap_err();
            assert!(
                err.contains("max_threads (4) must be at least threads (8)"),
                "{err}"
            );
        }
        let zero = |o: Options| pool(o).unwrap_err();
        assert!(zero(Options::default().threads(0)).contains("threads must be at least 1"));
        assert!(zero(Options::default().max_threads(0)).contains("max_threads must be at least 1"));
    }

    #[test]
    fn make_server_refuses_what_only_run_simple_does() {
        let app = |_: &Environ, _: StartResponse| Body::empty();
        for (options, says) in [
            (
                Options::default().use_reloader(true),
                "use_reloader needs run_simple",
            ),
            (
                Options::default().processes(2),
                "processes needs run_simple",
            ),
        ] {
            let err = make_server("127.0.0.1", 0, app, options)
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{err}");
        }
    }
}
