//! Serving on a Unix domain socket instead of a TCP port, for a web server
//! in front or a local tool: no port to collide with, and the file's
//! permissions decide who may connect. `run_simple` takes `unix:///path`
//! as its host; the file is removed when the server stops, and a stale
//! one left by a crash is replaced.
//!
//! Run it with:
//!
//!     cargo run --example unix_socket
//!     SOCKET=/tmp/other.sock cargo run --example unix_socket   # so two can run at once
//!
//! then `curl --unix-socket /tmp/werk-example.sock http://localhost/` (the
//! banner shows the path, under the temporary directory unless `SOCKET`
//! names one).

use std::path::PathBuf;

use werk::{Body, Environ, Options, StartResponse};

/// Shows what the environ says about a client on a Unix socket.
pub fn app(environ: &Environ, start_response: StartResponse) -> Body {
    start_response
        .start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        .expect("first call");
    Body::from(format!(
        "Hello over {}: REMOTE_ADDR is {}\n",
        environ.get("SERVER_NAME").unwrap_or_default(),
        environ.remote_addr()
    ))
}

fn main() {
    let path = std::env::var_os("SOCKET").map_or_else(
        || std::env::temp_dir().join("werk-example.sock"),
        PathBuf::from,
    );
    // A socket has no port: the path is the whole address.
    werk::run_simple(
        &format!("unix://{}", path.display()),
        0,
        app,
        Options::default(),
    );
}
