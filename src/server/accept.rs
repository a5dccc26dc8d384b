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

    /// Accepts one connection: `Err` if the listener has none (or cannot
    /// accept), `Ok(None)` if one came but could not be set up (it is
    /// closed: that client's problem, not the listener's).
    fn accept(&self, shared: &Shared) -> io::Result<Option<Conn>> {
        let (plain, peer, server) = match &self.listener {
            Listener::Tcp(l) => {
                let (stream, peer) = l.accept()?;
                let server = match &self.fixed_names {
                    Some(names) => Some(names.clone()),
                    None => stream
                        .local_addr()
                        .ok()
                        .map(|a| ServerNames::of(&Local::Ip(a))),
                };
                (Plain::Tcp(stream), Peer::Ip(peer), server)
            }
            Listener::Unix(l) => {
                let (stream, _) = l.accept()?;
                let server = self
                    .fixed_names
                    .clone()
                    .unwrap_or_else(|| ServerNames::of(&Local::Unix(Arc::from(Path::new("")))));
                (Plain::Unix(stream), Peer::Local, Some(server))
            }
        };
        let Some(server) = server else {
            return Ok(None);
        };
        if !self.options_inherited && plain.configure(shared.config.io_timeout).is_err() {
            return Ok(None);
        }
        Ok(shared
            .wrap(plain)
            .ok()
            .map(|stream| Conn::new(stream, peer, server)))
    }
}

/// Accepts the connections pending on `listener`, until none is left (a
/// report is of new arrivals, so it must be emptied), the process is out
/// of descriptors, or a shutdown began: the first is returned, for the
/// worker that heard of them to serve; the others are queued for the pool.
/// What is left pending is noticed again by the parker thread
/// ([`super::park::Parker::recheck_listeners`]).
pub(crate) fn accept_pending(listener: &Socket, shared: &Arc<Shared>) -> Option<Conn> {
    let mut first = None;
    let mut queued = false;
    while !shared.is_shutting_down() {
        match listener.accept(shared) {
            Ok(conn) => {
                shared.pool.note_take();
                match (conn, &first) {
                    (None, _) => {}
                    (Some(conn), None) => first = Some(conn),
                    (Some(conn), Some(_)) => {
                        shared.pool.queue(conn);
                        queued = true;
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if is_fd_exhaustion(&e) => {
                shared.log.error(&format!(
                    " * Cannot accept: {e}. Raise the limit with `ulimit -n`; retrying."
                ));
                break;
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOBUFS | libc::ENOMEM)) => {
                shared
                    .log
                    .error(&format!(" * Cannot accept: {e}; retrying."));
                break;
            }
            Err(e) if is_listener_broken(&e) => {
                shared.log.error(&format!(" * Accept failed: {e}"));
                break;
            }
            // A connection that failed before it was accepted (reset,
            // aborted, a network error the kernel passes on): the next one
            // may be fine.
            Err(_) => {}
        }
    }
    if queued {
        shared.parker.wake();
    }
    first
}

/// Errors of the listening socket itself, which accepting again would
/// only repeat.
fn is_listener_broken(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EBADF | libc::EINVAL | libc::ENOTSOCK | libc::EOPNOTSUPP | libc::EFAULT)
    )
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
