//! Virtual hosts on one server: [`werk::middleware::HostDispatch`] picks
//! the app by host name, and [`werk::middleware::TrustedHosts`] answers
//! 400 to any host not on the list (a defence against DNS rebinding).
//! Names under `localhost` resolve to loopback without editing the hosts
//! file on most systems, so every host below reaches this one server.
//!
//! Run it with:
//!
//!     cargo run --example virtual_hosts
//!     PORT=8081 cargo run --example virtual_hosts   # on port 8081, so two can run at once
//!
//! then:
//!
//!     curl http://api.localhost:8080/          # the API
//!     curl http://acme.localhost:8080/         # a tenant: acme
//!     curl http://localhost:8080/              # the site
//!     curl -H 'Host: evil.test' http://localhost:8080/   # 400

use werk::middleware::{HostDispatch, HostMatch, TrustedHosts};
use werk::{App, Body, Environ, Options, StartResponse};

fn text(start_response: StartResponse, text: String) -> Body {
    start_response
        .start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        .expect("first call");
    Body::from(text)
}

fn api(_: &Environ, start_response: StartResponse) -> Body {
    text(start_response, "the API\n".into())
}

fn tenant(environ: &Environ, start_response: StartResponse) -> Body {
    let name = environ
        .extensions()
        .get::<HostMatch>()
        .map_or("?", |m| m.wildcard.as_str());
    text(start_response, format!("tenant {name}\n"))
}

fn site(environ: &Environ, start_response: StartResponse) -> Body {
    text(
        start_response,
        format!("the site, for {}\n", environ.host()),
    )
}

/// The hosts, behind the trusted-hosts check.
pub fn app() -> impl App {
    let hosts = HostDispatch::new(site)
        .host("api.localhost", api)
        .host("*.localhost", tenant);
    TrustedHosts::new(hosts, ["localhost", ".localhost", "127.0.0.1", "::1"])
}

fn main() {
    werk::run_simple(
        "localhost",
        werk::port_from_env(8080),
        app(),
        Options::default(),
    );
}
