//! What the server does when the application fails or breaks the
//! `start_response` rules: a 500 page while nothing was sent, a response
//! cut short once it was, close callbacks run exactly once, and
//! `passthrough_errors` re-raising the panic out of `serve_forever`.

use crate::support;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{contains, Client, Response, TestServer, GUARD, INTERNAL_ERROR_TEXT};
use werk::{Body, Environ, StartResponse};

fn echo_server() -> TestServer {
    TestServer::start(werk::apps::echo, support::quiet())
}

fn assert_internal_error(r: &Response, what: &str) {
    assert_eq!(r.status, 500, "{what}: {} {}", r.status, r.text());
    assert!(
        r.text().contains(INTERNAL_ERROR_TEXT),
        "{what}: the 500 page should carry Werkzeug's text: {}",
        r.text()
    );
    assert!(
        !r.text().contains("app body"),
        "{what}: the app's body leaked into the 500 page: {}",
        r.text()
    );
    assert!(
        r.header("x-app").is_none(),
        "{what}: the app's headers leaked into the 500 page: {:?}",
        r.headers
    );
}

/// The expected lines of echo's `/stream/<n>`.
fn stream_lines(range: std::ops::Range<u32>) -> String {
    range.map(|i| format!("{{\"chunk\": {i}}}\n")).collect()
}

#[test]
fn panicking_app_gets_a_500_page_and_the_server_keeps_serving() {
    let server = echo_server();
    let mut c = server.connect();
    let r = c.get("/panic");
    assert_internal_error(&r, "/panic");
    assert_eq!(
        r.header("content-type"),
        Some("text/html; charset=utf-8"),
        "{:?}",
        r.headers
    );

    // The same connection, if the server kept it, and a fresh one, are
    // both served.
    if !r.says_close() {
        let again = c.get("/after-panic");
        assert_eq!(again.status, 200);
        assert!(again.text().contains("\"PATH_INFO\": \"/after-panic\""));
    }
    for i in 0..3 {
        let r = server.connect().get("/panic");
        assert_internal_error(&r, "/panic again");
        let r = server.connect().get(&format!("/fine/{i}"));
        assert_eq!(r.status, 200);
    }
}

#[test]
fn panic_mid_stream_cuts_the_chunked_response_short() {
    let server = echo_server();

    // Parsed: the head went out as 200 chunked, three chunks follow, then
    // the connection closes without the terminating chunk.
    let mut c = server.connect();
    c.send_request("GET", "/stream/10?panic_at=3", &[], b"");
    let r = c
        .try_read_response()
        .expect("the head and the first chunks arrive");
    assert_eq!(r.status, 200);
    assert!(r.chunked());
    assert!(
        !r.complete,
        "the response must not end properly after a panic mid-body"
    );
    assert_eq!(r.text(), stream_lines(0..3));

    // Raw: no `0\r\n\r\n` anywhere, and the server closed.
    let mut c = server.connect();
    c.send(b"GET /stream/10?panic_at=3 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let raw = c.read_to_end().expect("the server closes the connection");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
    assert!(contains(&raw, b"Transfer-Encoding: chunked\r\n"), "{text}");
    assert!(contains(&raw, b"{\"chunk\": 2}\n"), "{text}");
    assert!(!contains(&raw, b"{\"chunk\": 3}"), "{text}");
    assert!(
        !contains(&raw, b"\r\n0\r\n\r\n"),
        "a terminating chunk was sent: {text}"
    );

    // The server still serves.
    assert_eq!(server.connect().get("/ok").status, 200);
}

#[test]
fn panic_mid_stream_is_an_incomplete_read_for_python() {
    if !support::needs(
        "python3",
        "panic_mid_stream_is_an_incomplete_read_for_python",
    ) {
        return;
    }
    let server = echo_server();
    let script = r#"
import http.client, sys
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
conn.request("GET", "/stream/10?panic_at=3")
r = conn.getresponse()
try:
    data = r.read()
except http.client.IncompleteRead as e:
    print("IncompleteRead", len(e.partial))
else:
    print("complete", len(data))
"#;
    let ran = support::python(script, server.addr.port()).expect("python3 is installed");
    assert!(ran.status.success(), "python failed: {}", ran.stderr_text());
    let expected = stream_lines(0..3).len();
    assert_eq!(
        ran.stdout_text().trim(),
        format!("IncompleteRead {expected}"),
        "stderr: {}",
        ran.stderr_text()
    );
}

/// The invalid statuses the misuse app tries, by index.
const BAD_STATUSES: [&str; 7] = [
    "OK",
    " 200 OK",
    "2000 OK",
    "099 Too Low",
    "600 Too High",
    "200 OK\r\nX-Injected: yes",
    "20x OK",
];

/// Every hop-by-hop header of PEP 3333, in two spellings.
const HOP_BY_HOP: [(&str, &str); 10] = [
    ("Transfer-Encoding", "chunked"),
    ("transfer-encoding", "identity"),
    ("Connection", "close"),
    ("CONNECTION", "keep-alive"),
    ("Keep-Alive", "timeout=5"),
    ("Proxy-Authenticate", "Basic"),
    ("Proxy-Authorization", "Basic eDp5"),
    ("TE", "trailers"),
    ("Trailers", "X-Checksum"),
    ("Upgrade", "websocket"),
];

/// An app that breaks the `start_response` rules as its path says; with
/// `?stream` its body is a lazy stream instead of bytes.
fn misuse_app(environ: &Environ, start_response: StartResponse) -> Body {
    let path = environ.path_info().to_owned();
    let stream = environ.query_string().contains("stream");
    let body = move || {
        if stream {
            Body::stream(["app ", "body"])
        } else {
            Body::from("app body")
        }
    };
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let route = parts.next().unwrap_or("");
    let arg: usize = parts.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    let app = ("X-App", "1".to_owned());
    match route {
        "ok" => {
            let _ = start_response.start("200 OK", [("Content-Type", "text/plain")]);
            Body::from("fine")
        }
        "never" => body(),
        "twice" => {
            let _ = start_response.start("200 OK", [app.clone()]);
            let _ = start_response.start("200 OK", [app]);
            body()
        }
        "bad-name" => {
            let name = ["Bad Name", "", "X:Colon", "X-\u{e9}", "X\r\nY"][arg];
            let _ = start_response.start("200 OK", [app, (name, "v".to_owned())]);
            body()
        }
        "bad-value" => {
            let value = [
                "a\r\nX-Injected: yes",
                "a\nX-Injected: yes",
                "a\rb",
                "a\0b",
                "a\x7fb",
            ][arg];
            let _ = start_response.start("200 OK", [app, ("X-Value", value.to_owned())]);
            body()
        }
        "hop" => {
            let (name, value) = HOP_BY_HOP[arg];
            let _ = start_response.start("200 OK", [app, (name, value.to_owned())]);
            body()
        }
        "status" => {
            let _ = start_response.start(BAD_STATUSES[arg], [app]);
            body()
        }
        "lazy-never" => {
            // The body, produced lazily, never calls start_response either.
            Body::stream((0..2).map(|i| format!("app body {i}")))
        }
        other => panic!("no route {other:?}"),
    }
}

/// Checks that `target` on the misuse app gives a 500, both with a bytes
/// body and a streamed one, and that the server then serves `/ok`.
fn check_misuse(server: &TestServer, target: &str) {
    for suffix in ["", "?stream"] {
        let target = format!("{target}{suffix}");
        let mut c = server.connect();
        let r = c.get(&target);
        assert_internal_error(&r, &target);
        assert!(
            r.header("x-injected").is_none() && r.header("x-value").is_none(),
            "{target}: {:?}",
            r.headers
        );
        if !r.says_close() {
            let ok = c.get("/ok");
            assert_eq!((ok.status, ok.text().as_str()), (200, "fine"), "{target}");
        }
    }
    let ok = server.connect().get("/ok");
    assert_eq!((ok.status, ok.text().as_str()), (200, "fine"), "{target}");
}

#[test]
fn start_response_never_called_is_a_500() {
    let server = TestServer::start(misuse_app, support::quiet());
    check_misuse(&server, "/never");
    check_misuse(&server, "/lazy-never");
}

#[test]
fn start_response_called_twice_without_error_is_a_500() {
    let server = TestServer::start(misuse_app, support::quiet());
    check_misuse(&server, "/twice");
}

#[test]
fn invalid_header_name_is_a_500() {
    let server = TestServer::start(misuse_app, support::quiet());
    for i in 0..5 {
        check_misuse(&server, &format!("/bad-name/{i}"));
    }
}

#[test]
fn control_characters_in_a_header_value_are_a_500() {
    let server = TestServer::start(misuse_app, support::quiet());
    for i in 0..5 {
        check_misuse(&server, &format!("/bad-value/{i}"));
    }
}

#[test]
fn hop_by_hop_headers_from_the_app_are_a_500() {
    let server = TestServer::start(misuse_app, support::quiet());
    for i in 0..HOP_BY_HOP.len() {
        check_misuse(&server, &format!("/hop/{i}"));
    }
}

#[test]
fn invalid_status_is_a_500() {
    let server = TestServer::start(misuse_app, support::quiet());
    for i in 0..BAD_STATUSES.len() {
        check_misuse(&server, &format!("/status/{i}"));
    }
}

/// An app that reports errors through `start_with_error`.
fn error_app(environ: &Environ, start_response: StartResponse) -> Body {
    match environ.path_info() {
        "/replace" => {
            start_response
                .start("200 OK", [("X-First", "1"), ("Content-Type", "text/plain")])
                .expect("first call");
            start_response
                .start_with_error(
                    "503 Service Unavailable",
                    [("X-Second", "1"), ("Content-Type", "text/plain")],
                    "the database is down",
                )
                .expect("nothing was sent yet, so the response can be replaced");
            Body::from("replaced")
        }
        "/replace-stream" => {
            start_response
                .start("200 OK", [("X-First", "1")])
                .expect("first call");
            let sr = start_response.clone();
            // Still before the first chunk: the replacement happens lazily.
            Body::stream((0..2).map(move |i| {
                if i == 0 {
                    sr.start_with_error("502 Bad Gateway", [("X-Second", "1")], "upstream")
                        .expect("nothing was sent yet");
                }
                format!("part{i}")
            }))
        }
        "/error-first" => {
            start_response
                .start_with_error(
                    "500 Internal Server Error",
                    [("Content-Type", "text/plain")],
                    "the app's own error page",
                )
                .expect("start_with_error may be the first call");
            Body::from("own error page")
        }
        "/too-late" | "/too-late-continues" => {
            let continues = environ.path_info() == "/too-late-continues";
            start_response
                .start("200 OK", [("Content-Type", "text/plain")])
                .expect("first call");
            let sr = start_response.clone();
            // The first chunk goes out; then the app hits an error and
            // tries to replace the response, which is too late, so it stops.
            let mut i = 0;
            Body::stream(std::iter::from_fn(move || {
                i += 1;
                match i {
                    1 => Some("part1".to_owned()),
                    2 => {
                        let late = sr.start_with_error(
                            "500 Internal Server Error",
                            Vec::<(String, String)>::new(),
                            "failed after the head was sent",
                        );
                        assert!(matches!(late, Err(werk::StartError::HeadersSent(_))));
                        // Either the app stops here, or (against the
                        // advice) goes on producing.
                        continues.then(|| "part2".to_owned())
                    }
                    _ => None,
                }
            }))
        }
        other => panic!("no route {other:?}"),
    }
}

#[test]
fn start_with_error_before_sending_replaces_the_response() {
    let server = TestServer::start(error_app, support::quiet());
    let mut c = server.connect();

    let r = c.get("/replace");
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("x-second"), Some("1"));
    assert!(r.header("x-first").is_none(), "{:?}", r.headers);
    assert_eq!(r.text(), "replaced");

    let r = server.connect().get("/replace-stream");
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(r.header("x-second"), Some("1"));
    assert!(r.header("x-first").is_none(), "{:?}", r.headers);
    assert_eq!(r.text(), "part0part1");

    let r = server.connect().get("/error-first");
    assert_eq!(r.status, 500);
    assert_eq!(r.text(), "own error page");
}

#[test]
fn start_with_error_after_the_head_was_sent_cuts_the_response_short() {
    let server = TestServer::start(error_app, support::quiet());
    let mut failures = Vec::new();
    for target in ["/too-late", "/too-late-continues"] {
        let mut c = server.connect();
        c.send(format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes());
        let raw = c.read_to_end().expect("the server closes the connection");
        let text = String::from_utf8_lossy(&raw);
        assert!(text.starts_with("HTTP/1.1 200 "), "{target}: {text}");
        assert!(contains(&raw, b"part1"), "{target}: {text}");
        if contains(&raw, b"\r\n0\r\n\r\n") {
            failures.push(format!("{target}: {text:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "the response ended properly (with the last chunk) although the app reported an \
         error after the head was sent, so the client cannot tell it failed:\n{}",
        failures.join("\n")
    );
}

/// An app whose status is a bare code, which `start_response` accepts.
fn bare_status_app(_: &Environ, start_response: StartResponse) -> Body {
    start_response
        .start("299", [("Content-Type", "text/plain")])
        .expect("a bare code is a valid status");
    Body::from("bare")
}

#[test]
fn status_without_a_reason_phrase_gives_a_well_formed_status_line() {
    let server = TestServer::start(bare_status_app, support::quiet());
    let mut c = server.connect();
    c.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let raw = c.read_to_end().expect("the server closes the connection");
    let text = String::from_utf8_lossy(&raw);
    // RFC 9112 section 4: status-line = HTTP-version SP status-code SP
    // [ reason-phrase ]; the second SP is there even with no reason.
    assert!(
        text.starts_with("HTTP/1.1 299 \r\n"),
        "the status line needs the space after the code: {text:?}"
    );
    assert!(text.ends_with("\r\n\r\nbare"), "{text:?}");
}

#[test]
fn legacy_write_handle_sends_the_response() {
    let server = echo_server();
    let mut c = server.connect();
    let r = c.get("/write");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(
        r.text().contains("\"PATH_INFO\": \"/write\""),
        "{}",
        r.text()
    );
    assert!(r.text().ends_with("}\n"), "{}", r.text());
    // The connection carries the next request.
    if !r.says_close() {
        let r = c.get("/write");
        assert_eq!(r.status, 200);
        assert!(r.text().contains("\"PATH_INFO\": \"/write\""));
    }

    // HTTP/1.0: no chunked framing; the body ends with the connection.
    let mut c = server.connect();
    c.send(b"GET /write HTTP/1.0\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert!(!r.chunked());
    assert!(
        r.text().contains("\"SERVER_PROTOCOL\": \"HTTP/1.0\""),
        "{}",
        r.text()
    );
}

#[test]
fn write_handle_bytes_come_before_the_returned_body() {
    let app = |_: &Environ, start_response: StartResponse| {
        let mut write = start_response
            .start("200 OK", [("Content-Type", "text/plain")])
            .expect("first call");
        write.write_all(b"written;").expect("write");
        write.write_all(b"again;").expect("write");
        Body::stream(["returned;", "end"])
    };
    let server = TestServer::start(app, support::quiet());
    let mut c = server.connect();
    for _ in 0..2 {
        let r = c.get("/");
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "written;again;returned;end");
        if r.says_close() {
            break;
        }
    }
}

/// Close counters, one per route of [`close_app`].
#[derive(Default)]
struct Closes {
    bytes: AtomicUsize,
    stream: AtomicUsize,
    head: AtomicUsize,
    head_bytes: AtomicUsize,
    disconnect: AtomicUsize,
    panic: AtomicUsize,
    produced: AtomicUsize,
}

fn close_app(closes: Arc<Closes>) -> impl werk::App {
    move |environ: &Environ, start_response: StartResponse| {
        let _ = start_response.start("200 OK", [("Content-Type", "text/plain")]);
        let c = closes.clone();
        let counter = move |pick: fn(&Closes) -> &AtomicUsize| {
            let c = c.clone();
            move || {
                pick(&c).fetch_add(1, Ordering::SeqCst);
            }
        };
        match environ.path_info() {
            "/bytes" => Body::from("hello").on_close(counter(|c| &c.bytes)),
            "/stream" => Body::stream(["a", "b", "c"]).on_close(counter(|c| &c.stream)),
            "/head" => Body::stream(["a", "b", "c"]).on_close(counter(|c| &c.head)),
            "/head-bytes" => Body::from("hello").on_close(counter(|c| &c.head_bytes)),
            "/disconnect" => {
                let produced = closes.clone();
                // Up to 64 MiB, slowly: far more than the client reads.
                Body::stream((0..1024).map(move |_| {
                    produced.produced.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(2));
                    vec![b'x'; 64 * 1024]
                }))
                .on_close(counter(|c| &c.disconnect))
            }
            "/panic" => Body::stream((0..5).map(|i| {
                assert!(i < 2, "the body fails at chunk {i}");
                format!("chunk {i}\n")
            }))
            .on_close(counter(|c| &c.panic)),
            other => panic!("no route {other:?}"),
        }
    }
}

/// Waits for a counter to reach 1, then checks it stays there.
fn assert_closed_once(counter: &AtomicUsize, what: &str) {
    let reached = support::wait_until(GUARD, || counter.load(Ordering::SeqCst) >= 1);
    assert!(reached, "{what}: the close callback never ran");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        counter.load(Ordering::SeqCst),
        1,
        "{what}: the close callback must run exactly once"
    );
}

#[test]
fn close_callbacks_run_exactly_once_for_full_responses() {
    let closes = Arc::new(Closes::default());
    let server = TestServer::start(close_app(closes.clone()), support::quiet());
    let mut c = server.connect();
    let r = c.get("/bytes");
    assert_eq!(r.text(), "hello");
    assert_closed_once(&closes.bytes, "bytes body");
    let r = c.get("/stream");
    assert_eq!(r.text(), "abc");
    assert_closed_once(&closes.stream, "streamed body");
}

#[test]
fn close_callbacks_run_exactly_once_for_head_requests() {
    let closes = Arc::new(Closes::default());
    let server = TestServer::start(close_app(closes.clone()), support::quiet());
    let mut c = server.connect();
    let r = c.request("HEAD", "/head", &[], b"");
    assert_eq!(r.status, 200);
    assert_closed_once(&closes.head, "HEAD of a streamed body");
    let r = c.request("HEAD", "/head-bytes", &[], b"");
    assert_eq!(r.status, 200);
    assert_closed_once(&closes.head_bytes, "HEAD of a bytes body");
    // Nothing of either body was sent: the next response parses cleanly.
    let r = c.get("/bytes");
    assert_eq!(r.text(), "hello");
}

#[test]
fn close_callbacks_run_exactly_once_when_the_client_disconnects() {
    let closes = Arc::new(Closes::default());
    let server = TestServer::start(close_app(closes.clone()), support::quiet());
    let mut c = server.connect();
    c.send(b"GET /disconnect HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let mut first = [0u8; 1024];
    let n = std::io::Read::read(&mut c.stream, &mut first).expect("the response starts");
    assert!(first[..n].starts_with(b"HTTP/1.1 200 "));
    // Abortive close: the server's next writes fail.
    drop(c);
    assert_closed_once(&closes.disconnect, "client gone mid-stream");
    let produced = closes.produced.load(Ordering::SeqCst);
    eprintln!("the server produced {produced} of 1024 chunks before it noticed");
    assert!(
        produced < 1024,
        "the server kept producing after the client left"
    );
    // The server is still fine.
    assert_eq!(server.connect().get("/bytes").text(), "hello");
}

#[test]
fn close_callbacks_run_exactly_once_when_the_body_panics() {
    let closes = Arc::new(Closes::default());
    let server = TestServer::start(close_app(closes.clone()), support::quiet());
    let mut c = server.connect();
    c.send_request("GET", "/panic", &[], b"");
    let r = c.try_read_response().expect("the head arrives");
    assert!(!r.complete);
    assert_eq!(r.text(), "chunk 0\nchunk 1\n");
    assert_closed_once(&closes.panic, "body that panics");
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<not a string>".to_owned()
    }
}

fn check_passthrough(target: &str, expected_message: &str) {
    let mut server = TestServer::start(werk::apps::echo, support::quiet().passthrough_errors(true));
    let mut c: Client = server.connect();
    c.send(format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes());
    // Whatever the client gets (nothing, or a cut-short response), the
    // panic must come out of serve_forever.
    let got = c.read_to_end();
    let ended = server
        .wait_for_exit(GUARD)
        .expect("serve_forever must stop after a panic with passthrough_errors");
    let payload = match ended {
        Err(payload) => payload,
        Ok(result) => panic!(
            "serve_forever returned {result:?} instead of panicking; client got {:?}",
            got.map(|b| String::from_utf8_lossy(&b).into_owned())
        ),
    };
    let message = panic_message(&*payload);
    assert!(
        message.contains(expected_message),
        "the propagated panic: {message:?}"
    );
    if let Ok(bytes) = got {
        assert!(
            !contains(&bytes, b"\r\n0\r\n\r\n")
                && !contains(&bytes, INTERNAL_ERROR_TEXT.as_bytes()),
            "with passthrough_errors the client must not see a proper response: {:?}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

#[test]
fn passthrough_errors_propagates_a_panic_out_of_serve_forever() {
    check_passthrough("/panic", "panic requested by /panic");
}

#[test]
fn passthrough_errors_propagates_a_panic_in_the_body() {
    check_passthrough("/stream/10?panic_at=3", "panic requested by panic_at=3");
}
