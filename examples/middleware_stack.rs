//! Several middleware around one site, in the order that makes each see
//! what it needs: `ProxyFix` restores the client's view, `TrustedHosts`
//! checks the host it restored, `Dispatcher` routes `/api` to an app that
//! `Lint` checks; `run_simple` then adds `StaticFiles` and the `Debugger`
//! from its options (static files inner, debugger outer, as Werkzeug).
//!
//! Run it with:
//!
//!     cargo run --example middleware_stack
//!     PORT=8081 cargo run --example middleware_stack   # on port 8081, so two can run at once
//!
//! then `curl http://localhost:8080/api/hello`,
//! `curl http://localhost:8080/static/middleware_stack.rs`,
//! `curl http://localhost:8080/panic` (the debugger's page) and
//! `curl -H 'Host: evil.test' http://localhost:8080/` (400).

use werk::middleware::{Dispatcher, Lint, ProxyFix, TrustedHosts};
use werk::{App, Body, Environ, Options, StartResponse};

/// The directory served under `/static/`.
pub const STATIC_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");

fn site(environ: &Environ, start_response: StartResponse) -> Body {
    if environ.path_info() == "/panic" {
        panic!("the site fell over");
    }
    start_response
        .start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        .expect("first call");
    Body::from(format!("the site, at {}\n", environ.url()))
}

fn api(environ: &Environ, start_response: StartResponse) -> Body {
    let text = format!("api: {}\n", environ.path_info());
    start_response
        .start(
            "200 OK",
            [
                ("Content-Type", "text/plain; charset=utf-8".to_owned()),
                ("Content-Length", text.len().to_string()),
            ],
        )
        .expect("first call");
    Body::from(text)
}

/// The stack, by hand.
pub fn app() -> impl App {
    ProxyFix::new(TrustedHosts::new(
        Dispatcher::new(site).mount("/api", Lint::new(api)),
        ["localhost", ".localhost", "127.0.0.1", "::1"],
    ))
    .x_host(1)
}

/// What `run_simple` adds around it.
pub fn options() -> Options {
    Options::default()
        .static_files("/static", STATIC_DIR)
        .use_debugger(true)
}

fn main() {
    werk::run_simple("localhost", werk::port_from_env(8080), app(), options());
}
