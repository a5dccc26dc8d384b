//! A connected socket of either kind, TCP or Unix, as a connection is
//! served over it (the server's, and TLS's underneath).

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

    /// Makes reads and writes return at once instead of waiting (for a
    /// `sendfile` that must not wait), or wait again.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        with_plain!(self, s => s.set_nonblocking(on))
    }

    /// Writes what the socket has room for now of `first`, then `second`,
    /// in one `sendmsg`; returns the bytes taken (0: no room).
    pub(crate) fn write_now_pair(&self, first: &[u8], second: &[u8]) -> io::Result<usize> {
        if first.is_empty() && second.is_empty() {
            return Ok(0);
        }
        let slices = [IoSlice::new(first), IoSlice::new(second)];
        let from = usize::from(first.is_empty());
        let to = if second.is_empty() { 1 } else { 2 };
        Ok(crate::sys::send_now(self.fd(), &slices[from..to])?.unwrap_or(0))
    }

    /// The largest segment a TCP connection sends; `None` for a Unix
    /// socket, or if the kernel does not say.
    pub(crate) fn segment_size(&self) -> Option<usize> {
        match self {
            Plain::Tcp(s) => crate::sys::socket::segment_size(s.as_raw_fd())
                .ok()
                .filter(|&n| n > 0),
            Plain::Unix(_) => None,
        }
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
