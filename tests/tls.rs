//! HTTPS with real clients: curl (`-k` and `--cacert` with a development
//! certificate), `openssl s_client` (chain, names, ALPN), Python's `ssl`
//! and `http.client` (keep-alive, chunked bodies both ways); a plain HTTP
//! request on the HTTPS port, and a TLS handshake on a plain HTTP port; a
//! stalled handshake while others are served; certificate errors that name
//! the file; the adhoc certificate staying the same across a reloader
//! restart; and a closing response ending with close_notify (rustls).
//!
//! A test whose client is not installed fails under CI, which installs
//! it, and elsewhere says that it skips (see `support::needs`).

#![cfg(feature = "tls")]

#[path = "support/running.rs"]
mod running;
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::needs;
use werk::{make_server, Options, ServerHandle, SslContext};

/// An in-process HTTPS server running the echo app, stopped on drop.
struct Running {
    handle: ServerHandle,
    addr: SocketAddr,
    thread: Option<std::thread::JoinHandle<Result<(), werk::Error>>>,
}

impl Running {
    fn start(context: SslContext, options: Options) -> Running {
        let options = options.log_requests(false).ssl_context(context);
        let server = make_server("127.0.0.1", 0, werk::apps::echo, options).expect("serves");
        let handle = server.handle();
        let addr = server.addresses()[0];
        let thread = std::thread::spawn(move || server.serve_forever());
        Running {
            handle,
            addr,
            thread: Some(thread),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn temp_base(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("werk-tls-test-{}-{name}", std::process::id()))
}

fn devcert(name: &str) -> (PathBuf, PathBuf) {
    werk::make_ssl_devcert(temp_base(name), Some("localhost")).expect("devcert written")
}

/// Runs a command under `timeout` so a hung client cannot hang the test.
fn run(program: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new("timeout")
        .arg("20")
        .arg(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("timeout runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn curl_verifies_a_devcert_for_localhost_and_accepts_adhoc_with_k() {
    if !needs(
        "curl",
        "curl_verifies_a_devcert_for_localhost_and_accepts_adhoc_with_k",
    ) {
        return;
    }
    let (cert, key) = devcert("curl");
    let server = Running::start(
        SslContext::Files {
            cert: cert.clone(),
            key,
        },
        Options::default(),
    );
    let url = format!("https://localhost:{}/verified", server.addr.port());
    let resolve = format!("localhost:{}:127.0.0.1", server.addr.port());
    let out = run(
        "curl",
        &[
            "-sS",
            "--cacert",
            cert.to_str().unwrap(),
            "--resolve",
            &resolve,
            &url,
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "curl --cacert failed: {}",
        text(&out.stderr)
    );
    let body = text(&out.stdout);
    assert!(body.contains("\"wsgi.url_scheme\": \"https\""), "{body}");
    assert!(body.contains("\"PATH_INFO\": \"/verified\""), "{body}");

    let adhoc = Running::start(SslContext::Adhoc, Options::default());
    let url = format!("https://127.0.0.1:{}/adhoc", adhoc.addr.port());
    let strict = run("curl", &["-sS", &url], b"");
    assert!(
        !strict.status.success(),
        "an adhoc certificate is not trusted by default"
    );
    let out = run("curl", &["-sSk", &url], b"");
    assert!(
        out.status.success(),
        "curl -k failed: {}",
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("\"PATH_INFO\": \"/adhoc\""));
}

#[test]
fn openssl_sees_the_names_and_http11_alpn() {
    if !needs("openssl", "openssl_sees_the_names_and_http11_alpn") {
        return;
    }
    let server = Running::start(SslContext::Adhoc, Options::default());
    let connect = server.addr.to_string();
    let out = run(
        "openssl",
        &[
            "s_client",
            "-connect",
            &connect,
            "-servername",
            "localhost",
            "-alpn",
            "h2,http/1.1",
            "-showcerts",
        ],
        b"",
    );
    let report = text(&out.stdout);
    assert!(report.contains("ALPN protocol: http/1.1"), "{report}");
    let pem = first_certificate(&report).expect("a certificate");
    let decoded = run("openssl", &["x509", "-noout", "-text"], pem.as_bytes());
    let cert = text(&decoded.stdout);
    for name in [
        "DNS:localhost",
        "DNS:*.localhost",
        "IP Address:127.0.0.1",
        "IP Address:0:0:0:0:0:0:0:1",
    ] {
        assert!(cert.contains(name), "{name} missing from\n{cert}");
    }
}

#[test]
fn python_keep_alive_and_chunked_bodies_over_tls() {
    if !needs("python3", "python_keep_alive_and_chunked_bodies_over_tls") {
        return;
    }
    let (cert, key) = devcert("python");
    let server = Running::start(
        SslContext::Files {
            cert: cert.clone(),
            key,
        },
        Options::default(),
    );
    let script = r#"
import http.client, ssl, sys, json
ctx = ssl.create_default_context(cafile=sys.argv[1])
c = http.client.HTTPSConnection("localhost", int(sys.argv[2]), context=ctx)
ports = []
for path in ("/one", "/two"):
    c.request("GET", path)
    r = c.getresponse()
    body = json.loads(r.read())
    ports.append(body["REMOTE_PORT"])
    assert body["wsgi.url_scheme"] == "https", body
assert ports[0] == ports[1], ports  # the same kept-alive connection
c.request("GET", "/stream/3")
r = c.getresponse()
assert r.getheader("Transfer-Encoding") == "chunked"
assert r.read() == b'{"chunk": 0}\n{"chunk": 1}\n{"chunk": 2}\n'
version = c.sock.version()
def pieces():
    for i in range(50):
        yield b"x" * 1000
c.request("POST", "/echo", body=pieces(), headers={"Content-Type": "text/plain"}, encode_chunked=True)
r = c.getresponse()
assert r.read() == b"x" * 50000
print("ok", version)
"#;
    let port = server.addr.port().to_string();
    let resolve_localhost = run(
        "python3",
        &["-c", script, cert.to_str().unwrap(), &port],
        b"",
    );
    let out = text(&resolve_localhost.stdout);
    assert!(
        resolve_localhost.status.success(),
        "{out}{}",
        text(&resolve_localhost.stderr)
    );
    assert!(out.starts_with("ok TLSv1.3"), "{out}");
}

#[test]
fn plain_http_on_the_tls_port_gets_a_readable_400() {
    let server = Running::start(SslContext::Adhoc, Options::default());
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /page?x=1 HTTP/1.1\r\nHost: localhost:5000\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{response}"
    );
    assert!(
        response.contains("https://localhost:5000/page?x=1"),
        "{response}"
    );
}

/// The other direction: a client speaking TLS to a plain HTTP port (a
/// browser given https://) gets one log line that says so and what to do,
/// not a 400 for a request line of binary bytes; the port keeps serving.
#[test]
fn a_tls_handshake_on_a_plain_port_is_named_in_the_log() {
    if !needs(
        "curl",
        "a_tls_handshake_on_a_plain_port_is_named_in_the_log",
    ) {
        return;
    }
    let mut command = Command::new(env!("CARGO_BIN_EXE_werk"));
    command.args(["serve", "hello", "--host", "127.0.0.1", "--port", "0"]);
    let werk = running::Werk::start(&mut command, "Press CTRL+C to quit");
    let url = format!("https://127.0.0.1:{}/", werk.addr.port());
    let out = run("curl", &["-sS", "--max-time", "10", &url], b"");
    assert!(!out.status.success());
    let line = "a TLS handshake came to a plain HTTP port: use http://, or serve with --cert local";
    werk.wait_for(line, 1);

    // A bare ClientHello record header: nothing comes back, the
    // connection closes.
    let mut raw = TcpStream::connect(werk.addr).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    raw.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc])
        .unwrap();
    let mut answer = Vec::new();
    let _ = raw.read_to_end(&mut answer);
    assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));
    werk.wait_for(line, 2);

    let plain = running::get(werk.addr).unwrap();
    assert!(plain.starts_with("HTTP/1.1 200 OK"), "{plain}");
    let log = werk.log();
    assert!(
        !log.contains("\\x16"),
        "no request line of TLS bytes:\n{log}"
    );
    assert!(!log.contains(" 400 "), "no 400 for it:\n{log}");
}

#[test]
fn a_stalled_handshake_holds_no_worker() {
    if !needs("curl", "a_stalled_handshake_holds_no_worker") {
        return;
    }
    let options = Options::default()
        .threads(1)
        .max_threads(1)
        .head_timeout(Duration::from_secs(2));
    let server = Running::start(SslContext::Adhoc, options);
    // Half a ClientHello record header, then nothing.
    let mut stalled = TcpStream::connect(server.addr).unwrap();
    stalled.write_all(&[0x16, 0x03, 0x01, 0x02]).unwrap();
    let url = format!("https://127.0.0.1:{}/", server.addr.port());
    let started = Instant::now();
    for _ in 0..5 {
        let out = run("curl", &["-sSk", "--max-time", "10", &url], b"");
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    eprintln!(
        "5 requests beside a stalled handshake, one worker: {:?}",
        started.elapsed()
    );
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut rest = Vec::new();
    let closed_at = Instant::now();
    let _ = stalled.read_to_end(&mut rest);
    assert!(
        closed_at.elapsed() < Duration::from_secs(9),
        "the stalled handshake is closed after the head timeout"
    );
}

#[test]
fn certificate_errors_name_the_file() {
    let missing = temp_base("missing.crt");
    let err = make_server(
        "127.0.0.1",
        0,
        werk::apps::hello,
        Options::default().ssl_context(SslContext::Files {
            cert: missing.clone(),
            key: missing.clone(),
        }),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains(missing.to_str().unwrap()), "{err}");

    let (cert_a, _key_a) = devcert("pair-a");
    let (_cert_b, key_b) = devcert("pair-b");
    let err = make_server(
        "127.0.0.1",
        0,
        werk::apps::hello,
        Options::default().ssl_context(SslContext::Files {
            cert: cert_a.clone(),
            key: key_b.clone(),
        }),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("does not fit"), "{err}");
    assert!(err.contains(key_b.to_str().unwrap()), "{err}");

    let no_cert = temp_base("empty.pem");
    std::fs::write(&no_cert, "not a certificate\n").unwrap();
    let err = make_server(
        "127.0.0.1",
        0,
        werk::apps::hello,
        Options::default().ssl_context(SslContext::Files {
            cert: no_cert.clone(),
            key: key_b,
        }),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("holds no certificate"), "{err}");
}

/// The reloader's supervisor and child, killed with their process group.
struct Supervised(Child);

impl Drop for Supervised {
    fn drop(&mut self) {
        // SAFETY: a plain kill(2) of the process group this test created
        // for the supervisor (process_group(0) made its id the group id).
        unsafe { libc::kill(-(self.0.id() as libc::pid_t), libc::SIGKILL) };
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The certificate the server presents, as PEM.
fn presented_certificate(addr: &str) -> Option<String> {
    let out = run(
        "openssl",
        &["s_client", "-connect", addr, "-showcerts"],
        b"",
    );
    first_certificate(&text(&out.stdout))
}

/// The first PEM certificate in an `openssl s_client -showcerts` report.
fn first_certificate(report: &str) -> Option<String> {
    const END: &str = "-----END CERTIFICATE-----";
    let start = report.find("-----BEGIN CERTIFICATE-----")?;
    let end = report.find(END)? + END.len();
    Some(report[start..end].to_owned())
}

fn wait_for_line(lines: &mut impl Iterator<Item = String>, needle: &str) -> String {
    for line in lines {
        if line.contains(needle) {
            return line;
        }
    }
    panic!("the server never printed {needle:?}");
}

#[test]
fn adhoc_certificate_survives_a_reloader_restart() {
    if !needs("openssl", "adhoc_certificate_survives_a_reloader_restart") {
        return;
    }
    let watched = temp_base("watched.toml");
    std::fs::write(&watched, "a = 1\n").unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_werk"));
    command
        .args([
            "serve",
            "echo",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--cert",
            "adhoc",
            "--reload",
        ])
        .args([
            "--reloader-type",
            "stat",
            "--reloader-interval",
            "0.1",
            "--extra-files",
        ])
        .arg(&watched)
        .env_remove("WERK_ADHOC_TLS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = Supervised(command.spawn().expect("werk runs"));
    let stderr = child.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = rx.into_iter();
    let banner = wait_for_line(&mut lines, "Running on https://");
    let addr = banner
        .split("https://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let before = wait_until_cert(&addr);
    let _restarting = wait_for_line(&mut lines, "Restarting with");
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&watched, "a = 2\n").unwrap();
    wait_for_line(&mut lines, "Detected change");
    wait_for_line(&mut lines, "Restarted in");
    let after = wait_until_cert(&addr);
    assert_eq!(before, after, "the browser's exception survives the reload");
    let _ = std::fs::remove_file(&watched);
    let _ = Path::new(&watched);
}

fn wait_until_cert(addr: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(pem) = presented_certificate(addr) {
            return pem;
        }
        assert!(Instant::now() < deadline, "no certificate from {addr}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

use std::os::unix::process::CommandExt;

/// Runs openssl with `args` in `dir`, panicking with its output on failure.
fn openssl_in(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        text(&out.stderr)
    );
}

/// Serves `cert`/`key` and checks that curl, trusting `ca`, verifies
/// `https://localhost`.
fn curl_verifies(cert: PathBuf, key: PathBuf, ca: &Path) {
    let server = Running::start(SslContext::Files { cert, key }, Options::default());
    let port = server.addr.port();
    let resolve = format!("localhost:{port}:127.0.0.1");
    let url = format!("https://localhost:{port}/");
    let out = run(
        "curl",
        &[
            "-sS",
            "--cacert",
            ca.to_str().unwrap(),
            "--resolve",
            &resolve,
            &url,
        ],
        b"",
    );
    assert!(out.status.success(), "curl: {}", text(&out.stderr));
    assert!(text(&out.stdout).contains("\"wsgi.url_scheme\": \"https\""));
}

#[test]
fn rsa_ec_and_ed25519_keys_and_a_chain_all_serve() {
    let test = "rsa_ec_and_ed25519_keys_and_a_chain_all_serve";
    if !needs("openssl", test) || !needs("curl", test) {
        return;
    }
    let dir = temp_base("keys");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let san = "subjectAltName=DNS:localhost,IP:127.0.0.1";
    let self_signed = |key_args: &[&str], name: &str| {
        let key = format!("{name}.key");
        let cert = format!("{name}.crt");
        let mut args = vec![
            "req",
            "-x509",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
        ];
        args.extend_from_slice(&["-addext", san, "-keyout", &key, "-out", &cert]);
        args.extend_from_slice(key_args);
        openssl_in(&dir, &args);
        (dir.join(cert), dir.join(key))
    };
    // RSA, as PKCS#8 and as PKCS#1 ("BEGIN RSA PRIVATE KEY").
    let (rsa_cert, rsa_key) = self_signed(&["-newkey", "rsa:2048"], "rsa");
    curl_verifies(rsa_cert.clone(), rsa_key, &rsa_cert);
    openssl_in(
        &dir,
        &["rsa", "-in", "rsa.key", "-traditional", "-out", "rsa1.key"],
    );
    curl_verifies(rsa_cert.clone(), dir.join("rsa1.key"), &rsa_cert);
    // Ed25519.
    let (ed_cert, ed_key) = self_signed(&["-newkey", "ed25519"], "ed");
    curl_verifies(ed_cert.clone(), ed_key, &ed_cert);
    // ECDSA P-256 as a SEC1 key ("BEGIN EC PRIVATE KEY").
    openssl_in(
        &dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "ec.key",
        ],
    );
    let (ec_cert, ec_key) = self_signed(&["-key", "ec.key"], "ec");
    curl_verifies(ec_cert.clone(), ec_key, &ec_cert);
    // A leaf signed by a CA, with the chain in the certificate file: the
    // client trusts only the CA.
    openssl_in(
        &dir,
        &[
            "req",
            "-x509",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=werk test CA",
            "-newkey",
            "rsa:2048",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ],
    );
    openssl_in(
        &dir,
        &[
            "req",
            "-new",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-newkey",
            "rsa:2048",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
        ],
    );
    std::fs::write(dir.join("san.ext"), format!("{san}\n")).unwrap();
    openssl_in(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "leaf.crt",
        ],
    );
    let chain = [
        std::fs::read(dir.join("leaf.crt")).unwrap(),
        std::fs::read(dir.join("ca.crt")).unwrap(),
    ]
    .concat();
    std::fs::write(dir.join("chain.crt"), chain).unwrap();
    curl_verifies(
        dir.join("chain.crt"),
        dir.join("leaf.key"),
        &dir.join("ca.crt"),
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_body_over_tls_arrives_whole_and_in_ranges() {
    if !needs("curl", "a_file_body_over_tls_arrives_whole_and_in_ranges") {
        return;
    }
    // Over TLS a file cannot go socket-ward inside the kernel; it is read
    // and encrypted in pieces. Several pieces, and an odd tail.
    let dir = temp_base("tls-file");
    std::fs::create_dir_all(&dir).unwrap();
    let data: Vec<u8> = (0..3 * 1024 * 1024 + 12_345u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(dir.join("blob.bin"), &data).unwrap();
    let server = Running::start(
        SslContext::Adhoc,
        Options::default().static_files("/files", &dir),
    );
    let url = format!("https://127.0.0.1:{}/files/blob.bin", server.addr.port());
    let whole = run("curl", &["-sSk", &url], b"");
    assert!(whole.status.success(), "curl: {}", text(&whole.stderr));
    assert!(whole.stdout == data, "the file over TLS differs");
    let part = run("curl", &["-sSk", "-r", "1000000-2999999", &url], b"");
    assert!(part.status.success(), "curl -r: {}", text(&part.stderr));
    assert!(
        part.stdout == data[1_000_000..3_000_000],
        "the range differs"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A response that closes the connection (`Connection: close`) ends the
/// TLS session with close_notify before the TCP end: rustls, which treats
/// an end without it as a cut-short response, reads the whole answer.
#[test]
fn a_closing_response_ends_the_session_with_close_notify() {
    let (cert, key) = devcert("close-notify");
    let server = Running::start(
        SslContext::Files {
            cert: cert.clone(),
            key,
        },
        Options::default(),
    );
    let response = support::rustls_get(&cert, "localhost", server.addr, "/closing")
        .expect("the whole response, then close_notify");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(
        response.contains("\"PATH_INFO\": \"/closing\""),
        "{response}"
    );
}

/// A response framed by the close (HTTP/1.0, no length) that is cut short
/// by a panic ends without close_notify, so that a TLS client sees the
/// truncation instead of a body that looks whole.
#[test]
fn a_cut_short_response_ends_without_close_notify() {
    let (cert, key) = devcert("cut-short");
    let server = Running::start(
        SslContext::Files {
            cert: cert.clone(),
            key,
        },
        Options::default(),
    );
    let read = support::rustls_get(
        &cert,
        "localhost",
        server.addr,
        "/stream/5?panic_at=2 HTTP/1.0",
    );
    let err = read.expect_err("a cut-short response must not end like a whole one");
    assert!(err.contains("close_notify"), "{err}");
    assert!(
        err.contains("chunk"),
        "the lines before the panic arrive: {err}"
    );
}
