//! The smallest werk program: one application function, served on
//! http://localhost:8080/ (or the port in `PORT`) until Ctrl-C.
//!
//! Run it with:
//!
//!     cargo run --example hello
//!     PORT=8081 cargo run --example hello   # on port 8081, so two can run at once
//!
//! then open http://localhost:8080/ or `curl -i http://localhost:8080/anything`.

use werk::{Body, Environ, Options, StartResponse};

/// Answers every request with a line of plain text that names the path.
pub fn app(environ: &Environ, start_response: StartResponse) -> Body {
    start_response
        .start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        .expect("first call, valid status and headers");
    Body::from(format!(
        "Hello, World! You asked for {}\n",
        environ.path_info()
    ))
}

fn main() {
    werk::run_simple(
        "localhost",
        werk::port_from_env(8080),
        app,
        Options::default(),
    );
}
