//! Several applications in one server with
//! [`werk::middleware::Dispatcher`] (Werkzeug's `DispatcherMiddleware`):
//! a blog under `/blog`, an API under `/api/v1`, and a site for the rest.
//! Each mounted app sees its prefix moved from PATH_INFO to SCRIPT_NAME
//! (PEP 3333), so it builds its links from SCRIPT_NAME and works under
//! any prefix.
//!
//! Run it with:
//!
//!     cargo run --example dispatcher
//!     PORT=8081 cargo run --example dispatcher   # on port 8081, so two can run at once
//!
//! then `curl http://localhost:8080/blog/2026/hello`,
//! `curl http://localhost:8080/api/v1/users` and
//! `curl http://localhost:8080/about`.

use werk::middleware::Dispatcher;
use werk::{App, Body, Environ, Options, StartResponse};

/// Prints where it is mounted and what it was asked for.
fn mounted(name: &'static str) -> impl Fn(&Environ, StartResponse) -> Body {
    move |environ, start_response| {
        start_response
            .start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            .expect("first call");
        Body::from(format!(
            "{name}: SCRIPT_NAME={:?} PATH_INFO={:?} home={}/\n",
            environ.script_name(),
            environ.path_info(),
            environ.script_name(),
        ))
    }
}

/// The three apps, mounted.
pub fn app() -> impl App {
    Dispatcher::new(mounted("site"))
        .mount("/blog", mounted("blog"))
        .mount("/api/v1", mounted("api"))
}

fn main() {
    werk::run_simple(
        "localhost",
        werk::port_from_env(8080),
        app(),
        Options::default(),
    );
}
