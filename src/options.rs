//! [`Options`]: `run_simple`'s keyword arguments with Rust types, checked
//! into the server's `Config`, and the middleware they put around the
//! application ([`wrap_for_options`]). Re-exported at the crate root; a
//! module of its own, on the layer below `procs` and `reload`, which start
//! servers with them (`docs/architecture.md`, "Layers").

use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::Error;
use crate::gateway::Protocol;
use crate::http::Limits;
use crate::middleware::{Debugger, StaticFiles};
use crate::model::App;
use crate::server;
#[cfg(feature = "tls")]
use crate::tls::SslContext;

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
    pub(crate) passthrough_errors: bool,
    pub(crate) log_requests: bool,
    limits: Limits,
    head_timeout: Duration,
    idle_timeout: Duration,
    io_timeout: Duration,
    shutdown_grace: Duration,
    pub(crate) static_files: Vec<(String, PathBuf)>,
    pub(crate) static_dot_files: bool,
    pub(crate) use_debugger: bool,
    pub(crate) debugger_any_client: bool,
    #[cfg(feature = "tls")]
    pub(crate) ssl_context: Option<SslContext>,
    pub(crate) use_reloader: bool,
    pub(crate) reloader: ReloaderSettings,
    pub(crate) processes: usize,
    /// This process is one of the `processes` (`wsgi.multiprocess`).
    pub(crate) one_of_processes: bool,
    pub(crate) protocol: Protocol,
    pub(crate) live_reload: bool,
    /// The server's id for live reload, when a werk parent gave one.
    pub(crate) live_id: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            threads: None,
            max_threads: None,
            passthrough_errors: false,
            log_requests: true,
            limits: Limits::default(),
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
            reloader: ReloaderSettings::default(),
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
    /// [`middleware::StaticFiles`](crate::middleware::StaticFiles).
    pub fn static_files(mut self, prefix: &str, path: impl Into<PathBuf>) -> Options {
        self.static_files.push((prefix.to_owned(), path.into()));
        self
    }

    /// Lets [`Options::static_files`] serve files and directories whose
    /// name starts with a dot, such as `.well-known/` (default off, so
    /// that `.env` and `.git/` are not found). See
    /// [`middleware::StaticFiles::dot_files`](crate::middleware::StaticFiles::dot_files).
    pub fn static_dot_files(mut self, on: bool) -> Options {
        self.static_dot_files = on;
        self
    }

    /// Shows a page with the panic and its backtrace when the application
    /// panics (default off; Werkzeug's `use_debugger`). See
    /// [`middleware::Debugger`](crate::middleware::Debugger). The page shows source code, so only
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
    /// [`run_simple`](crate::run_simple) and `werk serve --reload` honour it; [`make_server`](crate::make_server)
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
    /// before [`run_simple`](crate::run_simple) runs again in each of them. Only
    /// [`run_simple`](crate::run_simple) and `werk serve --processes N` honour it
    /// ([`make_server`](crate::make_server) refuses it); with
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

    /// The settings the server runs with, checked.
    pub(crate) fn config(&self) -> Result<server::Config, Error> {
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
            crate::glob::Glob::check(pattern)
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
            log_requests: self.log_requests,
            #[cfg(feature = "tls")]
            ssl_context: self.ssl_context.clone(),
            debugger: self.use_debugger.then_some(if self.debugger_any_client {
                server::Debugging::AnyClient
            } else {
                server::Debugging::Local
            }),
            protocol: self.protocol,
            multiprocess: self.one_of_processes,
            live_reload: self.live_reload.then(|| {
                self.live_id.clone().unwrap_or_else(|| {
                    let now = SystemTime::now().duration_since(UNIX_EPOCH);
                    format!("{:x}", now.map_or(0, |d| d.as_micros()))
                })
            }),
        })
    }
}

/// Which file watcher the reloader uses (Werkzeug's `reloader_type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReloaderType {
    /// The system's event interface (inotify on Linux, kqueue on macOS and
    /// the BSDs); stat, with a message that says why, when it cannot be
    /// used (for example when the inotify watch limit is reached).
    #[default]
    Auto,
    /// Polls the files' modification times every `reloader_interval`.
    /// Works everywhere, including file systems that deliver no events.
    Stat,
    /// Linux's inotify.
    Inotify,
    /// kqueue, on macOS and the BSDs.
    Kqueue,
}

impl ReloaderType {
    /// `auto`, `stat`, `inotify` or `kqueue`.
    pub fn name(self) -> &'static str {
        match self {
            ReloaderType::Auto => "auto",
            ReloaderType::Stat => "stat",
            ReloaderType::Inotify => "inotify",
            ReloaderType::Kqueue => "kqueue",
        }
    }
}

impl FromStr for ReloaderType {
    type Err = String;

    fn from_str(s: &str) -> Result<ReloaderType, String> {
        match s {
            "auto" => Ok(ReloaderType::Auto),
            "stat" => Ok(ReloaderType::Stat),
            "inotify" => Ok(ReloaderType::Inotify),
            "kqueue" => Ok(ReloaderType::Kqueue),
            other => Err(format!(
                "unknown reloader type {other:?}; use auto, stat, inotify or kqueue"
            )),
        }
    }
}

/// The reloader's part of [`Options`].
#[derive(Debug, Clone)]
pub(crate) struct ReloaderSettings {
    pub extra_files: Vec<PathBuf>,
    pub exclude_patterns: Vec<String>,
    pub interval: Duration,
    pub kind: ReloaderType,
}

impl Default for ReloaderSettings {
    fn default() -> ReloaderSettings {
        ReloaderSettings {
            extra_files: Vec::new(),
            exclude_patterns: Vec::new(),
            interval: Duration::from_secs(1),
            kind: ReloaderType::Auto,
        }
    }
}

/// The application a server serves for `options`: `app`, inside
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
    fn reloader_types_parse() {
        for kind in [
            ReloaderType::Auto,
            ReloaderType::Stat,
            ReloaderType::Inotify,
            ReloaderType::Kqueue,
        ] {
            assert_eq!(kind.name().parse::<ReloaderType>(), Ok(kind));
        }
        assert!("watchdog".parse::<ReloaderType>().is_err());
    }

    #[test]
    fn the_debugger_trusts_the_served_host_unless_it_is_no_name() {
        assert_eq!(host_to_trust("dev.example"), Some("dev.example"));
        assert_eq!(host_to_trust("[::1]"), Some("::1"));
        for none in ["0.0.0.0", "[::]", "::", "", "unix:///tmp/app.sock"] {
            assert_eq!(host_to_trust(none), None, "{none}");
        }
    }
}
