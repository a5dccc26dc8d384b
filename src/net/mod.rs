//! Addresses: what to listen on for a host, binding one socket per
//! address on one shared port, Unix sockets, and listening sockets
//! inherited from a parent process (LISTEN_FDS), and the plain stream of
//! an accepted connection.

#[cfg(feature = "cli")]
pub(crate) mod doctor;
mod inherit;
mod stream;
mod unix;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, ToSocketAddrs};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use crate::sys::socket::listen_tcp;
use crate::Error;

#[cfg(feature = "reload")]
pub(crate) use inherit::held_listeners;
pub(crate) use inherit::inherited_listeners;
pub(crate) use stream::Plain;
pub(crate) use unix::remove_socket_file;

/// A listening socket.
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// Where a listener listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ListenAddr {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl ListenAddr {
    /// `http://127.0.0.1:5000`, `http://[::1]:5000`, `unix:///run/app.sock`.
    pub(crate) fn url(&self, scheme: &str) -> String {
        match self {
            ListenAddr::Tcp(addr) => format!("{scheme}://{addr}"),
            ListenAddr::Unix(path) => format!("unix://{}", path.display()),
        }
    }
}

/// A bound listener, its address, and why that address was chosen.
#[derive(Debug)]
pub(crate) struct Bound {
    pub listener: Listener,
    pub addr: ListenAddr,
    pub why: Option<String>,
    /// A Unix socket file this process created (removed at shutdown).
    pub created_file: Option<PathBuf>,
}

/// True for `localhost` and names under `.localhost`, which RFC 6761
/// section 6.3 reserves for loopback.
pub(crate) fn is_localhost(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

/// An address to bind and the reason it was picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub ip: IpAddr,
    pub why: Option<String>,
}

/// The addresses to listen on for `host`, in the resolver's order.
///
/// `localhost` and `*.localhost` are every loopback address of the machine
/// (127.0.0.1, and ::1 where IPv6 is up), whatever the hosts file says,
/// so clients that try either family first connect at once. IP literals
/// (with or without brackets) are used as they are; other names go
/// through getaddrinfo and every address it returns is used.
pub(crate) fn resolve(host: &str) -> Result<Vec<Candidate>, Error> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![Candidate { ip, why: None }]);
    }
    if bare.is_empty() {
        return Ok(vec![Candidate {
            ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            why: None,
        }]);
    }
    if is_localhost(bare) {
        return Ok(localhost_candidates(bare));
    }
    let found = (bare, 0u16)
        .to_socket_addrs()
        .map_err(|source| Error::Resolve {
            host: host.to_owned(),
            source,
        })?;
    let mut ips: Vec<IpAddr> = Vec::new();
    for addr in found {
        if !ips.contains(&addr.ip()) {
            ips.push(addr.ip());
        }
    }
    if ips.is_empty() {
        return Err(Error::NoAddress {
            host: host.to_owned(),
        });
    }
    let count = ips.len();
    Ok(ips
        .into_iter()
        .enumerate()
        .map(|(i, ip)| Candidate {
            ip,
            why: (count > 1).then(|| format!("{bare} resolves to it, answer {} of {count}", i + 1)),
        })
        .collect())
}

fn localhost_candidates(name: &str) -> Vec<Candidate> {
    let mut out = vec![Candidate {
        ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        why: Some(format!("{name}: the IPv4 loopback")),
    }];
    if ipv6_loopback_available() {
        out.push(Candidate {
            ip: IpAddr::V6(Ipv6Addr::LOCALHOST),
            why: Some(format!(
                "{name}: the IPv6 loopback, which browsers and curl try too"
            )),
        });
    }
    out
}

/// True if a socket can be bound to [::1].
pub(crate) fn ipv6_loopback_available() -> bool {
    TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok()
}

/// Binds what `host` names: a Unix socket for `unix://PATH`, otherwise
/// every address of [`resolve`] on one port. With port 0 the first bind
/// picks the port and the others reuse it; if another program holds that
/// port on a later address, the whole set is tried again with a new port.
pub(crate) fn bind(host: &str, port: u16) -> Result<Vec<Bound>, Error> {
    if let Some(path) = host.strip_prefix("unix://") {
        return unix::bind(path).map(|b| vec![b]);
    }
    let mut candidates = resolve(host)?;
    // `::` with IPV6_V6ONLY off already covers IPv4.
    if candidates
        .iter()
        .any(|c| c.ip == IpAddr::V6(Ipv6Addr::UNSPECIFIED))
    {
        candidates.retain(|c| c.ip != IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    }
    bind_all(&candidates, port)
}

fn bind_all(candidates: &[Candidate], port: u16) -> Result<Vec<Bound>, Error> {
    const ATTEMPTS: usize = 8;
    let mut last_err = None;
    for _ in 0..ATTEMPTS {
        match bind_once(candidates, port) {
            Ok(bound) => return Ok(bound),
            Err((err, retry)) if retry && port == 0 => last_err = Some(err),
            Err((err, _)) => return Err(err),
        }
    }
    Err(last_err.unwrap_or_else(|| Error::Io(io::Error::other("could not bind"))))
}

fn bind_once(candidates: &[Candidate], port: u16) -> Result<Vec<Bound>, (Error, bool)> {
    let mut bound: Vec<Bound> = Vec::new();
    let mut port = port;
    for (i, candidate) in candidates.iter().enumerate() {
        let addr = SocketAddr::new(candidate.ip, port);
        let v6only = !candidate.ip.is_unspecified();
        let listener = listen_tcp(addr, v6only).map_err(|source| {
            let retry = i > 0 && source.kind() == io::ErrorKind::AddrInUse;
            (bind_error(addr, source), retry)
        })?;
        let addr = listener.local_addr().map_err(|e| (Error::Io(e), false))?;
        port = addr.port();
        bound.push(Bound {
            listener: Listener::Tcp(listener),
            addr: ListenAddr::Tcp(addr),
            why: candidate.why.clone(),
            created_file: None,
        });
    }
    Ok(bound)
}

/// A bind failure, with who holds the port when the OS tells.
fn bind_error(addr: SocketAddr, source: io::Error) -> Error {
    let holder = if source.kind() == io::ErrorKind::AddrInUse {
        holder_of(addr)
    } else {
        None
    };
    Error::Bind {
        addr,
        source,
        holder,
    }
}

/// The process listening on `addr`, from /proc (Linux only; `None`
/// elsewhere or when the process belongs to another user).
fn holder_of(addr: SocketAddr) -> Option<String> {
    let listeners = crate::net::procnet::listeners().ok()?;
    let entry = listeners.iter().find(|l| {
        l.addr.port() == addr.port()
            && (l.addr.ip() == addr.ip()
                || l.addr.ip().is_unspecified()
                || addr.ip().is_unspecified())
    })?;
    let owner = crate::net::procnet::owner_of_inode(entry.inode)?;
    Some(format!(
        "{} (pid {}) on {}",
        owner.name, owner.pid, entry.addr
    ))
}

pub(crate) mod procnet;

/// The address other machines would use to reach this one, for the banner
/// of a wildcard bind: every non-loopback interface address of the
/// family.
pub(crate) fn interface_ips(v6: bool) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = crate::sys::socket::interface_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|a| a.ip)
        .filter(|ip| ip.is_ipv6() == v6 && !ip.is_loopback())
        .filter(|ip| match ip {
            // Link-local IPv6 addresses need a scope id to be used.
            IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
            IpAddr::V4(_) => true,
        })
        .collect();
    ips.dedup();
    ips
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_names() {
        assert!(is_localhost("localhost"));
        assert!(is_localhost("api.localhost"));
        assert!(is_localhost("LOCALHOST."));
        assert!(!is_localhost("localhost.example"));
    }

    #[test]
    fn literals_resolve_to_themselves() {
        let ip = |h: &str| resolve(h).unwrap()[0].ip;
        assert_eq!(ip("127.0.0.1"), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(ip("[::1]"), IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert_eq!(ip("::"), IpAddr::V6(Ipv6Addr::UNSPECIFIED));
    }

    #[test]
    fn localhost_starts_with_ipv4_and_says_why() {
        let c = resolve("localhost").unwrap();
        assert_eq!(c[0].ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(c[0].why.as_deref().unwrap().contains("IPv4 loopback"));
    }

    #[test]
    fn port_zero_is_shared() {
        let bound = bind("localhost", 0).unwrap();
        let ports: Vec<u16> = bound
            .iter()
            .map(|b| match &b.addr {
                ListenAddr::Tcp(a) => a.port(),
                ListenAddr::Unix(_) => 0,
            })
            .collect();
        assert_ne!(ports[0], 0);
        assert!(ports.iter().all(|&p| p == ports[0]));
    }

    #[test]
    fn wildcard_v6_is_dual_stack() {
        let bound = bind("::", 0).unwrap();
        assert_eq!(bound.len(), 1);
        let Listener::Tcp(l) = &bound[0].listener else {
            panic!("tcp expected")
        };
        use std::os::fd::AsRawFd;
        assert!(!crate::sys::socket::v6only(l.as_raw_fd()).unwrap());
    }

    #[test]
    fn port_in_use_is_reported() {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = first.local_addr().unwrap().port();
        let err = bind("127.0.0.1", port).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("is in use by another program"), "{text}");
    }
}
