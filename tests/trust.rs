//! The local certificate authority, with real clients: `werk serve --cert
//! local` under a temporary HOME, verified by curl against the root alone
//! (`--cacert`), the same certificate after a restart, the names a
//! wildcard host gets, and curl refusing a certificate the root signed for
//! a name outside its name constraints (RFC 5280 section 4.2.1.10).
//!
//! A test whose client is not installed fails under CI, which installs
//! it, and elsewhere says that it skips (see `support::needs`).

#![cfg(feature = "tls")]

#[path = "support/running.rs"]
mod running;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use running::Werk;
use support::{needs, run, Ran, GUARD};

const WERK: &str = env!("CARGO_BIN_EXE_werk");

/// A HOME of its own for one test, with `XDG_DATA_HOME` inside it, removed
/// at the end.
struct TempHome {
    home: PathBuf,
}

impl TempHome {
    fn new(name: &str) -> TempHome {
        let home = std::env::temp_dir().join(format!("werk-trust-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).unwrap();
        TempHome { home }
    }

    /// The authority's directory: `$XDG_DATA_HOME/werk`.
    fn ca_dir(&self) -> PathBuf {
        self.home.join(".local/share/werk")
    }

    fn root(&self) -> PathBuf {
        self.ca_dir().join("root.crt")
    }

    /// `werk ARGS` with this HOME.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(WERK);
        command
            .args(args)
            .env("HOME", &self.home)
            .env("XDG_DATA_HOME", self.home.join(".local/share"))
            .env_remove("WERK_LOCAL_TLS_SAID");
        command
    }

    /// `werk serve APP --port 0 --cert local ARGS`, running.
    fn serve(&self, args: &[&str]) -> Werk {
        let mut command = self.command(&["serve"]);
        command.args(args).args(["--port", "0", "--cert", "local"]);
        Werk::start(&mut command, "Press CTRL+C to quit")
    }
}

impl Drop for TempHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

fn curl(args: &[&str]) -> Ran {
    run(
        Command::new("curl")
            .args(["-sS", "--max-time", "10"])
            .args(args),
        b"",
        GUARD,
    )
}

/// curl for `https://NAME:PORT/` with NAME resolved to 127.0.0.1.
fn curl_name(name: &str, port: u16, extra: &[&str]) -> Ran {
    let resolve = format!("{name}:{port}:127.0.0.1");
    let url = format!("https://{name}:{port}/");
    let mut args = vec!["--resolve", &resolve];
    args.extend_from_slice(extra);
    args.push(&url);
    curl(&args)
}

/// The certificate a server presents, as PEM.
fn presented(port: u16) -> String {
    let connect = format!("127.0.0.1:{port}");
    let out = run(
        Command::new("openssl").args([
            "s_client",
            "-connect",
            &connect,
            "-servername",
            "localhost",
        ]),
        b"",
        GUARD,
    );
    let text = out.stdout_text();
    const END: &str = "-----END CERTIFICATE-----";
    let start = text
        .find("-----BEGIN CERTIFICATE-----")
        .unwrap_or_else(|| panic!("no certificate from port {port}: {}", out.stderr_text()));
    let end = text.find(END).unwrap() + END.len();
    text[start..end].to_owned()
}

/// `openssl x509 -noout -text` of a PEM certificate.
fn describe(pem: &str) -> String {
    run(
        Command::new("openssl").args(["x509", "-noout", "-text"]),
        pem.as_bytes(),
        GUARD,
    )
    .stdout_text()
}

#[test]
fn cert_local_verifies_against_the_root_and_survives_a_restart() {
    let test = "cert_local_verifies_against_the_root_and_survives_a_restart";
    if !needs("curl", test) || !needs("openssl", test) {
        return;
    }
    let home = TempHome::new("restart");
    let werk = home.serve(&["hello", "--host", "127.0.0.1"]);
    let log = werk.log();
    assert!(
        log.contains("Created a local certificate authority") && log.contains("werk trust"),
        "the first start says how to trust the new authority:\n{log}"
    );
    let port = werk.addr.port();
    let root = home.root();
    let trusted = curl_name("localhost", port, &["--cacert", root.to_str().unwrap()]);
    assert!(
        trusted.status.success(),
        "curl --cacert root.crt: {}",
        trusted.stderr_text()
    );
    assert_eq!(trusted.stdout_text(), "Hello, World!");
    let by_address = curl(&[
        "--cacert",
        root.to_str().unwrap(),
        &format!("https://127.0.0.1:{port}/"),
    ]);
    assert!(by_address.status.success(), "{}", by_address.stderr_text());
    let untrusted = curl_name("localhost", port, &[]);
    assert!(
        !untrusted.status.success(),
        "a root that werk trust has not installed is trusted by no one"
    );
    let first = presented(port);
    let text = describe(&first);
    assert!(text.contains("DNS:localhost"), "{text}");
    assert!(text.contains("IP Address:127.0.0.1"), "{text}");
    assert!(text.contains("IP Address:0:0:0:0:0:0:0:1"), "{text}");
    drop(werk);

    let again = home.serve(&["hello", "--host", "127.0.0.1"]);
    assert!(
        !again.log().contains("Created"),
        "the authority is made once:\n{}",
        again.log()
    );
    assert_eq!(
        presented(again.addr.port()),
        first,
        "the same certificate after a restart"
    );
}

#[test]
fn a_wildcard_host_gets_the_permitted_addresses_and_hears_of_the_others() {
    let test = "a_wildcard_host_gets_the_permitted_addresses_and_hears_of_the_others";
    if !needs("curl", test) || !needs("openssl", test) {
        return;
    }
    let home = TempHome::new("wildcard");
    let werk = home.serve(&["hello", "--host", "0.0.0.0"]);
    let log = werk.log();
    let others: Vec<&str> = log
        .lines()
        .filter_map(|l| l.strip_prefix(" * Running on https://"))
        .filter_map(|rest| rest.rsplit_once(':').map(|(ip, _)| ip))
        .filter(|ip| *ip != "127.0.0.1")
        .collect();
    let port = werk.addr.port();
    let text = describe(&presented(port));
    if others.is_empty() {
        assert!(!log.contains("leaves out"), "{log}");
    }
    for ip in &others {
        let note = log
            .lines()
            .find(|l| l.contains("The certificate leaves out"))
            .unwrap_or_else(|| panic!("no note about {ip}:\n{log}"));
        assert!(note.contains(ip), "{ip} missing from {note}");
        assert!(!text.contains(&format!("IP Address:{ip}")), "{text}");
    }
    assert!(text.contains("IP Address:127.0.0.1"), "{text}");
    let ok = curl(&[
        "--cacert",
        home.root().to_str().unwrap(),
        &format!("https://127.0.0.1:{port}/"),
    ]);
    assert!(ok.status.success(), "{}", ok.stderr_text());
}

/// Signs a certificate for `name` with the authority's key, with openssl,
/// as someone holding the key could: `dir/NAME.crt` and `dir/NAME.key`.
fn sign_with_root(ca_dir: &Path, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    let cert = dir.join(format!("{name}.crt"));
    let ext = dir.join(format!("{name}.ext"));
    std::fs::write(
        &ext,
        format!("subjectAltName=DNS:{name}\nextendedKeyUsage=serverAuth\n"),
    )
    .unwrap();
    let openssl = |args: &[&str]| {
        let out = run(Command::new("openssl").args(args), b"", GUARD);
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            out.stderr_text()
        );
    };
    openssl(&[
        "req",
        "-new",
        "-nodes",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-subj",
        &format!("/CN={name}"),
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        csr.to_str().unwrap(),
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        csr.to_str().unwrap(),
        "-CA",
        ca_dir.join("root.crt").to_str().unwrap(),
        "-CAkey",
        ca_dir.join("root.key").to_str().unwrap(),
        "-set_serial",
        "7",
        "-days",
        "2",
        "-extfile",
        ext.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ]);
    (cert, key)
}

#[test]
fn curl_refuses_a_certificate_the_root_signed_outside_its_names() {
    let test = "curl_refuses_a_certificate_the_root_signed_outside_its_names";
    if !needs("curl", test) || !needs("openssl", test) {
        return;
    }
    let home = TempHome::new("outside");
    drop(home.serve(&["hello", "--host", "127.0.0.1"]));
    let dir = home.home.join("signed");
    std::fs::create_dir_all(&dir).unwrap();
    let root = home.root();
    for (name, allowed) in [("localhost", true), ("example.com", false)] {
        let (cert, key) = sign_with_root(&home.ca_dir(), &dir, name);
        let server = support::TestServer::start(
            werk::apps::hello,
            support::quiet().ssl_context(werk::SslContext::Files { cert, key }),
        );
        let out = curl_name(
            name,
            server.addr.port(),
            &["--cacert", root.to_str().unwrap()],
        );
        if allowed {
            assert!(
                out.status.success(),
                "the same signing, for a permitted name: {}",
                out.stderr_text()
            );
        } else {
            assert!(!out.status.success(), "{name} must be refused");
            assert!(
                out.stderr_text().contains("permitted subtree violation"),
                "refused for the name constraint: {}",
                out.stderr_text()
            );
        }
        drop(server);
        std::thread::sleep(Duration::from_millis(10));
    }
}
