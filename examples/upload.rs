//! Reads a request body from `wsgi.input` ([`werk::Input`]) as a stream,
//! in pieces, without holding it in memory: POST anything and it answers
//! with the size and a checksum. A body declared larger than 1 MiB is
//! refused before a byte of it is read; a client that sent
//! `Expect: 100-continue` then never sends it, because werk sends
//! `100 Continue` only when the application first reads the input.
//!
//! Run it with:
//!
//!     cargo run --example upload
//!     PORT=8081 cargo run --example upload   # on port 8081, so two can run at once
//!
//! then open http://localhost:8080/ for a form, or
//! `curl --data-binary @Cargo.toml http://localhost:8080/`.

use std::io::{Read, Write};

use werk::{Body, Environ, Options, StartResponse};

/// Bodies declared larger than this are refused with 413.
const MAX_UPLOAD: u64 = 1024 * 1024;

const FORM: &str = "<!doctype html>
<title>upload</title>
<form method=post enctype=multipart/form-data>
<input type=file name=file> <button>Send</button>
</form>
";

/// GET: a form. POST: reads the body and reports its size and checksum.
pub fn app(environ: &Environ, start_response: StartResponse) -> Body {
    if environ.method() != "POST" {
        start_response
            .start("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            .expect("first call");
        return Body::from(FORM);
    }
    // CONTENT_LENGTH is absent for a chunked body: its size is unknown
    // until the last chunk, and wsgi.input ends there.
    if environ.content_length().is_some_and(|n| n > MAX_UPLOAD) {
        start_response
            .start("413 Content Too Large", [("Content-Type", "text/plain")])
            .expect("first call");
        return Body::from("at most 1 MiB, please\n");
    }
    let mut input = environ.input();
    let mut buf = [0u8; 8192];
    let (mut size, mut sum) = (0u64, 0u32);
    loop {
        match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                size += n as u64;
                sum = buf[..n]
                    .iter()
                    .fold(sum, |s, &b| s.wrapping_mul(31).wrapping_add(u32::from(b)));
            }
            // A malformed chunked body or one over the server's size
            // limit: the server answers 400 or 413 itself, whatever the
            // app returns. (Or the client went away: no one will read.)
            Err(e) => {
                let _ = writeln!(environ.errors(), "upload: {e}");
                start_response
                    .start("400 Bad Request", [("Content-Type", "text/plain")])
                    .expect("first call");
                return Body::from(format!("could not read the body: {e}\n"));
            }
        }
    }
    start_response
        .start("200 OK", [("Content-Type", "text/plain")])
        .expect("first call");
    Body::from(format!("received {size} bytes, checksum {sum:08x}\n"))
}

fn main() {
    werk::run_simple(
        "localhost",
        werk::port_from_env(8080),
        app,
        Options::default(),
    );
}
