//! The legacy `write` callable of PEP 3333 ([`werk::WriteHandle`]): the
//! handle `start_response` returns, for code written in the push style of
//! old frameworks. Each `write` sends the head (the first time), then the
//! bytes, before it returns. New code should return a `Body` instead.
//!
//! Run it with:
//!
//!     cargo run --example write_handle
//!     PORT=8081 cargo run --example write_handle   # on port 8081, so two can run at once
//!
//! then `curl -i http://localhost:8080/`.

use std::io::Write;

use werk::{Body, Environ, Options, StartResponse};

/// Writes a small report through the write handle, returns an empty body.
pub fn app(environ: &Environ, start_response: StartResponse) -> Body {
    let mut write = start_response
        .start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        .expect("first call");
    // No Content-Length was given and the body is not returned, so the
    // server cannot know the size: HTTP/1.1 clients get it chunked.
    let written = writeln!(write, "method: {}", environ.method())
        .and_then(|()| writeln!(write, "path: {}", environ.path_info()))
        .and_then(|()| write.write_all(b"written with the legacy write handle\n"));
    if let Err(e) = written {
        // The client went away; nothing more to do.
        let _ = writeln!(environ.errors(), "write_handle: {e}");
    }
    // Anything returned here is sent after what was written.
    Body::empty()
}

fn main() {
    werk::run_simple(
        "localhost",
        werk::port_from_env(8080),
        app,
        Options::default(),
    );
}
