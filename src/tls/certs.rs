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
    if is_encrypted(&key_pem) {
        return Err(Error::Tls(format!(
            "key file {k} is encrypted (it needs a passphrase), which werk does not support: \
             write a decrypted copy with `openssl pkey -in {k} -out {k}.plain` and pass that",
            k = key.display()
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

/// Explains a rustls refusal of a certificate and key: an RSA key too
/// small for the crypto library, or a key that is not the certificate's.
pub(crate) fn describe_key_error(
    context: &SslContext,
    key: &PrivateKeyDer<'_>,
    err: &rustls::Error,
) -> String {
    let SslContext::Files {
        cert,
        key: key_path,
    } = context
    else {
        return format!("certificate rejected: {err}");
    };
    const NEW_PAIR: &str = "make a new pair with `openssl req -x509 -newkey rsa:2048 -nodes \
                            -keyout dev.key -out dev.crt -days 365 -subj /CN=localhost`, or use \
                            `werk devcert dev`";
    let unsupported = |what: &str| {
        format!(
            "the key in {} is {what}, which werk's TLS library does not support (RSA of 2048 to \
             4096 bits, ECDSA P-256 or P-384, and Ed25519 work): {NEW_PAIR}",
            key_path.display()
        )
    };
    let bits = rsa_bits(key);
    if let Some(name) = unsupported_curve(key).filter(|_| bits.is_none()) {
        return unsupported(name);
    }
    match bits {
        Some(bits) if bits < 2048 => format!(
            "the RSA key in {} has {bits} bits, and RSA keys under 2048 bits are refused as too \
             weak: {NEW_PAIR}",
            key_path.display()
        ),
        Some(bits) if bits > 4096 => unsupported(&format!("an RSA key of {bits} bits")),
        _ => format!(
            "the key in {} does not fit the certificate in {} ({err})",
            key_path.display(),
            cert.display()
        ),
    }
}

/// The name of a key type rustls's crypto provider cannot sign with
/// (ECDSA P-521, Ed448), found by its object identifier in the key's DER
/// (the algorithm of a PKCS#8 key, or the curve of a SEC1 key).
fn unsupported_curve(key: &PrivateKeyDer<'_>) -> Option<&'static str> {
    /// secp521r1, 1.3.132.0.35, and id-Ed448, 1.3.101.113, as DER.
    const UNSUPPORTED: [(&[u8], &str); 2] = [
        (
            &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23],
            "an ECDSA P-521 key",
        ),
        (&[0x06, 0x03, 0x2b, 0x65, 0x71], "an Ed448 key"),
    ];
    let der = key.secret_der();
    // Near the start: in a SEC1 key the curve follows the private key
    // (66 bytes for P-521); no further, into the public key.
    let head = &der[..der.len().min(96)];
    UNSUPPORTED
        .iter()
        .find(|(oid, _)| head.windows(oid.len()).any(|w| w == *oid))
        .map(|&(_, name)| name)
}

/// True for a PEM key that needs a passphrase: PKCS#8 `ENCRYPTED PRIVATE
/// KEY`, or a traditional key with `Proc-Type: 4,ENCRYPTED`.
fn is_encrypted(pem: &[u8]) -> bool {
    let text = String::from_utf8_lossy(pem);
    text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || text.contains("Proc-Type: 4,ENCRYPTED")
}

/// The size of an RSA key's modulus in bits (PKCS#1, or PKCS#8 wrapping
/// it), read from its DER; `None` for other keys.
fn rsa_bits(key: &PrivateKeyDer<'_>) -> Option<usize> {
    /// `rsaEncryption`, 1.2.840.113549.1.1.1, as a DER object identifier.
    const RSA_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    let pkcs1 = match key {
        PrivateKeyDer::Pkcs1(k) => k.secret_pkcs1_der(),
        PrivateKeyDer::Pkcs8(k) => {
            // PrivateKeyInfo: SEQUENCE { version, AlgorithmIdentifier, OCTET STRING }
            let (_, info, _) = der(k.secret_pkcs8_der(), 0x30)?;
            let (_, _, rest) = der(info, 0x02)?;
            let (_, algorithm, rest) = der(rest, 0x30)?;
            let (_, oid, _) = der(algorithm, 0x06)?;
            if oid != RSA_OID {
                return None;
            }
            der(rest, 0x04)?.1
        }
        _ => return None,
    };
    // RSAPrivateKey: SEQUENCE { version INTEGER, modulus INTEGER, ... }
    let (_, fields, _) = der(pkcs1, 0x30)?;
    let (_, _, rest) = der(fields, 0x02)?;
    let (_, modulus, _) = der(rest, 0x02)?;
    let first = modulus.iter().position(|&b| b != 0)?;
    Some((modulus.len() - first) * 8 - modulus[first].leading_zeros() as usize)
}

/// One DER element of type `tag` at the start of `input`: its tag, its
/// contents and what follows it.
fn der(input: &[u8], tag: u8) -> Option<(u8, &[u8], &[u8])> {
    let (&found, rest) = input.split_first()?;
    if found != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |n, &b| (n << 8) | usize::from(b));
        (len, &rest[count..])
    };
    if rest.len() < len {
        return None;
    }
    Some((found, &rest[..len], &rest[len..]))
}

/// The names a certificate for `host` covers: the host and its
/// subdomains, plus the loopback names browsers and curl use locally.
pub(super) fn names_for(host: &str) -> Vec<String> {
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
