//! Every kind of bad request over a real socket: the status werk answers
//! with, that it closes that connection afterwards, and that it still
//! serves new connections.
//!
//! Werkzeug leaves most of this to CPython's `http.server` (400, 414,
//! 431, 505, and no limits on bodies or head time); werk answers each
//! problem with its own status, and rejects on purpose what Werkzeug lets
//! through: Content-Length with Transfer-Encoding (a smuggling vector) and
//! obsolete header folding.

mod support;

use std::time::{Duration, Instant};

use support::{describe_output, echo, needs, options, Response, TestServer};

/// Sends `request` on a new connection and checks the answer: `status`,
/// `Connection: close`, then the server closes the connection; and a new
/// connection is still served.
fn assert_rejected(server: &TestServer, request: &[u8], status: u16) -> Response {
    let shown = String::from_utf8_lossy(&request[..request.len().min(160)]).into_owned();
    let mut client = server.connect();
    // The server may answer and close before it reads everything.
    let _ = client.send_lenient(request);
    let response = client
        .try_read_response()
        .unwrap_or_else(|e| panic!("request {shown:?}: no response: {e}"));
    assert_eq!(
        response.interim,
        [],
        "request {shown:?}: the refusal comes first"
    );
    assert_eq!(
        response.status,
        status,
        "request {shown:?}: {}",
        response.describe()
    );
    assert!(
        response.says_close(),
        "request {shown:?}: the refusal should say Connection: close: {}",
        response.describe()
    );
    assert_eq!(
        response.header("content-length"),
        Some(response.body.len().to_string().as_str()),
        "request {shown:?}"
    );
    client.expect_closed();
    server.assert_serving();
    response
}

/// Sends `request` on a new connection and expects `200`.
fn assert_accepted(server: &TestServer, request: &[u8]) -> Response {
    let response = server.exchange(request);
    assert_eq!(
        response.status,
        200,
        "request {:?}: {}",
        String::from_utf8_lossy(&request[..request.len().min(160)]),
        response.describe()
    );
    response
}

#[test]
fn malformed_request_line_is_400() {
    let server = TestServer::start(echo);
    for request in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET\r\nHost: localhost\r\n\r\n",
        // HTTP/0.9 style (no version): Werkzeug answers it as HTTP/0.9.
        b"GET /\r\nHost: localhost\r\n\r\n",
        b"GET / HTTX/1.1\r\nHost: localhost\r\n\r\n",
        b"GET / HTTP/1.x\r\nHost: localhost\r\n\r\n",
        b"GET / HTTP/1.1 extra\r\nHost: localhost\r\n\r\n",
        b"G(T / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET foo HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET ftp://example.com/ HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET http://user@example.com/ HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"\x00\x01\x02\x03\r\n\r\n",
    ] {
        assert_rejected(&server, request, 400);
    }
    server.stop();
}

/// A space inside the request target makes a request line with four
/// parts: malformed (RFC 9112 section 3), even though it ends in a valid
/// version.
#[test]
fn space_in_request_target_is_400() {
    let server = TestServer::start(echo);
    assert_rejected(
        &server,
        b"GET /a b HTTP/1.1\r\nHost: localhost\r\n\r\n",
        400,
    );
    server.stop();
}

#[test]
fn malformed_header_is_400() {
    let server = TestServer::start(echo);
    for request in [
        &b"GET / HTTP/1.1\r\nHost: localhost\r\nBad Name: y\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: localhost\r\nNoColon\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: localhost\r\n: no name\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Space-Before-Colon : v\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Nul: a\x00b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: localhost\r\nX(paren): v\r\n\r\n",
        // Obsolete line folding (Werkzeug unfolds it; werk refuses it).
        b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Folded: a\r\n b\r\n\r\n",
        b"GET / HTTP/1.1\r\n Host: localhost\r\n\r\n",
    ] {
        assert_rejected(&server, request, 400);
    }
    server.stop();
}

#[test]
fn unsupported_version_is_505() {
    let server = TestServer::start(echo);
    for request in [
        &b"GET / HTTP/2.0\r\nHost: localhost\r\n\r\n"[..],
        b"GET / HTTP/3.0\r\nHost: localhost\r\n\r\n",
        // The HTTP/2 connection preface of a prior-knowledge client.
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ] {
        let response = assert_rejected(&server, request, 505);
        assert_eq!(response.reason, "HTTP Version Not Supported");
    }
    server.stop();
}

#[test]
fn head_too_large_is_431() {
    let server = TestServer::start_with(echo, options().max_head_size(4096));
    let big = |n: usize| {
        format!(
            "GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
            "a".repeat(n)
        )
    };
    assert_accepted(&server, big(3000).as_bytes());
    assert_rejected(&server, big(8000).as_bytes(), 431);
    // Over the limit before the head is even complete.
    let partial = format!(
        "GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: {}",
        "a".repeat(8000)
    );
    assert_rejected(&server, partial.as_bytes(), 431);
    // Many small headers adding up.
    let mut many = String::from("GET / HTTP/1.1\r\nHost: localhost\r\n");
    for i in 0..90 {
        many.push_str(&format!("X-Header-{i}: {}\r\n", "v".repeat(40)));
    }
    many.push_str("\r\n");
    assert_rejected(&server, many.as_bytes(), 431);
    server.stop();

    // The default limits: 64 KiB of head, 100 header lines.
    let server = TestServer::start(echo);
    assert_rejected(&server, big(70 * 1024).as_bytes(), 431);
    let mut many = String::from("GET / HTTP/1.1\r\nHost: localhost\r\n");
    for i in 0..120 {
        many.push_str(&format!("X-{i}: v\r\n"));
    }
    many.push_str("\r\n");
    assert_rejected(&server, many.as_bytes(), 431);
    server.stop();
}

#[test]
fn uri_too_long_is_414() {
    let server = TestServer::start_with(echo, options().max_uri_length(1024));
    let target = |n: usize| format!("/{}", "a".repeat(n - 1));
    let request = |t: &str| format!("GET {t} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let ok = target(1000);
    let env = assert_accepted(&server, request(&ok).as_bytes()).environ();
    assert_eq!(env.str("PATH_INFO"), ok);
    assert_rejected(&server, request(&target(2000)).as_bytes(), 414);
    // A request line that never ends.
    assert_rejected(&server, format!("GET {}", target(4000)).as_bytes(), 414);
    server.stop();

    // The default limit: 16 KiB.
    let server = TestServer::start(echo);
    assert_rejected(&server, request(&target(17 * 1024)).as_bytes(), 414);
    server.stop();
}

#[test]
fn body_over_max_body_size_is_413_with_content_length() {
    let server = TestServer::start_with(echo, options().max_body_size(10));
    let env = assert_accepted(
        &server,
        b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n0123456789",
    )
    .environ();
    assert_eq!(env.num("body_length"), 10);
    // Refused from the head alone, body sent or not.
    assert_rejected(
        &server,
        b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n\r\n01234567890",
        413,
    );
    assert_rejected(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n\r\n",
        413,
    );
    assert_rejected(
        &server,
        b"PUT / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 99999999999\r\nExpect: 100-continue\r\n\r\n",
        413,
    );
    server.stop();
}

/// A chunked body has no declared size: it is refused when the app reads
/// past the limit, before any response was sent. `/` reads the whole body
/// before it answers; `/echo` streams it back and reads its first piece
/// before it sends anything.
#[test]
fn body_over_max_body_size_is_413_chunked() {
    let server = TestServer::start_with(echo, options().max_body_size(10));
    let chunked = |path: &str, body: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n{body}"
        )
    };
    let env = assert_accepted(
        &server,
        chunked("/", "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n").as_bytes(),
    )
    .environ();
    assert_eq!(env.num("body_length"), 10);
    let one_big_chunk = "14\r\n01234567890123456789\r\n0\r\n\r\n";
    assert_rejected(&server, chunked("/", one_big_chunk).as_bytes(), 413);
    assert_rejected(
        &server,
        chunked("/", "5\r\nhello\r\n5\r\nworld\r\n1\r\n!\r\n0\r\n\r\n").as_bytes(),
        413,
    );
    assert_rejected(&server, chunked("/echo", one_big_chunk).as_bytes(), 413);
    server.stop();
}

/// With curl as the client: a large upload refused from its head still
/// shows the client the 413, not a connection reset; with and without
/// `Expect: 100-continue` (curl sends it on its own for bodies over 1 MiB).
#[test]
fn body_over_max_body_size_is_413_curl() {
    if !needs("curl", "body_over_max_body_size_is_413_curl") {
        return;
    }
    let server = TestServer::start_with(echo, options().max_body_size(1024));
    for (size, expect) in [
        (512 * 1024, "Expect:"),
        (8 * 1024 * 1024, "X-Default-Expect: 1"),
    ] {
        let body = vec![b'x'; size];
        let output = support::curl_with_stdin(
            &[
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-H",
                expect,
                "--data-binary",
                "@-",
                &server.url("/"),
            ],
            &body,
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "413",
            "{size} bytes: {}",
            describe_output(&output)
        );
        server.assert_serving();
    }
    server.stop();
}

#[test]
fn unknown_transfer_encoding_is_501() {
    let server = TestServer::start(echo);
    for coding in ["foo", "gzip, chunked", "identity", "x-custom, chunked"] {
        let request = format!(
            "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: {coding}\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        );
        assert_rejected(&server, request.as_bytes(), 501);
    }
    server.stop();
}

/// Framing the server cannot trust: RFC 9112 section 6 says 400 and close.
/// (Werkzeug accepts Content-Length beside chunked and decodes the chunks;
/// werk refuses it on purpose.)
#[test]
fn conflicting_or_invalid_framing_is_400() {
    let server = TestServer::start(echo);
    for request in [
        &b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5, 6\r\n\r\nhello!",
        b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: +5\r\n\r\nhello",
        b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        // chunked must be the final coding, once.
        b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        // HTTP/1.0 has no transfer codings.
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ] {
        assert_rejected(&server, request, 400);
    }
    // The same length twice is not a conflict.
    let env = assert_accepted(
        &server,
        b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    )
    .environ();
    assert_eq!(env.num("body_length"), 5);
    server.stop();
}

/// Bad chunked framing, found while the app reads the body: 400 instead of
/// the app's response, and the connection closes (the rest of the stream
/// cannot be trusted).
#[test]
fn bad_chunk_size_is_400() {
    let server = TestServer::start(echo);
    for body in [
        "zz\r\nhello\r\n0\r\n\r\n",
        "-5\r\nhello\r\n0\r\n\r\n",
        "+5\r\nhello\r\n0\r\n\r\n",
        "0x5\r\nhello\r\n0\r\n\r\n",
        "\r\nhello\r\n0\r\n\r\n",
        "11111111111111111\r\nhello\r\n0\r\n\r\n",
        "5\nhello\r\n0\r\n\r\n",
        "5\r\nhelloXX\r\n0\r\n\r\n",
        "3\r\nhello\r\n0\r\n\r\n",
    ] {
        let request = format!(
            "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n{body}"
        );
        assert_rejected(&server, request.as_bytes(), 400);
    }
    server.stop();
}

/// The same with `/echo`, which reads the body as it streams it back: the
/// bad framing is found on the first read, before anything was sent.
#[test]
fn bad_chunk_size_is_400_for_a_streaming_reader() {
    let server = TestServer::start(echo);
    let request =
        "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";
    assert_rejected(&server, request.as_bytes(), 400);
    server.stop();
}

/// A client that never finishes its head gets 408 after the head timeout,
/// and the connection closes.
#[test]
fn unfinished_head_times_out_with_408() {
    let timeout = Duration::from_millis(500);
    let server = TestServer::start_with(echo, options().head_timeout(timeout));
    let mut client = server.connect();
    let started = Instant::now();
    client.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n");
    let response = client.read_response();
    let waited = started.elapsed();
    assert_eq!(response.status, 408, "{}", response.describe());
    assert!(response.says_close());
    assert!(
        waited >= timeout - Duration::from_millis(50),
        "408 after {waited:?}, before the head timeout"
    );
    assert!(waited < Duration::from_secs(4), "408 only after {waited:?}");
    client.expect_closed();
    server.assert_serving();
    server.stop();
}

/// A client that trickles its head a byte at a time does not reset the
/// clock: the head timeout counts from its first byte.
#[test]
fn trickled_head_times_out_with_408() {
    let timeout = Duration::from_millis(500);
    let server = TestServer::start_with(echo, options().head_timeout(timeout));
    let mut client = server.connect();
    let mut writer = client.try_clone();
    let started = Instant::now();
    let trickle = std::thread::spawn(move || {
        // 40 bytes, one every 50 ms: 2 s in all, never the blank line.
        for &b in b"GET /slow HTTP/1.1\r\nHost: localhost\r\nX-A: " {
            if writer.send_lenient(&[b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let response = client.read_response();
    let waited = started.elapsed();
    assert_eq!(response.status, 408, "{}", response.describe());
    assert!(
        waited < Duration::from_millis(1800),
        "408 after {waited:?}: the trickle kept the head alive"
    );
    client.expect_closed();
    trickle.join().expect("trickle thread");
    server.assert_serving();
    server.stop();
}

/// HTTP/1.1 needs exactly one valid Host header (RFC 9112 section 3.2).
#[test]
fn missing_or_bad_host_is_400() {
    let server = TestServer::start(echo);
    for request in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nX-Other: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: host:port\r\n\r\n",
    ] {
        assert_rejected(&server, request, 400);
    }
    // HTTP/1.0 does not require one.
    let env = assert_accepted(&server, b"GET / HTTP/1.0\r\n\r\n").environ();
    assert!(!env.has("HTTP_HOST"));
    server.stop();
}

#[test]
fn unsupported_expectation_is_417() {
    let server = TestServer::start(echo);
    assert_rejected(
        &server,
        b"PUT / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: something-else\r\n\r\nhello",
        417,
    );
    server.stop();
}

/// A burst of bad requests, each on its own connection, at once: every
/// one is answered and the server keeps serving.
#[test]
fn many_bad_requests_at_once() {
    let server = TestServer::start(echo);
    let addr = server.addr;
    let clients: Vec<_> = (0..16)
        .map(|i| {
            std::thread::spawn(move || {
                let mut client = support::Client::connect(addr);
                let request: &[u8] = match i % 4 {
                    0 => b"GARBAGE\r\n\r\n",
                    1 => b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
                    2 => b"GET / HTTP/1.1\r\n\r\n",
                    _ => b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: foo\r\n\r\n",
                };
                client.send(request);
                let response = client.read_response();
                client.expect_closed();
                response.status
            })
        })
        .collect();
    let mut statuses: Vec<u16> = clients
        .into_iter()
        .map(|c| c.join().expect("client thread"))
        .collect();
    statuses.sort_unstable();
    let mut expected = [vec![400; 8], vec![501; 4], vec![505; 4]].concat();
    expected.sort_unstable();
    assert_eq!(statuses, expected);
    server.assert_serving();
    server.stop();
}
