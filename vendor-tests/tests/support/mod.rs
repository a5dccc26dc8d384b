//! Shared helpers for the conformance suite: a server started in-process
//! on a free loopback port, a raw-socket client that writes bytes and
//! reads whole responses (every read has a timeout), a small HTTP/1.1
//! response parser (Content-Length, chunked and close-delimited bodies),
//! a reader for the echo app's JSON, and runners for external clients
//! (`curl`, `python3`) that are killed if they overrun. A test whose
//! client is not installed fails under CI (`CI` set), which installs it,
//! and elsewhere says on standard error that it skips ([`needs`]).
//!
//! Each test file includes this module with `mod support;` and uses a
//! different subset of it.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Command, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use werk::{App, Body, Environ, Options, ServerHandle, StartResponse};

/// The longest any single socket read or write in the suite may wait.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

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
        client.read_final()
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
// The raw client

/// A client connection that reads whole responses; pipelined responses
/// stay in its buffer for the next read.
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    /// A second handle on the same connection (for writing from another
    /// thread while this one reads); it has its own empty buffer.
    pub fn try_clone(&self) -> Client {
        Client {
            stream: self.stream.try_clone().expect("clone the socket"),
            buf: Vec::new(),
        }
    }

    /// The client's own address (the server sees it as REMOTE_ADDR/PORT).
    pub fn local_addr(&self) -> SocketAddr {
        self.stream.local_addr().unwrap()
    }

    /// Writes all of `bytes`; panics if the write fails.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("writing the request failed: {e}"));
    }

    /// Writes `bytes`, tolerating a server that closed early (as it may
    /// when it refuses a request before reading all of it).
    pub fn send_lenient(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Stops sending (half-close); the server sees the end of the stream.
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Reads the next response, interim (1xx) ones included. Panics on a
    /// malformed or incomplete response or after [`IO_TIMEOUT`].
    pub fn read_response(&mut self) -> Response {
        self.try_read_response(false)
            .unwrap_or_else(|e| panic!("reading the response failed: {e}"))
    }

    /// Reads the response to a HEAD request (no body whatever the headers
    /// say).
    pub fn read_head_response(&mut self) -> Response {
        self.try_read_response(true)
            .unwrap_or_else(|e| panic!("reading the HEAD response failed: {e}"))
    }

    /// Reads responses until a final (non-1xx) one and returns it.
    pub fn read_final(&mut self) -> Response {
        loop {
            let response = self.read_response();
            if response.status >= 200 {
                return response;
            }
        }
    }

    /// Reads one response; an error if it is malformed, cut short (EOF),
    /// or the server is silent for [`IO_TIMEOUT`].
    pub fn try_read_response(&mut self, head_request: bool) -> io::Result<Response> {
        let head_end = loop {
            if let Some(pos) = find(&self.buf, b"\r\n\r\n") {
                break pos + 4;
            }
            if self.fill()? == 0 {
                return Err(eof(if self.buf.is_empty() {
                    "connection closed before any response".to_owned()
                } else {
                    format!(
                        "connection closed inside a response head: {:?}",
                        String::from_utf8_lossy(&self.buf)
                    )
                }));
            }
        };
        let mut response = parse_head(&self.buf[..head_end])?;
        let no_body = head_request
            || response.status < 200
            || response.status == 204
            || response.status == 304;
        let end = if no_body {
            head_end
        } else if response.is_chunked() {
            let (end, chunks) = self.read_chunked(head_end)?;
            response.body = chunks.concat();
            response.chunks = Some(chunks);
            end
        } else if let Some(len) = response.header("content-length") {
            let len: usize = len
                .trim()
                .parse()
                .map_err(|_| invalid(format!("bad Content-Length {len:?}")))?;
            self.ensure(head_end + len)?;
            response.body = self.buf[head_end..head_end + len].to_vec();
            head_end + len
        } else {
            // Close-delimited: the body is everything until the server
            // closes.
            while self.fill()? > 0 {}
            response.body = self.buf[head_end..].to_vec();
            response.close_delimited = true;
            self.buf.len()
        };
        response.raw = self.buf[..end].to_vec();
        self.buf.drain(..end);
        Ok(response)
    }

    /// Decodes a chunked body starting at `start`; returns where it ends
    /// and the chunks (data only).
    fn read_chunked(&mut self, start: usize) -> io::Result<(usize, Vec<Vec<u8>>)> {
        let mut pos = start;
        let mut chunks = Vec::new();
        loop {
            let line_end = self.line_end(pos)?;
            let line = String::from_utf8_lossy(&self.buf[pos..line_end]).into_owned();
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| invalid(format!("bad chunk size line {line:?}")))?;
            pos = line_end + 2;
            if size == 0 {
                // Trailer fields, then the empty line.
                loop {
                    let end = self.line_end(pos)?;
                    let empty = end == pos;
                    pos = end + 2;
                    if empty {
                        return Ok((pos, chunks));
                    }
                }
            }
            self.ensure(pos + size + 2)
                .map_err(|e| eof(format!("{e} (inside chunk {}: {size} bytes)", chunks.len())))?;
            if &self.buf[pos + size..pos + size + 2] != b"\r\n" {
                return Err(invalid("chunk data not followed by CRLF".to_owned()));
            }
            chunks.push(self.buf[pos..pos + size].to_vec());
            pos += size + 2;
        }
    }

    /// The position of the CRLF ending the line that starts at `pos`.
    fn line_end(&mut self, pos: usize) -> io::Result<usize> {
        loop {
            if let Some(i) = find(&self.buf[pos..], b"\r\n") {
                return Ok(pos + i);
            }
            if self.fill()? == 0 {
                return Err(eof(
                    "connection closed inside a chunked body (no last chunk)".to_owned(),
                ));
            }
        }
    }

    /// Reads until the buffer holds at least `n` bytes.
    fn ensure(&mut self, n: usize) -> io::Result<()> {
        while self.buf.len() < n {
            if self.fill()? == 0 {
                return Err(eof(format!(
                    "connection closed after {} of {} bytes",
                    self.buf.len(),
                    n
                )));
            }
        }
        Ok(())
    }

    /// One read into the buffer; 0 at end of stream. A timeout is an
    /// error of kind `TimedOut`.
    fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut tmp) {
                Ok(n) => {
                    self.buf.extend_from_slice(&tmp[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "no data from the server for {IO_TIMEOUT:?} (have {:?})",
                            String::from_utf8_lossy(&self.buf)
                        ),
                    ))
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads every byte until the server closes (raw, unparsed).
    pub fn read_to_end(&mut self) -> Vec<u8> {
        loop {
            match self.fill() {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("reading until the server closes failed: {e}"),
            }
        }
        std::mem::take(&mut self.buf)
    }

    /// Asserts that the server closed the connection: no further bytes,
    /// then end of stream (or a reset) within [`IO_TIMEOUT`].
    pub fn expect_closed(&mut self) {
        assert!(
            self.buf.is_empty(),
            "unexpected bytes after the response: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        match self.fill() {
            Ok(0) => {}
            Ok(_) => panic!(
                "expected the server to close the connection, got more bytes: {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                panic!("the server left the connection open ({IO_TIMEOUT:?} without EOF)")
            }
            Err(e) => panic!("expected EOF, got {e}"),
        }
    }

    /// Asserts that nothing arrives (and the connection stays open) for
    /// `wait`.
    pub fn expect_silence(&mut self, wait: Duration) {
        assert!(
            self.buf.is_empty(),
            "unexpected buffered bytes: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let mut tmp = [0u8; 1024];
        let result = self.stream.read(&mut tmp);
        self.stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        match result {
            Ok(0) => panic!("the server closed the connection while it should wait"),
            Ok(n) => panic!(
                "expected no bytes yet, got {:?}",
                String::from_utf8_lossy(&tmp[..n])
            ),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("expected silence, got {e}"),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn eof(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, msg)
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

// ---------------------------------------------------------------------------
// Responses

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    /// `HTTP/1.1`.
    pub version: String,
    pub status: u16,
    pub reason: String,
    /// Header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// The chunks as they were framed on the wire, for chunked bodies.
    pub chunks: Option<Vec<Vec<u8>>>,
    /// True when the body ran until the server closed.
    pub close_delimited: bool,
    /// The whole response as received.
    pub raw: Vec<u8>,
}

fn parse_head(head: &[u8]) -> io::Result<Response> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("").to_owned();
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|_| version.starts_with("HTTP/1."))
        .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
    let reason = parts.next().unwrap_or("").to_owned();
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line {line:?}")))?;
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    Ok(Response {
        version,
        status,
        reason,
        headers,
        body: Vec::new(),
        chunks: None,
        close_delimited: false,
        raw: Vec::new(),
    })
}

impl Response {
    /// The first header with this name, any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of the named header, in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// True if the comma-separated header `name` lists `token`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.header_all(name)
            .iter()
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// True if the response says the connection closes after it.
    pub fn says_close(&self) -> bool {
        self.has_token("connection", "close")
    }

    pub fn is_chunked(&self) -> bool {
        self.header_all("transfer-encoding")
            .iter()
            .flat_map(|v| v.split(','))
            .next_back()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("chunked"))
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as the echo app's JSON environ.
    pub fn environ(&self) -> EchoEnviron {
        assert_eq!(
            self.status,
            200,
            "expected the echo app's 200 JSON, got {}",
            self.describe()
        );
        EchoEnviron::parse(&self.text())
    }

    /// The body parsed as the echo app's JSON, whatever the status (the
    /// `/status/<code>` route).
    pub fn environ_any_status(&self) -> EchoEnviron {
        EchoEnviron::parse(&self.text())
    }

    /// The status line and headers, for assertion messages.
    pub fn describe(&self) -> String {
        let head_end = find(&self.raw, b"\r\n\r\n").map_or(self.raw.len(), |p| p + 4);
        let mut text = String::from_utf8_lossy(&self.raw[..head_end]).into_owned();
        let body = self.text();
        let snippet: String = body.chars().take(300).collect();
        text.push_str(&snippet);
        text
    }
}

// ---------------------------------------------------------------------------
// The echo app's JSON

/// A value in the echo app's JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Json {
    Str(String),
    Bool(bool),
    Num(u64),
}

/// The environ as the echo app reports it: one flat JSON object of
/// strings, booleans and numbers.
#[derive(Debug, Clone)]
pub struct EchoEnviron(pub BTreeMap<String, Json>);

impl EchoEnviron {
    pub fn parse(text: &str) -> EchoEnviron {
        let mut p = JsonParser {
            chars: text.chars().collect(),
            pos: 0,
        };
        EchoEnviron(
            p.object()
                .unwrap_or_else(|e| panic!("bad echo JSON ({e}): {text}")),
        )
    }

    /// A string variable, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        match self.0.get(key) {
            Some(Json::Str(s)) => Some(s),
            Some(other) => panic!("{key} is not a string: {other:?}"),
            None => None,
        }
    }

    /// A string variable that must be present.
    pub fn str(&self, key: &str) -> &str {
        self.get(key)
            .unwrap_or_else(|| panic!("{key} missing from the environ: {:?}", self.0))
    }

    pub fn bool(&self, key: &str) -> bool {
        match self.0.get(key) {
            Some(Json::Bool(b)) => *b,
            other => panic!("{key} is not a boolean: {other:?}"),
        }
    }

    pub fn num(&self, key: &str) -> u64 {
        match self.0.get(key) {
            Some(Json::Num(n)) => *n,
            other => panic!("{key} is not a number: {other:?}"),
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }
}

struct JsonParser {
    chars: Vec<char>,
    pos: usize,
}

impl JsonParser {
    fn skip_ws(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        self.skip_ws();
        if self.chars.get(self.pos) == Some(&c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected {c:?} at {}", self.pos))
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.chars.get(self.pos).copied()
    }

    fn object(&mut self) -> Result<BTreeMap<String, Json>, String> {
        let mut map = BTreeMap::new();
        self.expect('{')?;
        if self.peek() == Some('}') {
            self.pos += 1;
            return Ok(map);
        }
        loop {
            let key = self.string()?;
            self.expect(':')?;
            let value = self.value()?;
            map.insert(key, value);
            match self.peek() {
                Some(',') => self.pos += 1,
                Some('}') => {
                    self.pos += 1;
                    return Ok(map);
                }
                other => return Err(format!("expected , or }} at {}: {other:?}", self.pos)),
            }
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        match self.peek() {
            Some('"') => self.string().map(Json::Str),
            Some('t') => self.word("true").map(|()| Json::Bool(true)),
            Some('f') => self.word("false").map(|()| Json::Bool(false)),
            Some(c) if c.is_ascii_digit() => {
                let start = self.pos;
                while self.chars.get(self.pos).is_some_and(char::is_ascii_digit) {
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                text.parse().map(Json::Num).map_err(|e| e.to_string())
            }
            other => Err(format!("unexpected {other:?} at {}", self.pos)),
        }
    }

    fn word(&mut self, word: &str) -> Result<(), String> {
        for c in word.chars() {
            if self.chars.get(self.pos) != Some(&c) {
                return Err(format!("expected {word} at {}", self.pos));
            }
            self.pos += 1;
        }
        Ok(())
    }

    fn string(&mut self) -> Result<String, String> {
        self.expect('"')?;
        let mut out = String::new();
        loop {
            let c = *self.chars.get(self.pos).ok_or("unterminated string")?;
            self.pos += 1;
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let e = *self.chars.get(self.pos).ok_or("unterminated escape")?;
                    self.pos += 1;
                    match e {
                        '"' | '\\' | '/' => out.push(e),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'u' => {
                            let hex: String = self
                                .chars
                                .get(self.pos..self.pos + 4)
                                .ok_or("short \\u escape")?
                                .iter()
                                .collect();
                            self.pos += 4;
                            let code = u32::from_str_radix(&hex, 16).map_err(|e| e.to_string())?;
                            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                        }
                        other => return Err(format!("bad escape \\{other}")),
                    }
                }
                c => out.push(c),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// External clients

/// Why `program --version` does not run here, or `None` if it does.
fn missing(program: &str) -> Option<String> {
    match Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(status) if status.success() => None,
        Ok(status) => Some(format!("`{program} --version` failed ({status})")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Some(format!("{program} is not installed"))
        }
        Err(e) => Some(format!("{program} cannot be run ({e})")),
    }
}

/// True if `program`, a client that `test` (or a named part of it) needs,
/// runs here. When it does not, the test fails under CI (`CI` set), whose
/// `.ci/run` installs it; elsewhere it says on standard error that it
/// skips and why, and the caller returns (or leaves the part out).
pub fn needs(program: &str, test: &str) -> bool {
    let Some(why) = missing(program) else {
        return true;
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: CI must run this test, but {why}"
    );
    eprintln!("{test}: skipped, {why}");
    false
}

/// Runs `program` with `args`, feeding `stdin`, and kills it if it runs
/// longer than [`CHILD_TIMEOUT`].
pub fn run(program: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + CHILD_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{program} {args:?} ran longer than {CHILD_TIMEOUT:?} and was killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = writer.join();
    Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}

/// Runs curl with `-sS --max-time 10 --noproxy *` before `args` (so an
/// environment proxy never intercepts loopback requests).
pub fn curl(args: &[&str]) -> Output {
    curl_with_stdin(args, b"")
}

pub fn curl_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut all = vec!["-sS", "--max-time", "10", "--noproxy", "*"];
    all.extend_from_slice(args);
    run("curl", &all, stdin)
}

/// Runs a Python script (`python3 -c`) with `args` as `sys.argv[1:]`.
pub fn python(script: &str, args: &[&str]) -> Output {
    let mut all = vec!["-c", script];
    all.extend_from_slice(args);
    run("python3", &all, b"")
}

/// Text of a child's stdout, stderr and status, for assertion messages.
pub fn describe_output(output: &Output) -> String {
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
