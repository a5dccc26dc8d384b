//! Streams a response: one line every 200 ms, each sent to the client as
//! soon as it is produced (PEP 3333 "Buffering and Streaming"). With no
//! Content-Length, an HTTP/1.1 client gets a chunked response; an
//! HTTP/1.0 client gets the bytes and the end of the connection.
//!
//! Run it with:
//!
//!     cargo run --example streaming
//!     PORT=8081 cargo run --example streaming   # on port 8081, so two can run at once
//!
//! then watch the lines arrive with `curl -N 'http://localhost:8080/?n=5'`.

use std::io::Write;
use std::time::Duration;

use werk::{Body, Environ, Options, StartResponse};

/// `?n=N` lines (default 10, at most 100), one every 200 ms.
pub fn app(environ: &Environ, start_response: StartResponse) -> Body {
    let n: u32 = environ
        .query_string()
        .split('&')
        .find_map(|pair| pair.strip_prefix("n="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(10)
        .min(100);
    start_response
        .start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        .expect("first call");
    // The iterator runs on the worker thread while the response is sent:
    // each item becomes one chunk on the wire, flushed before the next.
    let lines = (1..=n).map(move |i| {
        if i > 1 {
            std::thread::sleep(Duration::from_millis(200));
        }
        format!("line {i} of {n}\n")
    });
    // on_close runs once the body is dropped: sent in full, cut short by a
    // client that went away, or never read (HEAD).
    let mut errors = environ.errors();
    Body::stream(lines).on_close(move || {
        let _ = writeln!(errors, "streaming: body of {n} lines closed");
    })
}

fn main() {
    werk::run_simple(
        "localhost",
        werk::port_from_env(8080),
        app,
        Options::default(),
    );
}
