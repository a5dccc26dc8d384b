//! Behind a reverse proxy with [`werk::middleware::ProxyFix`]: the
//! environ is rebuilt from the `X-Forwarded-*` headers one proxy adds, so
//! the app sees the client's address, scheme and host; what the server saw
//! stays in the environ's extensions as a `ProxyFixOriginal`.
//!
//! Run it with:
//!
//!     cargo run --example proxy_fix
//!     PORT=8081 cargo run --example proxy_fix   # on port 8081, so two can run at once
//!
//! then pretend to be the proxy:
//!
//!     curl -H 'X-Forwarded-For: 203.0.113.7' -H 'X-Forwarded-Proto: https' \
//!          -H 'X-Forwarded-Host: shop.example.test' http://localhost:8080/cart
//!
//! Trust only as many values as there are proxies: a client can send
//! these headers too.

use werk::middleware::{ProxyFix, ProxyFixOriginal};
use werk::{App, Body, Environ, Options, StartResponse};

/// Shows the environ before and after.
fn show(environ: &Environ, start_response: StartResponse) -> Body {
    let before = environ.extensions().get::<ProxyFixOriginal>();
    let text = format!(
        "client {} asked for {}\nthe server saw {} asking for {}://{}\n",
        environ.remote_addr(),
        environ.url(),
        before.map_or("", |b| b.remote_addr.as_str()),
        before.map_or("", |b| b.url_scheme.as_str()),
        before.and_then(|b| b.http_host.as_deref()).unwrap_or(""),
    );
    start_response
        .start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        .expect("first call");
    Body::from(text)
}

/// One proxy in front, setting -For, -Proto and -Host.
pub fn app() -> impl App {
    ProxyFix::new(show).x_for(1).x_proto(1).x_host(1)
}

fn main() {
    werk::run_simple(
        "localhost",
        werk::port_from_env(8080),
        app(),
        Options::default(),
    );
}
