//! Shared helpers for the conformance suite: a server started in-process
//! on a free loopback port, the raw HTTP/1.1 client and the echo app's
//! JSON reader of `werk-test-support` (which the integration tests in
//! `tests/` use too), and runners for external clients (`curl`,
//! `python3`) that are killed if they overrun. A test whose
//! client is not installed fails under CI (`CI` set), which installs it,
//! and elsewhere says on standard error that it skips ([`needs`]).
//!
//! Each test file includes this module with `mod support;` and uses a
//! different subset of it.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::Command;
use std::thread::JoinHandle;
use std::time::Duration;

use werk::{App, Body, Environ, Options, ServerHandle, StartResponse};
#[allow(unused_imports)] // each test binary uses a part
pub use werk_test_support::{find, needs, Client, EchoEnviron, Json, Ran, Response, IO_TIMEOUT};

/// The longest an external client (curl, python3) may run.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(30);

/// Options every test server starts from: quiet, a small pool, and a
/// short shutdown grace so a failing test still ends quickly.
pub fn options() -> Options {
    Options::default()
        .log_requests(false)
        .threads(4)
        .shutdown_grace(Duration::from_secs(2))
}

// ---------------------------------------------------------------------------
// The server

/// A werk server running in this process on `127.0.0.1:<free port>`.
/// Dropping it shuts it down; [`TestServer::stop`] also checks that
/// `serve_forever` returned `Ok`.
pub struct TestServer {
    pub addr: SocketAddr,
    handle: ServerHandle,
    thread: Option<JoinHandle<Result<(), werk::Error>>>,
}

impl TestServer {
    /// Serves `app` with [`options`].
    pub fn start(app: impl App) -> TestServer {
        TestServer::start_with(app, options())
    }

    /// Serves `app` on 127.0.0.1 with the given options.
    pub fn start_with(app: impl App, options: Options) -> TestServer {
        TestServer::start_on("127.0.0.1", app, options)
    }

    /// Serves `app` on `host` (a loopback address) with the given options.
    pub fn start_on(host: &str, app: impl App, options: Options) -> TestServer {
        let server = werk::make_server(host, 0, app, options).expect("make_server");
        let addr = server.addresses()[0];
        assert_ne!(addr.port(), 0, "make_server must report the real port");
        let handle = server.handle();
        let thread = std::thread::Builder::new()
            .name(format!("werk-test-{}", addr.port()))
            .spawn(move || server.serve_forever())
            .expect("spawn the server thread");
        TestServer {
            addr,
            handle,
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A new connection to the server.
    pub fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Sends `request` on a new connection and reads one final response
    /// (interim 1xx responses are skipped).
    pub fn exchange(&self, request: &[u8]) -> Response {
        let mut client = self.connect();
        client.send(request);
        client.read_response()
    }

    /// `GET <path>` over HTTP/1.1 on a new connection.
    pub fn get(&self, path: &str) -> Response {
        self.exchange(get_request(path).as_bytes())
    }

    /// Checks that the server still answers: `GET /` on a new connection
    /// gets a complete 200 response.
    pub fn assert_serving(&self) {
        let response = self.get("/");
        assert_eq!(
            response.status,
            200,
            "the server should still serve new connections; got {}",
            response.describe()
        );
    }

    /// Shuts the server down and checks that `serve_forever` returned Ok.
    pub fn stop(mut self) {
        self.handle.shutdown();
        let thread = self.thread.take().expect("server thread");
        match thread.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("serve_forever returned an error: {e}"),
            Err(_) => panic!("serve_forever panicked"),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.handle.shutdown();
            let _ = thread.join();
        }
    }
}

/// `GET <path> HTTP/1.1` with a Host header and nothing else.
pub fn get_request(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n")
}

// ---------------------------------------------------------------------------
// Apps used by several files

/// The echo app built into werk (its routes are a documented contract).
pub fn echo(environ: &Environ, start_response: StartResponse) -> Body {
    werk::apps::echo(environ, start_response)
}

/// Werkzeug's `tests/live_apps/streaming_app.py`: a body without a
/// length, `0\n` to `4\n` one item at a time; on `/crash` the generator
/// fails after the last item (Werkzeug raises; here the iterator panics,
/// which is how a Rust app fails). Any other path streams normally.
pub fn streaming_app(environ: &Environ, start_response: StartResponse) -> Body {
    start_response
        .start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        .expect("first call");
    let crash = environ.path_info() == "/crash";
    let mut next = 0;
    Body::stream(std::iter::from_fn(move || {
        if next < 5 {
            next += 1;
            Some(format!("{}\n", next - 1))
        } else if crash {
            panic!("crash requested");
        } else {
            None
        }
    }))
}

/// An app that never reads the request body and answers `200 OK` with a
/// fixed text and a Content-Length.
pub fn ignores_body(_environ: &Environ, start_response: StartResponse) -> Body {
    start_response
        .start(
            "200 OK",
            [("Content-Type", "text/plain"), ("Content-Length", "7")],
        )
        .expect("first call");
    Body::from("ignored")
}

// ---------------------------------------------------------------------------
// External clients

/// Runs `program` with `args`, feeding `stdin`, and kills it if it runs
/// longer than [`CHILD_TIMEOUT`].
pub fn run(program: &str, args: &[&str], stdin: &[u8]) -> Ran {
    werk_test_support::run(Command::new(program).args(args), stdin, CHILD_TIMEOUT)
}

/// Runs curl with `-sS --max-time 10 --noproxy *` before `args` (so an
/// environment proxy never intercepts loopback requests).
pub fn curl(args: &[&str]) -> Ran {
    curl_with_stdin(args, b"")
}

pub fn curl_with_stdin(args: &[&str], stdin: &[u8]) -> Ran {
    let mut all = vec!["-sS", "--max-time", "10", "--noproxy", "*"];
    all.extend_from_slice(args);
    run("curl", &all, stdin)
}

/// Runs a Python script (`python3 -c`) with `args` as `sys.argv[1:]`.
pub fn python(script: &str, args: &[&str]) -> Ran {
    let mut all = vec!["-c", script];
    all.extend_from_slice(args);
    run("python3", &all, b"")
}

/// Text of a child's stdout, stderr and status, for assertion messages.
pub fn describe_output(output: &Ran) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Splits `curl -i` output into responses (interim ones included): each
/// is (status, header block, body). The body of the last response runs
/// to the end of the output.
pub fn split_curl_responses(output: &[u8]) -> Vec<(u16, String, Vec<u8>)> {
    let mut rest = output;
    let mut out = Vec::new();
    while rest.starts_with(b"HTTP/") {
        let Some(end) = find(rest, b"\r\n\r\n") else {
            break;
        };
        let head = String::from_utf8_lossy(&rest[..end]).into_owned();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        rest = &rest[end + 4..];
        let interim = (100..200).contains(&status);
        let body = if interim { Vec::new() } else { rest.to_vec() };
        out.push((status, head, body));
        if !interim {
            break;
        }
    }
    out
}
