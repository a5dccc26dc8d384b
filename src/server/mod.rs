//! The server: listeners, the accept thread, the worker pool, the parker,
//! the request log, and shutdown.
//!
//! ```text
//!  listeners ──► accept thread ──► channel ──► workers (pool) ──► app
//!                                    ▲              │
//!                                    └── parker ◄───┘  idle / partial
//!                                      (epoll)         connections
//! ```

mod accept;
mod conn;
mod environ;
mod exchange;
mod handler;
pub(crate) mod log;
mod pages;
mod park;
mod pool;

use std::any::Any;
use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::http::Limits;
use crate::{App, Error, Options};
use log::{Log, Style};
use park::Parker;
use pool::Pool;

pub(crate) use pages::html_escape;

/// The checked settings the server runs with.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub limits: Limits,
    pub head_timeout: Duration,
    pub idle_timeout: Duration,
    pub io_timeout: Duration,
    pub shutdown_grace: Duration,
    pub passthrough_errors: bool,
}

/// State every thread of one server shares.
pub(crate) struct Shared {
    pub app: Box<dyn App>,
    pub config: Config,
    pub log: Log,
    pub pool: Pool,
    pub parker: Parker,
    shutting_down: AtomicBool,
    stopped: (Mutex<bool>, Condvar),
    passed_through: Mutex<Option<Box<dyn Any + Send>>>,
    accept_wake: UnixStream,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Starts a shutdown: no new connections; in-flight requests finish.
    fn begin_shutdown(&self) {
        if self.shutting_down.swap(true, Ordering::SeqCst) {
            return;
        }
        let _ = (&self.accept_wake).write(&[1]);
        self.parker.wake();
        self.pool.stop();
        let (lock, cvar) = &self.stopped;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cvar.notify_all();
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

/// A server that is bound but not yet serving; see [`make_server`].
#[derive(Debug)]
pub struct Server {
    listeners: Vec<TcpListener>,
    addresses: Vec<SocketAddr>,
    host: String,
    shared: Arc<Shared>,
    accept_wake_rx: UnixStream,
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

/// Binds `host:port` and returns a [`Server`] ready to
/// [`serve_forever`](Server::serve_forever).
///
/// `host` is a name (every address it resolves to is bound; `localhost`
/// is every loopback address), an IP literal, `0.0.0.0` or `::`. Port 0
/// picks a free port, shared by all addresses; [`Server::addresses`] shows
/// it.
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
    let config = options.config()?;
    let ips = crate::net::resolve(host)?;
    let bound = crate::net::bind_all(&ips, port)?;
    let (accept_wake_rx, accept_wake) = UnixStream::pair()?;
    accept_wake.set_nonblocking(true)?;
    let parker = Parker::new(config.idle_timeout, config.head_timeout)?;
    let shared = Arc::new(Shared {
        app: Box::new(app),
        log: Log::new(options.log_requests),
        pool: Pool::new(options.threads, options.max_threads),
        parker,
        config,
        shutting_down: AtomicBool::new(false),
        stopped: (Mutex::new(false), Condvar::new()),
        passed_through: Mutex::new(None),
        accept_wake,
    });
    Ok(Server {
        addresses: bound.iter().map(|b| b.addr).collect(),
        listeners: bound.into_iter().map(|b| b.listener).collect(),
        host: host.to_owned(),
        shared,
        accept_wake_rx,
    })
}

impl Server {
    /// The bound addresses, with the real port.
    pub fn addresses(&self) -> &[SocketAddr] {
        &self.addresses
    }

    /// The URL of each bound address: `http://127.0.0.1:5000`,
    /// `http://[::1]:5000`.
    pub fn urls(&self) -> Vec<String> {
        self.addresses.iter().map(|a| url_for(*a)).collect()
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
        for addr in &self.addresses {
            if addr.ip().is_unspecified() {
                lines.push(format!(" * Running on all addresses ({})", addr.ip()));
                let v6 = addr.is_ipv6();
                let loopback: IpAddr = if v6 {
                    IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
                } else {
                    IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
                };
                lines.push(format!(
                    " * Running on {}",
                    url_for(SocketAddr::new(loopback, addr.port()))
                ));
                if let Some(ip) = crate::net::interface_ip(v6).filter(|ip| !ip.is_loopback()) {
                    lines.push(format!(
                        " * Running on {}",
                        url_for(SocketAddr::new(ip, addr.port()))
                    ));
                }
            } else {
                lines.push(format!(" * Running on {}", url_for(*addr)));
            }
        }
        if self.addresses.len() > 1 && crate::net::is_localhost(&self.host) {
            lines.push(format!(
                " * {} is every loopback address, so IPv4 and IPv6 clients connect at once",
                self.host
            ));
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

    /// Serves until [`ServerHandle::shutdown`] is called. In-flight requests
    /// finish (up to the shutdown grace period) before it returns. With
    /// `passthrough_errors`, a panic in the application stops the server
    /// and continues here.
    pub fn serve_forever(self) -> Result<(), Error> {
        let Server {
            listeners,
            shared,
            accept_wake_rx,
            ..
        } = self;
        shared.pool.start(&shared);
        let parker_shared = shared.clone();
        let parker = std::thread::Builder::new()
            .name("werk-parker".into())
            .spawn(move || park::run(&parker_shared))?;
        let accept_shared = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name("werk-accept".into())
            .spawn(move || accept::run(&listeners, accept_wake_rx, &accept_shared))?;

        let (lock, cvar) = &shared.stopped;
        let mut stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
        while !*stopped {
            stopped = cvar.wait(stopped).unwrap_or_else(|e| e.into_inner());
        }
        drop(stopped);

        let _ = acceptor.join();
        let _ = parker.join();
        if !shared.pool.join(shared.config.shutdown_grace) {
            shared
                .log
                .error(" * Shutdown grace period over; requests still running were cut off");
        }
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

/// `http://127.0.0.1:5000`, `http://[::1]:5000`.
fn url_for(addr: SocketAddr) -> String {
    format!("http://{addr}")
}
