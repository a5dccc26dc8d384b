//! Checking an application against PEP 3333 and HTTP with
//! [`werk::middleware::Lint`] (Werkzeug's `LintMiddleware`). The app below
//! has two mistakes a client may not notice at once: an unquoted ETag on
//! `/`, and a Content-Length larger than the body on `/short`. Each
//! request prints a warning line per broken rule to the server's error
//! stream (`wsgi.errors`), naming the rule and where it is written down.
//!
//! Run it with:
//!
//!     cargo run --example lint
//!     PORT=8081 cargo run --example lint   # on port 8081, so two can run at once
//!
//! then `curl -i http://localhost:8080/` and `curl -i
//! http://localhost:8080/short`, and watch the server's output:
//!
//!     werk lint [etag]: the ETag "v1" is not a quoted string (RFC 9110, section 8.8.3)
//!     werk lint [content-length]: Content-Length is 20 but the body has 6 bytes (PEP 3333, "Handling the Content-Length Header")

use werk::middleware::Lint;
use werk::{App, Body, Environ, Options, StartResponse};

/// The application under test.
fn careless(environ: &Environ, start_response: StartResponse) -> Body {
    if environ.path_info() == "/short" {
        // Announces 20 bytes, sends 6: the server cuts the connection.
        start_response
            .start(
                "200 OK",
                [("Content-Type", "text/plain"), ("Content-Length", "20")],
            )
            .expect("first call");
        return Body::stream(["short\n"]);
    }
    start_response
        .start("200 OK", [("Content-Type", "text/plain"), ("ETag", "v1")])
        .expect("first call");
    Body::from("hello\n")
}

/// `careless`, checked.
pub fn app() -> impl App {
    Lint::new(careless)
}

fn main() {
    werk::run_simple(
        "localhost",
        werk::port_from_env(8080),
        app(),
        Options::default(),
    );
}
