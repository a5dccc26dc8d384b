//! A raw HTTP/1.1 client over one TCP connection, and the responses it
//! parses. Requests are written as given (bytes, or a method, target and
//! headers); responses are read off the wire with their framing checked:
//! Content-Length, chunked and close-delimited bodies, interim (1xx)
//! responses, pipelined responses left in the buffer for the next read.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use crate::json::EchoEnviron;

/// The longest any single socket read or write may block.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed HTTP/1.1 response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    /// Header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// The body was read to its proper end (Content-Length met, the last
    /// chunk seen, or the close that delimits it). False when the server
    /// closed the connection part way.
    pub complete: bool,
    /// The data of each chunk as framed on the wire, for a chunked body.
    pub chunks: Option<Vec<Vec<u8>>>,
    /// The body ran until the server closed the connection.
    pub close_delimited: bool,
    /// The interim (1xx) status codes that came before this response.
    pub interim: Vec<u16>,
    /// This response as received (without the interim ones).
    pub raw: Vec<u8>,
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

    /// True if the body was sent with chunked framing.
    pub fn chunked(&self) -> bool {
        self.chunks.is_some()
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as the echo app's JSON environ; the status must be
    /// 200.
    pub fn environ(&self) -> EchoEnviron {
        assert_eq!(
            self.status,
            200,
            "expected the echo app's 200 JSON, got {}",
            self.describe()
        );
        self.environ_any_status()
    }

    /// The body parsed as the echo app's JSON, whatever the status (its
    /// `/status/<code>` route).
    pub fn environ_any_status(&self) -> EchoEnviron {
        EchoEnviron::parse(&self.text())
    }

    /// The status line and headers, then up to 300 characters of the
    /// body, for assertion messages.
    pub fn describe(&self) -> String {
        let head_end = find(&self.raw, b"\r\n\r\n").map_or(self.raw.len(), |p| p + 4);
        let mut text = String::from_utf8_lossy(&self.raw[..head_end]).into_owned();
        text.extend(self.text().chars().take(300));
        text
    }

    /// Whether the body is chunked, as the last transfer coding says.
    fn chunked_framing(&self) -> bool {
        self.header_all("transfer-encoding")
            .iter()
            .flat_map(|v| v.split(','))
            .next_back()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("chunked"))
    }
}

/// A raw HTTP/1.1 client over one TCP connection. Every read and write has
/// a timeout ([`IO_TIMEOUT`]); bytes received past one response stay in
/// its buffer for the next read.
pub struct Client {
    pub stream: TcpStream,
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

    /// Writes all of `data`; panics if the write fails.
    pub fn send(&mut self, data: &[u8]) {
        self.stream
            .write_all(data)
            .unwrap_or_else(|e| panic!("send to the server: {e}"));
    }

    /// Writes `data`, tolerating a server that closed early (as it may
    /// when it refuses a request before reading all of it).
    pub fn send_lenient(&mut self, data: &[u8]) -> io::Result<()> {
        self.stream.write_all(data)
    }

    /// Sends a request with a Host header (and a Content-Length if there is
    /// a body and `headers` give no framing).
    pub fn send_request(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) {
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let has_framing = headers.iter().any(|(n, _)| {
            n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("transfer-encoding")
        });
        if !body.is_empty() && !has_framing {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut data = head.into_bytes();
        data.extend_from_slice(body);
        self.send(&data);
    }

    /// Sends a request (see [`Client::send_request`]) and reads its
    /// complete final response.
    pub fn request(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        self.send_request(method, target, headers, body);
        let head_request = method.eq_ignore_ascii_case("HEAD");
        let response = self.read(head_request, true);
        complete(response, method)
    }

    /// `GET target` and its complete response.
    pub fn get(&mut self, target: &str) -> Response {
        self.request("GET", target, &[], b"")
    }

    /// Reads the final response to a request (interim ones are noted in
    /// [`Response::interim`]); panics on an I/O error, a malformed
    /// response, or a body cut short.
    pub fn read_response(&mut self) -> Response {
        complete(self.read(false, true), "the request")
    }

    /// Reads the final response to a HEAD request: no body, whatever its
    /// headers say.
    pub fn read_head_response(&mut self) -> Response {
        complete(self.read(true, true), "HEAD")
    }

    /// Reads the next response, an interim (1xx) one included; panics as
    /// [`Client::read_response`] does.
    pub fn read_next(&mut self) -> Response {
        complete(self.read(false, false), "the request")
    }

    /// Reads the final response; a body cut short by the server closing is
    /// returned with `complete: false`. Errors: a read timeout, a
    /// connection closed before a whole head, or a malformed response.
    pub fn try_read_response(&mut self) -> io::Result<Response> {
        self.read(false, true)
    }

    /// Reads one response, and with `to_final` the ones after it until a
    /// final (not 1xx) one, whose [`Response::interim`] lists them.
    fn read(&mut self, head_request: bool, to_final: bool) -> io::Result<Response> {
        let mut interim = Vec::new();
        loop {
            let mut response = self.read_one(head_request)?;
            if to_final && (100..200).contains(&response.status) && response.status != 101 {
                interim.push(response.status);
                continue;
            }
            response.interim = interim;
            return Ok(response);
        }
    }

    /// Reads one response, interim or final.
    fn read_one(&mut self, head_request: bool) -> io::Result<Response> {
        let head_end = self.fill_until_head()?;
        let mut response = parse_head(&self.buf[..head_end])?;
        let no_body = head_request
            || (100..200).contains(&response.status)
            || response.status == 204
            || response.status == 304;
        let end = if no_body {
            head_end
        } else if response.chunked_framing() {
            self.read_chunked(head_end, &mut response)?
        } else if let Some(len) = response.header("content-length") {
            let len: usize = len
                .parse()
                .map_err(|_| malformed(format!("bad Content-Length {len:?}")))?;
            let end = head_end + len;
            response.complete = self.fill_to(end)?;
            let end = end.min(self.buf.len());
            response.body = self.buf[head_end..end].to_vec();
            end
        } else {
            self.fill_to_close()?;
            response.body = self.buf[head_end..].to_vec();
            response.close_delimited = true;
            self.buf.len()
        };
        response.raw = self.buf.drain(..end).collect();
        Ok(response)
    }

    /// Decodes the chunked body that starts at `start` into `response`;
    /// returns where it ends.
    fn read_chunked(&mut self, start: usize, response: &mut Response) -> io::Result<usize> {
        let mut chunks = Vec::new();
        let mut pos = start;
        let end = loop {
            let Some(line_end) = self.line_end(pos)? else {
                response.complete = false;
                break self.buf.len();
            };
            let line = String::from_utf8_lossy(&self.buf[pos..line_end]).into_owned();
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| malformed(format!("bad chunk size line {line:?}")))?;
            pos = line_end + 2;
            if size == 0 {
                // The trailer section: lines until an empty one.
                loop {
                    let Some(end) = self.line_end(pos)? else {
                        response.complete = false;
                        break;
                    };
                    let empty = end == pos;
                    pos = end + 2;
                    if empty {
                        break;
                    }
                }
                break pos.min(self.buf.len());
            }
            if !self.fill_to(pos + size + 2)? {
                let end = (pos + size).min(self.buf.len());
                chunks.push(self.buf[pos..end].to_vec());
                response.complete = false;
                break self.buf.len();
            }
            if &self.buf[pos + size..pos + size + 2] != b"\r\n" {
                return Err(malformed("chunk data not followed by CRLF".into()));
            }
            chunks.push(self.buf[pos..pos + size].to_vec());
            pos += size + 2;
        };
        response.body = chunks.concat();
        response.chunks = Some(chunks);
        Ok(end)
    }

    /// Everything until the server closes the connection (buffered bytes
    /// first). A reset counts as a close.
    pub fn read_to_end(&mut self) -> io::Result<Vec<u8>> {
        self.fill_to_close()?;
        Ok(std::mem::take(&mut self.buf))
    }

    /// True if the server closes the connection (or resets it) without
    /// sending anything more, within [`IO_TIMEOUT`].
    pub fn closed_by_server(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        match self.fill() {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() == io::ErrorKind::ConnectionReset,
        }
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
            Err(e) if is_timeout(&e) => {}
            Err(e) => panic!("expected silence, got {e}"),
        }
    }

    /// Reads until the received bytes contain `needle` (nothing is
    /// consumed: a later read still sees them).
    pub fn wait_for_bytes(&mut self, needle: &[u8]) -> io::Result<()> {
        while !contains(&self.buf, needle) {
            if self.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "connection closed before {:?} arrived",
                        String::from_utf8_lossy(needle)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Closes our sending side (the server sees end of stream).
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Bytes received but not parsed yet.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// One read into the buffer; 0 at end of stream. A timeout is an
    /// error of kind `TimedOut`.
    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_timeout(&e) => {
                    let shown = &self.buf[..self.buf.len().min(300)];
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "no data from the server within {IO_TIMEOUT:?} (have {} bytes: {:?})",
                            self.buf.len(),
                            String::from_utf8_lossy(shown)
                        ),
                    ));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads until the buffer holds `n` bytes; false if the connection
    /// ends first.
    fn fill_to(&mut self, n: usize) -> io::Result<bool> {
        while self.buf.len() < n {
            if self.fill()? == 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Reads until the server closes the connection; a reset counts as a
    /// close.
    fn fill_to_close(&mut self) -> io::Result<()> {
        loop {
            match self.fill() {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads until the buffer holds a whole head; returns its length
    /// including the blank line.
    fn fill_until_head(&mut self) -> io::Result<usize> {
        loop {
            if let Some(pos) = find(&self.buf, b"\r\n\r\n") {
                return Ok(pos + 4);
            }
            if self.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    if self.buf.is_empty() {
                        "connection closed before any response".to_owned()
                    } else {
                        format!(
                            "connection closed inside a response head: {:?}",
                            String::from_utf8_lossy(&self.buf)
                        )
                    },
                ));
            }
        }
    }

    /// The position of the CRLF that ends the line starting at `pos`, or
    /// `None` if the connection ends first.
    fn line_end(&mut self, pos: usize) -> io::Result<Option<usize>> {
        loop {
            if let Some(i) = self.buf.get(pos..).and_then(|rest| find(rest, b"\r\n")) {
                return Ok(Some(pos + i));
            }
            if self.fill()? == 0 {
                return Ok(None);
            }
        }
    }
}

/// The response, after checking it was read whole.
fn complete(response: io::Result<Response>, what: &str) -> Response {
    let response = response.unwrap_or_else(|e| panic!("reading the response to {what}: {e}"));
    assert!(
        response.complete,
        "the response to {what} was cut short after {} body bytes: {}",
        response.body.len(),
        response.describe()
    );
    response
}

/// The status line and headers of `head` (which ends with the blank line).
/// The status line must say HTTP/1.1: werk answers every request with it,
/// HTTP/1.0 ones too.
fn parse_head(head: &[u8]) -> io::Result<Response> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let status = parts
        .next()
        .filter(|&version| version == "HTTP/1.1")
        .and_then(|_| parts.next()?.parse().ok())
        .ok_or_else(|| malformed(format!("bad status line {status_line:?}")))?;
    let reason = parts.next().unwrap_or("").to_owned();
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| malformed(format!("bad header line {line:?}")))?;
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    Ok(Response {
        status,
        reason,
        headers,
        body: Vec::new(),
        complete: true,
        chunks: None,
        close_delimited: false,
        interim: Vec::new(),
        raw: Vec::new(),
    })
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn malformed(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// The position of `needle` in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// True if `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}
