//! Response and request bodies over real sockets: files, readers,
//! Content-Length kept in both directions, bodiless responses, and large
//! uploads streamed through echo's `/echo` and counted by its `/discard`.

use crate::support;

use std::fs::File;
use std::io::{Cursor, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::Instant;

use support::{assert_same_bytes, pattern, Client, TestServer, GUARD};
use werk::{Body, Environ, StartResponse};

/// A file under Cargo's scratch directory for integration tests, removed
/// on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, data: &[u8]) -> TempFile {
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("werk-bodies-{}-{name}", std::process::id()));
        std::fs::write(&path, data).expect("write the test file");
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn file_body_over_ten_mib_arrives_intact_with_its_length() {
    let data = pattern(10 * 1024 * 1024 + 12_345, 1);
    let file = TempFile::new("big", &data);
    let path = file.0.clone();
    let app = move |environ: &Environ, start_response: StartResponse| {
        let mut f = File::open(&path).expect("open the test file");
        if environ.path_info() == "/offset" {
            f.seek(SeekFrom::Start(1000)).expect("seek");
        }
        start_response
            .start("200 OK", [("Content-Type", "application/octet-stream")])
            .expect("first call");
        Body::file(f).expect("Body::file")
    };
    let server = TestServer::start(app, support::quiet());
    let mut c = server.connect();

    let started = Instant::now();
    let r = c.get("/");
    eprintln!(
        "{} byte file received in {:?}",
        data.len(),
        started.elapsed()
    );
    assert_eq!(r.status, 200);
    assert!(!r.chunked());
    assert_eq!(
        r.header("content-length"),
        Some(data.len().to_string().as_str())
    );
    assert_same_bytes(&r.body, &data, "file body");

    // From the file's position, on the same connection.
    let r = c.get("/offset");
    assert_eq!(
        r.header("content-length"),
        Some((data.len() - 1000).to_string().as_str())
    );
    assert_same_bytes(&r.body, &data[1000..], "file body from offset 1000");

    // HEAD: the length, no body (the next response parses cleanly).
    let r = c.request("HEAD", "/", &[], b"");
    assert_eq!(
        r.header("content-length"),
        Some(data.len().to_string().as_str())
    );
    let r = c.get("/offset");
    assert_same_bytes(&r.body, &data[1000..], "file body after a HEAD");
}

#[test]
fn reader_body_is_streamed_in_full() {
    let data = pattern(300_000, 2);
    let shared = data.clone();
    let app = move |environ: &Environ, start_response: StartResponse| {
        let mut headers = vec![(
            "Content-Type".to_owned(),
            "application/octet-stream".to_owned(),
        )];
        if environ.path_info() == "/with-length" {
            headers.push(("Content-Length".to_owned(), shared.len().to_string()));
        }
        start_response.start("200 OK", headers).expect("first call");
        Body::from_reader(Cursor::new(shared.clone()))
    };
    let server = TestServer::start(app, support::quiet());
    let mut c = server.connect();

    let r = c.get("/");
    assert_eq!(r.status, 200);
    assert!(r.chunked(), "a reader of unknown length is sent chunked");
    assert_same_bytes(&r.body, &data, "reader body");

    let r = c.get("/with-length");
    assert!(!r.chunked());
    assert_eq!(r.header("content-length"), Some("300000"));
    assert_same_bytes(&r.body, &data, "reader body with Content-Length");

    // HTTP/1.0: close-delimited.
    let mut c = server.connect();
    c.send(b"GET / HTTP/1.0\r\n\r\n");
    let r = c.read_response();
    assert!(!r.chunked());
    assert_same_bytes(&r.body, &data, "reader body over HTTP/1.0");
}

/// An app whose declared Content-Length and actual body disagree.
fn length_app(environ: &Environ, start_response: StartResponse) -> Body {
    let (declared, body) = match environ.path_info() {
        "/short-bytes" => ("100", Body::from("only this")),
        "/short-stream" => ("100", Body::stream(["only", " this"])),
        "/short-reader" => ("100", Body::from_reader(Cursor::new(b"only this".to_vec()))),
        "/long-bytes" => ("5", Body::from("0123456789")),
        "/long-stream" => ("5", Body::stream(["012", "3456789", "more"])),
        "/long-reader" => ("5", Body::from_reader(Cursor::new(b"0123456789".to_vec()))),
        "/exact" => ("5", Body::stream(["01", "234"])),
        other => panic!("no route {other:?}"),
    };
    start_response
        .start(
            "200 OK",
            [("Content-Type", "text/plain"), ("Content-Length", declared)],
        )
        .expect("first call");
    body
}

#[test]
fn content_length_not_met_closes_the_connection() {
    let server = TestServer::start(length_app, support::quiet());
    for target in ["/short-bytes", "/short-stream", "/short-reader"] {
        let mut c = server.connect();
        c.send_request("GET", target, &[], b"");
        let r = c
            .try_read_response()
            .unwrap_or_else(|e| panic!("{target}: {e}"));
        assert_eq!(r.status, 200, "{target}");
        assert_eq!(r.header("content-length"), Some("100"), "{target}");
        assert!(
            !r.complete,
            "{target}: the server must close so the client sees a short body"
        );
        assert_eq!(r.text(), "only this", "{target}");
    }
    // A body that meets its length is fine and keeps the connection.
    let mut c = server.connect();
    let r = c.get("/exact");
    assert_eq!(r.text(), "01234");
    assert!(!r.says_close());
    assert_eq!(c.get("/exact").text(), "01234");
}

#[test]
fn body_longer_than_its_content_length_is_cut_at_the_length() {
    let server = TestServer::start(length_app, support::quiet());
    for target in ["/long-bytes", "/long-stream", "/long-reader"] {
        let mut c = server.connect();
        let r = c.get(target);
        assert_eq!(r.status, 200, "{target}");
        assert_eq!(r.header("content-length"), Some("5"), "{target}");
        assert_eq!(r.text(), "01234", "{target}");
        // The excess is never sent (it would be read as the next
        // response); the connection ends.
        let rest = c.read_to_end().unwrap_or_else(|e| panic!("{target}: {e}"));
        assert!(
            rest.is_empty(),
            "{target}: bytes after the declared length: {:?}",
            String::from_utf8_lossy(&rest)
        );
    }
}

#[test]
fn head_of_a_streamed_body_has_no_body() {
    let server = TestServer::start(werk::apps::echo, support::quiet());
    let mut c = server.connect();
    let r = c.request("HEAD", "/stream/5", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    // Sent right after: if any body bytes followed the HEAD response they
    // would be read as this response's status line.
    let r = c.get("/bytes/26");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "abcdefghijklmnopqrstuvwxyz");
    let r = c.request("HEAD", "/bytes/100000", &[], b"");
    assert_eq!(r.header("content-length"), Some("100000"));
    let r = c.get("/bytes/3");
    assert_eq!(r.text(), "abc");

    // Pipelined: HEAD then GET in one write.
    let mut c = server.connect();
    c.send(
        b"HEAD /stream/3 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /bytes/4 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    );
    assert_eq!(c.read_head_response().status, 200);
    assert_eq!(c.read_response().text(), "abcd");
}

fn bodiless_app(environ: &Environ, start_response: StartResponse) -> Body {
    let status = match environ.path_info() {
        "/204" => "204 No Content",
        "/304" => "304 Not Modified",
        other => panic!("no route {other:?}"),
    };
    start_response
        .start(status, [("X-App", "1")])
        .expect("first call");
    // A body the status forbids; the server must not send it.
    Body::stream(["oops", " a body"])
}

#[test]
fn no_content_responses_have_no_body() {
    let server = TestServer::start(werk::apps::echo, support::quiet());
    let mut c = server.connect();
    let r = c.get("/status/204");
    assert_eq!(r.status, 204);
    assert!(r.header("content-length").is_none(), "{:?}", r.headers);
    assert!(r.header("transfer-encoding").is_none(), "{:?}", r.headers);
    let r = c.get("/bytes/5");
    assert_eq!(r.text(), "abcde");

    let server = TestServer::start(bodiless_app, support::quiet());
    for target in ["/204", "/304"] {
        let mut c = server.connect();
        // Pipelined with a second request: stray body bytes would corrupt it.
        c.send(
            format!(
                "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            )
            .as_bytes(),
        );
        for _ in 0..2 {
            let r = c.read_response();
            assert_eq!(r.status.to_string(), &target[1..]);
            assert_eq!(r.header("x-app"), Some("1"));
            assert!(r.header("transfer-encoding").is_none(), "{:?}", r.headers);
            if target == "/204" {
                assert!(r.header("content-length").is_none(), "{:?}", r.headers);
            }
        }
        c.shutdown_write();
        let rest = c.read_to_end().expect("the server closes after our end");
        assert!(
            rest.is_empty(),
            "{target}: body bytes were sent: {:?}",
            String::from_utf8_lossy(&rest)
        );
    }
}

/// Sends `head` and `body` on one thread while the response is read on
/// this one (echo streams back as it reads, so neither side may wait for
/// the other to finish).
fn upload(server: &TestServer, head: String, body: Vec<u8>) -> support::Response {
    let mut c: Client = server.connect();
    let mut writer = c.stream.try_clone().expect("clone the socket");
    let sender = std::thread::spawn(move || {
        writer.write_all(head.as_bytes())?;
        writer.write_all(&body)
    });
    let r = c.read_response();
    support::join_all(vec![sender], GUARD, "upload")
        .pop()
        .unwrap()
        .expect("the whole body was sent");
    r
}

#[test]
fn twenty_mib_upload_with_content_length_comes_back_identical() {
    let server = TestServer::start(werk::apps::echo, support::quiet());
    let data = pattern(20 * 1024 * 1024, 3);
    let head = format!(
        "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-test\r\nContent-Length: {}\r\n\r\n",
        data.len()
    );
    let started = Instant::now();
    let r = upload(&server, head, data.clone());
    eprintln!(
        "20 MiB round trip (Content-Length): {:?}",
        started.elapsed()
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/x-test"));
    assert_eq!(
        r.header("content-length"),
        Some(data.len().to_string().as_str())
    );
    assert_same_bytes(&r.body, &data, "echoed body");
}

#[test]
fn twenty_mib_upload_to_discard_is_counted_on_a_kept_alive_connection() {
    let server = TestServer::start(werk::apps::echo, support::quiet());
    let data = pattern(20 * 1024 * 1024, 5);
    let mut c = server.connect();
    // discard reads the whole body before it answers: one thread may send it all
    let r = c.request("POST", "/discard", &[], &data);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.text(), data.len().to_string());
    // the connection stays usable: the whole body was consumed
    let r = c.request("POST", "/discard", &[], b"abc");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "3");
}

#[test]
fn twenty_mib_chunked_upload_comes_back_identical() {
    let server = TestServer::start(werk::apps::echo, support::quiet());
    let data = pattern(20 * 1024 * 1024, 4);
    // Chunks of varied sizes, one with an extension, and a trailer.
    let mut wire = Vec::with_capacity(data.len() + 64 * 1024);
    let sizes = [1usize, 100, 4096, 65_536, 1_000_000, 7];
    let mut pos = 0;
    let mut i = 0;
    while pos < data.len() {
        let n = sizes[i % sizes.len()].min(data.len() - pos);
        if i == 3 {
            wire.extend_from_slice(format!("{n:x};ext=1\r\n").as_bytes());
        } else {
            wire.extend_from_slice(format!("{n:X}\r\n").as_bytes());
        }
        wire.extend_from_slice(&data[pos..pos + n]);
        wire.extend_from_slice(b"\r\n");
        pos += n;
        i += 1;
    }
    wire.extend_from_slice(b"0\r\nX-Trailer: done\r\n\r\n");
    let head =
        "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_owned();
    let started = Instant::now();
    let r = upload(&server, head, wire);
    eprintln!("20 MiB round trip (chunked): {:?}", started.elapsed());
    assert_eq!(r.status, 200);
    assert!(r.chunked(), "a body of unknown length comes back chunked");
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_same_bytes(&r.body, &data, "echoed chunked body");
}

/// Where the body starts in `raw`, a response read so far: after the
/// head's blank line, once it has come.
fn body_start(raw: &[u8]) -> Option<usize> {
    raw.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// The data bytes of a chunked body in `raw` (from just after the head),
/// as far as whole chunks go; `true` once the last chunk has come.
fn dechunk(raw: &[u8]) -> (Vec<u8>, bool) {
    let mut data = Vec::new();
    let mut at = 0;
    while let Some(line) = raw[at..].windows(2).position(|w| w == b"\r\n") {
        let size_text = std::str::from_utf8(&raw[at..at + line]).expect("chunk size line");
        let size = usize::from_str_radix(size_text, 16).expect("hex chunk size");
        let start = at + line + 2;
        if size == 0 {
            return (data, raw.len() >= start + 2);
        }
        if raw.len() < start + size + 2 {
            break;
        }
        data.extend_from_slice(&raw[start..start + size]);
        at = start + size + 2;
    }
    (data, false)
}

/// A streamed chunk's last partial TCP segment may wait for the next
/// chunk (docs/wsgi-model.md, "The returned iterable"), but not long:
/// when the next chunk is late, another thread sends it. Here the app
/// produces its next chunk only once the client says it has every byte
/// so far, or after 3 s, so a tail kept for good, or for seconds, fails
/// the test. (That tails are kept on such a connection is checked in
/// tests/cli.rs, in a process of its own.)
#[test]
fn a_streamed_chunks_kept_tail_goes_out_while_the_next_chunk_is_late() {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    const CHUNK: usize = 64 * 1024;
    const EARLY: usize = 8;
    let data = Arc::new(pattern(EARLY * CHUNK, 7));
    let (told, hear) = mpsc::channel::<()>();
    let hear = Arc::new(Mutex::new(hear));
    let released = Arc::new(AtomicBool::new(false));

    let app = {
        let (data, released) = (data.clone(), released.clone());
        move |environ: &Environ, start_response: StartResponse| {
            if environ.path_info() == "/warm" {
                // Grows the connection's segments to their full size.
                let headers: [(&str, &str); 0] = [];
                start_response.start("200 OK", headers).expect("first call");
                return Body::from(vec![b'w'; 4 << 20]);
            }
            let headers: Vec<(String, String)> = match environ.query_string() {
                "length" => vec![("Content-Length".into(), (EARLY * CHUNK + 3).to_string())],
                _ => vec![],
            };
            start_response.start("200 OK", headers).expect("first call");
            let (data, hear, released) = (data.clone(), hear.clone(), released.clone());
            let early = (0..EARLY).map(move |i| data[i * CHUNK..(i + 1) * CHUNK].to_vec());
            let late = std::iter::once_with(move || {
                let heard = hear.lock().unwrap().recv_timeout(Duration::from_secs(3));
                released.store(heard.is_ok(), Ordering::SeqCst);
                b"end".to_vec()
            });
            Body::stream(early.chain(late))
        }
    };
    let server = TestServer::start(app, support::quiet());

    for framing in ["length", "chunked"] {
        released.store(false, Ordering::SeqCst);
        let mut s = std::net::TcpStream::connect(server.addr).expect("connect");
        s.set_read_timeout(Some(GUARD)).unwrap();
        let mut raw = Vec::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut read_until =
            |s: &mut std::net::TcpStream, raw: &mut Vec<u8>, done: &dyn Fn(&[u8]) -> bool| {
                while !done(raw) {
                    let n = s.read(&mut buf).expect("the response goes on");
                    assert!(n > 0, "{framing}: the connection closed early");
                    raw.extend_from_slice(&buf[..n]);
                }
            };

        s.write_all(b"GET /warm HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        read_until(&mut s, &mut raw, &|r| {
            body_start(r).is_some_and(|h| r.len() >= h + (4 << 20))
        });
        raw.clear();

        let request = format!("GET /late?{framing} HTTP/1.1\r\nHost: t\r\n\r\n");
        s.write_all(request.as_bytes()).unwrap();
        let body = |raw: &[u8]| -> (Vec<u8>, bool) {
            let Some(h) = body_start(raw) else {
                return (Vec::new(), false);
            };
            match framing {
                "length" => (raw[h..].to_vec(), raw.len() == h + EARLY * CHUNK + 3),
                _ => dechunk(&raw[h..]),
            }
        };
        read_until(&mut s, &mut raw, &|r| body(r).0.len() >= EARLY * CHUNK);
        let (early, _) = body(&raw);
        let early = &early[..EARLY * CHUNK];
        assert_same_bytes(early, &data, &format!("{framing}: the early chunks"));
        told.send(()).expect("the app waits");
        read_until(&mut s, &mut raw, &|r| body(r).1);
        assert!(
            released.load(Ordering::SeqCst),
            "{framing}: the client got the early chunks only after the app gave up"
        );
        assert_eq!(&body(&raw).0[EARLY * CHUNK..], b"end", "{framing}");
    }
}

/// A client that sends its body a piece at a time and waits for each
/// piece's echo before it sends the next (echo's `/echo` streams the
/// request body back as it reads it). The app's read of the next piece
/// waits for the client, so the echo's kept-back tail must go out first.
#[test]
fn a_client_that_waits_for_each_pieces_echo_gets_all_of_it() {
    use std::io::{Read, Write};

    const PIECE: usize = 64 * 1024;
    // Over 1 MiB, so that the app starts before the body is all here.
    const PIECES: usize = 24;
    let data = pattern(PIECE * PIECES, 11);
    let server = TestServer::start(werk::apps::echo, support::quiet());
    let mut s = std::net::TcpStream::connect(server.addr).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        data.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    for (i, piece) in data.chunks(PIECE).enumerate() {
        s.write_all(piece).unwrap();
        let want = (i + 1) * PIECE;
        loop {
            if body_start(&raw).is_some_and(|b| raw.len() >= b + want) {
                break;
            }
            let n = s.read(&mut buf).unwrap_or_else(|e| {
                panic!("piece {i}: the echo of {want} bytes did not come: {e}")
            });
            assert!(n > 0, "piece {i}: the connection closed");
            raw.extend_from_slice(&buf[..n]);
        }
    }
    let body_start = body_start(&raw).expect("a head");
    assert_same_bytes(&raw[body_start..], &data, "the echo");
}

/// A stream whose iterator, once spent, reads the rest of the request
/// body when it is dropped, through the app's `wsgi.input`.
struct ReadsInputOnDrop {
    chunks: std::vec::IntoIter<&'static str>,
    input: werk::Input,
    read: std::sync::Arc<std::sync::Mutex<Option<Vec<u8>>>>,
}

impl Iterator for ReadsInputOnDrop {
    type Item = &'static str;
    fn next(&mut self) -> Option<&'static str> {
        self.chunks.next()
    }
}

impl Drop for ReadsInputOnDrop {
    fn drop(&mut self) {
        let mut rest = Vec::new();
        let _ = std::io::Read::read_to_end(&mut self.input, &mut rest);
        *self.read.lock().unwrap() = Some(rest);
    }
}

#[test]
fn a_stream_whose_iterator_reads_the_input_when_dropped_is_served() {
    let read = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = read.clone();
    let app = move |environ: &Environ, start_response: StartResponse| {
        start_response
            .start("200 OK", [("Content-Type", "text/plain")])
            .expect("first call");
        Body::stream(ReadsInputOnDrop {
            chunks: vec!["one ", "two"].into_iter(),
            input: environ.input(),
            read: read.clone(),
        })
    };
    let server = TestServer::start(app, support::quiet());
    let mut c = server.connect();
    for round in 0..2 {
        let r = c.request("POST", "/", &[], b"left unread");
        assert_eq!(r.status, 200, "round {round}");
        assert_eq!(r.text(), "one two", "round {round}");
        let rest = seen.lock().unwrap().take();
        assert_eq!(rest.as_deref(), Some(&b"left unread"[..]), "round {round}");
    }
}

/// An error whose drop reads the rest of the request body through the
/// app's `wsgi.input`.
#[derive(Debug)]
struct ErrorReadingInputOnDrop(werk::Input);

impl std::fmt::Display for ErrorReadingInputOnDrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the data source failed")
    }
}

impl std::error::Error for ErrorReadingInputOnDrop {}

impl Drop for ErrorReadingInputOnDrop {
    fn drop(&mut self) {
        let _ = std::io::Read::read_to_end(&mut self.0, &mut Vec::new());
    }
}

#[test]
fn a_body_error_whose_drop_reads_the_input_cuts_the_response_and_frees_the_worker() {
    let app = |environ: &Environ, start_response: StartResponse| {
        start_response
            .start("200 OK", [("Content-Type", "text/plain")])
            .expect("first call");
        let failure = ErrorReadingInputOnDrop(environ.input());
        Body::try_stream(vec![Ok("one"), Err(std::io::Error::other(failure))])
    };
    let server = TestServer::start(app, support::quiet().threads(1));
    for round in 0..2 {
        // The stream is cut after its first chunk: the connection closes
        // without the last chunk, and the one worker serves the next.
        let mut c = server.connect();
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nleft");
        let got = c.read_to_end().expect("the server closes the connection");
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("HTTP/1.1 200 OK"), "round {round}: {text}");
        assert!(
            text.contains("one") && !text.ends_with("0\r\n\r\n"),
            "round {round}: {text}"
        );
    }
}
