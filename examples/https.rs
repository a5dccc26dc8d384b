//! HTTPS with a development certificate (Werkzeug's `make_ssl_devcert`
//! and `ssl_context=(cert, key)`): unlike an adhoc certificate, made anew
//! at every start, this one is written once and kept, so trusting it once
//! lasts. It names `localhost`, its subdomains and the loopback
//! addresses, so `https://localhost` verifies.
//!
//! Run it with:
//!
//!     cargo run --example https
//!     PORT=8444 cargo run --example https   # on port 8444, so two can run at once
//!
//! The certificate goes to the temporary directory, or to `CERT_DIR`
//! (delete the `.crt` and `.key` there for a new one). The program prints
//! how to trust it:
//!
//!     curl --cacert /tmp/werk-example.crt https://localhost:8443/
//!
//! Without `--cacert` curl refuses it (nobody vouches for it until you
//! do); `curl http://localhost:8443/` gets a 400 that says to use https.
//! For a browser, add the `.crt` to its certificate authorities.

use std::path::PathBuf;

use werk::{Body, Environ, Options, SslContext, StartResponse};

/// Says which scheme the request came in with.
pub fn app(environ: &Environ, start_response: StartResponse) -> Body {
    start_response
        .start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        .expect("first call");
    Body::from(format!(
        "Hello over {}, for {}\n",
        environ.url_scheme(),
        environ.host()
    ))
}

fn main() -> std::io::Result<()> {
    let dir = std::env::var_os("CERT_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let (cert, key) = (dir.join("werk-example.crt"), dir.join("werk-example.key"));
    if !(cert.is_file() && key.is_file()) {
        std::fs::create_dir_all(&dir)?;
        werk::make_ssl_devcert(dir.join("werk-example"), Some("localhost"))?;
    }
    let port = werk::port_from_env(8443);
    eprintln!(
        " * Trust the certificate: curl --cacert {} https://localhost:{port}/",
        cert.display()
    );
    let options = Options::default().ssl_context(SslContext::Files { cert, key });
    werk::run_simple("localhost", port, app, options);
    Ok(())
}
