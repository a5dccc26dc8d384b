//! Real clients against werk: Python's `http.client` and `curl`. A test
//! whose client is not installed fails under CI, which installs it, and
//! elsewhere says that it skips (see `support::needs`).

use crate::support;

use support::{needs, pattern, TestServer};

fn echo_server() -> TestServer {
    TestServer::start(werk::apps::echo, support::quiet())
}

/// Runs `script` with python3 against a fresh echo server and returns its
/// stdout, or `None` if python3 is missing (see `support::needs`; `test`
/// names the test in that message).
fn python(script: &str, test: &str) -> Option<String> {
    let server = echo_server();
    support::python_ok(test, script, server.addr.port())
}

#[test]
fn python_keep_alive_gets_reuse_one_connection() {
    let script = r#"
import http.client, json, sys
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
ports = set()
for i in range(5):
    conn.request("GET", "/keep/%d" % i)
    r = conn.getresponse()
    body = json.loads(r.read())
    assert r.status == 200, r.status
    assert body["PATH_INFO"] == "/keep/%d" % i, body
    assert not r.will_close, "the server closed a keep-alive connection"
    ports.add(body["REMOTE_PORT"])
    if i == 0:
        sock = conn.sock
    assert conn.sock is sock, "http.client had to reconnect"
for n in (0, 1, 70000):
    conn.request("GET", "/bytes/%d" % n)
    r = conn.getresponse()
    data = r.read()
    assert len(data) == n and r.getheader("Content-Length") == str(n), (n, len(data))
    assert data == bytes(97 + i % 26 for i in range(n))
    assert conn.sock is sock, "http.client had to reconnect"
print("connections", len(ports))
"#;
    let Some(out) = python(script, "python_keep_alive_gets_reuse_one_connection") else {
        return;
    };
    assert_eq!(out.trim(), "connections 1", "{out}");
}

#[test]
fn python_chunked_post() {
    let script = r#"
import http.client, sys
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
parts = [b"first,", b"", b"second,", b"x" * 100000, b"end"]
conn.request("POST", "/echo", body=iter(parts), headers={"Content-Type": "text/x-parts"},
             encode_chunked=True)
r = conn.getresponse()
data = r.read()
assert r.status == 200, r.status
assert r.getheader("Content-Type") == "text/x-parts", r.getheaders()
assert data == b"".join(parts), len(data)
# The counting route sees the de-chunked length.
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
conn.request("POST", "/count", body=iter([b"abc", b"defg"]), encode_chunked=True)
r = conn.getresponse()
text = r.read().decode()
assert '"body_length": 7' in text, text
assert '"HTTP_TRANSFER_ENCODING": "chunked"' in text, text
print("ok", len(data))
"#;
    let Some(out) = python(script, "python_chunked_post") else {
        return;
    };
    assert_eq!(out.trim(), "ok 100016", "{out}");
}

#[test]
fn python_reads_a_chunked_response() {
    let script = r#"
import http.client, sys
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
for _ in range(2):
    conn.request("GET", "/stream/4?delay_ms=10")
    r = conn.getresponse()
    assert r.getheader("Transfer-Encoding") == "chunked", r.getheaders()
    assert r.getheader("Content-Length") is None
    lines = r.read().decode().splitlines()
    assert lines == ['{"chunk": %d}' % i for i in range(4)], lines
print("ok")
"#;
    let Some(out) = python(script, "python_reads_a_chunked_response") else {
        return;
    };
    assert_eq!(out.trim(), "ok", "{out}");
}

#[test]
fn curl_get_over_http_1_1() {
    if !needs("curl", "curl_get_over_http_1_1") {
        return;
    }
    let server = echo_server();
    let url = format!("http://{}/bytes/100000", server.addr);
    let ran = support::curl_ok(&[&url, &url], b"");
    let want: Vec<u8> = (0..200_000u32)
        .map(|i| b'a' + (i % 100_000 % 26) as u8)
        .collect();
    support::assert_same_bytes(&ran.stdout, &want, "two GETs of /bytes/100000");
    // Both on one connection.
    let ran = support::curl_ok(&["--verbose", "--output", "/dev/null", &url, &url], b"");
    let err = ran.stderr_text();
    assert!(err.contains("Re-using existing connection"), "{err}");
}

#[test]
fn curl_upload_from_stdin_uses_100_continue_and_chunked() {
    if !needs(
        "curl",
        "curl_upload_from_stdin_uses_100_continue_and_chunked",
    ) {
        return;
    }
    let server = echo_server();
    let url = format!("http://{}/echo", server.addr);
    let data = pattern(3 * 1024 * 1024 + 17, 9);
    let ran = support::curl_ok(&["--verbose", "-T", "-", &url], &data);
    let err = ran.stderr_text();
    assert!(err.contains("> Transfer-Encoding: chunked"), "{err}");
    assert!(err.contains("> Expect: 100-continue"), "{err}");
    assert!(err.contains("< HTTP/1.1 100 Continue"), "{err}");
    assert!(err.contains("< HTTP/1.1 200 OK"), "{err}");
    support::assert_same_bytes(&ran.stdout, &data, "curl -T - through /echo");
}

#[test]
fn curl_head_request() {
    if !needs("curl", "curl_head_request") {
        return;
    }
    let server = echo_server();
    for (path, expect) in [
        ("/bytes/1234", Some("content-length: 1234")),
        ("/stream/3?delay_ms=10", None),
        ("/", None),
    ] {
        let url = format!("http://{}{path}", server.addr);
        let ran = support::curl_ok(&["-I", &url], b"");
        let out = ran.stdout_text().to_ascii_lowercase();
        assert!(out.starts_with("http/1.1 200 ok\r\n"), "{path}: {out}");
        assert!(out.ends_with("\r\n\r\n"), "{path}: only a head: {out:?}");
        if let Some(header) = expect {
            assert!(out.contains(header), "{path}: {out}");
        }
    }
}
