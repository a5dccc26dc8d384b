//! werk serving SCGI (`Options::protocol(Protocol::Scgi)`), talked to by
//! a raw SCGI client over TCP: the environ, the body, the CGI-style
//! response and one request per connection; a head that arrives in pieces
//! (it waits in the parker); and the refusals (too large, not SCGI, an
//! HTTP client on the SCGI port, a body over the limit). The real web
//! servers in front are in `deploy_lighttpd.rs` and `deploy_nginx.rs`.

mod deploy_support;
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use deploy_support::json_field;
use support::{pattern, TestServer, IO_TIMEOUT};

fn scgi_server(options: werk::Options) -> TestServer {
    TestServer::start(werk::apps::echo, options.protocol(werk::Protocol::Scgi))
}

/// An SCGI request head: a netstring of `pairs`, `CONTENT_LENGTH` first.
fn head(body_len: usize, pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut block = format!("CONTENT_LENGTH\0{body_len}\0").into_bytes();
    for (k, v) in pairs {
        block.extend_from_slice(format!("{k}\0{v}\0").as_bytes());
    }
    let mut out = format!("{}:", block.len()).into_bytes();
    out.extend_from_slice(&block);
    out.push(b',');
    out
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

/// Sends `data` and reads until the server closes: one SCGI response.
fn exchange(addr: SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut stream = connect(addr);
    stream.write_all(data).expect("send");
    read_to_close(&mut stream)
}

fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    stream.read_to_end(&mut out).expect("read the response");
    out
}

/// The `Status:` line, the headers and the body of a CGI-style response.
fn split(response: &[u8]) -> (String, Vec<u8>) {
    let end = support::find(response, b"\r\n\r\n").expect("a blank line after the headers");
    (
        String::from_utf8_lossy(&response[..end]).into_owned(),
        response[end + 4..].to_vec(),
    )
}

const GET: &[(&str, &str)] = &[
    ("SCGI", "1"),
    ("REQUEST_METHOD", "GET"),
    ("REQUEST_URI", "/a%20b?x=1"),
    ("SERVER_PROTOCOL", "HTTP/1.1"),
    ("REMOTE_ADDR", "192.0.2.7"),
    ("HTTP_HOST", "example.test:8080"),
    ("HTTP_X_TOKEN", "t"),
];

#[test]
fn a_request_gets_a_cgi_style_response_and_the_connection_closes() {
    let server = scgi_server(support::quiet());
    let (head_text, body) = split(&exchange(server.addr, &head(0, GET)));
    assert!(head_text.starts_with("Status: 200 OK\r\n"), "{head_text}");
    assert!(head_text.contains("\r\nContent-Type: application/json"));
    assert!(
        !head_text.contains("HTTP/1.1"),
        "no status line: {head_text}"
    );
    let json = String::from_utf8(body).unwrap();
    let field = |k: &str| json_field(&json, k).unwrap_or_else(|| panic!("{k} in {json}"));
    assert_eq!(field("PATH_INFO"), "/a b");
    assert_eq!(field("QUERY_STRING"), "x=1");
    assert_eq!(field("SCRIPT_NAME"), "");
    assert_eq!(field("REMOTE_ADDR"), "192.0.2.7");
    assert_eq!(field("SERVER_NAME"), "example.test");
    assert_eq!(field("SERVER_PORT"), "8080");
    assert_eq!(field("HTTP_X_TOKEN"), "t");
    assert_eq!(field("wsgi.multithread"), "true");
}

#[test]
fn the_body_is_exactly_content_length_bytes() {
    let server = scgi_server(support::quiet());
    let body = pattern(300_000, 3);
    let mut request = head(
        body.len(),
        &[
            ("REQUEST_METHOD", "POST"),
            ("REQUEST_URI", "/echo"),
            ("CONTENT_TYPE", "application/x-test"),
        ],
    );
    request.extend_from_slice(&body);
    let (head_text, echoed) = split(&exchange(server.addr, &request));
    assert!(head_text.contains("Content-Length: 300000"), "{head_text}");
    support::assert_same_bytes(&echoed, &body, "SCGI echo");
}

#[test]
fn a_head_in_pieces_waits_for_the_rest() {
    let server = scgi_server(support::quiet());
    let request = head(0, GET);
    let mut stream = connect(server.addr);
    for piece in request.chunks(7) {
        stream.write_all(piece).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    let (head_text, _) = split(&read_to_close(&mut stream));
    assert!(head_text.starts_with("Status: 200 OK"), "{head_text}");
}

#[test]
fn refusals_say_why() {
    let server = scgi_server(support::quiet().max_head_size(1024).max_body_size(10));
    let status = |data: &[u8]| {
        let (head_text, body) = split(&exchange(server.addr, data));
        (head_text, String::from_utf8_lossy(&body).into_owned())
    };

    let big = "x".repeat(2000);
    let (h, _) = status(&head(0, &[("REQUEST_METHOD", "GET"), ("HTTP_X", &big)]));
    assert!(h.starts_with("Status: 431 "), "{h}");

    let (h, body) = status(b"12:SCGI\x001\x00ABC\x00\x00,");
    assert!(h.starts_with("Status: 400 "), "{h}");
    assert!(body.contains("CONTENT_LENGTH"), "{body}");

    let (h, body) = status(&head(0, &[("REQUEST_URI", "/")]));
    assert!(
        h.starts_with("Status: 400 ") && body.contains("REQUEST_METHOD"),
        "{h}"
    );

    let mut too_long = head(11, &[("REQUEST_METHOD", "POST")]);
    too_long.extend_from_slice(b"01234567890");
    let (h, _) = status(&too_long);
    assert!(h.starts_with("Status: 413 "), "{h}");

    // An HTTP client on the SCGI port gets an HTTP answer it can show.
    let (h, body) = status(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(h.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{h}");
    assert!(body.contains("this port speaks SCGI"), "{body}");
}

#[test]
fn a_panic_is_a_500_and_the_server_goes_on() {
    let server = scgi_server(support::quiet());
    let (h, body) = split(&exchange(
        server.addr,
        &head(0, &[("REQUEST_METHOD", "GET"), ("REQUEST_URI", "/panic")]),
    ));
    assert!(h.starts_with("Status: 500 Internal Server Error"), "{h}");
    assert!(String::from_utf8_lossy(&body).contains(support::INTERNAL_ERROR_TEXT));
    let (h, _) = split(&exchange(server.addr, &head(0, GET)));
    assert!(h.starts_with("Status: 200 OK"), "{h}");
}

#[cfg(feature = "tls")]
#[test]
fn tls_and_scgi_do_not_mix() {
    let options = werk::Options::default()
        .protocol(werk::Protocol::Scgi)
        .ssl_context(werk::SslContext::Adhoc);
    let err = werk::make_server("127.0.0.1", 0, werk::apps::echo, options).unwrap_err();
    assert!(err.to_string().contains("SCGI has no TLS"), "{err}");
}
