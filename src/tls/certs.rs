//! Certificates: loading PEM files with errors that name the file,
//! generating adhoc and development certificates with rcgen.

use std::fs;
use std::io::{self, Write};
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::SslContext;
use crate::Error;

/// The environment variable that carries the adhoc certificate and key
/// (PEM) from the first process to the reloader's children.
pub(crate) const ADHOC_ENV: &str = "WERK_ADHOC_TLS";

type Pair = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// Reads a certificate chain and a key; every failure names the file.
pub(crate) fn load(cert: &Path, key: &Path) -> Result<Pair, Error> {
    let cert_pem = fs::read(cert).map_err(|e| {
        Error::Tls(format!(
            "cannot read certificate file {}: {e}",
            cert.display()
        ))
    })?;
    let key_pem = fs::read(key)
        .map_err(|e| Error::Tls(format!("cannot read key file {}: {e}", key.display())))?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::Tls(format!(
                "certificate file {} is not valid PEM: {e}",
                cert.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(Error::Tls(format!(
            "certificate file {} holds no certificate (expected a -----BEGIN CERTIFICATE----- block)",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        Error::Tls(format!(
            "key file {} holds no usable private key (PKCS#8, RSA or EC PEM): {e}",
            key.display()
        ))
    })?;
    Ok((certs, key))
}

/// Explains a rustls refusal of a certificate and key.
pub(crate) fn describe_key_error(context: &SslContext, err: &rustls::Error) -> String {
    match context {
        SslContext::Files { cert, key } => format!(
            "the key in {} does not fit the certificate in {} ({err})",
            key.display(),
            cert.display()
        ),
        _ => format!("certificate rejected: {err}"),
    }
}

/// The names a certificate for `host` covers: the host and its
/// subdomains, plus the loopback names browsers and curl use locally.
fn names_for(host: &str) -> Vec<String> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let mut names: Vec<String> = vec![
        "localhost".into(),
        "*.localhost".into(),
        "127.0.0.1".into(),
        "::1".into(),
    ];
    let extra = match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_unspecified() => vec![],
        Ok(ip) => vec![ip.to_string()],
        Err(_) if host.is_empty() || host.starts_with("unix://") => vec![],
        Err(_) => vec![
            host.to_ascii_lowercase(),
            format!("*.{}", host.to_ascii_lowercase()),
        ],
    };
    for name in extra {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// A self-signed certificate and key for `names`, as PEM.
fn generate(names: Vec<String>, common_name: &str) -> Result<(String, String), rcgen::Error> {
    let mut params = rcgen::CertificateParams::new(names)?;
    params.distinguished_name.push(
        rcgen::DnType::OrganizationName,
        "werk development certificate",
    );
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let now = std::time::SystemTime::now();
    params.not_before = now.into();
    params.not_after = (now + std::time::Duration::from_secs(365 * 24 * 3600)).into();
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// The adhoc certificate: the one a parent process left in the
/// environment, or a new one (which is then put there for children).
pub(crate) fn adhoc(host: &str) -> Result<Pair, Error> {
    let pem = match std::env::var(ADHOC_ENV) {
        Ok(pem) => pem,
        Err(_) => {
            let (cert, key) = generate(names_for(host), "localhost")
                .map_err(|e| Error::Tls(format!("cannot generate the adhoc certificate: {e}")))?;
            let pem = format!("{cert}{key}");
            std::env::set_var(ADHOC_ENV, &pem);
            pem
        }
    };
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Tls(format!("{ADHOC_ENV} holds invalid PEM: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| Error::Tls(format!("{ADHOC_ENV} holds no key: {e}")))?;
    Ok((certs, key))
}

/// Writes a development certificate and key to `BASE_PATH.crt` and
/// `BASE_PATH.key` (the key readable by its owner only), as Werkzeug's
/// `make_ssl_devcert` does, and returns both paths. The certificate covers
/// `host` and `*.host` (default `localhost`) plus the loopback names, so
/// once a browser or curl trusts it, `https://localhost` verifies.
///
/// ```no_run
/// let (cert, key) = werk::make_ssl_devcert("/tmp/dev", Some("myapp.localhost"))?;
/// let options = werk::Options::default()
///     .ssl_context(werk::SslContext::Files { cert, key });
/// # let _ = options;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn make_ssl_devcert(
    base_path: impl AsRef<Path>,
    host: Option<&str>,
) -> io::Result<(PathBuf, PathBuf)> {
    let base = base_path.as_ref();
    let host = host.unwrap_or("localhost");
    let (cert, key) = generate(names_for(host), host).map_err(io::Error::other)?;
    let cert_path = with_suffix(base, "crt");
    let key_path = with_suffix(base, "key");
    fs::write(&cert_path, cert)?;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&key_path)?;
    file.write_all(key.as_bytes())?;
    Ok((cert_path, key_path))
}

fn with_suffix(base: &Path, suffix: &str) -> PathBuf {
    let mut name = base.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("werk-tls-{}-{name}", std::process::id()))
    }

    #[test]
    fn names_cover_loopback_and_host() {
        let names = names_for("api.example.test");
        for want in [
            "localhost",
            "127.0.0.1",
            "::1",
            "api.example.test",
            "*.api.example.test",
        ] {
            assert!(
                names.iter().any(|n| n == want),
                "{want} missing from {names:?}"
            );
        }
        assert_eq!(names_for("localhost").len(), 4);
        assert!(names_for("0.0.0.0").iter().all(|n| n != "0.0.0.0"));
    }

    #[test]
    fn devcert_files_load_and_key_is_private() {
        let base = temp("dev");
        let (cert, key) = make_ssl_devcert(&base, None).unwrap();
        assert_eq!(
            fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let (certs, _) = load(&cert, &key).unwrap();
        assert_eq!(certs.len(), 1);
        fs::remove_file(cert).unwrap();
        fs::remove_file(key).unwrap();
    }

    #[test]
    fn errors_name_the_file() {
        let missing = temp("missing.crt");
        let err = load(&missing, &missing).unwrap_err().to_string();
        assert!(err.contains("missing.crt"), "{err}");
        let empty = temp("empty.crt");
        fs::write(&empty, "no pem here\n").unwrap();
        let err = load(&empty, &empty).unwrap_err().to_string();
        assert!(err.contains("holds no certificate"), "{err}");
        fs::remove_file(empty).unwrap();
    }
}
