//! The accept loop: one thread watches every listener (and a wake-up
//! socket for shutdown), accepts what is pending and queues it for the
//! pool. It never dies on a per-connection error.

use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::conn::{Conn, Local, Peer, Plain};
use super::Shared;
use crate::net::{ListenAddr, Listener};

/// A listener with what its connections need to know about it.
#[derive(Debug)]
pub(crate) struct Socket {
    pub listener: Listener,
    /// For Unix sockets, the path (shared by every connection).
    pub unix_path: Option<Arc<Path>>,
}

impl Socket {
    pub(crate) fn new(listener: Listener, addr: &ListenAddr) -> Socket {
        let unix_path = match addr {
            ListenAddr::Unix(path) => Some(Arc::from(path.as_path())),
            ListenAddr::Tcp(_) => None,
        };
        Socket {
            listener,
            unix_path,
        }
    }

    fn fd(&self) -> RawFd {
        match &self.listener {
            Listener::Tcp(l) => l.as_raw_fd(),
            Listener::Unix(l) => l.as_raw_fd(),
        }
    }

    fn set_nonblocking(&self) -> io::Result<()> {
        match &self.listener {
            Listener::Tcp(l) => l.set_nonblocking(true),
            Listener::Unix(l) => l.set_nonblocking(true),
        }
    }

    /// Accepts one connection.
    fn accept(&self, shared: &Shared) -> io::Result<Conn> {
        match &self.listener {
            Listener::Tcp(l) => {
                let (stream, peer) = l.accept()?;
                let local = stream.local_addr()?;
                Ok(Conn::new(
                    shared.wrap(Plain::Tcp(stream))?,
                    Peer::Ip(peer),
                    Local::Ip(local),
                ))
            }
            Listener::Unix(l) => {
                let (stream, _) = l.accept()?;
                let path = self
                    .unix_path
                    .clone()
                    .unwrap_or_else(|| Arc::from(Path::new("")));
                Ok(Conn::new(
                    shared.wrap(Plain::Unix(stream))?,
                    Peer::Local,
                    Local::Unix(path),
                ))
            }
        }
    }
}

/// Accepts until `wake` becomes readable.
pub(crate) fn run(listeners: &[Socket], mut wake: UnixStream, shared: &Arc<Shared>) {
    let mut fds: Vec<RawFd> = vec![wake.as_raw_fd()];
    fds.extend(listeners.iter().map(Socket::fd));
    for listener in listeners {
        if let Err(e) = listener.set_nonblocking() {
            shared
                .log
                .error(&format!(" * Cannot configure listener: {e}"));
        }
    }
    loop {
        let ready = match crate::sys::wait_any_readable(&fds, -1) {
            Ok(ready) => ready,
            Err(e) => {
                shared
                    .log
                    .error(&format!(" * Waiting for connections failed: {e}"));
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if ready[0] {
            let _ = wake.read(&mut [0u8; 16]);
            if shared.is_shutting_down() {
                return;
            }
        }
        for (listener, _) in listeners.iter().zip(&ready[1..]).filter(|(_, r)| **r) {
            accept_pending(listener, shared);
        }
    }
}

/// Accepts every connection the listener has queued.
fn accept_pending(listener: &Socket, shared: &Arc<Shared>) {
    loop {
        if shared.is_shutting_down() {
            // Leave them in the backlog: the next server on these sockets
            // (the reloader's next child) takes them.
            return;
        }
        match listener.accept(shared) {
            Ok(conn) => {
                if conn.configure(shared.config.io_timeout).is_ok() {
                    shared.pool.submit(conn, shared);
                }
            }
            Err(e) => match e.kind() {
                io::ErrorKind::WouldBlock => return,
                io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted => {}
                _ if is_fd_exhaustion(&e) => {
                    shared.log.error(&format!(
                        " * Cannot accept: {e}. Raise the limit with `ulimit -n`; retrying."
                    ));
                    std::thread::sleep(Duration::from_millis(100));
                    return;
                }
                _ => {
                    shared.log.error(&format!(" * Accept failed: {e}"));
                    return;
                }
            },
        }
    }
}

fn is_fd_exhaustion(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(code) if code == libc::EMFILE || code == libc::ENFILE)
}
