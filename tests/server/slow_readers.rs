//! Clients that read their responses slowly, or not at all, hold no
//! worker: a response whose socket is full waits in the parker until the
//! client makes room, and an idle worker goes on with it then. Over TCP,
//! Unix sockets and TLS: a crowd of clients that never read beside a small
//! pool (2 workers, at most 4), and a fresh request still answered; slow
//! but steady readers that get every byte of in-memory, streamed and file
//! bodies; a reader that stops, cut off after `io_timeout`; and a shutdown
//! that lets a parked response finish, or cuts it at the grace period.
//!
//! Durations are printed (see them with `--nocapture`) but never checked
//! against tight bounds: every read has a timeout that only catches hangs.
//! The responses are larger than what the kernel buffers for a connection
//! (a few MiB over loopback TCP), so that their writes do block.

use crate::support;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use support::{assert_same_bytes, quiet, TestServer, GUARD, IO_TIMEOUT};
use werk::{Body, Environ, StartResponse};

/// The bytes every body is cut from: byte i is `i % 251`, a period that no
/// piece or chunk size shares, so a lost or repeated piece shows.
fn data() -> &'static [u8] {
    static DATA: OnceLock<Vec<u8>> = OnceLock::new();
    DATA.get_or_init(|| (0..32 << 20).map(|i| (i % 251) as u8).collect())
}

/// The same bytes in a file, for file bodies (`sendfile`): one per test,
/// removed when the test ends.
struct DataFile(PathBuf);

impl DataFile {
    fn new(test: &str) -> DataFile {
        let name = format!("werk-slow-readers-{}-{test}", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, data()).expect("write the data file");
        DataFile(path)
    }
}

impl Drop for DataFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The test app, with `file` for its file bodies.
///
/// `/bytes/<n>`: an in-memory body with Content-Length; `/chunks/<n>`: a
/// stream of chunks of uneven sizes, chunked; `/file/<n>`: a file body;
/// anything else: `fresh`.
fn app(file: &DataFile) -> impl werk::App {
    let file = file.0.clone();
    move |environ: &Environ, start_response: StartResponse| respond(environ, start_response, &file)
}

fn respond(environ: &Environ, start_response: StartResponse, file: &std::path::Path) -> Body {
    let path = environ.path_info().to_owned();
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let route = parts.next().unwrap_or("");
    let n: usize = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let n = n.min(data().len());
    let octets = [("Content-Type", "application/octet-stream")];
    match route {
        "bytes" => {
            let _ = start_response.start("200 OK", octets);
            Body::from(&data()[..n])
        }
        "chunks" => {
            let _ = start_response.start("200 OK", octets);
            let mut at = 0;
            let mut size = 1000;
            Body::stream(std::iter::from_fn(move || {
                if at >= n {
                    return None;
                }
                // 1 KB to about 300 KB, growing and wrapping.
                size = (size * 7 / 3) % 300_000 + 1000;
                let end = (at + size).min(n);
                let chunk = data()[at..end].to_vec();
                at = end;
                Some(chunk)
            }))
        }
        "file" => {
            let _ = start_response.start("200 OK", octets);
            let file = std::fs::File::open(file).expect("open the data file");
            Body::file_range(file, 0, n as u64).expect("a file body")
        }
        _ => {
            let _ = start_response.start("200 OK", [("Content-Type", "text/plain")]);
            Body::from("fresh")
        }
    }
}

/// A small pool: 2 workers, at most 4. A client that never reads would
/// hold one for `io_timeout` (long here) if its writes blocked a worker.
fn small_pool() -> werk::Options {
    quiet()
        .threads(2)
        .max_threads(4)
        .io_timeout(Duration::from_secs(120))
}

fn request_bytes(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").into_bytes()
}

/// A response as read: the head's text, the body, and whether it came to
/// its proper end (false: the server closed the connection first).
struct Answer {
    head: String,
    body: Vec<u8>,
    complete: bool,
}

/// Reads one response (Content-Length or chunked), `piece` bytes at a
/// time with `pause` between reads.
fn read_response(stream: &mut impl Read, piece: usize, pause: Duration) -> io::Result<Answer> {
    let mut raw = Vec::new();
    let mut buf = vec![0u8; piece];
    let mut closed = false;
    let mut fill = |raw: &mut Vec<u8>, closed: &mut bool| -> io::Result<()> {
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
        match stream.read(&mut buf) {
            Ok(0) => *closed = true,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => *closed = true,
            Err(e) => return Err(e),
        }
        Ok(())
    };
    let head_end = loop {
        if let Some(i) = support::find(&raw, b"\r\n\r\n") {
            break i + 4;
        }
        if closed {
            return Err(io::Error::other("closed before a whole head"));
        }
        fill(&mut raw, &mut closed)?;
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let lower = head.to_ascii_lowercase();
    let length = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse::<usize>().expect("a Content-Length"));
    let mut at = head_end;
    let mut body = Vec::new();
    let complete = match length {
        Some(len) => {
            while raw.len() < head_end + len && !closed {
                fill(&mut raw, &mut closed)?;
            }
            body.extend_from_slice(&raw[at..raw.len().min(head_end + len)]);
            raw.len() >= head_end + len
        }
        None => loop {
            // Chunked: size line, data, CRLF; a size of 0 ends it.
            let Some(line_end) = support::find(&raw[at..], b"\r\n") else {
                if closed {
                    break false;
                }
                fill(&mut raw, &mut closed)?;
                continue;
            };
            let size_text = String::from_utf8_lossy(&raw[at..at + line_end]).into_owned();
            let size = usize::from_str_radix(size_text.trim(), 16).expect("a chunk size");
            let need = at + line_end + 2 + size + 2;
            if raw.len() < need {
                if closed {
                    break false;
                }
                fill(&mut raw, &mut closed)?;
                continue;
            }
            if size == 0 {
                break true;
            }
            body.extend_from_slice(&raw[at + line_end + 2..need - 2]);
            at = need;
        },
    };
    Ok(Answer {
        head,
        body,
        complete,
    })
}

fn tcp(server: &TestServer) -> TcpStream {
    let stream = TcpStream::connect(server.addr).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

/// `count` clients that ask for `path` and never read, each once the
/// server has started its answer (its first byte arrived).
fn crowd_that_never_reads(server: &TestServer, count: usize, path: &str) -> Vec<TcpStream> {
    let crowd: Vec<TcpStream> = (0..count)
        .map(|_| {
            let mut s = tcp(server);
            s.write_all(&request_bytes(path)).expect("send");
            s
        })
        .collect();
    for s in &crowd {
        s.peek(&mut [0u8; 1]).expect("the answer starts");
    }
    crowd
}

/// Asks for `/fresh` on a new connection; panics past the read timeout.
fn fresh_request(server: &TestServer) -> Duration {
    let started = Instant::now();
    let mut s = tcp(server);
    s.write_all(&request_bytes("/fresh")).expect("send");
    let r = read_response(&mut s, 64 * 1024, Duration::ZERO).expect("the fresh request");
    assert!(r.head.starts_with("HTTP/1.1 200"), "{}", r.head);
    assert_eq!(r.body, b"fresh");
    started.elapsed()
}

#[test]
fn clients_that_never_read_do_not_hold_the_workers() {
    let file = DataFile::new("crowd");
    let server = TestServer::start(app(&file), small_pool());
    let started = Instant::now();
    let crowd = crowd_that_never_reads(&server, 100, "/bytes/16000000");
    eprintln!(
        "100 clients that never read got their answers started in {:?}",
        started.elapsed()
    );
    for i in 0..5 {
        let took = fresh_request(&server);
        eprintln!("fresh request {i} beside them: {took:?}");
    }
    // And chunked and file bodies park the same way.
    let more = [
        crowd_that_never_reads(&server, 20, "/chunks/16000000"),
        crowd_that_never_reads(&server, 20, "/file/16000000"),
    ];
    let took = fresh_request(&server);
    eprintln!("fresh request beside 40 more, chunked and files: {took:?}");
    drop((crowd, more));
}

#[test]
fn clients_that_never_read_do_not_hold_the_workers_on_a_unix_socket() {
    let path = std::env::temp_dir().join(format!("werk-slow-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let file = DataFile::new("unix");
    let server = werk::make_server(
        &format!("unix://{}", path.display()),
        0,
        app(&file),
        small_pool(),
    )
    .expect("a server on a Unix socket");
    let handle = server.handle();
    let thread = std::thread::spawn(move || server.serve_forever());
    let connect = || {
        let s = UnixStream::connect(&path).expect("connect");
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        s
    };
    let started = Instant::now();
    // Unix sockets buffer far less than loopback TCP: 4 MB is plenty.
    let crowd: Vec<UnixStream> = (0..300)
        .map(|_| {
            let mut s = connect();
            s.write_all(&request_bytes("/bytes/4000000")).expect("send");
            s
        })
        .collect();
    for s in &crowd {
        let mut one = [0u8; 1];
        // No peek on Unix streams: read one byte, and no more.
        (&*s).read_exact(&mut one).expect("the answer starts");
    }
    eprintln!(
        "300 Unix clients that never read got their answers started in {:?}",
        started.elapsed()
    );
    let started = Instant::now();
    let mut fresh = connect();
    fresh.write_all(&request_bytes("/fresh")).unwrap();
    let r = read_response(&mut fresh, 64 * 1024, Duration::ZERO).expect("the fresh request");
    assert_eq!(r.body, b"fresh");
    eprintln!("fresh request beside them: {:?}", started.elapsed());
    // A slow reader among them gets all of its answer.
    let mut slow = connect();
    slow.write_all(&request_bytes("/chunks/3000000")).unwrap();
    let r = read_response(&mut slow, 16 * 1024, Duration::from_millis(1)).expect("slow read");
    assert!(r.complete);
    assert_same_bytes(&r.body, &data()[..3_000_000], "the slow Unix reader's body");
    drop(crowd);
    handle.shutdown();
    thread.join().expect("serve_forever").expect("serves");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn slow_steady_readers_get_every_byte() {
    let file = DataFile::new("steady");
    let server = TestServer::start(app(&file), small_pool());
    // Beside clients that never read, so the workers must not wait.
    let crowd = crowd_that_never_reads(&server, 8, "/bytes/16000000");
    let addr = server.addr;
    let readers: Vec<_> = ["/bytes/12000000", "/chunks/12000000", "/file/12000000"]
        .into_iter()
        .flat_map(|path| [(path, 1), (path, 3)])
        .map(|(path, pause_ms)| {
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut s = TcpStream::connect(addr).expect("connect");
                s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                s.write_all(&request_bytes(path)).unwrap();
                let r = read_response(&mut s, 32 * 1024, Duration::from_millis(pause_ms))
                    .unwrap_or_else(|e| panic!("{path}: {e}"));
                assert!(r.complete, "{path}: cut short after {}", r.body.len());
                assert_same_bytes(&r.body, &data()[..12_000_000], path);
                // The connection carries another request.
                s.write_all(&request_bytes("/fresh")).unwrap();
                let again = read_response(&mut s, 1024, Duration::ZERO).expect("again");
                assert_eq!(again.body, b"fresh", "{path}");
                (path, pause_ms, started.elapsed())
            })
        })
        .collect();
    for (path, pause_ms, took) in support::join_all(readers, 4 * GUARD, "slow readers") {
        eprintln!("{path}, 32 KiB every {pause_ms} ms: {took:?}");
    }
    drop(crowd);
}

#[test]
fn a_reader_that_stops_is_cut_off_after_io_timeout() {
    let file = DataFile::new("stops");
    let server = TestServer::start(
        app(&file),
        small_pool().io_timeout(Duration::from_millis(1500)),
    );
    let started = Instant::now();
    let mut s = tcp(&server);
    s.write_all(&request_bytes("/bytes/32000000")).unwrap();
    s.peek(&mut [0u8; 1]).expect("the answer starts");
    // Reads nothing for well over io_timeout.
    std::thread::sleep(Duration::from_secs(4));
    let r = read_response(&mut s, 256 * 1024, Duration::ZERO).expect("what was sent");
    let took = started.elapsed();
    eprintln!(
        "cut off after {} of 32000000 bytes; closed {took:?} after the request",
        r.body.len()
    );
    assert!(!r.complete, "the response was not cut short");
    assert!(r.body.len() < 32_000_000);
    assert_same_bytes(&r.body, &data()[..r.body.len()], "what was sent");
    assert!(took < GUARD);
    // The server is fine.
    fresh_request(&server);
}

#[test]
fn a_shutdown_lets_a_parked_response_finish() {
    let file = DataFile::new("shutdown");
    let server = TestServer::start(
        app(&file),
        small_pool().shutdown_grace(Duration::from_secs(15)),
    );
    let mut s = tcp(&server);
    s.write_all(&request_bytes("/file/20000000")).unwrap();
    let mut other = tcp(&server);
    other.write_all(&request_bytes("/chunks/20000000")).unwrap();
    s.peek(&mut [0u8; 1]).expect("the answer starts");
    other.peek(&mut [0u8; 1]).expect("the answer starts");
    // Both wait in the parker (their sockets are full) when the server is
    // told to stop.
    std::thread::sleep(Duration::from_millis(300));
    let stopper = std::thread::spawn(move || server.stop());
    std::thread::sleep(Duration::from_millis(300));
    let r = read_response(&mut s, 32 * 1024, Duration::from_micros(200)).expect("read");
    assert!(r.complete, "cut short after {} bytes", r.body.len());
    assert_same_bytes(&r.body, &data()[..20_000_000], "the file body");
    let r = read_response(&mut other, 64 * 1024, Duration::ZERO).expect("read");
    assert!(r.complete, "cut short after {} bytes", r.body.len());
    assert_same_bytes(&r.body, &data()[..20_000_000], "the chunked body");
    // Then the connections close: the server is stopping.
    assert_eq!(s.read(&mut [0u8; 1]).unwrap_or(0), 0);
    let served = stopper.join().expect("stop");
    assert!(matches!(served, Ok(Ok(()))), "{served:?}");
}

#[test]
fn a_shutdown_cuts_a_reader_that_never_reads_at_the_grace_period() {
    let file = DataFile::new("grace");
    let server = TestServer::start(
        app(&file),
        small_pool().shutdown_grace(Duration::from_secs(1)),
    );
    let mut s = tcp(&server);
    s.write_all(&request_bytes("/bytes/32000000")).unwrap();
    s.peek(&mut [0u8; 1]).expect("the answer starts");
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let served = server.stop();
    let took = started.elapsed();
    eprintln!("stopped in {took:?} with a response that was never read");
    assert!(matches!(served, Ok(Ok(()))), "{served:?}");
    assert!(took < GUARD);
    let r = read_response(&mut s, 256 * 1024, Duration::ZERO).expect("what was sent");
    assert!(!r.complete, "the response was not cut short");
    assert_same_bytes(&r.body, &data()[..r.body.len()], "what was sent");
}

#[cfg(feature = "tls")]
#[test]
fn over_tls_too() {
    if !support::needs("python3", "over_tls_too") {
        return;
    }
    let file = DataFile::new("tls");
    let server = TestServer::start(
        app(&file),
        small_pool().ssl_context(werk::SslContext::Adhoc),
    );
    let script = r#"
import socket, ssl, sys, time
port = int(sys.argv[1])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
def connect():
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost")
def ask(s, path):
    s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % path).encode())
def read_response(s, piece=65536, pause=0.0):
    raw = b""
    while b"\r\n\r\n" not in raw:
        d = s.recv(piece)
        assert d, "closed before a head"
        raw += d
    head, _, body = raw.partition(b"\r\n\r\n")
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    chunks = []
    got = len(body)
    chunks.append(body)
    while got < length:
        if pause:
            time.sleep(pause)
        d = s.recv(piece)
        assert d, "cut short after %d bytes" % got
        chunks.append(d)
        got += len(d)
    return head, b"".join(chunks)
def expected(n):
    return (bytes(range(251)) * (n // 251 + 1))[:n]
crowd = []
for i in range(40):
    s = connect()
    ask(s, "/bytes/16000000")
    crowd.append(s)
for s in crowd:
    assert s.recv(1)
t = time.time()
s = connect()
ask(s, "/fresh")
head, body = read_response(s)
assert body == b"fresh", body
print("fresh request beside 40 TLS clients that never read: %.1f ms" % ((time.time() - t) * 1000))
t = time.time()
s = connect()
ask(s, "/bytes/12000000")
head, body = read_response(s, 32768, 0.001)
assert body == expected(12000000), "the slow TLS reader's body differs"
ask(s, "/file/6000000")
head, body = read_response(s, 32768, 0.001)
assert body == expected(6000000), "the slow TLS reader's file body differs"
print("slow TLS reader: 18 MB intact in %.1f s" % (time.time() - t))
print("ok")
"#;
    let Some(ran) = support::python(script, server.addr.port()) else {
        return;
    };
    let out = ran.stdout_text();
    eprintln!("{out}{}", ran.stderr_text());
    assert!(
        ran.status.success() && out.contains("ok\n"),
        "{out}{}",
        ran.stderr_text()
    );
}

/// Responses cut short at shutdown because their clients read nothing
/// (over a Unix socket, whose buffer stays full) are dropped, not written
/// with a blocking write: the server stops within its grace, not after an
/// `io_timeout` per client.
#[test]
fn responses_cut_short_at_shutdown_do_not_hold_it() {
    let path = std::env::temp_dir().join(format!("werk-cut-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let file = DataFile::new("cut-short");
    let grace = Duration::from_secs(1);
    let server = werk::make_server(
        &format!("unix://{}", path.display()),
        0,
        app(&file),
        small_pool()
            .io_timeout(Duration::from_secs(8))
            .shutdown_grace(grace),
    )
    .expect("server");
    let handle = server.handle();
    let thread = std::thread::spawn(move || server.serve_forever());
    let clients: Vec<UnixStream> = (0..3)
        .map(|_| {
            let mut s = UnixStream::connect(&path).unwrap();
            s.write_all(&request_bytes("/bytes/4000000")).unwrap();
            let mut one = [0u8; 1];
            (&s).read_exact(&mut one).unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    handle.shutdown();
    thread.join().unwrap().unwrap();
    let took = started.elapsed();
    drop(clients);
    let _ = std::fs::remove_file(&path);
    assert!(
        took < grace + Duration::from_secs(3),
        "stopped after {took:?}, grace {grace:?}, io_timeout 8 s"
    );
}
