//! Serving from several processes (Werkzeug's `processes`): the first
//! process binds the port and starts three more that accept on it, each
//! this program run again, and replaces one that dies. Each process has
//! its own memory, so the count below is per process: what an app that
//! keeps state in a global sees behind a multi-process production server,
//! and what a single process hides.
//!
//! Run it with:
//!
//!     cargo run --example processes
//!     PORT=8081 cargo run --example processes   # on port 8081, so two can run at once
//!
//! then ask a few times, each on a new connection, to see which process
//! answers (the kernel picks; it may be the same one for a while):
//!
//!     for i in 1 2 3 4 5 6; do curl http://localhost:8080/; done
//!
//! Kill one of the pids the banner lists: another takes its place.

use std::sync::atomic::{AtomicU64, Ordering};

use werk::{Body, Environ, Options, StartResponse};

/// Requests this process has answered: a global, so one per process.
static ANSWERED: AtomicU64 = AtomicU64::new(0);

/// Names the process that answers, and how many it has answered.
pub fn app(_environ: &Environ, start_response: StartResponse) -> Body {
    let count = ANSWERED.fetch_add(1, Ordering::Relaxed) + 1;
    start_response
        .start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        .expect("first call");
    Body::from(format!(
        "process {} answered its request {count}\n",
        std::process::id()
    ))
}

fn main() {
    // Everything before run_simple runs again in each process.
    let options = Options::default().processes(3);
    werk::run_simple("localhost", werk::port_from_env(8080), app, options);
}
