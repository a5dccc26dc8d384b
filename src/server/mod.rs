//! The server: listeners, the worker pool, the parker, the request log,
//! and shutdown.
//!
//! ```text
//!  listeners ──► parker (epoll) ──► an idle worker accepts ──► app
//!                  ▲    │  readable           │   extra connections
//!                  │    └──► a worker ◄───────┴── channel
//!                  └──── idle / partial connections
//! ```

mod accept;
pub(crate) mod conn;
mod environ;
mod exchange;
mod handler;
pub(crate) mod live;
mod live_reload;
pub(crate) mod log;
mod park;
mod pool;
mod scgi;
mod shutdown;
mod socket;
mod tails;

use std::any::Any;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::http::Limits;
use crate::net::ListenAddr;
use crate::{App, Error};
use log::{Log, Style};
use park::Parker;
use pool::Pool;

/// The checked settings the server runs with.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Workers that always run.
    pub threads: usize,
    /// The most workers.
    pub max_threads: usize,
    pub limits: Limits,
    pub head_timeout: Duration,
    pub idle_timeout: Duration,
    pub io_timeout: Duration,
    pub shutdown_grace: Duration,
    pub passthrough_errors: bool,
    /// A line per request on standard error.
    pub log_requests: bool,
    /// HTTPS with this certificate.
    #[cfg(feature = "tls")]
    pub ssl_context: Option<crate::tls::SslContext>,
    /// The debugger wraps the app, and who sees its page: the banner says.
    pub debugger: Option<Debugging>,
    /// HTTP, or SCGI behind a web server (`handler::serve` dispatches).
    pub protocol: crate::Protocol,
    /// `wsgi.multiprocess`: other processes serve the same sockets.
    pub multiprocess: bool,
    /// Live reload, with this server's id for the pages (`server/live.rs`).
    pub live_reload: Option<String>,
}

/// Who sees the debugger's page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Debugging {
    /// Clients on this machine, asking for a host the server is known by.
    Local,
    /// Everyone who can connect.
    AnyClient,
}

/// State every thread of one server shares.
pub(crate) struct Shared {
    pub app: Box<dyn App>,
    pub config: Config,
    pub log: Log,
    pub pool: Pool,
    pub parker: Parker,
    /// The event streams of live reload, when it is on.
    pub live: Option<Arc<live::Live>>,
    /// Called once the listening sockets are closed at shutdown.
    pub after_accepting: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    /// When the shutdown began: in-flight requests have `shutdown_grace`
    /// from then.
    pub shutdown: Arc<shutdown::Shutdown>,
    /// Streamed chunks' tails waiting for the next chunk.
    pub tails: tails::Tails,
    stopped: (Mutex<bool>, Condvar),
    passed_through: Mutex<Option<Box<dyn Any + Send>>>,
    #[cfg(feature = "tls")]
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// The stream for an accepted socket: TLS over it when serving HTTPS.
    pub(crate) fn wrap(&self, plain: crate::net::Plain) -> std::io::Result<socket::Stream> {
        #[cfg(feature = "tls")]
        if let Some(config) = &self.tls {
            let tls = crate::tls::TlsStream::new(config.clone(), plain)?;
            return Ok(socket::Stream::Tls(Box::new(tls)));
        }
        Ok(socket::Stream::Plain(plain))
    }

    /// `http` or `https` (`scgi` for an SCGI server), for the banner.
    pub(crate) fn scheme(&self) -> &'static str {
        if self.config.protocol == crate::Protocol::Scgi {
            return "scgi";
        }
        #[cfg(feature = "tls")]
        if self.tls.is_some() {
            return "https";
        }
        "http"
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutdown.has_begun()
    }

    /// Until when in-flight requests may run at shutdown: `shutdown_grace`
    /// after it began.
    pub(crate) fn shutdown_deadline(&self) -> std::time::Instant {
        self.shutdown.deadline()
    }

    /// Starts a shutdown: no new connections; in-flight requests finish.
    fn begin_shutdown(&self) {
        if !self.shutdown.begin() {
            return;
        }
        // Open pages reconnect at once, to the server that comes next.
        if let Some(live) = &self.live {
            live.close();
        }
        // Idle workers notice within a wait slice; wake them now.
        for _ in 0..self.pool.running().max(1) {
            self.parker.wake();
        }
        self.parker.ring_stop_bell();
        let (lock, cvar) = &self.stopped;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cvar.notify_all();
    }

    /// Sleeps up to `timeout`, waking early at shutdown; true once the
    /// server is shutting down.
    pub(crate) fn wait_for_shutdown(&self, timeout: Duration) -> bool {
        let (lock, cvar) = &self.stopped;
        let stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
        if *stopped {
            return true;
        }
        let (stopped, _) = cvar
            .wait_timeout(stopped, timeout)
            .unwrap_or_else(|e| e.into_inner());
        *stopped
    }

    /// With `passthrough_errors`: keeps the first panic to re-raise from
    /// `serve_forever` and stops the server.
    fn pass_through(&self, payload: Box<dyn Any + Send>) {
        self.passed_through
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(payload);
        self.begin_shutdown();
    }
}

/// A server that is bound but not yet serving; see [`make_server`](crate::make_server).
pub struct Server {
    sockets: Vec<accept::Socket>,
    listen: Vec<ListenAddr>,
    /// Why each address was chosen, for the banner.
    reasons: Vec<Option<String>>,
    /// The TCP addresses, with the real port.
    addresses: Vec<SocketAddr>,
    /// Unix socket files to remove when the server stops.
    created_files: Vec<PathBuf>,
    shared: Arc<Shared>,
    /// Called when the server is about to accept connections.
    before_accepting: Option<Box<dyn FnOnce() + Send>>,
    /// SIGINT and SIGTERM already stop this server (a werk parent started
    /// the process): `serve_until_signalled` leaves them.
    signals_handled: bool,
}

/// Stops a running server from another thread; cheap to clone.
#[derive(Debug, Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
}

impl ServerHandle {
    /// Stops accepting, lets in-flight requests finish (up to the shutdown
    /// grace period), and makes `serve_forever` return. Returns at once.
    pub fn shutdown(&self) {
        self.shared.begin_shutdown();
    }
}

/// Binds `host:port` (or adopts the sockets a parent passed) and
/// returns a [`Server`] ready to serve `app`, which is served as it is
/// (the middleware that options ask for is already around it);
/// [`crate::make_server`] is the public form.
pub(crate) fn make_server(
    host: &str,
    port: u16,
    app: Box<dyn App>,
    config: Config,
) -> Result<Server, Error> {
    #[cfg(feature = "tls")]
    let tls = match &config.ssl_context {
        Some(context) => Some(crate::tls::server_config(context, host)?),
        None => None,
    };
    let bound = match crate::net::inherited_listeners()? {
        Some(bound) => bound,
        None => crate::net::bind(host, port)?,
    };
    #[cfg(feature = "tls")]
    return assemble(bound, app, config, tls);
    #[cfg(not(feature = "tls"))]
    assemble(bound, app, config)
}

/// A server on sockets this process holds already: a supervisor's, for
/// the server it runs itself while no child serves.
#[cfg(feature = "reload")]
pub(crate) fn serve_held(
    fds: Vec<std::os::fd::OwnedFd>,
    app: Box<dyn App>,
    config: Config,
) -> Result<Server, Error> {
    let bound = crate::net::held_listeners(fds)?;
    #[cfg(feature = "tls")]
    {
        let tls = match &config.ssl_context {
            Some(context) => Some(crate::tls::server_config(context, "localhost")?),
            None => None,
        };
        assemble(bound, app, config, tls)
    }
    #[cfg(not(feature = "tls"))]
    assemble(bound, app, config)
}

/// The server for sockets bound or adopted, with its threads' shared
/// state.
fn assemble(
    bound: Vec<crate::net::Bound>,
    mut app: Box<dyn App>,
    config: Config,
    #[cfg(feature = "tls")] tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<Server, Error> {
    let parker = Parker::new(config.idle_timeout, config.head_timeout, config.io_timeout)?;
    let live = match &config.live_reload {
        Some(id) => Some(live::Live::start(id)?),
        None => None,
    };
    if let Some(live) = &live {
        app = Box::new(live_reload::LiveReload::new(app, live.snippet()));
    }
    let shared = Arc::new(Shared {
        app,
        live,
        after_accepting: Mutex::new(None),
        log: Log::new(config.log_requests),
        pool: Pool::new(config.threads, config.max_threads),
        parker,
        shutdown: Arc::new(shutdown::Shutdown::new(config.shutdown_grace)),
        tails: tails::Tails::default(),
        config,
        stopped: (Mutex::new(false), Condvar::new()),
        passed_through: Mutex::new(None),
        #[cfg(feature = "tls")]
        tls,
    });
    let mut server = Server {
        sockets: Vec::new(),
        listen: Vec::new(),
        reasons: Vec::new(),
        addresses: Vec::new(),
        created_files: Vec::new(),
        shared,
        before_accepting: None,
        signals_handled: false,
    };
    for b in bound {
        if let ListenAddr::Tcp(addr) = &b.addr {
            server.addresses.push(*addr);
        }
        server.created_files.extend(b.created_file);
        server
            .sockets
            .push(accept::Socket::new(b.listener, &b.addr));
        server.listen.push(b.addr);
        server.reasons.push(b.why);
    }
    Ok(server)
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("listen", &self.listen)
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Calls `f` when the server is about to accept connections (its
    /// workers run), from the thread that runs `serve_forever`, which
    /// accepts once `f` returns.
    pub(crate) fn before_accepting(&mut self, f: impl FnOnce() + Send + 'static) {
        self.before_accepting = Some(Box::new(f));
    }

    /// Calls `f` once a shutdown has closed the listening sockets: no
    /// connection is accepted by this server any more.
    pub(crate) fn after_accepting(&mut self, f: impl FnOnce() + Send + 'static) {
        *self
            .shared
            .after_accepting
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Box::new(f));
    }

    /// True once a shutdown began.
    pub(crate) fn is_stopping(handle: &ServerHandle) -> bool {
        handle.shared.is_shutting_down()
    }

    /// Says that SIGINT and SIGTERM already stop this server.
    pub(crate) fn set_signals_handled(&mut self) {
        self.signals_handled = true;
    }

    pub(crate) fn signals_handled(&self) -> bool {
        self.signals_handled
    }

    /// The TLS configuration the server runs with, to serve another
    /// server with the very same certificate (files are read once).
    #[cfg(all(feature = "tls", feature = "reload"))]
    pub(crate) fn tls_config(&self) -> Option<Arc<rustls::ServerConfig>> {
        self.shared.tls.clone()
    }

    /// Live reload's hub, when it is on: a parent's build states go there.
    pub(crate) fn live(&self) -> Option<Arc<live::Live>> {
        self.shared.live.clone()
    }

    /// The bound TCP addresses, with the real port.
    pub fn addresses(&self) -> &[SocketAddr] {
        &self.addresses
    }

    /// The bound Unix socket paths.
    pub fn unix_sockets(&self) -> Vec<PathBuf> {
        self.listen
            .iter()
            .filter_map(|a| match a {
                ListenAddr::Unix(path) => Some(path.clone()),
                ListenAddr::Tcp(_) => None,
            })
            .collect()
    }

    /// The URL of each listener: `http://127.0.0.1:5000`,
    /// `https://[::1]:5000`, `unix:///run/app.sock`.
    pub fn urls(&self) -> Vec<String> {
        let scheme = self.shared.scheme();
        self.listen.iter().map(|a| a.url(scheme)).collect()
    }

    /// A handle that shuts the server down from another thread.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            shared: self.shared.clone(),
        }
    }

    /// The startup banner, as lines, in Werkzeug's words.
    pub fn banner(&self) -> Vec<String> {
        let log = &self.shared.log;
        let mut lines = vec![log.styled(
            "WARNING: This is a development server. Do not use it in a production deployment. Use a production WSGI server instead.",
            Style::Warning,
        )];
        let scheme = self.shared.scheme();
        for (addr, why) in self.listen.iter().zip(&self.reasons) {
            match addr {
                ListenAddr::Tcp(tcp) if tcp.ip().is_unspecified() => {
                    lines.extend(wildcard_lines(*tcp, scheme));
                }
                ListenAddr::Unix(path) => {
                    lines.push(format!(" * Running on {}", addr.url("http")));
                    if self.shared.config.protocol == crate::Protocol::Http {
                        lines.push(format!(
                            " * Try: curl --unix-socket {} http://localhost/",
                            path.display()
                        ));
                    }
                }
                ListenAddr::Tcp(_) => match why {
                    Some(why) => lines.push(format!(" * Running on {} ({why})", addr.url(scheme))),
                    None => lines.push(format!(" * Running on {}", addr.url(scheme))),
                },
            }
        }
        let beyond_loopback = self.addresses.iter().any(|a| !a.ip().is_loopback());
        match self.shared.config.debugger {
            Some(Debugging::AnyClient) => lines.push(log.styled(
                " * WARNING: the debugger shows its page to any client (debugger_any_client): \
                 anyone who can connect sees your panics, source paths and code.",
                Style::Warning,
            )),
            Some(Debugging::Local) if beyond_loopback => lines.push(
                " * The debugger's page goes to clients on this machine only; others get a plain 500"
                    .to_owned(),
            ),
            _ => {}
        }
        lines.push(log.styled("Press CTRL+C to quit", Style::Hint));
        lines
    }

    /// Prints the banner to standard error.
    pub fn log_startup(&self) {
        for line in self.banner() {
            self.shared.log.line(&line);
        }
    }

    /// Gives up serving and returns the listening sockets, in the order
    /// they were bound, and the Unix socket files this process created
    /// (for the caller to remove): the reloader's supervisor holds them and
    /// passes them to each child it starts.
    pub(crate) fn into_listeners(self) -> (Vec<std::os::fd::OwnedFd>, Vec<PathBuf>) {
        if let Some(live) = &self.shared.live {
            live.close();
        }
        let fds = self
            .sockets
            .into_iter()
            .map(|socket| match socket.listener {
                crate::net::Listener::Tcp(l) => std::os::fd::OwnedFd::from(l),
                crate::net::Listener::Unix(l) => std::os::fd::OwnedFd::from(l),
            })
            .collect();
        (fds, self.created_files)
    }

    /// Serves until [`ServerHandle::shutdown`] is called. In-flight requests
    /// finish (up to the shutdown grace period) before it returns. With
    /// `passthrough_errors`, a panic in the application stops the server
    /// and continues here.
    pub fn serve_forever(self) -> Result<(), Error> {
        let Server {
            sockets,
            shared,
            created_files,
            before_accepting,
            ..
        } = self;
        shared.pool.start(&shared);
        if let Some(f) = before_accepting {
            f();
        }
        shared
            .parker
            .listen(sockets, shared.config.io_timeout)
            .map_err(|e| Error::Config(format!("cannot watch the listening sockets: {e}")))?;
        let parker_shared = shared.clone();
        let parker = std::thread::Builder::new()
            .name("werk-parker".into())
            .spawn(move || park::parker_thread(&parker_shared))?;

        let (lock, cvar) = &shared.stopped;
        let mut stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
        while !*stopped {
            stopped = cvar.wait(stopped).unwrap_or_else(|e| e.into_inner());
        }
        drop(stopped);

        let _ = parker.join();
        for path in &created_files {
            crate::net::remove_socket_file(path);
        }
        let grace_left = shared
            .shutdown_deadline()
            .saturating_duration_since(std::time::Instant::now());
        if !shared.pool.join(grace_left) {
            shared
                .log
                .error(" * Shutdown grace period over; requests still running were cut off");
        }
        // A connection a worker accepted and queued, or parked, just as the
        // others finished: it still gets its request served.
        for conn in shared.pool.take_queued() {
            handler::serve(conn, &shared);
        }
        for conn in shared.parker.take_waiting() {
            handler::serve(conn, &shared);
        }
        shared.parker.close_all();
        let panic = shared
            .passed_through
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(payload) = panic {
            std::panic::resume_unwind(payload);
        }
        Ok(())
    }
}

/// The banner lines for a wildcard listener: Werkzeug's "all addresses"
/// line, the loopback URL, then every interface address of the family
/// (both families for `::`, which serves IPv4 too).
fn wildcard_lines(addr: SocketAddr, scheme: &str) -> Vec<String> {
    let port = addr.port();
    let url = |ip: IpAddr| {
        format!(
            " * Running on {}",
            ListenAddr::Tcp(SocketAddr::new(ip, port)).url(scheme)
        )
    };
    let mut lines = vec![format!(" * Running on all addresses ({})", addr.ip())];
    let v6 = addr.is_ipv6();
    let mut ips = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
    if v6 {
        ips.push(IpAddr::V6(Ipv6Addr::LOCALHOST));
    }
    ips.extend(crate::net::interface_ips(false));
    if v6 {
        ips.extend(crate::net::interface_ips(true));
    }
    lines.extend(ips.into_iter().map(url));
    lines
}
