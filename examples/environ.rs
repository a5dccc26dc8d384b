//! Shows the environ of each request as plain text: every CGI variable and
//! `HTTP_*` header werk sets, then the `wsgi.*` entries. Values are printed
//! with Rust's `{:?}`, so what you see is the exact string the app gets.
//!
//! Run it with:
//!
//!     cargo run --example environ
//!     PORT=8081 cargo run --example environ   # on port 8081, so two can run at once
//!
//! then try `curl -i 'http://localhost:8080/caf%C3%A9/%FF?q=1' -H 'X-Trace: 7'`.

use werk::{Body, Environ, Options, StartResponse};

/// Lists the environ, one `NAME: "value"` line per entry.
pub fn app(environ: &Environ, start_response: StartResponse) -> Body {
    let mut text = String::new();
    for (name, value) in environ.vars() {
        text.push_str(&format!("{name}: {value:?}\n"));
    }
    text.push_str(&format!("wsgi.url_scheme: {:?}\n", environ.url_scheme()));
    text.push_str(&format!("wsgi.multithread: {}\n", environ.multithread()));
    text.push_str(&format!("wsgi.multiprocess: {}\n", environ.multiprocess()));
    text.push_str(&format!("wsgi.run_once: {}\n", environ.run_once()));
    text.push_str(&format!(
        "wsgi.input_terminated: {}\n",
        environ.input_terminated()
    ));
    // The typed helpers read the same strings.
    text.push_str(&format!("method(): {:?}\n", environ.method()));
    text.push_str(&format!(
        "header(\"user-agent\"): {:?}\n",
        environ.header("user-agent")
    ));
    text.push_str(&format!("url(): {:?}\n", environ.url()));

    start_response
        .start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        .expect("first call");
    Body::from(text)
}

fn main() {
    werk::run_simple(
        "localhost",
        werk::port_from_env(8080),
        app,
        Options::default(),
    );
}
