//! Sends a file as the response body with [`werk::Body::file`], werk's
//! `wsgi.file_wrapper`: the size becomes Content-Length and, on Linux, the
//! bytes go from the file to the socket inside the kernel (`sendfile`).
//! This example serves its own source code.
//!
//! Run it with:
//!
//!     cargo run --example file_body
//!     PORT=8081 cargo run --example file_body   # on port 8081, so two can run at once
//!
//! then `curl -i http://localhost:8080/`.

use std::fs::File;

use werk::{Body, Environ, Options, StartResponse};

/// The file this example serves.
pub const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/file_body.rs");

/// `/`: this file as text; anything else: 404.
pub fn app(environ: &Environ, start_response: StartResponse) -> Body {
    if environ.path_info() != "/" {
        start_response
            .start("404 Not Found", [("Content-Type", "text/plain")])
            .expect("first call");
        return Body::from("not found\n");
    }
    let body = File::open(PATH).and_then(Body::file);
    match body {
        Ok(body) => {
            start_response
                .start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
                .expect("first call");
            body
        }
        Err(e) => {
            start_response
                .start(
                    "500 Internal Server Error",
                    [("Content-Type", "text/plain")],
                )
                .expect("first call");
            Body::from(format!("cannot open {PATH}: {e}\n"))
        }
    }
}

fn main() {
    werk::run_simple(
        "localhost",
        werk::port_from_env(8080),
        app,
        Options::default(),
    );
}
