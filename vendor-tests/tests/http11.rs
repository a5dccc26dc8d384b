//! HTTP/1.1 conformance over real sockets: keep-alive, pipelining,
//! HTTP/1.0 clients, chunked bodies both ways, `Expect: 100-continue`,
//! HEAD and `Connection: close`.
//!
//! werk differs from Werkzeug on purpose here: Werkzeug sends
//! `Connection: close` on every response and never serves a second request
//! on a connection; werk keeps connections alive. Werkzeug sends
//! `100 Continue` before the app runs; werk sends it when the app first
//! reads the body. Werkzeug writes whatever body the app returns for HEAD;
//! werk strips it.

mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use support::{
    describe_output, echo, get_request, ignores_body, needs, options, python, Response, TestServer,
};
use werk::{Body, Environ, StartResponse};

/// An app with a fixed body and no Content-Length of its own: the server
/// knows the body's size and adds one.
fn fixed(_environ: &Environ, start_response: StartResponse) -> Body {
    start_response
        .start(
            "200 OK",
            [("Content-Type", "text/plain"), ("X-Custom", "yes")],
        )
        .expect("first call");
    Body::from("0123456789")
}

fn assert_kept_alive(response: &Response) {
    assert!(
        !response.says_close(),
        "the connection should stay open: {}",
        response.describe()
    );
}

/// The date in a `Date` header: `Sun, 06 Nov 1994 08:49:37 GMT`.
fn is_imf_fixdate(date: &str) -> bool {
    let b = date.as_bytes();
    b.len() == 29
        && date.ends_with(" GMT")
        && b[3] == b','
        && b[4] == b' '
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b' '
        && b[11] == b' '
        && b[12..16].iter().all(u8::is_ascii_digit)
        && b[19] == b':'
        && b[22] == b':'
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let server = TestServer::start(echo);
    let mut client = server.connect();
    let my_port = client.local_addr().port().to_string();

    client.send(get_request("/first").as_bytes());
    let response = client.read_response();
    assert_kept_alive(&response);
    let env = response.environ();
    assert_eq!(env.str("PATH_INFO"), "/first");
    assert_eq!(env.str("REMOTE_PORT"), my_port);

    client.send(b"POST /second HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello");
    let response = client.read_response();
    assert_kept_alive(&response);
    let env = response.environ();
    assert_eq!(env.str("PATH_INFO"), "/second");
    assert_eq!(env.num("body_length"), 5);
    assert_eq!(env.str("REMOTE_PORT"), my_port);

    client.send(get_request("/bytes/30").as_bytes());
    let response = client.read_response();
    assert_kept_alive(&response);
    assert_eq!(response.body, b"abcdefghijklmnopqrstuvwxyzabcd");

    client.send(get_request("/status/418").as_bytes());
    let response = client.read_response();
    assert_kept_alive(&response);
    assert_eq!(response.status, 418);
    assert_eq!(response.reason, "I'm a teapot");

    client.send(get_request("/last").as_bytes());
    let env = client.read_response().environ();
    assert_eq!(env.str("REMOTE_PORT"), my_port);
    server.stop();
}

/// An app that does not read a small body: the server reads and drops it
/// so the next request on the connection starts where it should.
#[test]
fn keep_alive_after_an_unread_small_body() {
    let server = TestServer::start(ignores_body);
    let mut client = server.connect();
    let mut request =
        b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n".to_vec();
    request.extend(std::iter::repeat_n(b'x', 1000));
    client.send(&request);
    let response = client.read_response();
    assert_eq!(response.status, 200);
    assert_kept_alive(&response);
    // Had the body not been dropped, this would be parsed as part of it
    // or as garbage after it.
    client.send(get_request("/next").as_bytes());
    let response = client.read_response();
    assert_eq!(response.status, 200, "{}", response.describe());
    assert_eq!(response.text(), "ignored");
    server.stop();
}

#[test]
fn keep_alive_timeout_closes_an_idle_connection() {
    let server = TestServer::start_with(
        echo,
        options().keep_alive_timeout(Duration::from_millis(300)),
    );
    let mut client = server.connect();
    client.send(get_request("/").as_bytes());
    let response = client.read_response();
    assert_kept_alive(&response);
    let idle_since = Instant::now();
    client.expect_closed();
    let idle = idle_since.elapsed();
    assert!(
        idle >= Duration::from_millis(250),
        "closed after {idle:?}, before the keep-alive timeout"
    );
    server.assert_serving();
    server.stop();
}

/// Responses to requests that arrived together go out together: 16
/// pipelined GETs in one write are answered in a few TCP segments, not
/// one per response (the client's `TCP_INFO` counts what it received).
/// (A streamed body is still sent chunk by chunk, as PEP 3333 asks.)
#[cfg(target_os = "linux")]
#[test]
fn pipelined_responses_go_out_in_one_write() {
    if !needs("python3", "pipelined_responses_go_out_in_one_write") {
        return;
    }
    let server = TestServer::start(echo);
    let script = r#"
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n" * 16)
s.settimeout(0.5)
data = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
except socket.timeout:
    pass
info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
# struct tcp_info: tcpi_segs_out and tcpi_segs_in at bytes 136 and 140.
segs_in = struct.unpack_from("I", info, 140)[0]
print(data.count(b"HTTP/1.1 200 OK"), segs_in)
"#;
    let port = server.addr.port().to_string();
    let output = python(script, &[&port]);
    let text = String::from_utf8_lossy(&output.stdout);
    let counts: Vec<u32> = text
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(counts.len(), 2, "{}", describe_output(&output));
    assert_eq!(counts[0], 16, "every request answered");
    // The handshake's SYN-ACK, the responses, perhaps an ACK: far fewer
    // than the 16 segments of one write per response.
    assert!(counts[1] <= 5, "{} segments for 16 responses", counts[1]);
    server.stop();
}

/// An answer held for a pipelined request that follows goes out before
/// that request's stream waits for its first chunk: a slow stream (a
/// long poll, events) does not delay the answers before it.
#[test]
fn a_held_answer_does_not_wait_for_a_slow_stream() {
    let server = TestServer::start(werk::apps::echo);
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    stream
        .write_all(
            b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n\
              GET /stream/1?delay_ms=3000 HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let sent = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("/first") {
        let n = std::io::Read::read(&mut stream, &mut buf).unwrap();
        assert!(n > 0, "closed before the first answer");
        got.extend_from_slice(&buf[..n]);
    }
    let waited = sent.elapsed();
    assert!(
        waited < Duration::from_millis(1500),
        "the first answer waited {waited:?} for the stream's first chunk (3 s)"
    );
    server.stop();
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = TestServer::start(echo);
    let mut client = server.connect();
    let mut batch = Vec::new();
    batch.extend_from_slice(get_request("/bytes/3").as_bytes());
    batch.extend_from_slice(
        b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
    );
    batch.extend_from_slice(b"HEAD /bytes/5 HTTP/1.1\r\nHost: localhost\r\n\r\n");
    batch.extend_from_slice(
        b"POST /one HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    );
    batch.extend_from_slice(get_request("/status/404").as_bytes());
    batch.extend_from_slice(get_request("/last?x=1").as_bytes());
    client.send(&batch);

    let r = client.read_response();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"abc"[..]));
    let r = client.read_response();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    let r = client.read_head_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("5"));
    let env = client.read_response().environ();
    assert_eq!(env.str("PATH_INFO"), "/one");
    assert_eq!(env.num("body_length"), 3);
    let r = client.read_response();
    assert_eq!(r.status, 404);
    let r = client.read_response();
    assert_kept_alive(&r);
    let env = r.environ();
    assert_eq!(env.str("PATH_INFO"), "/last");
    assert_eq!(env.str("QUERY_STRING"), "x=1");
    // Nothing more: exactly one response per request.
    client.expect_silence(Duration::from_millis(200));
    server.stop();
}

#[test]
fn http10_streamed_body_is_close_delimited() {
    let server = TestServer::start(echo);
    let mut client = server.connect();
    client.send(b"GET /stream/3 HTTP/1.0\r\n\r\n");
    let response = client.read_response();
    assert_eq!(response.status, 200);
    assert!(response.says_close(), "{}", response.describe());
    assert_eq!(response.header("transfer-encoding"), None);
    assert_eq!(response.header("content-length"), None);
    assert!(response.close_delimited);
    assert_eq!(
        response.text(),
        "{\"chunk\": 0}\n{\"chunk\": 1}\n{\"chunk\": 2}\n"
    );
    server.stop();
}

#[test]
fn http10_keep_alive_is_honoured_with_a_length() {
    let server = TestServer::start(echo);
    let mut client = server.connect();
    client.send(b"GET /bytes/10 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let response = client.read_response();
    assert_eq!(response.status, 200);
    assert!(
        response.has_token("connection", "keep-alive"),
        "an HTTP/1.0 client needs keep-alive spelled out: {}",
        response.describe()
    );
    assert_eq!(response.header("content-length"), Some("10"));
    assert_eq!(response.body, b"abcdefghij");

    // A response whose length the server computes keeps it alive too.
    client.send(b"GET /again HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    let response = client.read_response();
    assert!(response.has_token("connection", "keep-alive"));
    assert!(response.header("content-length").is_some());
    let env = response.environ();
    assert_eq!(env.str("SERVER_PROTOCOL"), "HTTP/1.0");
    assert_eq!(env.str("PATH_INFO"), "/again");

    // Without keep-alive, HTTP/1.0 closes after the response.
    client.send(b"GET /bytes/3 HTTP/1.0\r\n\r\n");
    let response = client.read_response();
    assert_eq!(response.body, b"abc");
    assert!(response.says_close(), "{}", response.describe());
    client.expect_closed();
    server.stop();
}

/// HTTP/1.0 has no chunked coding: a body without a length ends with the
/// connection even when the client asked for keep-alive.
#[test]
fn http10_keep_alive_without_a_length_closes() {
    let server = TestServer::start(echo);
    let mut client = server.connect();
    client.send(b"GET /stream/2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let response = client.read_response();
    assert_eq!(response.status, 200);
    assert!(response.says_close(), "{}", response.describe());
    assert_eq!(response.header("transfer-encoding"), None);
    assert!(response.close_delimited);
    assert_eq!(response.text(), "{\"chunk\": 0}\n{\"chunk\": 1}\n");
    server.stop();
}

#[test]
fn chunked_request_body_with_extensions_and_trailers() {
    let server = TestServer::start(echo);
    let body =
        b"5;name=value\r\nhello\r\n6\r\n world\r\nA ; x\r\n, chunked!\r\n0\r\nX-Trailer: t\r\n\r\n";
    let mut client = server.connect();
    let mut request =
        b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    request.extend_from_slice(body);
    client.send(&request);
    let response = client.read_response();
    assert_eq!(response.status, 200, "{}", response.describe());
    assert_eq!(response.text(), "hello world, chunked!");
    assert_eq!(response.header("content-type"), Some("text/plain"));

    let mut client = server.connect();
    let mut request =
        b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: Chunked\r\n\r\n".to_vec();
    request.extend_from_slice(body);
    client.send(&request);
    let response = client.read_response();
    assert_kept_alive(&response);
    let env = response.environ();
    assert_eq!(env.num("body_length"), 21);
    assert!(env.bool("wsgi.input_terminated"));
    // The trailer was read, not taken as the next request.
    client.send(get_request("/after").as_bytes());
    assert_eq!(client.read_response().environ().str("PATH_INFO"), "/after");
    server.stop();
}

/// A chunked body that arrives in pieces, with pauses between them.
#[test]
fn chunked_request_body_sent_slowly() {
    let server = TestServer::start(echo);
    let mut client = server.connect();
    client.send(b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n");
    for piece in [
        &b"4\r"[..],
        b"\nwe",
        b"rk\r\n",
        b"3\r\n!!!\r",
        b"\n0\r\n",
        b"\r\n",
    ] {
        std::thread::sleep(Duration::from_millis(30));
        client.send(piece);
    }
    let env = client.read_response().environ();
    assert_eq!(env.num("body_length"), 7);
    server.stop();
}

#[test]
fn response_without_length_is_chunked_on_http11() {
    let server = TestServer::start(echo);
    let mut client = server.connect();
    client.send(get_request("/stream/3").as_bytes());
    let response = client.read_response();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    assert_eq!(response.header("content-length"), None);
    assert_kept_alive(&response);
    assert_eq!(
        response.chunks.as_deref(),
        Some(
            &[
                b"{\"chunk\": 0}\n".to_vec(),
                b"{\"chunk\": 1}\n".to_vec(),
                b"{\"chunk\": 2}\n".to_vec()
            ][..]
        )
    );

    // The legacy write handle: no length either, so chunked as well.
    client.send(get_request("/write").as_bytes());
    let response = client.read_response();
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    assert_eq!(response.environ().str("PATH_INFO"), "/write");

    // The connection is still in step after chunked responses.
    client.send(get_request("/").as_bytes());
    assert_eq!(client.read_response().status, 200);
    server.stop();
}

#[test]
fn response_with_known_length_is_not_chunked() {
    let server = TestServer::start(fixed);
    let response = server.get("/");
    assert_eq!(response.header("content-length"), Some("10"));
    assert_eq!(response.header("transfer-encoding"), None);
    assert_eq!(response.body, b"0123456789");

    let server = TestServer::start(echo);
    let response = server.get("/bytes/1000000");
    assert_eq!(response.header("content-length"), Some("1000000"));
    assert_eq!(response.header("transfer-encoding"), None);
    assert_eq!(response.body.len(), 1_000_000);
    assert!(response
        .body
        .iter()
        .enumerate()
        .all(|(i, &b)| b == b'a' + (i % 26) as u8));
    server.stop();
}

#[test]
fn large_request_body_is_echoed_intact() {
    let server = TestServer::start(echo);
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut client = server.connect();
    let head = format!(
        "PUT /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let sender_body = body.clone();
    let mut writer = client.try_clone();
    let sender = std::thread::spawn(move || {
        writer.send(head.as_bytes());
        writer.send(&sender_body);
    });
    let response = client.read_response();
    sender.join().expect("sender");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-length"),
        Some(body.len().to_string().as_str())
    );
    assert!(response.body == body, "the echoed body differs");
    server.stop();
}

/// `Expect: 100-continue` with apps that read the body (`/echo` streams
/// it back; `/status/<code>` counts it): the 100 comes first, then the
/// client sends the body, then the final response.
#[test]
fn expect_100_continue_is_sent_when_the_app_reads() {
    let server = TestServer::start(echo);
    let mut client = server.connect();
    for (path, status) in [("/echo", 200), ("/status/201", 201)] {
        client.send(
            format!(
                "PUT {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n"
            )
            .as_bytes(),
        );
        let interim = client.read_next();
        assert_eq!(interim.status, 100, "{path}: {}", interim.describe());
        assert_eq!(interim.raw, b"HTTP/1.1 100 Continue\r\n\r\n");
        client.send(b"hello world");
        let response = client.read_next();
        assert_eq!(response.status, status, "{}", response.describe());
        assert_kept_alive(&response);
        if path == "/echo" {
            assert_eq!(response.text(), "hello world");
        } else {
            assert_eq!(response.environ_any_status().num("body_length"), 11);
        }
    }
    server.stop();
}

/// `Expect: 100-continue` with an app that answers without reading the
/// body: no 100 is sent, the final response comes at once, and the server
/// closes the connection (the client may or may not send the body).
#[test]
fn expect_100_continue_is_not_sent_when_the_app_does_not_read() {
    let server = TestServer::start(ignores_body);
    let mut client = server.connect();
    client.send(
        b"PUT /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n",
    );
    let response = client.read_next();
    assert_eq!(
        response.status,
        200,
        "the final response, not 100: {}",
        response.describe()
    );
    assert_eq!(response.text(), "ignored");
    assert!(response.says_close(), "{}", response.describe());
    client.expect_closed();
    server.assert_serving();
    server.stop();
}

/// An app that decides from the headers: too large is refused without
/// reading (no 100), otherwise the body is read (100 first).
fn picky(environ: &Environ, start_response: StartResponse) -> Body {
    if environ.content_length().unwrap_or(0) > 10 {
        start_response
            .start("413 Content Too Large", [("Content-Type", "text/plain")])
            .expect("first call");
        return Body::from("too large");
    }
    let body = environ.input().read_all().unwrap_or_default();
    start_response
        .start("200 OK", [("Content-Type", "text/plain")])
        .expect("first call");
    Body::from(body)
}

#[test]
fn expect_100_continue_lets_the_app_refuse_the_body() {
    let server = TestServer::start(picky);
    let mut client = server.connect();
    client.send(
        b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n",
    );
    let response = client.read_next();
    assert_eq!(response.status, 413, "{}", response.describe());
    assert_eq!(response.text(), "too large");
    assert!(response.says_close());
    client.expect_closed();

    let mut client = server.connect();
    client.send(
        b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    assert_eq!(client.read_next().status, 100);
    client.send(b"small");
    let response = client.read_next();
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "small");
    server.stop();
}

/// curl waits for the 100 (here up to 20 s, past its own --max-time), so a
/// server that did not send it would fail this test.
#[test]
fn expect_100_continue_curl() {
    if !needs("curl", "expect_100_continue_curl") {
        return;
    }
    let server = TestServer::start(echo);
    let output = support::curl_with_stdin(
        &[
            "-i",
            "--expect100-timeout",
            "20",
            "-H",
            "Expect: 100-continue",
            "-H",
            "Content-Type: text/plain",
            "--data-binary",
            "@-",
            &server.url("/echo"),
        ],
        b"sent after the 100",
    );
    assert!(output.status.success(), "{}", describe_output(&output));
    let responses = support::split_curl_responses(&output.stdout);
    let statuses: Vec<u16> = responses.iter().map(|r| r.0).collect();
    assert_eq!(statuses, vec![100, 200], "{}", describe_output(&output));
    assert_eq!(responses[1].2, b"sent after the 100");
    server.stop();
}

/// HEAD: the same status and headers as GET (Date aside), no body; the
/// next request on the connection proves no body bytes were sent.
#[test]
fn head_has_no_body_and_the_headers_of_get() {
    let server = TestServer::start(fixed);
    let mut client = server.connect();
    client.send(get_request("/").as_bytes());
    let get = client.read_response();
    client.send(b"HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let head = client.read_head_response();
    assert_eq!(head.status, get.status);
    assert_eq!(
        without(&head.headers, &["date"]),
        without(&get.headers, &["date"])
    );
    assert_eq!(head.header("content-length"), Some("10"));
    assert!(head.raw.ends_with(b"\r\n\r\n"));
    client.send(get_request("/").as_bytes());
    let after = client.read_response();
    assert_eq!(after.body, b"0123456789", "{}", after.describe());
    drop(client);

    // An app-given Content-Length, and a streamed body without a length
    // (where GET is chunked; a HEAD response has no body to frame).
    let server = TestServer::start(echo);
    let mut client = server.connect();
    client.send(b"HEAD /bytes/100 HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let head = client.read_head_response();
    client.send(get_request("/bytes/100").as_bytes());
    let get = client.read_response();
    assert_eq!(get.body.len(), 100);
    assert_eq!(
        without(&head.headers, &["date"]),
        without(&get.headers, &["date"])
    );

    client.send(b"HEAD /stream/3 HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let head = client.read_head_response();
    client.send(get_request("/stream/3").as_bytes());
    let get = client.read_response();
    assert_eq!(head.status, 200);
    assert_eq!(get.body.len(), 39);
    assert_eq!(
        without(&head.headers, &["date", "transfer-encoding"]),
        without(&get.headers, &["date", "transfer-encoding"])
    );
    client.send(get_request("/").as_bytes());
    assert_eq!(client.read_response().status, 200);
    server.stop();
}

fn without(headers: &[(String, String)], names: &[&str]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(n, _)| !names.iter().any(|x| n.eq_ignore_ascii_case(x)))
        .cloned()
        .collect()
}

#[test]
fn connection_close_from_the_client() {
    let server = TestServer::start(echo);
    let mut client = server.connect();
    client.send(b"GET /bytes/4 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let response = client.read_response();
    assert_eq!(response.body, b"abcd");
    assert!(response.says_close(), "{}", response.describe());
    client.expect_closed();

    // Also for a streamed body: chunked, then the close.
    let mut client = server.connect();
    client.send(b"GET /stream/2 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let response = client.read_response();
    assert!(response.says_close(), "{}", response.describe());
    assert_eq!(response.text(), "{\"chunk\": 0}\n{\"chunk\": 1}\n");
    client.expect_closed();
    server.stop();
}

/// The server closes when it cannot reuse the connection: a large request
/// body the app left unread. It says so in the response first.
#[test]
fn connection_close_from_the_server() {
    let server = TestServer::start(ignores_body);
    let mut client = server.connect();
    // Larger than what the server awaits before calling the app (1 MiB),
    // so the app runs while the client holds the body back.
    let len = 4 * 1024 * 1024;
    client.send(
        format!("POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len}\r\n\r\n").as_bytes(),
    );
    let response = client.read_response();
    assert_eq!(response.status, 200);
    assert!(response.says_close(), "{}", response.describe());
    let _ = client.send_lenient(&vec![b'x'; len]);
    client.expect_closed();
    server.assert_serving();
    server.stop();
}

#[test]
fn every_response_has_server_and_date() {
    let server = TestServer::start(echo);
    for path in ["/", "/stream/1", "/status/204", "/panic"] {
        let response = server.get(path);
        assert_eq!(
            response.header("server"),
            Some(werk::SERVER_SOFTWARE),
            "{path}: {}",
            response.describe()
        );
        let date = response.header("date").unwrap_or("");
        assert!(is_imf_fixdate(date), "{path}: Date {date:?}");
    }
    let response = server.exchange(b"GET / HTTP/2.0\r\nHost: localhost\r\n\r\n");
    assert_eq!(response.header("server"), Some(werk::SERVER_SOFTWARE));
    server.stop();
}

/// 204 and 304 responses have no body and no framing headers; the
/// connection stays in step.
#[test]
fn no_body_statuses() {
    let server = TestServer::start(echo);
    let mut client = server.connect();
    for path in ["/status/204", "/status/304"] {
        client.send(get_request(path).as_bytes());
        let response = client.read_response();
        assert!(response.raw.ends_with(b"\r\n\r\n"));
        assert_eq!(response.header("transfer-encoding"), None, "{path}");
        assert!(
            matches!(response.header("content-length"), None | Some("0")),
            "{path}: {}",
            response.describe()
        );
    }
    client.send(get_request("/bytes/2").as_bytes());
    assert_eq!(client.read_response().body, b"ab");
    server.stop();
}

/// curl reuses one connection for several URLs.
#[test]
fn keep_alive_curl() {
    if !needs("curl", "keep_alive_curl") {
        return;
    }
    let server = TestServer::start(echo);
    let output = support::curl(&[
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{num_connects}\\n",
        &server.url("/a"),
        &server.url("/stream/5"),
        &server.url("/bytes/100"),
    ]);
    assert!(output.status.success(), "{}", describe_output(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "200 1\n200 0\n200 0\n",
        "one connection for three requests: {}",
        describe_output(&output)
    );
    server.stop();
}

/// curl uploading a chunked body, and reading a chunked response.
#[test]
fn chunked_bodies_curl() {
    if !needs("curl", "chunked_bodies_curl") {
        return;
    }
    let server = TestServer::start(echo);
    let body: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let output = support::curl_with_stdin(
        &[
            "-i",
            "-H",
            "Transfer-Encoding: chunked",
            "-H",
            "Content-Type: text/plain",
            "--data-binary",
            "@-",
            &server.url("/echo"),
        ],
        &body,
    );
    assert!(output.status.success(), "{}", describe_output(&output));
    let responses = support::split_curl_responses(&output.stdout);
    let (status, head, echoed) = responses.last().expect("a response");
    assert_eq!(*status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("\r\ntransfer-encoding: chunked"),
        "{head}"
    );
    assert!(*echoed == body, "the echoed body differs");
    server.stop();
}

/// curl as an HTTP/1.0 client of a streamed body.
#[test]
fn http10_curl() {
    if !needs("curl", "http10_curl") {
        return;
    }
    let server = TestServer::start(echo);
    let output = support::curl(&["-0", "-i", &server.url("/stream/3")]);
    assert!(output.status.success(), "{}", describe_output(&output));
    let responses = support::split_curl_responses(&output.stdout);
    let (status, head, body) = &responses[0];
    assert_eq!(*status, 200);
    assert!(head.to_ascii_lowercase().contains("\r\nconnection: close"));
    assert!(!head.to_ascii_lowercase().contains("transfer-encoding"));
    assert_eq!(body, b"{\"chunk\": 0}\n{\"chunk\": 1}\n{\"chunk\": 2}\n");
    server.stop();
}
