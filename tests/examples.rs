//! Every program in `examples/` runs here on a real server, and the
//! response is checked against what `docs/wsgi-model.md` and
//! `docs/serving.md` say about it. The Rust code blocks of the guides are
//! checked to be excerpts of those programs, so the two cannot drift.
//!
//! The examples that are more than an app (the reloader, HTTPS with a
//! development certificate, processes, a Unix socket) run as the programs
//! `cargo test` builds, each in a process group of its own that is killed
//! when its test ends, with `PORT=0`; every wait has a deadline.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use support::{Client, Response};
use werk::{App, Options, ServerHandle};

#[path = "support/doc_blocks.rs"]
mod doc_blocks;
#[path = "../examples/environ.rs"]
#[allow(dead_code)]
mod environ;
#[path = "../examples/error_replace.rs"]
#[allow(dead_code)]
mod error_replace;
#[path = "../examples/file_body.rs"]
#[allow(dead_code)]
mod file_body;
#[path = "../examples/hello.rs"]
#[allow(dead_code)]
mod hello;
#[path = "../examples/make_server.rs"]
#[allow(dead_code)]
mod make_server;
#[path = "../examples/middleware.rs"]
#[allow(dead_code)]
mod middleware;
#[path = "support/running.rs"]
mod running;
#[path = "../examples/streaming.rs"]
#[allow(dead_code)]
mod streaming;
mod support;
#[path = "../examples/upload.rs"]
#[allow(dead_code)]
mod upload;
#[path = "../examples/write_handle.rs"]
#[allow(dead_code)]
mod write_handle;

// ---------------------------------------------------------------------------
// A server on a free port; requests through the client of tests/support.

/// A server for one test; shut down and joined when dropped.
struct Running {
    addr: SocketAddr,
    handle: ServerHandle,
    thread: Option<JoinHandle<Result<(), werk::Error>>>,
}

fn options() -> Options {
    Options::default().threads(2).log_requests(false)
}

fn serve(app: impl App) -> Running {
    serve_with(app, options())
}

fn serve_with(app: impl App, options: Options) -> Running {
    let server = werk::make_server("127.0.0.1", 0, app, options).expect("bind 127.0.0.1:0");
    let addr = server.addresses()[0];
    let handle = server.handle();
    let thread = std::thread::spawn(move || server.serve_forever());
    Running {
        addr,
        handle,
        thread: Some(thread),
    }
}

impl Running {
    fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    /// One GET on a new connection that closes after it.
    fn get(&self, target: &str) -> Response {
        let mut client = self.connect();
        client.send(&request(target, "Connection: close\r\n"));
        client.read_response()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(thread) = self.thread.take() {
            let result = thread.join();
            if !std::thread::panicking() {
                result.expect("server thread").expect("serve_forever");
            }
        }
    }
}

fn request(target: &str, extra_headers: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n{extra_headers}\r\n").into_bytes()
}

// ---------------------------------------------------------------------------
// hello.rs

#[test]
fn hello_answers_with_a_computed_content_length() {
    let server = serve(hello::app);
    let response = server.get("/anything");
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "Hello, World! You asked for /anything\n");
    assert_eq!(response.header("content-length"), Some("38"));
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(response.header("server"), Some(werk::SERVER_SOFTWARE));
    assert!(response.header("date").is_some_and(|d| d.ends_with(" GMT")));
    assert_eq!(response.header("connection"), Some("close"));
}

#[test]
fn hello_keeps_the_connection_alive_and_strips_head_bodies() {
    let server = serve(hello::app);
    let mut client = server.connect();
    client.send(&request("/one", ""));
    let first = client.read_response();
    assert_eq!(first.text(), "Hello, World! You asked for /one\n");
    assert_eq!(first.header("connection"), None);

    // HEAD: the same head, Content-Length included, and no body. Were
    // the body sent, the next response would not parse.
    client.send(b"HEAD /two HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let head = client.read_head_response();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("33"));

    // Two pipelined requests in one write, answered in order.
    let mut both = request("/three", "");
    both.extend_from_slice(&request("/four", "Connection: close\r\n"));
    client.send(&both);
    assert_eq!(
        client.read_response().text(),
        "Hello, World! You asked for /three\n"
    );
    let last = client.read_response();
    assert_eq!(last.text(), "Hello, World! You asked for /four\n");
    assert_eq!(last.header("connection"), Some("close"));
    assert!(client.closed_by_server());
}

#[test]
fn http10_gets_keep_alive_only_when_it_asks() {
    let server = serve(hello::app);
    let mut client = server.connect();
    client.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let response = client.read_response();
    assert_eq!(response.header("connection"), Some("keep-alive"));
    client.send(b"GET / HTTP/1.0\r\n\r\n");
    let response = client.read_response();
    assert_eq!(response.header("connection"), Some("close"));
    assert!(client.closed_by_server());
}

// ---------------------------------------------------------------------------
// environ.rs

/// The `NAME: value` lines of the environ example, as a lookup.
fn environ_lines(response: &Response) -> Vec<(String, String)> {
    response
        .text()
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(": ").expect("NAME: value");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn var<'a>(lines: &'a [(String, String)], name: &str) -> Option<&'a str> {
    lines
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn environ_holds_the_cgi_variables_and_wsgi_entries() {
    let server = serve(environ::app);
    let mut client = server.connect();
    client.send(
        b"GET /caf%C3%A9/%FF?q=1&r=%20 HTTP/1.1\r\n\
          Host: localhost:5000\r\n\
          User-Agent: raw-client/1\r\n\
          X-Trace: 7\r\n\
          X_Trace: 8\r\n\
          X-Multi: a\r\n\
          X-Multi: b\r\n\
          X-Latin: caf\xe9\r\n\
          Connection: close\r\n\r\n",
    );
    let response = client.read_response();
    assert_eq!(response.status, 200);
    let lines = environ_lines(&response);
    let port = server.addr.port().to_string();
    let expect = [
        ("REQUEST_METHOD", "\"GET\""),
        ("SCRIPT_NAME", "\"\""),
        ("PATH_INFO", "\"/café/\u{FFFD}\""),
        ("QUERY_STRING", "\"q=1&r=%20\""),
        ("REQUEST_URI", "\"/caf%C3%A9/%FF?q=1&r=%20\""),
        ("RAW_URI", "\"/caf%C3%A9/%FF?q=1&r=%20\""),
        ("SERVER_NAME", "\"127.0.0.1\""),
        ("SERVER_PORT", &format!("{port:?}")),
        ("SERVER_PROTOCOL", "\"HTTP/1.1\""),
        ("SERVER_SOFTWARE", &format!("{:?}", werk::SERVER_SOFTWARE)),
        ("GATEWAY_INTERFACE", "\"CGI/1.1\""),
        ("REMOTE_ADDR", "\"127.0.0.1\""),
        ("HTTP_HOST", "\"localhost:5000\""),
        ("HTTP_USER_AGENT", "\"raw-client/1\""),
        ("HTTP_X_TRACE", "\"7\""),
        ("HTTP_X_MULTI", "\"a,b\""),
        ("HTTP_X_LATIN", "\"café\""),
        ("HTTP_CONNECTION", "\"close\""),
        ("wsgi.url_scheme", "\"http\""),
        ("wsgi.multithread", "true"),
        ("wsgi.multiprocess", "false"),
        ("wsgi.run_once", "false"),
        ("wsgi.input_terminated", "true"),
        ("method()", "\"GET\""),
        ("header(\"user-agent\")", "Some(\"raw-client/1\")"),
        (
            "url()",
            "\"http://localhost:5000/caf%C3%A9/%EF%BF%BD?q=1&r=%20\"",
        ),
    ];
    for (name, value) in expect {
        assert_eq!(var(&lines, name), Some(value), "{name}");
    }
    let remote_port: u16 = var(&lines, "REMOTE_PORT")
        .and_then(|p| p.trim_matches('"').parse().ok())
        .expect("REMOTE_PORT");
    assert_ne!(remote_port, 0);
    // No body: no CONTENT_TYPE or CONTENT_LENGTH.
    assert_eq!(var(&lines, "CONTENT_LENGTH"), None);
    assert_eq!(var(&lines, "CONTENT_TYPE"), None);
    assert_eq!(
        lines.iter().filter(|(k, _)| k == "HTTP_X_TRACE").count(),
        1,
        "X_Trace (with an underscore) is dropped"
    );
}

#[test]
fn environ_target_with_raw_non_ascii_bytes() {
    let server = serve(environ::app);
    let mut client = server.connect();
    client
        .send(b"GET /caf\xc3\xa9?x=\xe2\x9c\x93 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    let response = client.read_response();
    assert_eq!(response.status, 200);
    let lines = environ_lines(&response);
    assert_eq!(var(&lines, "PATH_INFO"), Some("\"/café\""));
    assert_eq!(
        var(&lines, "REQUEST_URI"),
        Some("\"/caf%C3%A9?x=%E2%9C%93\"")
    );
    assert_eq!(var(&lines, "QUERY_STRING"), Some("\"x=%E2%9C%93\""));

    // Raw bytes that are not UTF-8 in the target: 400.
    let mut client = server.connect();
    client.send(b"GET /caf\xe9 HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(client.read_response().status, 400);
}

#[test]
fn environ_of_requests_with_bodies_and_absolute_targets() {
    let server = serve(environ::app);
    let mut client = server.connect();
    client.send(
        b"POST /form HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc",
    );
    let lines = environ_lines(&client.read_response());
    assert_eq!(var(&lines, "CONTENT_LENGTH"), Some("\"3\""));
    assert_eq!(var(&lines, "CONTENT_TYPE"), Some("\"text/plain\""));
    assert_eq!(var(&lines, "HTTP_CONTENT_LENGTH"), None);

    client.send(
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    );
    let response = client.read_response();
    // This app never reads the input: an unread chunked body cannot be
    // skipped cheaply, so the connection closes after the response.
    assert_eq!(response.header("connection"), Some("close"));
    let lines = environ_lines(&response);
    assert_eq!(var(&lines, "CONTENT_LENGTH"), None);
    assert_eq!(var(&lines, "HTTP_TRANSFER_ENCODING"), Some("\"chunked\""));
    assert_eq!(var(&lines, "wsgi.input_terminated"), Some("true"));

    let mut client = server.connect();
    client.send(
        b"GET http://example.test:1337/x?y HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n",
    );
    let lines = environ_lines(&client.read_response());
    assert_eq!(var(&lines, "HTTP_HOST"), Some("\"example.test:1337\""));
    assert_eq!(var(&lines, "PATH_INFO"), Some("\"/x\""));
    assert_eq!(var(&lines, "QUERY_STRING"), Some("\"y\""));
    assert_eq!(
        var(&lines, "REQUEST_URI"),
        Some("\"http://example.test:1337/x?y\"")
    );
}

#[test]
fn environ_rejects_what_werk_refuses_on_purpose() {
    let server = serve(environ::app);
    for (request, status) in [
        // Content-Length and Transfer-Encoding together: request smuggling.
        (
            &b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            400,
        ),
        // Obsolete line folding.
        (b"GET / HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n b\r\n\r\n", 400),
        // No Host on HTTP/1.1.
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            501,
        ),
        (b"PUT / HTTP/1.1\r\nHost: h\r\nExpect: soon\r\nContent-Length: 1\r\n\r\nx", 417),
    ] {
        let mut client = server.connect();
        client.send(request);
        let response = client.read_next();
        assert_eq!(
            response.status,
            status,
            "{:?}",
            String::from_utf8_lossy(request)
        );
        assert_eq!(response.header("connection"), Some("close"));
        assert_eq!(
            response.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert!(client.closed_by_server());
    }
}

#[test]
fn limits_answer_with_their_statuses() {
    let server = serve_with(
        environ::app,
        options()
            .max_uri_length(100)
            .max_head_size(1024)
            .max_body_size(10),
    );
    let long_target = format!("/{}", "a".repeat(200));
    assert_eq!(server.get(&long_target).status, 414);

    let mut client = server.connect();
    let big_header = format!("X-Big: {}\r\n", "b".repeat(2000));
    client.send(&request("/", &big_header));
    assert_eq!(client.read_response().status, 431);

    let mut client = server.connect();
    client.send(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n");
    assert_eq!(client.read_response().status, 413);
}

// ---------------------------------------------------------------------------
// streaming.rs

#[test]
fn streaming_sends_one_chunk_per_item() {
    let server = serve(streaming::app);
    let response = server.get("/?n=3");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    assert_eq!(response.header("content-length"), None);
    assert!(response.complete);
    assert_eq!(
        response.chunks.unwrap(),
        [
            b"line 1 of 3\n".to_vec(),
            b"line 2 of 3\n".to_vec(),
            b"line 3 of 3\n".to_vec()
        ]
    );
}

#[test]
fn streaming_to_http10_ends_with_the_connection() {
    let server = serve(streaming::app);
    let mut client = server.connect();
    client.send(b"GET /?n=2 HTTP/1.0\r\n\r\n");
    let response = client.read_response();
    assert_eq!(response.header("transfer-encoding"), None);
    assert_eq!(response.header("content-length"), None);
    assert_eq!(response.header("connection"), Some("close"));
    assert_eq!(response.text(), "line 1 of 2\nline 2 of 2\n");
}

#[test]
fn streaming_head_has_no_body_and_keeps_the_connection() {
    let server = serve(streaming::app);
    let mut client = server.connect();
    client.send(b"HEAD /?n=3 HTTP/1.1\r\nHost: h\r\n\r\n");
    let head = client.read_head_response();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("transfer-encoding"), None);
    assert_eq!(head.header("connection"), None);
    client.send(&request("/?n=1", "Connection: close\r\n"));
    assert_eq!(client.read_response().text(), "line 1 of 1\n");
}

// ---------------------------------------------------------------------------
// upload.rs

fn checksum(data: &[u8]) -> String {
    let sum = data
        .iter()
        .fold(0u32, |s, &b| s.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("received {} bytes, checksum {sum:08x}\n", data.len())
}

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn upload_reads_a_body_with_content_length() {
    let server = serve(upload::app);
    let data = payload(200_000);
    let mut client = server.connect();
    let mut req = format!(
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n",
        data.len()
    )
    .into_bytes();
    req.extend_from_slice(&data);
    client.send(&req);
    let response = client.read_response();
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), checksum(&data));
    // The whole body was read: the connection carries another request.
    client.send(&request("/", "Connection: close\r\n"));
    assert!(client.read_response().text().contains("<form"));
}

#[test]
fn upload_reads_a_chunked_body() {
    let server = serve(upload::app);
    let data = payload(50_000);
    let mut req = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for piece in data.chunks(7000) {
        req.extend_from_slice(format!("{:x};ext=1\r\n", piece.len()).as_bytes());
        req.extend_from_slice(piece);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\nX-Trailer: dropped\r\n\r\n");
    let mut client = server.connect();
    client.send(&req);
    assert_eq!(client.read_response().text(), checksum(&data));
}

#[test]
fn upload_gets_100_continue_when_it_first_reads() {
    let server = serve(upload::app);
    let mut client = server.connect();
    client.send(b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    let interim = client.read_next();
    assert_eq!(interim.status, 100);
    client.send(b"hello");
    let response = client.read_next();
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), checksum(b"hello"));
}

#[test]
fn upload_refused_before_reading_gets_no_100_continue() {
    let server = serve(upload::app);
    let mut client = server.connect();
    client.send(
        b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2000000\r\n\r\n",
    );
    // The first response is the app's 413, not an interim 100.
    let response = client.read_next();
    assert_eq!(response.status, 413);
    assert_eq!(response.text(), "at most 1 MiB, please\n");
    assert_eq!(response.header("connection"), Some("close"));
    assert!(client.closed_by_server());
}

#[test]
fn upload_input_errors_are_answered_by_the_server() {
    let server = serve_with(upload::app, options().max_body_size(1000));
    // Chunked: the size is known only as it arrives; the server stops
    // reading at the limit and answers 413 whatever the app returns.
    let mut req = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    req.extend_from_slice(b"7d0\r\n");
    req.extend_from_slice(&payload(2000));
    req.extend_from_slice(b"\r\n0\r\n\r\n");
    let mut client = server.connect();
    client.send(&req);
    let response = client.read_response();
    assert_eq!(response.status, 413);
    assert_eq!(response.header("connection"), Some("close"));

    // A malformed chunk: 400.
    let mut client = server.connect();
    client.send(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    assert_eq!(client.read_response().status, 400);
}

// ---------------------------------------------------------------------------
// write_handle.rs

#[test]
fn write_handle_output_is_chunked_without_a_length() {
    let server = serve(write_handle::app);
    let response = server.get("/w");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    assert!(response.complete);
    assert_eq!(
        response.text(),
        "method: GET\npath: /w\nwritten with the legacy write handle\n"
    );
}

// ---------------------------------------------------------------------------
// file_body.rs

#[test]
fn file_body_sends_the_file_with_its_length() {
    let expected = std::fs::read(file_body::PATH).unwrap();
    let server = serve(file_body::app);
    let response = server.get("/");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-length"),
        Some(expected.len().to_string().as_str())
    );
    assert_eq!(response.body, expected);

    let mut client = server.connect();
    client.send(b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n");
    let head = client.read_head_response();
    assert_eq!(
        head.header("content-length"),
        Some(expected.len().to_string().as_str())
    );
    client.send(&request("/nope", "Connection: close\r\n"));
    assert_eq!(client.read_response().status, 404);
}

// ---------------------------------------------------------------------------
// error_replace.rs

#[test]
fn error_replace_swaps_the_response_before_anything_is_sent() {
    let server = serve(error_replace::app);
    let ok = server.get("/");
    assert_eq!(ok.status, 200);
    assert!(ok.text().contains("Rendered /"));

    let replaced = server.get("/broken");
    assert_eq!(replaced.status, 500);
    assert_eq!(
        replaced.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        replaced.text(),
        "Sorry, template error: no template for /broken\n"
    );
}

#[test]
fn error_replace_too_late_cuts_the_response_short() {
    let server = serve(error_replace::app);
    let mut client = server.connect();
    client.send(&request("/late", ""));
    let response = client.try_read_response().expect("the head arrives");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    assert_eq!(response.text(), "first part of the page\n");
    assert!(
        !response.complete,
        "no last chunk: the client sees a failure"
    );
    assert!(client.closed_by_server(), "the connection is not reused");
}

#[test]
fn a_panic_before_start_response_is_the_servers_500() {
    let server = serve(error_replace::app);
    let mut client = server.connect();
    client.send(&request("/panic", ""));
    let response = client.read_response();
    assert_eq!(response.status, 500);
    assert_eq!(
        response.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(response
        .text()
        .contains("The server encountered an internal error"));
    // The connection survives the application's failure.
    client.send(&request("/", "Connection: close\r\n"));
    assert_eq!(client.read_response().status, 200);
}

// ---------------------------------------------------------------------------
// middleware.rs

#[test]
fn middleware_numbers_requests_both_ways() {
    let server = serve(middleware::app);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let response = server.get("/");
        assert_eq!(response.status, 200);
        let id: u64 = response
            .header("x-request-id")
            .and_then(|v| v.parse().ok())
            .expect("X-Request-Id");
        assert_eq!(response.text(), format!("this is request {id}\n"));
        ids.push(id);
    }
    assert!(ids[1] > ids[0], "{ids:?}");
}

// ---------------------------------------------------------------------------
// make_server.rs

#[test]
fn make_server_shutdown_lets_the_response_in_progress_finish() {
    let server = make_server::start("127.0.0.1", 0, options()).expect("start");
    let addr = server.addresses[0];
    let mut client = Client::connect(addr);
    client.send(&request("/", ""));
    // Read the status line: the app is now running, mid-response.
    client.wait_for_bytes(b"\r\n").expect("the status line");
    let status_line = b"HTTP/1.1 200 OK\r\n";
    assert!(
        client.buffered().starts_with(status_line),
        "{:?}",
        String::from_utf8_lossy(client.buffered())
    );
    server.handle.shutdown();
    let all = client.read_to_end().expect("rest of the response");
    let rest = String::from_utf8(all[status_line.len()..].to_vec()).unwrap();
    assert!(rest.contains("Transfer-Encoding: chunked\r\n"), "{rest}");
    assert!(
        rest.ends_with("7\r\npart 1\n\r\n7\r\npart 2\n\r\n7\r\npart 3\n\r\n0\r\n\r\n"),
        "{rest}"
    );
    server.thread.join().unwrap().expect("serve_forever");
    assert!(TcpStream::connect(addr).is_err(), "the listener is closed");
}

// ---------------------------------------------------------------------------
// reloader.rs, https.rs, processes.rs, unix_socket.rs: programs of more
// than one process, or with files of their own, run as built.

use running::GUARD;

/// A directory of its own for one test, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("werk-examples-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the temporary directory");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An example program running with `PORT=0`, in a process group of its
/// own that is killed when the test ends, however it ends.
struct Example {
    process: Child,
    stderr: Arc<Mutex<String>>,
}

impl Example {
    /// Starts the example `name` in `dir` with `env`, and waits for its
    /// banner. `None` if it is not built (`cargo test` builds the
    /// examples; `cargo test --test examples` alone does not), which
    /// fails under CI and is a skip, said on standard error, elsewhere.
    fn start(test: &str, name: &str, dir: &Path, env: &[(&str, &OsStr)]) -> Option<Example> {
        // target/debug/examples/, beside the deps/ directory of this test.
        let exe = std::env::current_exe().expect("the test's executable");
        let program = exe
            .parent()
            .and_then(Path::parent)
            .expect("the target directory")
            .join("examples")
            .join(name);
        if !program.is_file() {
            let why = format!(
                "{} is not built (cargo build --example {name})",
                program.display()
            );
            support::skip(test, &why);
            return None;
        }
        let mut command = Command::new(program);
        command
            .current_dir(dir)
            .env("PORT", "0")
            .env("NO_COLOR", "1")
            .env_remove("WERK_RUN_MAIN")
            .env_remove("WERK_PROCESS")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID")
            .env_remove("CERT_DIR")
            .env_remove("SOCKET")
            .env_remove("WERK_LOCAL_TLS_SAID")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut process = running::spawn(&mut command);
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = process.stderr.take().expect("piped standard error");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        let example = Example { process, stderr };
        example.wait_for("Press CTRL+C to quit");
        Some(example)
    }

    /// Everything it printed to standard error so far.
    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn wait_for(&self, needle: &str) {
        let printed = support::wait_until(GUARD, || self.log().contains(needle));
        assert!(
            printed,
            "{needle:?} was not printed within {GUARD:?}:\n{}",
            self.log()
        );
    }

    /// The IPv4 address from the banner, with the port the system picked.
    fn addr(&self) -> SocketAddr {
        let log = self.log();
        let port = log
            .lines()
            .find_map(|line| line.split_once("://127.0.0.1:"))
            .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|port| port.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("no port in the banner:\n{log}"));
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// The first process: the one started here.
    fn pid(&self) -> u32 {
        self.process.id()
    }

    /// The processes it started that are serving, once there are `n`.
    fn serving_children(&self, n: usize) -> Vec<u32> {
        let mut children = Vec::new();
        let found = support::wait_until(GUARD, || {
            children = running::children_of(self.pid());
            children.len() == n && children.iter().all(|&pid| running::is_serving(pid))
        });
        assert!(
            found,
            "expected {n} serving processes under {}, found {children:?}:\n{}",
            self.pid(),
            self.log()
        );
        children
    }

    fn wait_exit(&mut self) -> ExitStatus {
        let stderr = &self.stderr;
        running::wait_for_exit(&mut self.process, || {
            let log = stderr.lock().unwrap();
            format!("still running after {GUARD:?}:\n{log}")
        })
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        running::kill("KILL", &format!("-{}", self.pid()));
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// The body of `GET /` on a new connection, whatever the status.
fn body_of_get(addr: SocketAddr) -> String {
    let mut client = Client::connect(addr);
    client.send(&request("/", "Connection: close\r\n"));
    client.read_response().text()
}

#[cfg(feature = "reload")]
#[test]
fn reloader_serves_a_changed_file_from_a_new_process() {
    let test = "reloader_serves_a_changed_file_from_a_new_process";
    let dir = TempDir::new("reloader");
    let message = dir.0.join("message.txt");
    std::fs::write(&message, "first message\n").unwrap();
    let Some(example) = Example::start(test, "reloader", &dir.0, &[]) else {
        return;
    };
    let addr = example.addr();
    assert_eq!(body_of_get(addr), "first message\n");
    // The reloader's first process keeps the port; its child serves.
    let [before] = example.serving_children(1)[..] else {
        unreachable!()
    };

    // Saved as editors save: a new file renamed over the old one.
    let draft = dir.0.join("message.txt.new");
    std::fs::write(&draft, "second message\n").unwrap();
    std::fs::rename(&draft, &message).unwrap();
    example.wait_for(" * Detected change in");
    let changed = support::wait_until(GUARD, || body_of_get(addr) == "second message\n");
    assert!(changed, "the new message is not served:\n{}", example.log());
    let [after] = example.serving_children(1)[..] else {
        unreachable!()
    };
    assert_ne!(before, after, "a new process serves the new message");
    assert!(!running::alive(before), "the old process is gone");
}

/// Runs curl with `args` (and a deadline).
#[cfg(feature = "tls")]
fn curl(args: &[&str]) -> support::Ran {
    support::run(Command::new("curl").arg("-sS").args(args), b"", GUARD)
}

#[cfg(feature = "tls")]
#[test]
fn https_is_verified_by_curl_with_the_certificate_it_prints() {
    let test = "https_is_verified_by_curl_with_the_certificate_it_prints";
    if !support::needs("curl", test) {
        return;
    }
    let dir = TempDir::new("https");
    let certs = dir.0.join("certs");
    let env = [("CERT_DIR", certs.as_os_str())];
    let Some(first) = Example::start(test, "https", &dir.0, &env) else {
        return;
    };
    let cert = certs.join("werk-example.crt");
    let cert_text = cert.to_str().unwrap();
    let hint = format!("curl --cacert {cert_text} https://localhost:");
    assert!(first.log().contains(&hint), "{hint:?} in\n{}", first.log());

    let port = first.addr().port();
    let url = format!("https://localhost:{port}/");
    let verified = curl(&["--cacert", cert_text, &url]);
    assert!(verified.status.success(), "{}", verified.stderr_text());
    assert_eq!(
        verified.stdout_text(),
        format!("Hello over https, for localhost:{port}\n")
    );
    assert!(
        !curl(&[&url]).status.success(),
        "without --cacert, curl refuses the certificate"
    );

    // A second one at once, on a port of its own, serves the certificate
    // already trusted instead of writing a new one.
    let pem = std::fs::read(&cert).unwrap();
    let Some(second) = Example::start(test, "https", &dir.0, &env) else {
        return;
    };
    let port = second.addr().port();
    assert_ne!(port, first.addr().port());
    assert_eq!(
        std::fs::read(&cert).unwrap(),
        pem,
        "the certificate is kept"
    );
    let url = format!("https://localhost:{port}/");
    let verified = curl(&["--cacert", cert_text, &url]);
    assert!(verified.status.success(), "{}", verified.stderr_text());
}

#[cfg(feature = "tls")]
#[test]
fn https_local_is_verified_by_curl_with_the_authority_s_root() {
    let test = "https_local_is_verified_by_curl_with_the_authority_s_root";
    if !support::needs("curl", test) {
        return;
    }
    let dir = TempDir::new("https-local");
    let data = dir.0.join("data");
    let env = [("XDG_DATA_HOME", data.as_os_str())];
    let Some(example) = Example::start(test, "https_local", &dir.0, &env) else {
        return;
    };
    let root = data.join("werk/root.crt");
    let port = example.addr().port();
    let url = format!("https://localhost:{port}/");
    let verified = curl(&["--cacert", root.to_str().unwrap(), &url]);
    assert!(verified.status.success(), "{}", verified.stderr_text());
    assert_eq!(
        verified.stdout_text(),
        format!("Hello over https, for localhost:{port}\n")
    );
}

#[test]
fn processes_serve_from_three_processes_under_the_first() {
    let test = "processes_serve_from_three_processes_under_the_first";
    let dir = TempDir::new("processes");
    let Some(example) = Example::start(test, "processes", &dir.0, &[]) else {
        return;
    };
    example.wait_for(" * Serving with 3 processes");
    let children = example.serving_children(3);
    let log = example.log();
    for pid in &children {
        assert!(log.contains(&pid.to_string()), "{pid} not named in\n{log}");
    }
    let body = body_of_get(example.addr());
    let pid: u32 = body
        .strip_prefix("process ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no process id in {body:?}"));
    assert!(children.contains(&pid), "{pid} is not one of {children:?}");
    assert!(body.ends_with(" answered its request 1\n"), "{body:?}");
}

#[test]
fn unix_socket_answers_and_is_removed_after_ctrl_c() {
    let test = "unix_socket_answers_and_is_removed_after_ctrl_c";
    let dir = TempDir::new("unix");
    let socket = dir.0.join("app.sock");
    let env = [("SOCKET", socket.as_os_str())];
    let Some(mut example) = Example::start(test, "unix_socket", &dir.0, &env) else {
        return;
    };
    let running_on = format!(" * Running on unix://{}", socket.display());
    assert!(example.log().contains(&running_on), "{}", example.log());

    let mut stream = UnixStream::connect(&socket).expect("connect to the socket");
    stream.set_read_timeout(Some(GUARD)).unwrap();
    stream.set_write_timeout(Some(GUARD)).unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("the response");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    let body = format!(
        "\r\n\r\nHello over {}: REMOTE_ADDR is <local>\n",
        socket.display()
    );
    assert!(response.ends_with(&body), "{response}");

    running::kill("INT", &example.pid().to_string());
    let status = example.wait_exit();
    assert!(status.success(), "{status}:\n{}", example.log());
    assert!(!socket.exists(), "the socket file is left behind");
}

// ---------------------------------------------------------------------------
// The guides' code blocks are excerpts of the examples.

#[test]
fn every_rust_block_in_the_guides_is_in_an_example() {
    doc_blocks::assert_rust_blocks_are_examples(&["wsgi-model.md", "serving.md", "https.md"], 11);
}
