//! Addresses: resolving the host to serve on and binding a listener for
//! each of its addresses on one shared port.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, ToSocketAddrs};

use crate::Error;

/// A bound listening socket and why its address was chosen.
#[derive(Debug)]
pub(crate) struct Bound {
    pub listener: TcpListener,
    pub addr: SocketAddr,
}

/// True for `localhost` and names under `.localhost`, which RFC 6761
/// section 6.3 reserves for loopback.
pub(crate) fn is_localhost(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

/// The addresses to listen on for `host`, in the resolver's order.
///
/// `localhost` and `*.localhost` are every loopback address of the machine
/// (127.0.0.1, and ::1 where IPv6 is up), whatever the hosts file says,
/// so clients that try either family first connect at once. IP literals
/// (with or without brackets) are used as they are; other names go
/// through getaddrinfo and every address it returns is used.
pub(crate) fn resolve(host: &str) -> Result<Vec<IpAddr>, Error> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    if bare.is_empty() {
        return Ok(vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)]);
    }
    if is_localhost(bare) {
        let mut ips = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
        if ipv6_loopback_available() {
            ips.push(IpAddr::V6(Ipv6Addr::LOCALHOST));
        }
        return Ok(ips);
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
    Ok(ips)
}

/// True if a socket can be bound to [::1].
fn ipv6_loopback_available() -> bool {
    TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok()
}

/// Binds every address on one port. With port 0 the first bind picks the
/// port and the others reuse it; if another program holds that port on a
/// later address, the whole set is tried again with a new port.
pub(crate) fn bind_all(ips: &[IpAddr], port: u16) -> Result<Vec<Bound>, Error> {
    const ATTEMPTS: usize = 8;
    let mut last_err = None;
    for _ in 0..ATTEMPTS {
        match bind_once(ips, port) {
            Ok(bound) => return Ok(bound),
            Err((err, retry)) if retry && port == 0 => last_err = Some(err),
            Err((err, _)) => return Err(err),
        }
    }
    Err(last_err.unwrap_or_else(|| Error::Io(io::Error::other("could not bind"))))
}

fn bind_once(ips: &[IpAddr], port: u16) -> Result<Vec<Bound>, (Error, bool)> {
    let mut bound: Vec<Bound> = Vec::new();
    let mut port = port;
    for (i, &ip) in ips.iter().enumerate() {
        let addr = SocketAddr::new(ip, port);
        let listener = TcpListener::bind(addr).map_err(|source| {
            let retry = i > 0 && source.kind() == io::ErrorKind::AddrInUse;
            (Error::Bind { addr, source }, retry)
        })?;
        let addr = listener.local_addr().map_err(|e| (Error::Io(e), false))?;
        port = addr.port();
        bound.push(Bound { listener, addr });
    }
    Ok(bound)
}

/// The address other machines would use to reach this one, for the banner
/// of a wildcard bind: the source address of a route to a private address
/// (a UDP `connect` sends nothing), as Werkzeug's `get_interface_ip` does.
pub(crate) fn interface_ip(v6: bool) -> Option<IpAddr> {
    let (bind, target): (SocketAddr, SocketAddr) = if v6 {
        (
            "[::]:0".parse().ok()?,
            "[fd31:f903:5ab5:1::1]:58162".parse().ok()?,
        )
    } else {
        (
            "0.0.0.0:0".parse().ok()?,
            "10.253.155.219:58162".parse().ok()?,
        )
    };
    let socket = std::net::UdpSocket::bind(bind).ok()?;
    socket.connect(target).ok()?;
    Some(socket.local_addr().ok()?.ip())
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
        assert_eq!(
            resolve("127.0.0.1").unwrap(),
            vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]
        );
        assert_eq!(
            resolve("[::1]").unwrap(),
            vec![IpAddr::V6(Ipv6Addr::LOCALHOST)]
        );
        assert_eq!(
            resolve("::").unwrap(),
            vec![IpAddr::V6(Ipv6Addr::UNSPECIFIED)]
        );
    }

    #[test]
    fn localhost_starts_with_ipv4() {
        let ips = resolve("localhost").unwrap();
        assert_eq!(ips[0], IpAddr::V4(Ipv4Addr::LOCALHOST));
    }

    #[test]
    fn port_zero_is_shared() {
        let ips = resolve("localhost").unwrap();
        let bound = bind_all(&ips, 0).unwrap();
        let port = bound[0].addr.port();
        assert_ne!(port, 0);
        assert!(bound.iter().all(|b| b.addr.port() == port));
    }

    #[test]
    fn port_in_use_is_reported() {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = first.local_addr().unwrap().port();
        let err = bind_all(&[IpAddr::V4(Ipv4Addr::LOCALHOST)], port).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("is in use by another program"), "{text}");
    }
}
