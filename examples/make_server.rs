//! [`werk::make_server`]: bind first, serve on a thread of your own, stop
//! with [`werk::ServerHandle::shutdown`] from any other thread. This is how
//! a test suite or a bigger program embeds werk. Unlike `run_simple`, no
//! banner is printed and no signal handler is installed.
//!
//! Run it with:
//!
//!     cargo run --example make_server
//!     PORT=8081 cargo run --example make_server   # on port 8081, so two can run at once
//!
//! then open http://localhost:8080/ and press Enter in the terminal to stop.

use std::io::BufRead;
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use werk::{Body, Environ, Options, ServerHandle, StartResponse};

/// Three lines, 100 ms apart: long enough to see that a shutdown lets a
/// response in progress finish.
pub fn app(_environ: &Environ, start_response: StartResponse) -> Body {
    start_response
        .start("200 OK", [("Content-Type", "text/plain")])
        .expect("first call");
    Body::stream((1..=3).map(|i| {
        std::thread::sleep(Duration::from_millis(100));
        format!("part {i}\n")
    }))
}

/// A server running on its own thread.
pub struct Background {
    /// Every address bound, with the real port (useful with port 0).
    pub addresses: Vec<SocketAddr>,
    /// Stops the server from any thread.
    pub handle: ServerHandle,
    /// The thread running `serve_forever`; it ends after a shutdown.
    pub thread: JoinHandle<Result<(), werk::Error>>,
}

/// Binds `host:port` and serves `app` on a new thread.
pub fn start(host: &str, port: u16, options: Options) -> Result<Background, werk::Error> {
    let server = werk::make_server(host, port, app, options)?;
    let addresses = server.addresses().to_vec();
    let handle = server.handle();
    let thread = std::thread::spawn(move || server.serve_forever());
    Ok(Background {
        addresses,
        handle,
        thread,
    })
}

fn main() -> Result<(), werk::Error> {
    let server = start("localhost", werk::port_from_env(8080), Options::default())?;
    for addr in &server.addresses {
        println!("serving on http://{addr}/");
    }
    println!("press Enter to stop");
    let _ = std::io::stdin().lock().lines().next();
    // Stops accepting; requests in progress finish; serve_forever returns.
    server.handle.shutdown();
    server.thread.join().expect("server thread panicked")?;
    println!("stopped");
    Ok(())
}
