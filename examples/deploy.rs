//! One binary for two places: a development server on your machine, and a
//! CGI script under a production web server. `werk::run` picks by itself:
//! CGI when the web server started the process for a request
//! (`GATEWAY_INTERFACE` is set), `run_simple` on localhost:5000 otherwise.
//!
//! Run it with:
//!
//!     cargo run --example deploy        # then open http://localhost:5000/hi
//!
//! or as the web server would, one request on standard output:
//!
//!     cargo build --example deploy
//!     GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET PATH_INFO=/hi \
//!         target/debug/examples/deploy
//!
//! docs/deploying.md puts the built binary in lighttpd's and nginx's
//! cgi-bin.
//!
//! Unlike the other examples it does not read `PORT`: `werk::run` takes
//! no options and always serves on localhost:5000, as `werk serve` does.
//! For another port, call `werk::cgi::is_cgi`, then `werk::cgi::run` or
//! `werk::run_simple`, yourself.

use werk::{Body, Environ, StartResponse};

/// Says where the request was for and how it was served.
pub fn app(environ: &Environ, start_response: StartResponse) -> Body {
    let how = if environ.run_once() {
        "a CGI script (a process for this request)"
    } else {
        "a server (one process for every request)"
    };
    start_response
        .start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        .expect("first call, valid status and headers");
    Body::from(format!(
        "Hello from {} on {}, served by {how}\n",
        environ.path_info(),
        environ.host()
    ))
}

fn main() {
    werk::run(app);
}
