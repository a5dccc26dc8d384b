//! The socket under a connection: plain TCP or Unix, or TLS over one of
//! them. Reads come in two kinds: `read_now`, which never waits (heads,
//! handshakes: a slow client must not hold a worker), and `read`, which
//! waits up to the socket's timeout (bodies the application reads). So do
//! writes: `write_now_pair`, `flush_now` and `send_file_now` never wait
//! (responses: a slow reader must not hold a worker either), `write_all`
//! waits up to the socket's timeout (the application's legacy `write`,
//! `100 Continue`, the server's own short answers).

use std::fs::File;
use std::io;
#[cfg(any(target_os = "linux", target_os = "android"))]
use std::os::fd::AsRawFd;
use std::os::fd::RawFd;

use crate::net::Plain;

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

    /// The largest segment the connection sends, for plain TCP: where a
    /// write's last partial segment begins. `None` over TLS (records, not
    /// writes, make the segments) and Unix sockets.
    pub(crate) fn segment_size(&self) -> Option<usize> {
        match self {
            Stream::Plain(p) => p.segment_size(),
            #[cfg(feature = "tls")]
            Stream::Tls(_) => None,
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
        p.set_nonblocking(true)?;
        let sent = crate::sys::socket::send_file(p.fd(), file.as_raw_fd(), len);
        p.set_nonblocking(false)?;
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
