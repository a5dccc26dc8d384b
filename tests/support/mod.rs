//! Helpers shared by the integration tests: an in-process server on a free
//! loopback port, the raw HTTP/1.1 client of `werk-test-support` (shared
//! with vendor-tests), and a way to run external programs (the `werk`
//! binary, `curl`, `python3`) with a deadline.
//!
//! A test that needs a program which is not installed, or a server which
//! does not start here, goes through [`needs`] or [`skip`]: under CI (`CI`
//! set; `.ci/run` installs every such program) it fails, elsewhere it says
//! on standard error that it skips and why.
//!
//! Every test file includes this module and uses part of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[allow(unused_imports)] // each test binary uses a part
pub use werk_test_support::{
    contains, find, have, needs, run, skip, under_ci, Client, Json, Ran, Response, IO_TIMEOUT,
};

/// A generous upper bound for a whole scenario: only a guard against hangs.
pub const GUARD: Duration = Duration::from_secs(20);

/// Werkzeug's wording of the 500 page, which werk reuses.
pub const INTERNAL_ERROR_TEXT: &str = "The server encountered an internal error";

/// Options for tests: no request log (it would flood the test output) and a
/// short shutdown grace so a test that fails mid-request still ends soon.
pub fn quiet() -> werk::Options {
    werk::Options::default()
        .log_requests(false)
        .shutdown_grace(Duration::from_secs(2))
}

type ServeResult = std::thread::Result<Result<(), werk::Error>>;

/// An in-process server on `127.0.0.1:<free port>`, shut down on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    handle: werk::ServerHandle,
    thread: Option<JoinHandle<Result<(), werk::Error>>>,
}

impl TestServer {
    /// Binds `app` on a free loopback port and serves it on a thread.
    pub fn start(app: impl werk::App, options: werk::Options) -> TestServer {
        let server = werk::make_server("127.0.0.1", 0, app, options).expect("make_server");
        let addr = server.addresses()[0];
        assert_ne!(addr.port(), 0, "port 0 must be replaced by the real port");
        let handle = server.handle();
        let thread = std::thread::spawn(move || server.serve_forever());
        TestServer {
            addr,
            handle,
            thread: Some(thread),
        }
    }

    /// A new client connection to the server.
    pub fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Waits (up to `limit`) for `serve_forever` to return or panic without
    /// asking it to stop; `None` if it is still running at the deadline.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<ServeResult> {
        let deadline = Instant::now() + limit;
        let thread = self.thread.as_ref()?;
        while !thread.is_finished() {
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Some(self.thread.take()?.join())
    }

    /// Shuts the server down and returns what `serve_forever` returned.
    pub fn stop(mut self) -> ServeResult {
        self.handle.shutdown();
        self.wait_for_exit(Duration::from_secs(30))
            .expect("serve_forever did not return within 30 s of shutdown()")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.handle.shutdown();
        // Bounded: the server's own grace period ends it; a panicking test
        // must not be turned into a hang here.
        let _ = self.wait_for_exit(Duration::from_secs(30));
    }
}

/// Deterministic, incompressible test data.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Asserts two byte strings are equal without printing megabytes.
pub fn assert_same_bytes(got: &[u8], want: &[u8], what: &str) {
    if got == want {
        return;
    }
    let first_diff = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    panic!(
        "{what}: got {} bytes, want {}; first difference at byte {first_diff}",
        got.len(),
        want.len()
    );
}

/// Polls `cond` until it is true or `limit` passes; true if it became true.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Joins threads, each within the shared deadline `limit`; panics (naming
/// the thread) if one is still running then, and re-raises a thread's
/// panic.
pub fn join_all<T>(threads: Vec<JoinHandle<T>>, limit: Duration, what: &str) -> Vec<T> {
    let deadline = Instant::now() + limit;
    let mut out = Vec::with_capacity(threads.len());
    for (i, thread) in threads.into_iter().enumerate() {
        while !thread.is_finished() {
            assert!(
                Instant::now() < deadline,
                "{what}: thread {i} still running after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        match thread.join() {
            Ok(v) => out.push(v),
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }
    out
}

/// Runs a Python script with `python3 -c`, the server's port as its
/// argument; `None` if python3 is not installed, which fails under CI (see
/// [`needs`]). A test checks [`needs`] first, with its own name.
pub fn python(script: &str, port: u16) -> Option<Ran> {
    python_for("a test over python3", script, port)
}

/// [`python`] for the test named `test` (named in the skip message),
/// asserting that the script succeeded; its standard output.
pub fn python_ok(test: &str, script: &str, port: u16) -> Option<String> {
    let ran = python_for(test, script, port)?;
    assert!(
        ran.status.success(),
        "python failed ({:?})\nstdout: {}\nstderr: {}",
        ran.status,
        ran.stdout_text(),
        ran.stderr_text()
    );
    Some(ran.stdout_text())
}

/// Runs `curl --http1.1` with `args` and `stdin` and asserts it
/// succeeded; the caller has checked that curl is installed ([`needs`]).
pub fn curl_ok(args: &[&str], stdin: &[u8]) -> Ran {
    let ran = run(
        Command::new("curl")
            .args(["--http1.1", "--silent", "--show-error", "--max-time", "20"])
            .args(args),
        stdin,
        GUARD,
    );
    assert!(
        ran.status.success(),
        "curl {args:?} failed ({:?}): {}",
        ran.status,
        ran.stderr_text()
    );
    ran
}

fn python_for(test: &str, script: &str, port: u16) -> Option<Ran> {
    if !needs("python3", test) {
        return None;
    }
    Some(run(
        Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(port.to_string()),
        b"",
        GUARD,
    ))
}

/// `GET path` over HTTPS with rustls, trusting only the root certificate
/// in the PEM file `root`, for the server name `name` at `addr`, with
/// `Connection: close` and read to the end: the whole response, or rustls'
/// error (an end without close_notify is one).
#[cfg(feature = "tls")]
pub fn rustls_get(
    root: &std::path::Path,
    name: &str,
    addr: SocketAddr,
    path: &str,
) -> Result<String, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(root).unwrap())
        .unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let server_name = ServerName::try_from(name.to_owned()).unwrap();
    let mut conn = rustls::ClientConnection::new(config.into(), server_name).unwrap();
    let mut sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    sock.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    let request = if path.ends_with(" HTTP/1.0") {
        // A request line's version given with the path: the response is
        // then framed by the close, as HTTP/1.0 allows.
        format!("GET {path}\r\nHost: {name}\r\n\r\n")
    } else {
        format!("GET {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n")
    };
    tls.write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    tls.read_to_end(&mut response)
        .map_err(|e| format!("{e} (after {:?})", String::from_utf8_lossy(&response)))?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

/// Headless Chromium as the tests run it: Debian's package.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The flags the tests give headless Chromium: no sandbox (CI runs as
/// root), no GPU, no QUIC, nothing fetched in the background. The profile
/// directory (`--user-data-dir`) is each test's own.
pub const CHROMIUM_FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// The DOM headless Chromium shows for `url` (`--dump-dom`), with its
/// profile in `profile`; `command` is [`CHROMIUM`] with what the test sets
/// (its environment). At most 60 s.
pub fn chromium_dom(command: &mut Command, profile: &std::path::Path, url: &str) -> Ran {
    command
        .args(CHROMIUM_FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--dump-dom", url]);
    run(command, b"", Duration::from_secs(60))
}
