//! The reloader (Werkzeug's `use_reloader` and `extra_files`): the server
//! restarts when a file it read at start changes, as a configuration file
//! or templates would. The message below is read once, before
//! `run_simple`, so only a new process can serve a new one; the reloader's
//! first process keeps the port meanwhile, so no request is refused.
//!
//! Run it with:
//!
//!     cargo run --example reloader
//!     PORT=8081 cargo run --example reloader   # on port 8081, so two can run at once
//!
//! then, in the same directory:
//!
//!     curl http://localhost:8080/
//!     echo 'Hello again' > message.txt    # " * Detected change in '.../message.txt', reloading"
//!     curl http://localhost:8080/
//!
//! A `cargo build --example reloader` after an edit restarts it too: the
//! executable is always watched.

use werk::{App, Body, Environ, Options, StartResponse};

/// Read at start, from the current directory; watched even before it
/// exists, so creating it restarts the server as a change does.
const MESSAGE_FILE: &str = "message.txt";

/// Serves the message this process started with.
pub fn app(message: String) -> impl App {
    move |_environ: &Environ, start_response: StartResponse| {
        start_response
            .start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            .expect("first call");
        Body::from(message.clone())
    }
}

fn main() {
    let message = std::fs::read_to_string(MESSAGE_FILE)
        .unwrap_or_else(|_| format!("No {MESSAGE_FILE} here yet: write one to see it served.\n"));
    let options = Options::default()
        .use_reloader(true)
        .extra_files([MESSAGE_FILE]);
    werk::run_simple(
        "localhost",
        werk::port_from_env(8080),
        app(message),
        options,
    );
}
