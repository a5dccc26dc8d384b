//! HTTPS that browsers and curl accept without a warning: the certificate
//! comes from this user's local certificate authority, which `werk trust`
//! installs in the system's and the browsers' trust stores. The authority
//! is limited by name constraints to localhost and the loopback addresses,
//! so trusting it trusts nothing else.
//!
//! Run it with:
//!
//!     cargo run -- trust              # once per machine (see docs/https.md)
//!     cargo run --example https_local
//!     curl https://localhost:8443/    # no -k, no --cacert
//!
//! Without `werk trust` first, the program makes the authority (in
//! `~/.local/share/werk`, or `$XDG_DATA_HOME/werk`), serves, and says to
//! run `werk trust`; until then `curl --cacert
//! ~/.local/share/werk/root.crt https://localhost:8443/` trusts it for one
//! command.

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

fn main() {
    let port = werk::port_from_env(8443);
    let options = Options::default().ssl_context(SslContext::Local);
    werk::run_simple("localhost", port, app, options);
}
