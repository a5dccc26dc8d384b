//! The local certificate authority, with real clients: `werk serve --cert
//! local` under a temporary HOME, verified by curl against the root alone
//! (`--cacert`), the same certificate after a restart, the names a
//! wildcard host gets, the note when the root is not trusted here, and
//! curl and rustls refusing a certificate the root signed for a name
//! outside its name constraints (RFC 5280 section 4.2.1.10); then
//! `werk trust`: curl (the system store) and headless Chromium (the NSS
//! database) trusting it with no flag, `--status`, `--uninstall` leaving
//! the system store as it was, and a user without rights getting the
//! commands to run.
//!
//! The tests that run `werk trust` take a lock, so that one at a time
//! touches the machine's store; the one that changes the system store
//! needs root (CI runs as root), restores the store in a guard however it
//! ends, and elsewhere says that it skips. A test whose client is not
//! installed fails under CI, which installs it, and elsewhere says that it
//! skips (see `support::needs`).

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
    if Path::new(ANCHORS).is_dir() {
        assert!(
            again
                .log()
                .contains("is not in this machine's trust store: browsers and curl refuse its certificate. Run `werk trust` once."),
            "a start with an authority not trusted here says so:\n{}",
            again.log()
        );
    }
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

/// The root signs, with openssl as anyone holding its key could, for a
/// permitted name and for `example.com`; curl and rustls, trusting the
/// root alone, accept the first and refuse the second for the name
/// constraint.
#[test]
fn curl_and_rustls_refuse_a_certificate_the_root_signed_outside_its_names() {
    let test = "curl_and_rustls_refuse_a_certificate_the_root_signed_outside_its_names";
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
        let port = server.addr.port();
        let out = curl_name(name, port, &["--cacert", root.to_str().unwrap()]);
        let by_rustls = support::rustls_get(&root, name, server.addr, "/");
        if allowed {
            assert!(
                out.status.success(),
                "the same signing, for a permitted name: {}",
                out.stderr_text()
            );
            let response = by_rustls.expect("rustls accepts a permitted name");
            assert!(response.ends_with("\r\n\r\nHello, World!"), "{response}");
        } else {
            assert!(!out.status.success(), "{name} must be refused");
            assert!(
                out.stderr_text().contains("permitted subtree violation"),
                "curl refused it for the name constraint: {}",
                out.stderr_text()
            );
            let err = by_rustls.expect_err("rustls must refuse it");
            assert!(
                err.contains("NameConstraintViolation"),
                "rustls refused it for the name constraint: {err}"
            );
        }
        drop(server);
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---- werk trust: the stores -------------------------------------------

/// The tests that run `werk trust` one at a time: the system store is one
/// for the whole machine.
static SYSTEM: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn is_root() -> bool {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

const ANCHORS: &str = "/usr/local/share/ca-certificates";
const CERTS: &str = "/etc/ssl/certs";
const BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// What Debian's system store holds: the bundle, the links in
/// /etc/ssl/certs (name and target; times are left out, since
/// update-ca-certificates --fresh makes them again) and the extra roots.
#[derive(Debug, PartialEq, Eq)]
struct SystemState {
    bundle: Vec<u8>,
    links: std::collections::BTreeMap<String, String>,
    anchors: std::collections::BTreeSet<String>,
}

impl SystemState {
    fn now() -> SystemState {
        let names = |dir: &str| -> Vec<PathBuf> {
            std::fs::read_dir(dir)
                .map(|e| e.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default()
        };
        SystemState {
            bundle: std::fs::read(BUNDLE).unwrap_or_default(),
            links: names(CERTS)
                .into_iter()
                .map(|p| {
                    let target = std::fs::read_link(&p)
                        .map(|t| t.display().to_string())
                        .unwrap_or_else(|_| "(file)".into());
                    (p.display().to_string(), target)
                })
                .collect(),
            anchors: names(ANCHORS)
                .into_iter()
                .map(|p| p.display().to_string())
                .collect(),
        }
    }
}

/// Puts the system store back as it was, however the test ends: `werk
/// trust --uninstall` for this HOME, then any `werk-*.crt` left in the
/// anchors removed and the links rebuilt if anything still differs.
struct Restore {
    home: PathBuf,
    before: SystemState,
}

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = Command::new(WERK)
            .args(["trust", "--uninstall"])
            .env("HOME", &self.home)
            .env("XDG_DATA_HOME", self.home.join(".local/share"))
            .output();
        if SystemState::now() == self.before {
            return;
        }
        for extra in SystemState::now().anchors.difference(&self.before.anchors) {
            if Path::new(extra)
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("werk-"))
            {
                let _ = std::fs::remove_file(extra);
            }
        }
        let _ = Command::new("update-ca-certificates")
            .arg("--fresh")
            .output();
    }
}

/// What headless Chromium shows for `url`, with `home` as its HOME (its
/// NSS database is `home/.pki/nssdb`) and a new profile each time.
fn chromium_dom(home: &Path, url: &str, run_no: usize) -> String {
    let profile = home.join(format!("chromium-profile-{run_no}"));
    let mut chromium = Command::new(support::CHROMIUM);
    chromium.env("HOME", home);
    support::chromium_dom(&mut chromium, &profile, url).stdout_text()
}

/// True if the NSS database in `dir` holds a certificate named
/// `nickname`.
fn nss_holds(dir: &Path, nickname: &str) -> bool {
    Command::new("certutil")
        .args(["-L", "-d"])
        .arg(format!("sql:{}", dir.display()))
        .args(["-n", nickname])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn root_id(home: &TempHome) -> String {
    let conf = std::fs::read_to_string(home.ca_dir().join("root.conf")).unwrap();
    conf.lines()
        .find_map(|l| l.strip_prefix("id = "))
        .expect("an id line")
        .to_owned()
}

/// The one test that changes the machine's trust store: as root (CI runs
/// it so), `werk trust` with a temporary HOME makes curl (the system
/// store) and headless Chromium (the NSS database it creates under that
/// HOME) accept `https://localhost` from `werk serve --cert local` with no
/// flag; `--status` says so; `--uninstall` takes it all back and leaves
/// the system store as it was, byte for byte.
#[test]
fn werk_trust_makes_curl_and_chromium_trust_local_https_and_uninstall_undoes_it() {
    let test = "werk_trust_makes_curl_and_chromium_trust_local_https_and_uninstall_undoes_it";
    if !is_root() {
        return support::skip(
            test,
            "it changes the machine's trust store, which needs root (CI runs the tests as root)",
        );
    }
    if !Path::new(ANCHORS).is_dir() {
        return support::skip(test, "this is not a Debian-like system store");
    }
    if !needs("curl", test) || !needs("certutil", test) || !needs(support::CHROMIUM, test) {
        return;
    }
    let _one_at_a_time = SYSTEM.lock().unwrap_or_else(|e| e.into_inner());
    // The store as Debian's tool makes it from its anchors, so that only
    // werk's change shows: a machine whose bundle lags its anchors (a
    // root added without running the tool) would otherwise see the first
    // `update-ca-certificates`, which `werk trust` runs, change more.
    let updated = Command::new("update-ca-certificates").output();
    assert!(
        updated.as_ref().is_ok_and(|o| o.status.success()),
        "update-ca-certificates: {updated:?}"
    );
    let home = TempHome::new("system");
    let restore = Restore {
        home: home.home.clone(),
        before: SystemState::now(),
    };
    let werk = home.serve(&["hello", "--host", "127.0.0.1"]);
    let port = werk.addr.port();
    let url = format!("https://localhost:{port}/");

    let before = curl_name("localhost", port, &[]);
    assert!(!before.status.success(), "not trusted before werk trust");
    let dom = chromium_dom(&home.home, &url, 1);
    assert!(
        !dom.contains("Hello, World!"),
        "Chromium loads the page before werk trust: {dom}"
    );

    let trusted = run(&mut home.command(&["trust"]), b"", GUARD);
    let report = trusted.stdout_text();
    assert_eq!(
        trusted.status.code(),
        Some(0),
        "{report}{}",
        trusted.stderr_text()
    );
    let id = root_id(&home);
    let anchor = format!("{ANCHORS}/werk-{id}.crt");
    assert!(
        report.contains(&format!("system store ({anchor}): trusted now")),
        "{report}"
    );
    let nssdb = home.home.join(".pki/nssdb");
    assert!(
        report.contains(&format!(
            "Chromium's NSS database ({}): trusted now",
            nssdb.display()
        )),
        "{report}"
    );
    let nickname = format!("werk local CA {id}");
    assert!(nss_holds(&nssdb, &nickname));

    let ok = curl_name("localhost", port, &[]);
    assert!(
        ok.status.success(),
        "curl, with no flag, after werk trust: {}",
        ok.stderr_text()
    );
    assert_eq!(ok.stdout_text(), "Hello, World!");
    let dom = chromium_dom(&home.home, &url, 2);
    assert!(
        dom.contains("Hello, World!"),
        "Chromium shows a certificate error after werk trust: {dom}"
    );
    let trusted_start = home.serve(&["hello", "--host", "127.0.0.1"]);
    assert!(
        !trusted_start.log().contains("trust store"),
        "no note once the authority is trusted:\n{}",
        trusted_start.log()
    );
    drop(trusted_start);

    let status = run(&mut home.command(&["trust", "--status"]), b"", GUARD);
    assert_eq!(status.status.code(), Some(0), "{}", status.stdout_text());
    let lines = status.stdout_text();
    assert!(
        lines.contains(&format!("system store ({anchor}): trusted")),
        "{lines}"
    );
    assert!(lines.contains("Chromium's NSS database"), "{lines}");
    let again = run(&mut home.command(&["trust"]), b"", GUARD);
    assert_eq!(again.status.code(), Some(0));
    assert!(
        again.stdout_text().contains("already trusted"),
        "{}",
        again.stdout_text()
    );
    assert_eq!(root_id(&home), id, "a second werk trust keeps the root");

    let removed = run(&mut home.command(&["trust", "--uninstall"]), b"", GUARD);
    let report = removed.stdout_text();
    assert_eq!(
        removed.status.code(),
        Some(0),
        "{report}{}",
        removed.stderr_text()
    );
    assert!(
        report.contains(&format!("system store ({anchor}): removed")),
        "{report}"
    );
    assert!(!nss_holds(&nssdb, &nickname));
    assert!(
        !curl_name("localhost", port, &[]).status.success(),
        "curl still trusts it after --uninstall"
    );
    assert!(
        !chromium_dom(&home.home, &url, 3).contains("Hello, World!"),
        "Chromium still trusts it after --uninstall"
    );
    let status = run(&mut home.command(&["trust", "--status"]), b"", GUARD);
    assert_eq!(status.status.code(), Some(3), "{}", status.stdout_text());
    assert!(status.stdout_text().contains("not trusted"));
    assert_eq!(
        SystemState::now(),
        restore.before,
        "--uninstall leaves the system store as it was"
    );
    drop(werk);
}

/// Without the rights to write the system store, `werk trust` does what
/// it can (the NSS database under HOME), prints the exact commands for
/// the rest, and exits with 3; the system store is untouched. As root the
/// test runs werk as `nobody` (setpriv); as another user, as that user.
#[test]
fn without_rights_werk_trust_prints_the_commands_and_exits_3() {
    let test = "without_rights_werk_trust_prints_the_commands_and_exits_3";
    if !Path::new(ANCHORS).is_dir() {
        return support::skip(test, "this is not a Debian-like system store");
    }
    let writable = {
        let path = std::ffi::CString::new(ANCHORS).unwrap();
        // SAFETY: a valid NUL-terminated path; access only reads it.
        unsafe { libc::access(path.as_ptr(), libc::W_OK) == 0 }
    };
    if !is_root() && writable {
        return support::skip(test, "this user can write the system store");
    }
    if is_root() && !needs("setpriv", test) {
        return;
    }
    let _one_at_a_time = SYSTEM.lock().unwrap_or_else(|e| e.into_inner());
    let home = TempHome::new("no-rights");
    let before = SystemState::now();
    let as_user = |args: &[&str]| -> Ran {
        let command = home.command(args);
        if !is_root() {
            return run(&mut { command }, b"", GUARD);
        }
        let mut wrapped = Command::new("setpriv");
        wrapped
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(command.get_program())
            .args(command.get_args());
        for (key, value) in command.get_envs() {
            match value {
                Some(value) => wrapped.env(key, value),
                None => wrapped.env_remove(key),
            };
        }
        run(&mut wrapped, b"", GUARD)
    };
    if is_root() {
        std::os::unix::fs::chown(&home.home, Some(65534), Some(65534)).unwrap();
    }
    let ran = as_user(&["trust"]);
    let report = ran.stdout_text();
    assert_eq!(ran.status.code(), Some(3), "{report}{}", ran.stderr_text());
    let id = root_id(&home);
    let root = home.root();
    for command in [
        format!(
            "    sudo install -m 644 {} {ANCHORS}/werk-{id}.crt",
            root.display()
        ),
        "    sudo update-ca-certificates".to_owned(),
    ] {
        assert!(
            report.contains(&command),
            "{command:?} missing from\n{report}"
        );
    }
    assert!(report.contains("needs root"), "{report}");
    assert_eq!(SystemState::now(), before, "the system store is untouched");
    if support::have("certutil") && Path::new(support::CHROMIUM).exists() {
        assert!(report.contains("Chromium's NSS database"), "{report}");
        assert!(report.contains("trusted now"), "{report}");
    }
    let removed = as_user(&["trust", "--uninstall"]);
    assert_eq!(removed.status.code(), Some(0), "{}", removed.stdout_text());
    assert!(
        removed.stdout_text().contains("not there"),
        "{}",
        removed.stdout_text()
    );
    assert_eq!(SystemState::now(), before);
}
