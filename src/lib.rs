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
/// The `werk` binary's command line: only [`cli::main`] is public, for
/// `src/main.rs`; it is not part of the library.
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;
mod error;
mod escape;
mod gateway;
#[cfg(feature = "reload")]
mod glob;
#[cfg(feature = "fuzzing")]
pub mod http;
// Parts of the parser's surface are there for the fuzz targets only.
#[cfg(not(feature = "fuzzing"))]
#[allow(dead_code, unused_imports)]
mod http;
pub mod middleware;
mod model;
mod net;
mod options;
mod procs;
mod reload;
mod server;
#[allow(unsafe_code)]
mod sys;
pub mod testing;
#[cfg(feature = "tls")]
mod tls;

pub use error::Error;
pub use gateway::{cgi, Protocol};
pub use model::{
    App, Body, BodyChunks, Chunk, Environ, EnvironBuilder, Errors, Extensions, Input, StartError,
    StartResponse, WriteHandle,
};
pub use options::{Options, ReloaderType};
pub use procs::is_running_from_reloader;
pub use server::{Server, ServerHandle};
#[cfg(feature = "tls")]
pub use tls::{make_ssl_devcert, SslContext};

/// `SERVER_SOFTWARE` and the `Server` header: `werk/<version>`.
pub const SERVER_SOFTWARE: &str = concat!("werk/", env!("CARGO_PKG_VERSION"));

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
    procs::make_server_here(host, port, app, options)
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
        std::process::exit(run_in_processes(host, port, app, options));
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

/// Runs `app` as [`procs::wanted`] says: as one of the `processes`, under the
/// reloader (whose child runs the `processes` if there are several), or as
/// the parent of the `processes`. Returns the exit status for the process.
pub(crate) fn run_in_processes(host: &str, port: u16, app: impl App, options: Options) -> i32 {
    if procs::is_prefork_child() {
        procs::prefork::serve(host, port, app, options)
    } else if options.use_reloader {
        #[cfg(feature = "reload")]
        return reload::serve_reloading(host, port, app, options);
        #[cfg(not(feature = "reload"))]
        {
            say!("use_reloader: this werk was built without its reload feature");
            1
        }
    } else {
        procs::prefork::serve_in_processes(host, port, app, options)
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
