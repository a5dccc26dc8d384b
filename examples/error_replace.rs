//! Replacing a response after an error: PEP 3333's `exc_info` argument of
//! `start_response`, here [`werk::StartResponse::start_with_error`].
//!
//! - `/` renders a page;
//! - `/broken` starts a 200, fails to render, and replaces it with a 500
//!   of its own (allowed: nothing was sent yet);
//! - `/late` fails after part of the body went out: too late to replace,
//!   so the server cuts the response short and the client can tell;
//! - `/panic` panics before `start_response`: the server answers with its
//!   own 500 page.
//!
//! Run it with:
//!
//!     cargo run --example error_replace
//!     PORT=8081 cargo run --example error_replace   # on port 8081, so two can run at once
//!
//! then `curl -i http://localhost:8080/broken`.

use std::fmt;
use std::io::Write;

use werk::{Body, Environ, Options, StartError, StartResponse};

/// Why a page could not be rendered.
#[derive(Debug)]
pub struct RenderError(String);

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "template error: {}", self.0)
    }
}

fn render(path: &str) -> Result<String, RenderError> {
    match path {
        "/broken" => Err(RenderError("no template for /broken".into())),
        _ => Ok(format!(
            "<!doctype html>\n<title>ok</title>\n<p>Rendered {path}\n"
        )),
    }
}

/// See the module documentation for the routes.
pub fn app(environ: &Environ, start_response: StartResponse) -> Body {
    match environ.path_info() {
        "/late" => return fail_late(environ, &start_response),
        "/panic" => panic!("the application panicked on purpose"),
        _ => {}
    }
    // Frameworks often set the status and headers before the body exists.
    start_response
        .start("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        .expect("first call");
    match render(environ.path_info()) {
        Ok(page) => Body::from(page),
        Err(err) => {
            // Nothing has been sent: the 200 is replaced, headers and all.
            start_response
                .start_with_error(
                    "500 Internal Server Error",
                    [("Content-Type", "text/plain; charset=utf-8")],
                    &err,
                )
                .expect("nothing was sent yet");
            Body::from(format!("Sorry, {err}\n"))
        }
    }
}

/// Sends part of a body through the write handle, then fails.
fn fail_late(environ: &Environ, start_response: &StartResponse) -> Body {
    let mut write = start_response
        .start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        .expect("first call");
    let _ = write.write_all(b"first part of the page\n");
    let err = RenderError("the data source failed".into());
    match start_response.start_with_error("500 Internal Server Error", [("X", "y")], &err) {
        Err(StartError::HeadersSent(_)) => {
            // The head is on the wire: too late to replace. The server
            // ends the response abruptly (no last chunk) and closes the
            // connection, so the client sees that it failed.
            let _ = writeln!(environ.errors(), "error_replace: too late: {err}");
            Body::empty()
        }
        _ => unreachable!("the head was sent by write"),
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
