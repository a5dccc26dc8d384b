//! Accepting connections. The listeners are watched by the parker with the
//! parked connections, so an idle worker hears of a new connection and
//! accepts it itself: no thread stands between the kernel and the worker
//! that serves the request. Per-connection errors are logged and skipped.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::conn::{Conn, Local, Peer, Plain, ServerNames};
use super::Shared;
use crate::net::{ListenAddr, Listener};

/// A listener with what its connections need to know about it.
#[derive(Debug)]
pub(crate) struct Socket {
    pub listener: Listener,
    /// The server's names for every connection, when the listener is
    /// bound to one address (not a wildcard, whose connections each ask
    /// the kernel which address they reached).
    fixed_names: Option<ServerNames>,
    /// Accepted connections start with the options they need
    /// ([`Socket::prepare`]).
    options_inherited: bool,
}

impl Socket {
    pub(crate) fn new(listener: Listener, addr: &ListenAddr) -> Socket {
        let fixed_names = match (&listener, addr) {
            (Listener::Unix(_), ListenAddr::Unix(path)) => {
                Some(ServerNames::of(&Local::Unix(Arc::from(path.as_path()))))
            }
            (Listener::Tcp(l), _) => l
                .local_addr()
                .ok()
                .filter(|a| !a.ip().is_unspecified())
                .map(|a| ServerNames::of(&Local::Ip(a))),
            _ => None,
        };
        Socket {
            listener,
            fixed_names,
            options_inherited: false,
        }
    }

    /// Readies the listener for the accept loop: non-blocking, and, where
    /// accepted sockets inherit them (TCP on Linux), with the options
    /// every connection needs, so they are not set on each one.
    pub(crate) fn prepare(&mut self, timeout: Duration) -> io::Result<()> {
        match &self.listener {
            Listener::Tcp(l) => {
                l.set_nonblocking(true)?;
                #[cfg(any(target_os = "linux", target_os = "android"))]
                {
                    crate::sys::socket::set_inherited_options(l.as_raw_fd(), timeout)?;
                    self.options_inherited = true;
                }
                let _ = timeout;
                Ok(())
            }
            Listener::Unix(l) => l.set_nonblocking(true),
        }
    }

    pub(crate) fn fd(&self) -> RawFd {
        match &self.listener {
            Listener::Tcp(l) => l.as_raw_fd(),
            Listener::Unix(l) => l.as_raw_fd(),
        }
    }

    fn accept(&self, shared: &Shared) -> io::Result<Conn> {
        match &self.listener {
            Listener::Tcp(l) => {
                let (stream, peer) = l.accept()?;
                let server = match &self.fixed_names {
                    Some(names) => names.clone(),
                    None => ServerNames::of(&Local::Ip(stream.local_addr()?)),
                };
                Ok(Conn::new(
                    shared.wrap(Plain::Tcp(stream))?,
                    Peer::Ip(peer),
                    server,
                ))
            }
            Listener::Unix(l) => {
                let (stream, _) = l.accept()?;
                let server = self
                    .fixed_names
                    .clone()
                    .unwrap_or_else(|| ServerNames::of(&Local::Unix(Arc::from(Path::new("")))));
                Ok(Conn::new(
                    shared.wrap(Plain::Unix(stream))?,
                    Peer::Local,
                    server,
                ))
            }
        }
    }
}

/// Accepts every connection pending on `listener` (a report is of new
/// arrivals, so it must be emptied): the first is returned, for the
/// worker that heard of them to serve; the others are queued for the pool.
/// Nothing is accepted once a shutdown began.
pub(crate) fn accept_pending(listener: &Socket, shared: &Arc<Shared>) -> Option<Conn> {
    let mut first = None;
    let mut queued = false;
    loop {
        if shared.is_shutting_down() {
            break;
        }
        match listener.accept(shared) {
            Ok(conn) => {
                shared.pool.note_take();
                if !listener.options_inherited && conn.configure(shared.config.io_timeout).is_err()
                {
                    continue;
                }
                match first {
                    None => first = Some(conn),
                    Some(_) => {
                        shared.pool.queue(conn);
                        queued = true;
                    }
                }
            }
            Err(e) => match e.kind() {
                io::ErrorKind::WouldBlock => break,
                io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted => {}
                _ if is_fd_exhaustion(&e) => {
                    // The connections stay pending, and no new report comes
                    // for them: retry until descriptors are freed (idle
                    // connections time out) or a shutdown begins.
                    shared.log.error(&format!(
                        " * Cannot accept: {e}. Raise the limit with `ulimit -n`; retrying."
                    ));
                    std::thread::sleep(Duration::from_millis(100));
                }
                _ => {
                    shared.log.error(&format!(" * Accept failed: {e}"));
                    break;
                }
            },
        }
    }
    if queued {
        shared.parker.wake();
    }
    first
}

fn is_fd_exhaustion(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(code) if code == libc::EMFILE || code == libc::ENFILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn accepted_tcp_sockets_start_with_the_listeners_options() {
        use std::io::Read;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut socket = Socket::new(Listener::Tcp(listener), &ListenAddr::Tcp(addr));
        socket.prepare(Duration::from_secs(7)).unwrap();
        assert!(socket.options_inherited);
        let _client = std::net::TcpStream::connect(addr).unwrap();
        let Listener::Tcp(l) = &socket.listener else {
            unreachable!()
        };
        let accepted = loop {
            match l.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        assert!(accepted.nodelay().unwrap());
        assert_eq!(
            accepted.read_timeout().unwrap(),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            accepted.write_timeout().unwrap(),
            Some(Duration::from_secs(7))
        );
        // Linux does not pass O_NONBLOCK on: reads of bodies block.
        let mut probe = [0u8; 1];
        accepted
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let err = (&accepted).read(&mut probe).unwrap_err();
        assert!(matches!(
            err.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ));
    }

    #[test]
    fn a_listener_on_one_address_names_the_server_once() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let socket = Socket::new(Listener::Tcp(listener), &ListenAddr::Tcp(addr));
        let names = socket.fixed_names.expect("a specific address");
        assert_eq!(&*names.name, "127.0.0.1");
        assert_eq!(names.port.parse::<u16>().unwrap(), addr.port());
        let wildcard = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        let addr = wildcard.local_addr().unwrap();
        let socket = Socket::new(Listener::Tcp(wildcard), &ListenAddr::Tcp(addr));
        assert!(socket.fixed_names.is_none());
    }
}
