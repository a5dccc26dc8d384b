//! Serves files next to an application with
//! [`werk::middleware::StaticFiles`] (Werkzeug's `SharedDataMiddleware`):
//! this example's own directory under `/examples/`, the README at
//! `/readme.md`, and everything else from the application. Files get a
//! Content-Type from their extension, an ETag and Last-Modified, and
//! answer conditional and range requests.
//!
//! Run it with:
//!
//!     cargo run --example static_files
//!     PORT=8081 cargo run --example static_files   # on port 8081, so two can run at once
//!
//! then try:
//!
//!     curl -i http://localhost:8080/examples/static_files.rs
//!     curl -i -H 'Range: bytes=0-99' http://localhost:8080/readme.md
//!     curl -i http://localhost:8080/examples/../Cargo.toml   # 404: never outside
//!
//! The same is `Options::default().static_files("/examples", DIR)` with
//! `run_simple`, or `werk serve --static /examples=examples`.

use werk::middleware::StaticFiles;
use werk::{App, Body, Environ, Options, StartResponse};

/// The directory served under `/examples/`.
pub const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");

/// The file served at `/readme.md`.
pub const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");

/// What is not a file: a page with links, or 404.
fn site(environ: &Environ, start_response: StartResponse) -> Body {
    if environ.path_info() == "/" {
        start_response
            .start("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            .expect("first call");
        return Body::from(
            "<a href=/examples/static_files.rs>this example</a> \
             <a href=/readme.md>the README</a>\n",
        );
    }
    start_response
        .start("404 Not Found", [("Content-Type", "text/plain")])
        .expect("first call");
    Body::from("not found\n")
}

/// The site with the files in front of it.
pub fn app() -> impl App {
    StaticFiles::new(site)
        .mount("/examples", DIR)
        .mount("/readme.md", README)
}

fn main() {
    werk::run_simple(
        "localhost",
        werk::port_from_env(8080),
        app(),
        Options::default(),
    );
}
