//! The socket under a connection: plain TCP or Unix, or TLS over one of
//! them. Reads come in two kinds: `read_now`, which never waits (heads,
//! handshakes: a slow client must not hold a worker), and `read`, which
//! waits up to the socket's timeout (bodies the application reads). So do
//! writes: `write_now_pair`, `flush_now` and `send_file_now` never wait
//! (responses: a slow reader must not hold a worker either), `write_all`
//! waits up to the socket's timeout (the application's legacy `write`,
//! `100 Continue`, the server's own short answers).

use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// A connected plain socket of either kind.
#[derive(Debug)]
pub(crate) enum Plain {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// Calls `$body` with the stream as `&TcpStream` or `&UnixStream`, which
/// implement the same `Read`/`Write` and options.
macro_rules! with_plain {
    ($stream:expr, $s:ident => $body:expr) => {
        match $stream {
            Plain::Tcp($s) => $body,
            Plain::Unix($s) => $body,
        }
    };
}

impl Plain {
    /// Socket options for a served connection: no Nagle delay (heads and
    /// bodies are written whole), and timeouts for reading a body and
    /// writing a response.
    pub(crate) fn configure(&self, timeout: Duration) -> io::Result<()> {
        // Accepted sockets inherit O_NONBLOCK from the listener on the BSDs
        // and macOS, not on Linux.
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        with_plain!(self, s => s.set_nonblocking(false))?;
        if let Plain::Tcp(s) = self {
            s.set_nodelay(true)?;
        }
        with_plain!(self, s => s.set_read_timeout(Some(timeout)))?;
        with_plain!(self, s => s.set_write_timeout(Some(timeout)))
    }

    pub(crate) fn fd(&self) -> RawFd {
        with_plain!(self, s => s.as_raw_fd())
    }

    pub(crate) fn set_write_timeout(&self, timeout: Duration) -> io::Result<()> {
        with_plain!(self, s => s.set_write_timeout(Some(timeout)))
    }

    pub(crate) fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        with_plain!(self, s => s.set_read_timeout(Some(timeout)))
    }

    /// Writes what the socket has room for now of `first`, then `second`,
    /// in one `sendmsg`; returns the bytes taken (0: no room).
    pub(crate) fn write_now_pair(&self, first: &[u8], second: &[u8]) -> io::Result<usize> {
        if first.is_empty() && second.is_empty() {
            return Ok(0);
        }
        let slices = [IoSlice::new(first), IoSlice::new(second)];
        let n = usize::from(first.is_empty());
        Ok(crate::sys::send_now(self.fd(), &slices[n..])?.unwrap_or(0))
    }

    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        with_plain!(self, s => { let mut r: &_ = s; r.read(buf) })
    }

    pub(crate) fn write_all(&self, data: &[u8]) -> io::Result<()> {
        with_plain!(self, s => { let mut w: &_ = s; w.write_all(data) })
    }

    /// Writes all of both buffers with `writev`, resuming after partial
    /// writes.
    pub(crate) fn write_all_pair(&self, first: &[u8], second: &[u8]) -> io::Result<()> {
        let mut slices = [IoSlice::new(first), IoSlice::new(second)];
        let mut left = &mut slices[..];
        IoSlice::advance_slices(&mut left, 0);
        while !left.is_empty() {
            match with_plain!(self, s => { let mut w: &_ = s; w.write_vectored(left) }) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut left, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub(crate) fn shutdown_write(&self) {
        let _ = with_plain!(self, s => s.shutdown(Shutdown::Write));
    }
}

/// A connection's byte stream.
#[derive(Debug)]
pub(crate) enum Stream {
    Plain(Plain),
    #[cfg(feature = "tls")]
    Tls(Box<crate::tls::TlsStream>),
}

impl Stream {
    fn plain(&self) -> &Plain {
        match self {
            Stream::Plain(p) => p,
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.plain(),
        }
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.plain().fd()
    }

    /// How long one write may wait for the client from now on.
    pub(crate) fn set_write_timeout(&self, timeout: std::time::Duration) -> io::Result<()> {
        self.plain().set_write_timeout(timeout)
    }

    /// How long one read may wait for the client from now on.
    pub(crate) fn set_read_timeout(&self, timeout: std::time::Duration) -> io::Result<()> {
        self.plain().set_read_timeout(timeout)
    }

    /// What can be read now: `Ok(None)` if nothing yet, `Ok(Some(0))` at
    /// the end of the stream.
    pub(crate) fn read_now(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self {
            Stream::Plain(p) => crate::sys::recv_now(p.fd(), buf),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.read_now(buf),
        }
    }

    /// Reads, waiting up to the read timeout.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(p) => p.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.read(buf),
        }
    }

    pub(crate) fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(p) => p.write_all(data),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.write_all(data),
        }
    }

    /// Writes all of `first`, then all of `second`.
    pub(crate) fn write_all_pair(&mut self, first: &[u8], second: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(p) => p.write_all_pair(first, second),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.write_all(first).and_then(|()| t.write_all(second)),
        }
    }

    /// Writes what the socket has room for now of `first`, then
    /// `second`, without waiting; returns the bytes taken. Over TLS, taken
    /// means encrypted: records may wait in the session for room
    /// ([`Stream::flush_now`] sends them).
    pub(crate) fn write_now_pair(&mut self, first: &[u8], second: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(p) => p.write_now_pair(first, second),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => {
                let n = t.write_now(first)?;
                if n < first.len() {
                    return Ok(n);
                }
                Ok(n + t.write_now(second)?)
            }
        }
    }

    /// Sends what the stream holds of its own (TLS records), without
    /// waiting: true when nothing is left.
    pub(crate) fn flush_now(&mut self) -> io::Result<bool> {
        match self {
            Stream::Plain(_) => Ok(true),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.flush_now(),
        }
    }

    /// Waits up to `timeout_ms` for room to write; true when there is.
    pub(crate) fn wait_writable(&self, timeout_ms: i32) -> io::Result<bool> {
        crate::sys::wait_writable(self.fd(), timeout_ms)
    }

    /// Sends up to `len` bytes of `file` from its position with `sendfile`,
    /// as far as the socket has room now (it is non-blocking for the
    /// call). `None` where the kernel cannot (TLS encrypts in user space,
    /// other systems): the caller reads the file in pieces instead.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) fn send_file_now(
        &mut self,
        file: &File,
        len: u64,
    ) -> io::Result<Option<crate::sys::socket::FileSent>> {
        // Without the tls feature every stream is plain.
        #[allow(irrefutable_let_patterns)]
        let Stream::Plain(p) = self
        else {
            return Ok(None);
        };
        with_plain!(p, s => s.set_nonblocking(true))?;
        let sent = crate::sys::socket::send_file(p.fd(), file.as_raw_fd(), len);
        with_plain!(p, s => s.set_nonblocking(false))?;
        sent
    }

    /// See the Linux version: elsewhere files are read in pieces.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub(crate) fn send_file_now(
        &mut self,
        _file: &File,
        _len: u64,
    ) -> io::Result<Option<crate::sys::socket::FileSent>> {
        Ok(None)
    }

    pub(crate) fn shutdown_write(&mut self) {
        match self {
            Stream::Plain(p) => p.shutdown_write(),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.shutdown_write(),
        }
    }

    pub(crate) fn is_handshaking(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.is_handshaking(),
        }
    }

    pub(crate) fn is_tls(&self) -> bool {
        !self.is_plain()
    }

    /// Plain TCP or Unix: what a read returns says what the kernel held
    /// (TLS may keep decrypted bytes of its own).
    pub(crate) fn is_plain(&self) -> bool {
        matches!(self, Stream::Plain(_))
    }

    pub(crate) fn peer_certificate_pem(&self) -> Option<String> {
        match self {
            Stream::Plain(_) => None,
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.peer_certificate_pem(),
        }
    }
}
