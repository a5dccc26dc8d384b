//! A TLS connection over a plain socket, driven by hand so that the
//! handshake and the request head are read without waiting (a client that
//! stalls mid-handshake is parked like a slow head, never holding a
//! worker), and responses are written without waiting (records the socket
//! has no room for stay in the session until it has: a slow reader is
//! parked too), while request bodies and the application's legacy `write`
//! use blocking I/O with the socket's timeouts.

use std::io::{self, Read, Write};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::{ServerConfig, ServerConnection};

use crate::net::Plain;

/// The first byte of a TLS handshake record (RFC 8446 section 5.1,
/// ContentType handshake).
const TLS_HANDSHAKE: u8 = 0x16;

/// Reported when a client speaks plain HTTP to the HTTPS port; it has been
/// answered already.
#[derive(Debug)]
pub(crate) struct PlainHttpOnTls;

impl std::fmt::Display for PlainHttpOnTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("plain HTTP request on the HTTPS port (answered with 400)")
    }
}

impl std::error::Error for PlainHttpOnTls {}

/// A server-side TLS connection.
#[derive(Debug)]
pub(crate) struct TlsStream {
    tls: ServerConnection,
    sock: Plain,
    /// False until the first bytes from the client were checked for plain
    /// HTTP.
    sniffed: bool,
}

impl TlsStream {
    /// Wraps `sock`; no I/O happens until the first read.
    pub(crate) fn new(config: Arc<ServerConfig>, sock: Plain) -> io::Result<TlsStream> {
        let tls = ServerConnection::new(config).map_err(io::Error::other)?;
        Ok(TlsStream {
            tls,
            sock,
            sniffed: false,
        })
    }

    pub(crate) fn plain(&self) -> &Plain {
        &self.sock
    }

    pub(crate) fn is_handshaking(&self) -> bool {
        self.tls.is_handshaking()
    }

    /// Decrypted bytes available now, taking in what the socket holds
    /// without waiting: `Ok(None)` when more must arrive first.
    pub(crate) fn read_now(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        self.read_with(buf, false)
    }

    /// Decrypted bytes, waiting up to the socket's read timeout.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(n) = self.read_with(buf, true)? {
                return Ok(n);
            }
        }
    }

    fn read_with(&mut self, buf: &mut [u8], wait: bool) -> io::Result<Option<usize>> {
        loop {
            match self.tls.reader().read(buf) {
                Ok(n) => return Ok(Some(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            let mut source = SocketSource {
                sock: &self.sock,
                wait,
                sniffed: &mut self.sniffed,
            };
            match self.tls.read_tls(&mut source) {
                Ok(0) => return Ok(Some(0)),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && !wait => return Ok(None),
                Err(e)
                    if e.get_ref()
                        .is_some_and(|inner| inner.is::<PlainHttpOnTls>()) =>
                {
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
            if let Err(err) = self.tls.process_new_packets() {
                // Send the alert that explains the failure, then give up.
                let _ = self.flush_tls();
                return Err(io::Error::new(io::ErrorKind::InvalidData, err));
            }
            self.flush_tls()?;
        }
    }

    /// Encrypts and sends all of `data`.
    pub(crate) fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = self.tls.writer().write(data)?;
            data = &data[n..];
            self.flush_tls()?;
        }
        self.flush_tls()
    }

    /// Encrypts what of `data` the socket has room for now, without
    /// waiting; returns the bytes taken. Their records may still wait in
    /// the session: [`TlsStream::flush_now`] says.
    pub(crate) fn write_now(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut taken = 0;
        while self.flush_now()? && taken < data.len() {
            // rustls takes as much as its send buffer limit allows.
            let n = self.tls.writer().write(&data[taken..])?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            taken += n;
        }
        Ok(taken)
    }

    /// Sends the TLS records rustls has ready, as far as the socket has
    /// room now: true when none are left.
    pub(crate) fn flush_now(&mut self) -> io::Result<bool> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut NowSink(&self.sock)) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Sends the TLS records rustls has ready.
    fn flush_tls(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            self.tls.write_tls(&mut SocketSink(&self.sock))?;
        }
        Ok(())
    }

    /// Ends the TLS session (close_notify, sent if the socket has room
    /// for it now: closing never waits) and the sending side.
    pub(crate) fn shutdown_write(&mut self) {
        self.tls.send_close_notify();
        let _ = self.flush_now();
        self.sock.shutdown_write();
    }

    /// The client's certificate, as PEM, when it presented one.
    pub(crate) fn peer_certificate_pem(&self) -> Option<String> {
        let cert: &CertificateDer<'_> = self.tls.peer_certificates()?.first()?;
        Some(to_pem(cert.as_ref()))
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_tls()
    }
}

/// The socket as rustls reads it: waiting or not, and checking the very
/// first bytes for a plain HTTP request, which gets a readable answer.
struct SocketSource<'a> {
    sock: &'a Plain,
    wait: bool,
    sniffed: &'a mut bool,
}

impl Read for SocketSource<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = if self.wait {
            self.sock.read(buf)?
        } else {
            match crate::sys::recv_now(self.sock.fd(), buf)? {
                Some(n) => n,
                None => return Err(io::ErrorKind::WouldBlock.into()),
            }
        };
        if !*self.sniffed && n > 0 {
            *self.sniffed = true;
            if looks_like_http(&buf[..n]) {
                let _ = self.sock.write_all(&plain_http_answer(&buf[..n]));
                self.sock.shutdown_write();
                return Err(io::Error::new(io::ErrorKind::InvalidData, PlainHttpOnTls));
            }
        }
        Ok(n)
    }
}

struct SocketSink<'a>(&'a Plain);

impl Write for SocketSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The socket as rustls writes to it when nothing may wait: no room is
/// `WouldBlock`.
struct NowSink<'a>(&'a Plain);

impl Write for NowSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[io::IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match crate::sys::send_now(self.0.fd(), bufs)? {
            Some(n) => Ok(n),
            None => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// True if the bytes start like an HTTP request line (a method token and
/// a space) rather than a TLS record.
fn looks_like_http(bytes: &[u8]) -> bool {
    if bytes.first() == Some(&TLS_HANDSHAKE) {
        return false;
    }
    let method_len = bytes.iter().take_while(|b| b.is_ascii_uppercase()).count();
    method_len > 0 && bytes.get(method_len) == Some(&b' ')
}

/// A 400 in plain HTTP that tells the user to use https, with the URL
/// rebuilt from the request's Host header and target when present.
fn plain_http_answer(request: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(request);
    let target = text
        .lines()
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .filter(|t| t.starts_with('/'))
        .unwrap_or("/");
    let host = text
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("host")
                .then(|| value.trim().to_owned())
        })
        .filter(|h| crate::http::valid_host(h.as_bytes()) && !h.is_empty());
    let advice = match host {
        Some(host) => format!("Use https://{host}{target} instead.\n"),
        None => "Use https:// instead of http:// in the URL.\n".to_owned(),
    };
    let body =
        format!("This server speaks HTTPS only, and the request came in plain HTTP.\n{advice}");
    format!(
        "HTTP/1.1 400 Bad Request\r\nServer: {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        crate::SERVER_SOFTWARE,
        body.len()
    )
    .into_bytes()
}

/// DER to PEM, 64 columns of base64 (RFC 7468).
fn to_pem(der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::with_capacity(der.len() * 4 / 3 + 4);
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_http_from_tls() {
        assert!(looks_like_http(b"GET / HTTP/1.1\r\n"));
        assert!(!looks_like_http(&[0x16, 0x03, 0x01, 0x02, 0x00]));
        assert!(!looks_like_http(b"get / HTTP/1.1"));
    }

    #[test]
    fn answer_points_to_https() {
        let answer = plain_http_answer(b"GET /x?y=1 HTTP/1.1\r\nHost: localhost:5000\r\n\r\n");
        let text = String::from_utf8(answer).unwrap();
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(text.contains("https://localhost:5000/x?y=1"), "{text}");
    }

    #[test]
    fn pem_encoding() {
        assert_eq!(
            to_pem(b"Man"),
            "-----BEGIN CERTIFICATE-----\nTWFu\n-----END CERTIFICATE-----\n"
        );
        assert!(to_pem(b"Ma").contains("\nTWE=\n"));
        assert!(to_pem(b"M").contains("\nTQ==\n"));
    }
}
