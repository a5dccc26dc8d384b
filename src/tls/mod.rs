//! HTTPS: where the server's certificate comes from (adhoc, files, or a
//! prepared rustls configuration), development certificates, and TLS
//! connections driven without blocking a worker.
//!
//! One port speaks either HTTP or HTTPS, as in Werkzeug. Unlike Werkzeug,
//! the adhoc certificate carries subject alternative names for the names a
//! browser uses (localhost, 127.0.0.1, ::1, the served host), and it stays
//! the same across reloader restarts: the first process generates it and
//! hands it to its children in the environment, so a browser's exception
//! survives a reload.
//!
//! `SslContext::Local` serves a certificate signed by this user's local
//! certificate authority (`local.rs`), which `werk trust` makes the
//! machine's clients trust: HTTPS without a warning, for local names only.

mod certs;
pub(crate) mod local;
mod stream;
#[cfg(feature = "cli")]
pub(crate) mod trust;

use std::path::PathBuf;
use std::sync::Arc;

pub use certs::make_ssl_devcert;
pub(crate) use certs::ADHOC_ENV;
pub(crate) use stream::TlsStream;

use crate::Error;

/// What `Options::ssl_context` takes (Werkzeug's `ssl_context`).
#[derive(Debug, Clone)]
pub enum SslContext {
    /// A self-signed certificate generated at startup, for `localhost`,
    /// `*.localhost`, `127.0.0.1`, `::1` and the host being served
    /// (`ssl_context='adhoc'`).
    Adhoc,
    /// A PEM certificate file (the server's certificate first, then any
    /// chain) and a PEM key file (PKCS#8, PKCS#1 RSA or SEC1 EC; RSA,
    /// ECDSA or Ed25519), like Werkzeug's `(cert_file, key_file)`.
    Files {
        /// The certificate chain.
        cert: PathBuf,
        /// The private key.
        key: PathBuf,
    },
    /// A rustls configuration built by the caller, used as it is.
    Config(Arc<rustls::ServerConfig>),
    /// A certificate signed by this user's local certificate authority,
    /// which `werk trust` installs where browsers and curl look
    /// (`--cert local`). It covers the names the banner shows that the
    /// authority permits (localhost, `*.localhost`, the loopback
    /// addresses, and names added with `werk trust --name`), lasts 30
    /// days and is renewed by itself a week before it ends. It is stored
    /// beside the authority (in `~/.local/share/werk`), so it stays the
    /// same across restarts. Without an authority yet, one is created,
    /// not trusted anywhere until `werk trust` runs.
    Local,
}

/// The rustls configuration a server runs with.
pub(crate) fn server_config(
    context: &SslContext,
    host: &str,
) -> Result<Arc<rustls::ServerConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(format!("TLS setup failed: {e}")))?
        .with_no_client_auth();
    let (certs, key) = match context {
        SslContext::Config(config) => return Ok(config.clone()),
        SslContext::Adhoc => certs::adhoc(host)?,
        SslContext::Files { cert, key } => certs::load(cert, key)?,
        SslContext::Local => {
            let renewing = local::Renewing::new(host, provider)?;
            return Ok(with_alpn(builder.with_cert_resolver(Arc::new(renewing))));
        }
    };
    let config = builder
        .with_single_cert(certs, key.clone_key())
        .map_err(|e| Error::Tls(certs::describe_key_error(context, &key, &e)))?;
    Ok(with_alpn(config))
}

/// `config` offering `http/1.1` only in ALPN (the server speaks nothing
/// else).
fn with_alpn(mut config: rustls::ServerConfig) -> Arc<rustls::ServerConfig> {
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}
