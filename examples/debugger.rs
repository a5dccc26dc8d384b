//! A panic shown in the browser: with `Options::use_debugger(true)`
//! (Werkzeug's `use_debugger`), a panic in the application answers 500
//! with the panic message, the request and the backtrace, your frames
//! highlighted with their source lines. curl gets the same as plain text.
//!
//! Rust cannot evaluate code in a stack frame, so unlike Werkzeug's there
//! is no console: read, fix, reload.
//!
//! Run it with:
//!
//!     cargo run --example debugger
//!     PORT=8081 cargo run --example debugger   # on port 8081, so two can run at once
//!
//! then open http://localhost:8080/order/0 in a browser, or
//! `curl http://localhost:8080/order/0`.

use werk::{Body, Environ, Options, StartResponse};

/// Splits an order among `people`; panics (divides by zero) for 0.
fn share(total_cents: u64, people: u64) -> u64 {
    total_cents / people
}

/// `/order/N`: the share of a 120.00 order among N people.
pub fn app(environ: &Environ, start_response: StartResponse) -> Body {
    let people: u64 = environ
        .path_info()
        .strip_prefix("/order/")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let cents = share(12_000, people);
    start_response
        .start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        .expect("first call");
    Body::from(format!(
        "{} people pay {}.{:02} each\n",
        people,
        cents / 100,
        cents % 100
    ))
}

/// The options this example serves with.
pub fn options() -> Options {
    Options::default().use_debugger(true)
}

fn main() {
    werk::run_simple("localhost", werk::port_from_env(8080), app, options());
}
