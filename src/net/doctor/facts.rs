//! What is true on this machine for one name and port, gathered
//! without changing anything: the resolver, the hosts file, loopback
//! and IPv6, and who answers on each address.

use std::fs;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Instant;

use super::{CONNECT_TIMEOUT, HTTP_TIMEOUT, V4, V6};
use crate::net::{is_localhost, procnet};

/// Largest response head read from a server.
const MAX_HEAD: usize = 64 * 1024;

/// Everything the report is computed from.
#[derive(Debug, Clone)]
pub(crate) struct Facts {
    /// The name examined, without brackets.
    pub host: String,
    pub port: u16,
    pub resolution: Resolution,
    pub loopback: Loopback,
    /// False when /proc/net/tcp cannot be read: listeners are then
    /// unknown, not absent.
    pub listeners_visible: bool,
    /// One probe per address a client may try: the resolver's answers in
    /// order, then for `localhost` names the loopback addresses missing
    /// from them.
    pub addresses: Vec<Probe>,
}

/// How the name resolves, and where the answer comes from.
#[derive(Debug, Clone)]
pub(crate) struct Resolution {
    /// getaddrinfo's answers in its order (duplicates removed), or its
    /// error.
    pub order: Result<Vec<IpAddr>, String>,
    /// The hosts-file lines that name the host.
    pub hosts_lines: Vec<HostsLine>,
    /// The `hosts:` line of /etc/nsswitch.conf, without the key.
    pub nsswitch_hosts: Option<String>,
    /// The non-comment lines of /etc/gai.conf; `None` when it is absent.
    pub gai_conf: Option<Vec<String>>,
}

/// A line of /etc/hosts that names the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostsLine {
    /// 1-based line number.
    pub number: usize,
    pub text: String,
    /// The address the line maps the name to.
    pub ip: Option<IpAddr>,
}

/// The machine's loopback set-up.
#[derive(Debug, Clone)]
pub(crate) struct Loopback {
    /// Loopback addresses on the interfaces: (interface, address).
    pub addresses: Vec<(String, IpAddr)>,
    /// `/proc/sys/net/ipv6/bindv6only`, as written there.
    pub bindv6only: Option<String>,
    /// Whether a socket could be bound to [::1], or why not.
    pub ipv6_bind: Result<(), String>,
    /// Whether /proc/net/if_inet6 exists (IPv6 is in the kernel).
    pub if_inet6: bool,
}

impl Loopback {
    pub(super) fn ipv6_available(&self) -> bool {
        self.ipv6_bind.is_ok()
    }
}

/// What was found at one address.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Probe {
    pub ip: IpAddr,
    /// The listening socket that takes connections for this address.
    pub listener: Option<Listening>,
    pub connect: Connect,
    /// The answer to `GET /`; `None` when the connect failed.
    pub http: Option<HttpAnswer>,
}

/// A listening socket and its process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listening {
    /// The address as bound: specific, or a wildcard.
    pub socket: SocketAddr,
    /// The process holding it, when this user may see it.
    pub pid: Option<u32>,
    pub process: Option<String>,
}

/// A timed connect.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Connect {
    /// Milliseconds until connected or failed.
    pub ms: f64,
    /// `None` when connected.
    pub error: Option<ConnectError>,
}

impl Connect {
    pub(super) fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Why a connect failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConnectError {
    /// Nothing listens there (ECONNREFUSED).
    Refused,
    /// No answer within [`CONNECT_TIMEOUT`]: packets are dropped.
    Timeout,
    /// No route (ENETUNREACH, EHOSTUNREACH).
    Unreachable,
    /// The address is not configured here (EADDRNOTAVAIL).
    AddressNotAvailable,
    /// The kernel has no IPv6 (EAFNOSUPPORT).
    FamilyNotSupported,
    /// Anything else, with the system's message.
    Other(String),
}

impl ConnectError {
    fn from_io(err: &io::Error) -> ConnectError {
        if err.raw_os_error() == Some(libc::EAFNOSUPPORT) {
            return ConnectError::FamilyNotSupported;
        }
        match err.kind() {
            io::ErrorKind::ConnectionRefused => ConnectError::Refused,
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ConnectError::Timeout,
            io::ErrorKind::NetworkUnreachable | io::ErrorKind::HostUnreachable => {
                ConnectError::Unreachable
            }
            io::ErrorKind::AddrNotAvailable => ConnectError::AddressNotAvailable,
            _ => ConnectError::Other(err.to_string()),
        }
    }

    /// The stable name used in JSON.
    pub(super) fn code(&self) -> &'static str {
        match self {
            ConnectError::Refused => "refused",
            ConnectError::Timeout => "timeout",
            ConnectError::Unreachable => "unreachable",
            ConnectError::AddressNotAvailable => "address_not_available",
            ConnectError::FamilyNotSupported => "family_not_supported",
            ConnectError::Other(_) => "other",
        }
    }

    /// A few words for a person.
    pub(super) fn describe(&self) -> String {
        match self {
            ConnectError::Refused => "refused".into(),
            ConnectError::Timeout => "no answer".into(),
            ConnectError::Unreachable => "unreachable".into(),
            ConnectError::AddressNotAvailable => "address not available here".into(),
            ConnectError::FamilyNotSupported => "no IPv6 in this kernel".into(),
            ConnectError::Other(text) => text.clone(),
        }
    }
}

/// What `GET /` got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HttpAnswer {
    /// A response head.
    Response { status: u16, server: Option<String> },
    /// No complete head within [`HTTP_TIMEOUT`].
    Timeout,
    /// Something that is not an HTTP response, or a closed connection.
    Failed(String),
}

impl HttpAnswer {
    pub(super) fn describe(&self) -> String {
        match self {
            HttpAnswer::Response {
                status,
                server: Some(server),
            } => format!("HTTP {status}, Server: {server}"),
            HttpAnswer::Response {
                status,
                server: None,
            } => format!("HTTP {status}, no Server header"),
            HttpAnswer::Timeout => {
                format!("no answer to GET / within {} s", HTTP_TIMEOUT.as_secs())
            }
            HttpAnswer::Failed(why) => format!("no HTTP answer ({why})"),
        }
    }
}

/// Collects the facts for `host` and `port`.
pub(crate) fn gather(host: &str, port: u16) -> Facts {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let order = system_order(&host, port);
    let resolution = Resolution {
        hosts_lines: fs::read_to_string("/etc/hosts")
            .map(|text| hosts_lines(&text, &host))
            .unwrap_or_default(),
        nsswitch_hosts: fs::read_to_string("/etc/nsswitch.conf")
            .ok()
            .and_then(|text| nsswitch_hosts(&text)),
        gai_conf: fs::read_to_string("/etc/gai.conf")
            .ok()
            .map(|text| config_lines(&text)),
        order,
    };
    let loopback = Loopback {
        addresses: loopback_addrs(),
        bindv6only: fs::read_to_string("/proc/sys/net/ipv6/bindv6only")
            .ok()
            .map(|s| s.trim().to_owned()),
        ipv6_bind: TcpListener::bind((Ipv6Addr::LOCALHOST, 0))
            .map(drop)
            .map_err(|e| e.to_string()),
        if_inet6: Path::new("/proc/net/if_inet6").exists(),
    };
    let listeners = procnet::listeners();
    let listeners_visible = listeners.is_ok();
    let listeners = listeners.unwrap_or_default();
    let host_header = if host.parse::<Ipv6Addr>().is_ok() {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let addresses = candidates(&host, &resolution.order)
        .into_iter()
        .map(|ip| probe(ip, port, &listeners, &host_header))
        .collect();
    Facts {
        host,
        port,
        resolution,
        loopback,
        listeners_visible,
        addresses,
    }
}

/// getaddrinfo's answers for `host`, in its order (std's `to_socket_addrs`
/// keeps it), without duplicates.
fn system_order(host: &str, port: u16) -> Result<Vec<IpAddr>, String> {
    let found = (host, port).to_socket_addrs().map_err(|e| e.to_string())?;
    let mut ips: Vec<IpAddr> = Vec::new();
    for addr in found {
        if !ips.contains(&addr.ip()) {
            ips.push(addr.ip());
        }
    }
    if ips.is_empty() {
        return Err(format!("no address for {host}"));
    }
    Ok(ips)
}

/// The addresses to probe: the resolver's, then for `localhost` names the
/// loopback addresses browsers and curl add.
pub(super) fn candidates(host: &str, order: &Result<Vec<IpAddr>, String>) -> Vec<IpAddr> {
    let mut ips = order.clone().unwrap_or_default();
    if is_localhost(host) {
        for ip in [V4, V6] {
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
    }
    ips
}

/// The lines of a hosts file that name `host` (case-insensitive, trailing
/// dot ignored).
pub(crate) fn hosts_lines(text: &str, host: &str) -> Vec<HostsLine> {
    let want = host.trim_end_matches('.');
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let content = line.split('#').next().unwrap_or("");
            let mut words = content.split_whitespace();
            let addr = words.next()?;
            if !words.any(|w| w.trim_end_matches('.').eq_ignore_ascii_case(want)) {
                return None;
            }
            Some(HostsLine {
                number: i + 1,
                text: line.trim().to_owned(),
                ip: addr.split('%').next().and_then(|a| a.parse().ok()),
            })
        })
        .collect()
}

/// The value of the `hosts:` line of nsswitch.conf.
fn nsswitch_hosts(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("").trim();
        line.strip_prefix("hosts:").map(|v| v.trim().to_owned())
    })
}

/// The lines of a config file that are neither blank nor comments.
fn config_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// The loopback addresses of the machine's interfaces.
fn loopback_addrs() -> Vec<(String, IpAddr)> {
    let mut out: Vec<(String, IpAddr)> = Vec::new();
    for a in crate::sys::socket::interface_addrs().unwrap_or_default() {
        if a.ip.is_loopback() && !out.iter().any(|(_, ip)| *ip == a.ip) {
            out.push((a.name, a.ip));
        }
    }
    out
}

/// Looks at one address: its listener, a timed connect, one `GET /`.
fn probe(ip: IpAddr, port: u16, listeners: &[procnet::ProcListener], host_header: &str) -> Probe {
    let listener = listener_for(ip, port, listeners).map(|l| {
        let owner = procnet::owner_of_inode(l.inode);
        Listening {
            socket: l.addr,
            pid: owner.as_ref().map(|o| o.pid),
            process: owner.map(|o| o.name),
        }
    });
    let start = Instant::now();
    let result = TcpStream::connect_timeout(&SocketAddr::new(ip, port), CONNECT_TIMEOUT);
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(mut stream) => Probe {
            ip,
            listener,
            connect: Connect { ms, error: None },
            http: Some(http_get(&mut stream, host_header)),
        },
        Err(err) => Probe {
            ip,
            listener,
            connect: Connect {
                ms,
                error: Some(ConnectError::from_io(&err)),
            },
            http: None,
        },
    }
}

/// The listening socket that takes connections to `ip:port`: one bound to
/// that address, else a wildcard of the family, else for IPv4 the IPv6
/// wildcard (which takes IPv4 too unless it sets IPV6_V6ONLY).
fn listener_for(
    ip: IpAddr,
    port: u16,
    listeners: &[procnet::ProcListener],
) -> Option<&procnet::ProcListener> {
    let on_port = || listeners.iter().filter(move |l| l.addr.port() == port);
    on_port()
        .find(|l| l.addr.ip() == ip)
        .or_else(|| {
            on_port().find(|l| l.addr.ip().is_unspecified() && l.addr.is_ipv4() == ip.is_ipv4())
        })
        .or_else(|| {
            on_port().find(|l| ip.is_ipv4() && l.addr.is_ipv6() && l.addr.ip().is_unspecified())
        })
}

/// Sends `GET /` and reads the status line and `Server` header.
fn http_get(stream: &mut TcpStream, host_header: &str) -> HttpAnswer {
    let deadline = Instant::now() + HTTP_TIMEOUT;
    let request = format!("GET / HTTP/1.1\r\nHost: {host_header}\r\nConnection: close\r\n\r\n");
    let timed_out = |e: &io::Error| {
        matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        )
    };
    if let Err(e) = stream
        .set_write_timeout(Some(HTTP_TIMEOUT))
        .and_then(|()| stream.write_all(request.as_bytes()))
    {
        return if timed_out(&e) {
            HttpAnswer::Timeout
        } else {
            HttpAnswer::Failed(e.to_string())
        };
    }
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return HttpAnswer::Timeout;
        }
        if let Err(e) = stream.set_read_timeout(Some(left)) {
            return HttpAnswer::Failed(e.to_string());
        }
        match stream.read(&mut chunk) {
            Ok(0) => {
                return parse_head(&head).unwrap_or_else(|| {
                    HttpAnswer::Failed("closed before a complete response head".into())
                })
            }
            Ok(n) => {
                head.extend_from_slice(&chunk[..n]);
                if let Some(answer) = parse_head(&head) {
                    return answer;
                }
                if head.len() > MAX_HEAD {
                    return HttpAnswer::Failed("response head too large".into());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if timed_out(&e) => return HttpAnswer::Timeout,
            Err(e) => return HttpAnswer::Failed(e.to_string()),
        }
    }
}

/// The answer in `head`, or `None` while it is incomplete.
fn parse_head(head: &[u8]) -> Option<HttpAnswer> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(head) {
        Ok(httparse::Status::Complete(_)) => Some(HttpAnswer::Response {
            status: response.code.unwrap_or(0),
            server: response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("server"))
                .map(|h| String::from_utf8_lossy(h.value).trim().to_owned()),
        }),
        Ok(httparse::Status::Partial) => None,
        Err(e) => Some(HttpAnswer::Failed(format!("not an HTTP response: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::render::gai_summary;
    use super::*;

    #[test]
    fn hosts_file_lines_that_name_the_host() {
        let text = "# comment localhost\n127.0.0.1\tlocalhost\n::1 ip6-localhost ip6-loopback\n\
                    ::1 LOCALHOST. # trailing\n10.0.0.1 notlocalhost # localhost\n";
        let lines = hosts_lines(text, "localhost");
        assert_eq!(
            lines.iter().map(|l| (l.number, l.ip)).collect::<Vec<_>>(),
            [(2, Some(V4)), (4, Some(V6))]
        );
        assert_eq!(lines[0].text, "127.0.0.1\tlocalhost");
        assert_eq!(
            nsswitch_hosts("passwd: files\nhosts:          files dns\n").as_deref(),
            Some("files dns")
        );
        assert_eq!(
            config_lines("# x\n\nprecedence ::ffff:0:0/96 100\n"),
            ["precedence ::ffff:0:0/96 100"]
        );
        assert!(
            gai_summary(&Some(config_lines("precedence ::ffff:0:0/96 100")))
                .starts_with("custom precedence table active")
        );
    }

    #[test]
    fn http_heads_are_parsed() {
        assert_eq!(
            parse_head(b"HTTP/1.1 404 Not Found\r\nserver: x/1\r\n\r\n"),
            Some(HttpAnswer::Response {
                status: 404,
                server: Some("x/1".into())
            })
        );
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nServ"), None);
        assert!(matches!(
            parse_head(b"SSH-2.0-OpenSSH_9.2\r\n"),
            Some(HttpAnswer::Failed(_))
        ));
    }
}
