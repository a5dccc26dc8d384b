//! `werk doctor [HOST] [PORT]`: why `localhost` is slow or refused for
//! some clients, and what to change.
//!
//! The report is built in three steps, kept apart so that the middle one
//! can be tested with hand-made facts:
//! 1. [`gather`] collects [`Facts`]: the system resolver's answers in
//!    order, the hosts-file lines for the name, the loopback addresses and
//!    IPv6 state, and for every address a client may try, who listens there
//!    (/proc/net/tcp{,6}), a timed connect and one `GET /`;
//! 2. [`verdicts`] replays each kind of client (browsers, curl, Node.js,
//!    Python, clients pinned to one address) over those facts, and
//!    [`fixes`] ranks what to change;
//! 3. [`render_text`] and [`render_json`] print the same report.
//!
//! Traffic goes only to the addresses HOST resolves to and to the two
//! loopback addresses (for `localhost` and `*.localhost`, which browsers
//! and curl map there themselves). `docs/doctor.md` describes the output
//! and the rules.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::apps::json::write_str;
use crate::net::{is_localhost, procnet};

/// The name examined when none is given.
pub(crate) const DEFAULT_HOST: &str = "localhost";
/// The port examined when none is given: `werk serve`'s default.
pub(crate) const DEFAULT_PORT: u16 = 5000;

/// How long a connect may take before it counts as "no answer".
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the server may take to send a response head to `GET /`.
const HTTP_TIMEOUT: Duration = Duration::from_secs(2);
/// From this many milliseconds to a connection (failed attempts
/// included), a person notices the wait.
const SLOW_MS: f64 = 100.0;
/// Largest response head read from a server.
const MAX_HEAD: usize = 64 * 1024;

const V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

/// Section headings of the text report, in order.
pub(crate) const HEADINGS: [&str; 5] = [
    "1. How the name resolves",
    "2. Loopback and IPv6",
    "3. Who answers on port",
    "4. What each client gets",
    "5. Fixes, best first",
];

// ---------------------------------------------------------------------
// Facts
// ---------------------------------------------------------------------

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
    fn ipv6_available(&self) -> bool {
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
    fn ok(&self) -> bool {
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
    fn code(&self) -> &'static str {
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
    fn describe(&self) -> String {
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
    fn describe(&self) -> String {
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

// ---------------------------------------------------------------------
// Gathering
// ---------------------------------------------------------------------

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
fn candidates(host: &str, order: &Result<Vec<IpAddr>, String>) -> Vec<IpAddr> {
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

// ---------------------------------------------------------------------
// Clients and verdicts (pure)
// ---------------------------------------------------------------------

/// A client that answers `localhost` itself instead of asking the
/// resolver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Override {
    /// The verdict's client id.
    pub client: &'static str,
    /// Who does it.
    pub who: &'static str,
    /// The addresses, in the order tried.
    pub order: Vec<IpAddr>,
    /// Since when, and the source.
    pub note: String,
}

/// The clients that answer `host` themselves (only for `localhost` and
/// `*.localhost`).
pub(crate) fn client_overrides(host: &str) -> Vec<Override> {
    if !is_localhost(host) {
        return Vec::new();
    }
    let plain = host.eq_ignore_ascii_case("localhost");
    let (curl, since) = if host.ends_with('.') {
        ("curl (recent)", "with a trailing dot since curl/curl#15676")
    } else if plain {
        ("curl >= 7.78", "since 7.78.0, curl/curl#7039")
    } else {
        ("curl >= 7.85", "*.localhost since 7.85.0, curl/curl#9296")
    };
    vec![
        Override {
            client: "browser",
            who: "Chrome and Firefox",
            order: vec![V6, V4],
            note: "without asking the resolver (RFC 6761 section 6.3); Happy Eyeballs, \
                   300 ms between attempts"
                .to_owned(),
        },
        Override {
            client: "curl",
            who: curl,
            order: vec![V6, V4],
            note: format!(
                "without asking the resolver ({since}); Happy Eyeballs gives IPv6 a 200 ms \
                 head start"
            ),
        },
    ]
}

/// How a client goes through its addresses.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Strategy {
    /// Only the first address.
    FirstOnly,
    /// Each in turn, until one connects.
    Sequential,
    /// The next attempt starts when the previous fails or after this many
    /// milliseconds, whichever is first (RFC 8305).
    HappyEyeballs(f64),
    /// Each in turn, giving up on an attempt after this many milliseconds
    /// unless it is the last (Node.js `autoSelectFamily`).
    PerAttempt(f64),
}

/// A kind of client: which addresses it tries, and how.
#[derive(Debug, Clone)]
struct ClientModel {
    id: &'static str,
    label: &'static str,
    addrs: Vec<IpAddr>,
    strategy: Strategy,
    /// How it picks addresses, for the explanation.
    how: String,
}

fn clients(facts: &Facts) -> Vec<ClientModel> {
    let resolver = facts.resolution.order.clone().unwrap_or_default();
    let overrides = client_overrides(&facts.host);
    let from_resolver = format!(
        "the system resolver's answers ({})",
        ip_list(&resolver, ", ")
    );
    // Browsers and curl answer localhost names themselves; other names
    // go through the resolver.
    let own_or_resolver = |id: &str, delay: &str| match overrides.iter().find(|o| o.client == id) {
        Some(o) => (
            o.order.clone(),
            format!(
                "answers {} itself and tries {} (Happy Eyeballs: {delay})",
                facts.host,
                ip_list(&o.order, ", then ")
            ),
        ),
        None => (
            resolver.clone(),
            format!("tries {from_resolver} (Happy Eyeballs: {delay})"),
        ),
    };
    let mut out = Vec::new();
    let (addrs, how) = own_or_resolver("browser", "the next attempt after 300 ms or a failure");
    out.push(ClientModel {
        id: "browser",
        label: "browsers (Chrome, Firefox)",
        addrs,
        strategy: Strategy::HappyEyeballs(300.0),
        how,
    });
    let (addrs, how) = own_or_resolver("curl", "the next attempt after 200 ms or a failure");
    out.push(ClientModel {
        id: "curl",
        label: "curl",
        addrs,
        strategy: Strategy::HappyEyeballs(200.0),
        how,
    });
    out.push(ClientModel {
        id: "node20+",
        label: "Node.js 20+ (autoSelectFamily)",
        addrs: resolver.clone(),
        strategy: Strategy::PerAttempt(250.0),
        how: format!(
            "tries {from_resolver} in order, giving each 250 ms (autoSelectFamily, the default \
             since Node.js 20)"
        ),
    });
    out.push(ClientModel {
        id: "node17-19",
        label: "Node.js 17-19",
        addrs: resolver.iter().take(1).copied().collect(),
        strategy: Strategy::FirstOnly,
        how: format!(
            "uses only the first of {from_resolver}, in the system's order (`verbatim`, the \
             default since Node.js 17)"
        ),
    });
    out.push(ClientModel {
        id: "python",
        label: "Python (http.client, urllib, requests)",
        addrs: resolver.clone(),
        strategy: Strategy::Sequential,
        how: format!(
            "tries {from_resolver} in order until one connects, as socket.create_connection does \
             (Rust's TcpStream::connect too)"
        ),
    });
    if is_localhost(&facts.host) {
        out.push(ClientModel {
            id: "ipv4-only",
            label: "anything pinned to 127.0.0.1",
            addrs: vec![V4],
            strategy: Strategy::FirstOnly,
            how: format!(
                "a URL or proxy target http://127.0.0.1:{}/ tries only 127.0.0.1",
                facts.port
            ),
        });
        if facts.loopback.ipv6_available() {
            out.push(ClientModel {
                id: "ipv6-only",
                label: "anything pinned to ::1",
                addrs: vec![V6],
                strategy: Strategy::FirstOnly,
                how: format!(
                    "a proxy target http://[::1]:{}/, or Node.js 17-19 where {} resolves to ::1 \
                     first (macOS, Windows, hosts files listing ::1 first), tries only ::1",
                    facts.port, facts.host
                ),
            });
        }
    }
    out
}

/// One connection attempt of a client.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Attempt {
    pub ip: IpAddr,
    pub result: AttemptResult,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AttemptResult {
    /// Connected after this many milliseconds.
    Connected(f64),
    /// Failed after this many milliseconds.
    Failed(ConnectError, f64),
    /// The client gave up after this many milliseconds.
    GaveUp(f64),
}

impl AttemptResult {
    fn code(&self) -> &'static str {
        match self {
            AttemptResult::Connected(_) => "connected",
            AttemptResult::Failed(e, _) => e.code(),
            AttemptResult::GaveUp(_) => "gave_up",
        }
    }

    fn ms(&self) -> f64 {
        match self {
            AttemptResult::Connected(ms)
            | AttemptResult::Failed(_, ms)
            | AttemptResult::GaveUp(ms) => *ms,
        }
    }
}

/// Replays a client's attempts over the probes: the attempts made, and
/// where and after how many milliseconds it connects.
fn simulate(
    strategy: Strategy,
    addrs: &[IpAddr],
    probes: &[Probe],
) -> (Vec<Attempt>, Option<(IpAddr, f64)>) {
    let connect_of = |ip: &IpAddr| probes.iter().find(|p| p.ip == *ip).map(|p| &p.connect);
    let mut attempts = Vec::new();
    if let Strategy::HappyEyeballs(delay) = strategy {
        let mut start = 0.0;
        let mut best: Option<(IpAddr, f64)> = None;
        for ip in addrs {
            if best.is_some_and(|(_, done)| done <= start) {
                break;
            }
            let Some(c) = connect_of(ip) else { continue };
            let end = start + c.ms;
            match &c.error {
                None => {
                    attempts.push(Attempt {
                        ip: *ip,
                        result: AttemptResult::Connected(c.ms),
                    });
                    if best.is_none_or(|(_, done)| end < done) {
                        best = Some((*ip, end));
                    }
                    start += delay;
                }
                Some(e) => {
                    attempts.push(Attempt {
                        ip: *ip,
                        result: AttemptResult::Failed(e.clone(), c.ms),
                    });
                    start = end.min(start + delay);
                }
            }
        }
        return (attempts, best);
    }
    let tried: &[IpAddr] = match strategy {
        Strategy::FirstOnly => &addrs[..addrs.len().min(1)],
        _ => addrs,
    };
    let mut t = 0.0;
    for (i, ip) in tried.iter().enumerate() {
        let Some(c) = connect_of(ip) else { continue };
        let limit = match strategy {
            Strategy::PerAttempt(limit) if i + 1 < tried.len() && c.ms >= limit => Some(limit),
            _ => None,
        };
        if let Some(limit) = limit {
            attempts.push(Attempt {
                ip: *ip,
                result: AttemptResult::GaveUp(limit),
            });
            t += limit;
            continue;
        }
        match &c.error {
            None => {
                attempts.push(Attempt {
                    ip: *ip,
                    result: AttemptResult::Connected(c.ms),
                });
                return (attempts, Some((*ip, t + c.ms)));
            }
            Some(e) => {
                attempts.push(Attempt {
                    ip: *ip,
                    result: AttemptResult::Failed(e.clone(), c.ms),
                });
                t += c.ms;
            }
        }
    }
    (attempts, None)
}

/// What a kind of client gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Connects at once to the expected server.
    Ok,
    /// Connects, but only after a wait (timeouts before a fallback, or a
    /// server that does not answer).
    Slow,
    /// Cannot connect at any address it tries.
    Refused,
    /// Connects to a different server than the one on the reference
    /// address.
    WrongServer,
    /// The name does not resolve for it.
    Unresolved,
}

impl Outcome {
    /// The stable name used in JSON.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Slow => "slow",
            Outcome::Refused => "refused",
            Outcome::WrongServer => "wrong_server",
            Outcome::Unresolved => "unresolved",
        }
    }

    fn mark(self) -> &'static str {
        match self {
            Outcome::Ok => "✓",
            Outcome::Slow | Outcome::WrongServer => "!",
            Outcome::Refused | Outcome::Unresolved => "✗",
        }
    }
}

/// The verdict for one kind of client.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Verdict {
    /// Stable id: `browser`, `curl`, `node20+`, `node17-19`, `python`,
    /// `ipv4-only`, `ipv6-only`.
    pub client: &'static str,
    pub label: &'static str,
    pub outcome: Outcome,
    pub attempts: Vec<Attempt>,
    /// The address it ends up connected to.
    pub reached: Option<IpAddr>,
    pub explanation: String,
}

/// The probe whose server counts as "the" server: 127.0.0.1 when an HTTP
/// server answers there (where single-family dev servers usually listen),
/// else the first address with an HTTP answer, else the first that
/// connects.
fn reference(facts: &Facts) -> Option<&Probe> {
    let answers = |p: &&Probe| matches!(p.http, Some(HttpAnswer::Response { .. }));
    let probes = &facts.addresses;
    probes
        .iter()
        .filter(answers)
        .find(|p| p.ip == V4)
        .or_else(|| probes.iter().find(answers))
        .or_else(|| probes.iter().find(|p| p.connect.ok()))
}

/// Whether two probes reach the same server: no different processes
/// when both are visible, and the same kind of answer with the same
/// `Server` header.
fn same_server(a: &Probe, b: &Probe) -> bool {
    if a.ip == b.ip {
        return true;
    }
    let pid = |p: &Probe| p.listener.as_ref().and_then(|l| l.pid);
    if let (Some(x), Some(y)) = (pid(a), pid(b)) {
        if x != y {
            return false;
        }
    }
    match (&a.http, &b.http) {
        (
            Some(HttpAnswer::Response { server: x, .. }),
            Some(HttpAnswer::Response { server: y, .. }),
        ) => x == y,
        (Some(HttpAnswer::Response { .. }), Some(HttpAnswer::Failed(_)))
        | (Some(HttpAnswer::Failed(_)), Some(HttpAnswer::Response { .. })) => false,
        _ => true,
    }
}

/// What each kind of client gets, from the facts alone.
pub(crate) fn verdicts(facts: &Facts) -> Vec<Verdict> {
    let reference = reference(facts);
    clients(facts)
        .into_iter()
        .map(|client| judge(facts, reference, client))
        .collect()
}

fn judge(facts: &Facts, reference: Option<&Probe>, client: ClientModel) -> Verdict {
    let verdict = |outcome, attempts, reached, explanation| Verdict {
        client: client.id,
        label: client.label,
        outcome,
        attempts,
        reached,
        explanation,
    };
    if client.addrs.is_empty() {
        let why = match &facts.resolution.order {
            Err(e) => e.clone(),
            Ok(_) => "no address".to_owned(),
        };
        return verdict(
            Outcome::Unresolved,
            Vec::new(),
            None,
            format!(
                "Asks the system resolver, which has no address for {}: {why}.",
                facts.host
            ),
        );
    }
    let (attempts, reached) = simulate(client.strategy, &client.addrs, &facts.addresses);
    let trace = describe_attempts(&attempts);
    let how = capitalize(&client.how);
    let Some((ip, elapsed)) = reached else {
        return verdict(
            Outcome::Refused,
            attempts,
            None,
            format!("{how}: {trace}. Nothing accepts its connection."),
        );
    };
    let probe = facts
        .addresses
        .iter()
        .find(|p| p.ip == ip)
        .expect("a reached address was probed");
    let answer = probe
        .http
        .as_ref()
        .map(HttpAnswer::describe)
        .unwrap_or_default();
    if let Some(r) = reference.filter(|r| !same_server(probe, r)) {
        let theirs = r
            .http
            .as_ref()
            .map(HttpAnswer::describe)
            .unwrap_or_default();
        return verdict(
            Outcome::WrongServer,
            attempts,
            Some(ip),
            format!(
                "{how}: {trace}. It reaches a different server on {} ({answer}{}) than the one \
                 on {} ({theirs}{}).",
                ip,
                pid_note(probe),
                r.ip,
                pid_note(r)
            ),
        );
    }
    if probe.http == Some(HttpAnswer::Timeout) {
        return verdict(
            Outcome::Slow,
            attempts,
            Some(ip),
            format!(
                "{how}: {trace}. The server accepts but sends no answer to GET / within {} s.",
                HTTP_TIMEOUT.as_secs()
            ),
        );
    }
    if elapsed >= SLOW_MS {
        return verdict(
            Outcome::Slow,
            attempts,
            Some(ip),
            format!(
                "{how}: {trace}. It connects only after about {} ({answer}).",
                ms(elapsed)
            ),
        );
    }
    let refused_first = attempts
        .iter()
        .any(|a| matches!(a.result, AttemptResult::Failed(ConnectError::Refused, _)));
    let mut text = format!("{how}: {trace} ({answer}).");
    if refused_first {
        text.push_str(
            " Fast here; on Windows a refused loopback connect takes hundreds of ms, \
             so the same fallback is slow there.",
        );
    }
    verdict(Outcome::Ok, attempts, Some(ip), text)
}

fn describe_attempts(attempts: &[Attempt]) -> String {
    attempts
        .iter()
        .map(|a| match &a.result {
            AttemptResult::Connected(t) => format!("{} connects in {}", a.ip, ms(*t)),
            AttemptResult::Failed(e, t) => format!("{} {} ({})", a.ip, e.describe(), ms(*t)),
            AttemptResult::GaveUp(t) => format!("{} gives up after {}", a.ip, ms(*t)),
        })
        .collect::<Vec<_>>()
        .join(", then ")
}

fn pid_note(p: &Probe) -> String {
    match &p.listener {
        Some(Listening {
            pid: Some(pid),
            process,
            ..
        }) => format!("; {}, pid {pid}", process.as_deref().unwrap_or("?")),
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------
// Notes and fixes (pure)
// ---------------------------------------------------------------------

/// Where the system resolver and the clients that answer `localhost`
/// themselves disagree.
pub(crate) fn resolution_note(facts: &Facts) -> Option<String> {
    if !is_localhost(&facts.host) {
        return None;
    }
    match &facts.resolution.order {
        Err(e) => Some(format!(
            "the system resolver has no answer for {} ({e}); browsers and curl answer it \
             themselves, clients that ask the resolver cannot connect",
            facts.host
        )),
        Ok(order) => {
            let missing: Vec<IpAddr> = [V6, V4]
                .into_iter()
                .filter(|ip| !order.contains(ip))
                .collect();
            (!missing.is_empty()).then(|| {
                format!(
                    "the system resolver says {} only; browsers and curl also try {}",
                    ip_list(order, ", "),
                    ip_list(&missing, " and ")
                )
            })
        }
    }
}

/// `/etc/hosts` maps the host to ::1, but ::1 cannot be used here.
fn hosts_ipv6_without_ipv6(facts: &Facts) -> bool {
    !facts.loopback.ipv6_available()
        && facts
            .resolution
            .hosts_lines
            .iter()
            .any(|l| l.ip == Some(V6))
}

/// A ranked fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fix {
    /// Stable id: `ipv6_missing`, `fix_name`, `start_server`,
    /// `stop_other_server`, `bind_both`, `use_address`, `add_hosts_ipv6`,
    /// `add_hosts_name`, `node_ipv4first`, `gai_precedence`, `unblock`,
    /// `server_busy`.
    pub id: &'static str,
    pub text: String,
}

/// What to change, best first; empty when every client is fine.
pub(crate) fn fixes(facts: &Facts, verdicts: &[Verdict]) -> Vec<Fix> {
    let host = &facts.host;
    let port = facts.port;
    let local = is_localhost(host);
    let mut out = Vec::new();
    let mut push = |id: &'static str, text: String| {
        if !out.iter().any(|f: &Fix| f.id == id && f.text == text) {
            out.push(Fix { id, text });
        }
    };
    if hosts_ipv6_without_ipv6(facts) {
        let why = facts.loopback.ipv6_bind.clone().err().unwrap_or_default();
        push(
            "ipv6_missing",
            format!(
                "/etc/hosts maps {host} to ::1, but ::1 cannot be used here ({why}): remove \
                 the `::1 {host}` line, or enable IPv6 on lo \
                 (`sysctl net.ipv6.conf.lo.disable_ipv6=0`). In containers this is the usual \
                 cause (moby/moby#35954)."
            ),
        );
    }
    if let (false, Err(e)) = (local, &facts.resolution.order) {
        push(
            "fix_name",
            format!(
                "The system resolver cannot resolve {host} ({e}): check the spelling, /etc/hosts \
                 and DNS."
            ),
        );
        return out;
    }
    let Some(reference) = reference(facts) else {
        let serve = if local {
            format!("`werk serve --port {port}` (it binds 127.0.0.1 and ::1)")
        } else {
            format!("`werk serve --host {host} --port {port}`")
        };
        let tried = ip_list(
            &facts.addresses.iter().map(|p| p.ip).collect::<Vec<_>>(),
            ", ",
        );
        push(
            "start_server",
            format!(
                "Nothing accepts connections on port {port} at {tried}. Start the server, for \
                 example {serve}, or check the port number."
            ),
        );
        return out;
    };
    let ref_url = url(reference.ip, port);
    let ref_answer = reference
        .http
        .as_ref()
        .map(HttpAnswer::describe)
        .unwrap_or_default();
    let others: Vec<&Probe> = facts
        .addresses
        .iter()
        .filter(|p| p.connect.ok() && !same_server(p, reference))
        .collect();
    let reached_other = verdicts.iter().any(|v| v.outcome == Outcome::WrongServer);
    if reached_other {
        for other in &others {
            let who = match &other.listener {
                Some(Listening {
                    pid: Some(pid),
                    process,
                    ..
                }) => {
                    format!("pid {pid}, {}", process.as_deref().unwrap_or("?"))
                }
                _ => format!(
                    "its process is not visible to this user; `sudo ss -ltnp 'sport = :{port}'` \
                     names it"
                ),
            };
            let answer = other
                .http
                .as_ref()
                .map(HttpAnswer::describe)
                .unwrap_or_default();
            push(
                "stop_other_server",
                format!(
                    "Stop the other server on {} ({who}), or move it to another port: it answers \
                     {answer}, while {} answers {ref_answer}.",
                    SocketAddr::new(other.ip, port),
                    SocketAddr::new(reference.ip, port)
                ),
            );
        }
    }
    let gap = verdicts.iter().any(|v| v.outcome == Outcome::Refused);
    let refused_somewhere = facts
        .addresses
        .iter()
        .any(|p| p.connect.error == Some(ConnectError::Refused));
    if gap && refused_somewhere {
        let (all, other) = if local {
            (
                "127.0.0.1 and ::1".to_owned(),
                "bind 127.0.0.1 and ::1 both, or `::` with IPV6_V6ONLY off",
            )
        } else {
            (
                format!("every address {host} resolves to"),
                "bind each of those addresses",
            )
        };
        push(
            "bind_both",
            format!(
                "Make the server listen on every address clients try: `werk serve --host {host} \
                 --port {port}` binds {all}. For another server, {other}."
            ),
        );
    }
    if reached_other || gap {
        push(
            "use_address",
            format!(
                "Use {ref_url} instead of http://{}/ in the browser, in scripts and in proxy \
                 targets: every client then takes the same path.",
                host_port(host, port)
            ),
        );
    }
    let order = facts.resolution.order.as_deref().unwrap_or(&[]);
    if gap && local && reference.ip == V6 && !order.contains(&V6) {
        push(
            "add_hosts_ipv6",
            format!(
                "Or add `::1 {host}` to /etc/hosts, so clients that ask the resolver (Python, \
                 Node.js) also try ::1."
            ),
        );
    }
    let node_refused = verdicts
        .iter()
        .any(|v| v.client == "node17-19" && v.outcome == Outcome::Refused);
    if node_refused && order.first().is_some_and(IpAddr::is_ipv6) && reference.ip.is_ipv4() {
        push(
            "node_ipv4first",
            "For Node.js only: `node --dns-result-order=ipv4first` (or \
             `dns.setDefaultResultOrder('ipv4first')`) makes it try IPv4 first."
                .to_owned(),
        );
        push(
            "gai_precedence",
            "Last resort, system-wide: `precedence ::ffff:0:0/96 100` in /etc/gai.conf makes \
             glibc sort IPv4 first; any `precedence` line replaces the whole default table \
             (gai.conf(5))."
                .to_owned(),
        );
    }
    if local && verdicts.iter().any(|v| v.outcome == Outcome::Unresolved) {
        push(
            "add_hosts_name",
            format!(
                "The system resolver has no address for {host} (glibc does not special-case \
                 *.localhost), so Python and Node.js cannot connect: add `127.0.0.1 {host}` and \
                 `::1 {host}` to /etc/hosts, or use {ref_url} with them."
            ),
        );
    }
    for probe in &facts.addresses {
        let tried = verdicts
            .iter()
            .any(|v| v.attempts.iter().any(|a| a.ip == probe.ip));
        if tried && probe.connect.error == Some(ConnectError::Timeout) {
            push(
                "unblock",
                format!(
                    "{} gets no answer within {} s instead of a refusal, so clients wait before \
                     they fall back: a firewall rule probably drops it. Remove the rule, or make \
                     the server listen there.",
                    SocketAddr::new(probe.ip, port),
                    CONNECT_TIMEOUT.as_secs()
                ),
            );
        }
        let reached = verdicts.iter().any(|v| v.reached == Some(probe.ip));
        if reached && probe.http == Some(HttpAnswer::Timeout) {
            push(
                "server_busy",
                format!(
                    "The server on {} accepts connections but sends no answer to GET / within \
                     {} s: it is busy or stuck (a single-threaded server serving another \
                     request, a breakpoint).",
                    SocketAddr::new(probe.ip, port),
                    HTTP_TIMEOUT.as_secs()
                ),
            );
        }
    }
    out
}

// ---------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------

/// The report as text for a person, sections in reading order.
pub(crate) fn render_text(facts: &Facts, verdicts: &[Verdict], fixes: &[Fix]) -> String {
    let mut out = String::new();
    let host = &facts.host;
    let port = facts.port;
    let _ = writeln!(out, "werk doctor: {host}, port {port}\n");

    let _ = writeln!(out, "{}", HEADINGS[0]);
    match &facts.resolution.order {
        Ok(order) => {
            let _ = writeln!(
                out,
                "   system resolver (getaddrinfo; Python, Node.js): {}",
                ip_list(order, ", ")
            );
        }
        Err(e) => {
            let _ = writeln!(
                out,
                "   system resolver (getaddrinfo; Python, Node.js): ✗ {e}"
            );
        }
    }
    if facts.resolution.hosts_lines.is_empty() {
        let _ = writeln!(out, "   /etc/hosts: no line names {host}");
    }
    for line in &facts.resolution.hosts_lines {
        let _ = writeln!(out, "   /etc/hosts line {}: {}", line.number, line.text);
    }
    if let Some(ns) = &facts.resolution.nsswitch_hosts {
        let _ = writeln!(out, "   /etc/nsswitch.conf hosts: {ns}");
    }
    let _ = writeln!(
        out,
        "   /etc/gai.conf: {}",
        gai_summary(&facts.resolution.gai_conf)
    );
    for o in client_overrides(host) {
        let _ = writeln!(
            out,
            "   {}: {}, {}",
            o.who,
            ip_list(&o.order, ", then "),
            o.note
        );
    }
    if let Some(note) = resolution_note(facts) {
        let _ = writeln!(out, "   ! {note}");
    }

    let _ = writeln!(out, "\n{}", HEADINGS[1]);
    let lo = &facts.loopback;
    let addrs: Vec<String> = lo
        .addresses
        .iter()
        .map(|(name, ip)| format!("{ip} ({name})"))
        .collect();
    let _ = writeln!(
        out,
        "   loopback addresses: {}",
        if addrs.is_empty() {
            "none found".to_owned()
        } else {
            addrs.join(", ")
        }
    );
    let _ = writeln!(out, "   net.ipv6.bindv6only = {}", bindv6only_summary(lo));
    let _ = writeln!(out, "   IPv6: {}", ipv6_summary(lo));
    if hosts_ipv6_without_ipv6(facts) {
        let _ = writeln!(
            out,
            "   ! /etc/hosts maps {host} to ::1, but ::1 cannot be used here"
        );
    }

    let _ = writeln!(out, "\n{} {port}", HEADINGS[2]);
    if !facts.listeners_visible {
        let _ = writeln!(
            out,
            "   (listeners unknown: /proc/net/tcp is not readable here)"
        );
    }
    if facts.addresses.is_empty() {
        let _ = writeln!(out, "   no address to try");
    }
    let width = facts
        .addresses
        .iter()
        .map(|p| p.ip.to_string().len())
        .max()
        .unwrap_or(0);
    for p in &facts.addresses {
        let ip = p.ip.to_string();
        let pad = " ".repeat(width - ip.len());
        let blank = " ".repeat(width);
        let listener = match &p.listener {
            Some(l) => {
                let who = match (l.pid, &l.process) {
                    (Some(pid), Some(name)) => format!("{name} (pid {pid})"),
                    _ => "process not visible to this user".to_owned(),
                };
                let wildcard =
                    if l.socket.ip().is_unspecified() && p.ip.is_ipv4() && l.socket.is_ipv6() {
                        ", the IPv6 wildcard, which takes IPv4 too unless IPV6_V6ONLY is set"
                    } else if l.socket.ip().is_unspecified() {
                        ", a wildcard"
                    } else {
                        ""
                    };
                format!("✓ {}{wildcard}: {who}", l.socket)
            }
            None if facts.listeners_visible => "✗ none".to_owned(),
            None => "?".to_owned(),
        };
        let _ = writeln!(out, "   {ip}{pad}  listener: {listener}");
        let connect = match &p.connect.error {
            None => format!("✓ connected in {}", ms(p.connect.ms)),
            Some(e) => format!("✗ {} ({})", e.describe(), ms(p.connect.ms)),
        };
        let _ = writeln!(out, "   {blank}  connect:  {connect}");
        if let Some(http) = &p.http {
            let mark = if matches!(http, HttpAnswer::Response { .. }) {
                "✓"
            } else {
                "✗"
            };
            let _ = writeln!(out, "   {blank}  http:     {mark} {}", http.describe());
        }
    }

    let _ = writeln!(out, "\n{}", HEADINGS[3]);
    for v in verdicts {
        let _ = writeln!(
            out,
            "   {} {:<13} {}",
            v.outcome.mark(),
            v.outcome.code(),
            v.label
        );
        let _ = writeln!(out, "                   {}", v.explanation);
    }

    let _ = writeln!(out, "\n{}", HEADINGS[4]);
    if fixes.is_empty() {
        let _ = writeln!(
            out,
            "   Nothing to fix: every client reaches the same server without waiting."
        );
    }
    for (i, fix) in fixes.iter().enumerate() {
        let _ = writeln!(out, "   {}. {}", i + 1, fix.text);
    }
    out
}

fn gai_summary(gai: &Option<Vec<String>>) -> String {
    let default = "glibc's default table, which sorts ::1 before IPv4 when both are listed";
    match gai {
        None => format!("absent ({default})"),
        Some(lines) if !lines.iter().any(|l| l.starts_with("precedence")) => {
            format!("no precedence lines ({default})")
        }
        Some(lines) => format!(
            "custom precedence table active: {}",
            lines
                .iter()
                .filter(|l| l.starts_with("precedence"))
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

fn bindv6only_summary(lo: &Loopback) -> String {
    match lo.bindv6only.as_deref() {
        Some("0") => "0: a socket on [::] takes IPv4 too unless it sets IPV6_V6ONLY".into(),
        Some("1") => "1: a socket on [::] takes IPv6 only unless it clears IPV6_V6ONLY".into(),
        Some(other) => other.to_owned(),
        None => "unknown (not readable)".into(),
    }
}

fn ipv6_summary(lo: &Loopback) -> String {
    let inet6 = if lo.if_inet6 {
        "/proc/net/if_inet6 present"
    } else {
        "/proc/net/if_inet6 absent"
    };
    match &lo.ipv6_bind {
        Ok(()) => format!("available ([::1] can be bound; {inet6})"),
        Err(e) => format!("not available ([::1] cannot be bound: {e}; {inet6})"),
    }
}

/// A JSON value, written with two-space indentation.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(&'static str, Json)>),
}

impl Json {
    fn str(s: impl Into<String>) -> Json {
        Json::Str(s.into())
    }

    fn opt<T>(value: Option<T>, f: impl FnOnce(T) -> Json) -> Json {
        value.map_or(Json::Null, f)
    }

    fn ip(ip: &IpAddr) -> Json {
        Json::str(ip.to_string())
    }

    fn write(&self, out: &mut String, depth: usize) {
        let indent = |out: &mut String, d: usize| out.push_str(&"  ".repeat(d));
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(x) if x.is_finite() => {
                let text = format!("{x:.3}");
                out.push_str(text.trim_end_matches('0').trim_end_matches('.'));
            }
            Json::Num(_) => out.push_str("null"),
            Json::Str(s) => write_str(out, s),
            Json::Arr(items) if items.is_empty() => out.push_str("[]"),
            Json::Arr(items) => {
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    indent(out, depth + 1);
                    item.write(out, depth + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                indent(out, depth);
                out.push(']');
            }
            Json::Obj(entries) if entries.is_empty() => out.push_str("{}"),
            Json::Obj(entries) => {
                out.push_str("{\n");
                for (i, (key, value)) in entries.iter().enumerate() {
                    indent(out, depth + 1);
                    write_str(out, key);
                    out.push_str(": ");
                    value.write(out, depth + 1);
                    out.push_str(if i + 1 < entries.len() { ",\n" } else { "\n" });
                }
                indent(out, depth);
                out.push('}');
            }
        }
    }
}

/// The report as one JSON object; the shape is described in
/// `docs/doctor.md`.
pub(crate) fn render_json(facts: &Facts, verdicts: &[Verdict], fixes: &[Fix]) -> String {
    let r = &facts.resolution;
    let resolution = Json::Obj(vec![
        (
            "order",
            Json::Arr(
                r.order
                    .as_deref()
                    .unwrap_or(&[])
                    .iter()
                    .map(Json::ip)
                    .collect(),
            ),
        ),
        (
            "error",
            Json::opt(r.order.as_ref().err(), |e| Json::str(e.as_str())),
        ),
        (
            "hosts_lines",
            Json::Arr(
                r.hosts_lines
                    .iter()
                    .map(|l| {
                        Json::Obj(vec![
                            ("line", Json::Num(l.number as f64)),
                            ("text", Json::str(l.text.as_str())),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "nsswitch_hosts",
            Json::opt(r.nsswitch_hosts.as_deref(), Json::str),
        ),
        (
            "gai_conf",
            Json::opt(r.gai_conf.as_ref(), |lines| {
                Json::Arr(lines.iter().map(|l| Json::str(l.as_str())).collect())
            }),
        ),
        (
            "client_overrides",
            Json::Arr(
                client_overrides(&facts.host)
                    .iter()
                    .map(|o| {
                        Json::Obj(vec![
                            ("client", Json::str(o.client)),
                            ("who", Json::str(o.who)),
                            ("order", Json::Arr(o.order.iter().map(Json::ip).collect())),
                            ("note", Json::str(o.note.as_str())),
                        ])
                    })
                    .collect(),
            ),
        ),
        ("note", Json::opt(resolution_note(facts), Json::str)),
    ]);
    let lo = &facts.loopback;
    let loopback = Json::Obj(vec![
        (
            "addresses",
            Json::Arr(
                lo.addresses
                    .iter()
                    .map(|(name, ip)| {
                        Json::Obj(vec![
                            ("interface", Json::str(name.as_str())),
                            ("address", Json::ip(ip)),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "bindv6only",
            Json::opt(lo.bindv6only.as_deref(), |v| {
                v.parse::<f64>().map_or_else(|_| Json::str(v), Json::Num)
            }),
        ),
        ("ipv6_available", Json::Bool(lo.ipv6_available())),
        (
            "ipv6_error",
            Json::opt(lo.ipv6_bind.as_ref().err(), |e| Json::str(e.as_str())),
        ),
        ("if_inet6", Json::Bool(lo.if_inet6)),
        (
            "hosts_ipv6_unusable",
            Json::Bool(hosts_ipv6_without_ipv6(facts)),
        ),
    ]);
    let addresses = Json::Arr(facts.addresses.iter().map(probe_json).collect());
    let verdicts = Json::Arr(
        verdicts
            .iter()
            .map(|v| {
                Json::Obj(vec![
                    ("client", Json::str(v.client)),
                    ("label", Json::str(v.label)),
                    ("outcome", Json::str(v.outcome.code())),
                    (
                        "attempts",
                        Json::Arr(
                            v.attempts
                                .iter()
                                .map(|a| {
                                    Json::Obj(vec![
                                        ("address", Json::ip(&a.ip)),
                                        ("result", Json::str(a.result.code())),
                                        ("ms", Json::Num(a.result.ms())),
                                    ])
                                })
                                .collect(),
                        ),
                    ),
                    ("reached", Json::opt(v.reached.as_ref(), Json::ip)),
                    ("explanation", Json::str(v.explanation.as_str())),
                ])
            })
            .collect(),
    );
    let fixes = Json::Arr(
        fixes
            .iter()
            .map(|f| {
                Json::Obj(vec![
                    ("id", Json::str(f.id)),
                    ("text", Json::str(f.text.as_str())),
                ])
            })
            .collect(),
    );
    let report = Json::Obj(vec![
        ("host", Json::str(facts.host.as_str())),
        ("port", Json::Num(f64::from(facts.port))),
        ("resolution", resolution),
        ("loopback", loopback),
        ("listeners_visible", Json::Bool(facts.listeners_visible)),
        ("addresses", addresses),
        ("verdicts", verdicts),
        ("fixes", fixes),
    ]);
    let mut out = String::new();
    report.write(&mut out, 0);
    out.push('\n');
    out
}

fn probe_json(p: &Probe) -> Json {
    Json::Obj(vec![
        ("address", Json::ip(&p.ip)),
        (
            "family",
            Json::str(if p.ip.is_ipv4() { "ipv4" } else { "ipv6" }),
        ),
        (
            "listener",
            Json::opt(p.listener.as_ref(), |l| {
                Json::Obj(vec![
                    ("socket", Json::str(l.socket.to_string())),
                    ("pid", Json::opt(l.pid, |pid| Json::Num(f64::from(pid)))),
                    ("process", Json::opt(l.process.as_deref(), Json::str)),
                ])
            }),
        ),
        (
            "connect",
            Json::Obj(vec![
                ("ok", Json::Bool(p.connect.ok())),
                ("ms", Json::Num(p.connect.ms)),
                (
                    "error",
                    Json::opt(p.connect.error.as_ref(), |e| Json::str(e.code())),
                ),
                (
                    "detail",
                    Json::opt(p.connect.error.as_ref(), |e| Json::str(e.describe())),
                ),
            ]),
        ),
        (
            "http",
            Json::opt(p.http.as_ref(), |h| match h {
                HttpAnswer::Response { status, server } => Json::Obj(vec![
                    ("status", Json::Num(f64::from(*status))),
                    ("server", Json::opt(server.as_deref(), Json::str)),
                    ("error", Json::Null),
                ]),
                HttpAnswer::Timeout => Json::Obj(vec![
                    ("status", Json::Null),
                    ("server", Json::Null),
                    ("error", Json::str("timeout")),
                ]),
                HttpAnswer::Failed(why) => Json::Obj(vec![
                    ("status", Json::Null),
                    ("server", Json::Null),
                    ("error", Json::str(why.as_str())),
                ]),
            }),
        ),
    ])
}

/// Runs the doctor and prints the report; returns the exit status.
pub(crate) fn run(host: &str, port: u16, json: bool) -> i32 {
    let facts = gather(host, port);
    let verdicts = verdicts(&facts);
    let fixes = fixes(&facts, &verdicts);
    let out = if json {
        render_json(&facts, &verdicts, &fixes)
    } else {
        render_text(&facts, &verdicts, &fixes)
    };
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => 0,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("werk doctor: {e}");
            1
        }
    }
}

// ---------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------

fn ms(x: f64) -> String {
    if x < 1.0 {
        format!("{x:.2} ms")
    } else if x < 10.0 {
        format!("{x:.1} ms")
    } else {
        format!("{x:.0} ms")
    }
}

fn ip_list(ips: &[IpAddr], sep: &str) -> String {
    if ips.is_empty() {
        return "none".to_owned();
    }
    ips.iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(sep)
}

fn host_port(host: &str, port: u16) -> String {
    if host.parse::<Ipv6Addr>().is_ok() {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn url(ip: IpAddr, port: u16) -> String {
    format!("http://{}/", SocketAddr::new(ip, port))
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(host: &str, order: Result<Vec<IpAddr>, String>, addresses: Vec<Probe>) -> Facts {
        Facts {
            host: host.to_owned(),
            port: 5000,
            resolution: Resolution {
                order,
                hosts_lines: vec![HostsLine {
                    number: 1,
                    text: "127.0.0.1 localhost".into(),
                    ip: Some(V4),
                }],
                nsswitch_hosts: Some("files dns".into()),
                gai_conf: None,
            },
            loopback: Loopback {
                addresses: vec![("lo".into(), V4), ("lo".into(), V6)],
                bindv6only: Some("0".into()),
                ipv6_bind: Ok(()),
                if_inet6: true,
            },
            listeners_visible: true,
            addresses,
        }
    }

    fn up(ip: IpAddr, server: &str, pid: u32) -> Probe {
        Probe {
            ip,
            listener: Some(Listening {
                socket: SocketAddr::new(ip, 5000),
                pid: Some(pid),
                process: Some(server.split('/').next().unwrap().to_owned()),
            }),
            connect: Connect {
                ms: 0.1,
                error: None,
            },
            http: Some(HttpAnswer::Response {
                status: 200,
                server: Some(server.to_owned()),
            }),
        }
    }

    fn down(ip: IpAddr, error: ConnectError, ms: f64) -> Probe {
        Probe {
            ip,
            listener: None,
            connect: Connect {
                ms,
                error: Some(error),
            },
            http: None,
        }
    }

    fn refused(ip: IpAddr) -> Probe {
        down(ip, ConnectError::Refused, 0.05)
    }

    fn report(f: &Facts) -> (Vec<Verdict>, Vec<Fix>) {
        let v = verdicts(f);
        let x = fixes(f, &v);
        (v, x)
    }

    fn verdict<'a>(verdicts: &'a [Verdict], client: &str) -> &'a Verdict {
        verdicts
            .iter()
            .find(|v| v.client == client)
            .unwrap_or_else(|| panic!("no verdict for {client}"))
    }

    fn outcomes(verdicts: &[Verdict]) -> Vec<(&'static str, Outcome)> {
        verdicts.iter().map(|v| (v.client, v.outcome)).collect()
    }

    fn ids(fixes: &[Fix]) -> Vec<&'static str> {
        fixes.iter().map(|f| f.id).collect()
    }

    #[test]
    fn ipv4_only_server_here_falls_back_and_fails_pinned_ipv6() {
        // This machine kind: /etc/hosts maps localhost to 127.0.0.1 only.
        let f = facts(
            "localhost",
            Ok(vec![V4]),
            vec![up(V4, "werk/0.1.0", 10), refused(V6)],
        );
        let (v, x) = report(&f);
        use Outcome as O;
        assert_eq!(
            outcomes(&v),
            [
                ("browser", O::Ok),
                ("curl", O::Ok),
                ("node20+", O::Ok),
                ("node17-19", O::Ok),
                ("python", O::Ok),
                ("ipv4-only", O::Ok),
                ("ipv6-only", O::Refused),
            ]
        );
        let curl = verdict(&v, "curl");
        assert_eq!(
            curl.attempts
                .iter()
                .map(|a| (a.ip, a.result.code()))
                .collect::<Vec<_>>(),
            [(V6, "refused"), (V4, "connected")]
        );
        assert_eq!(curl.reached, Some(V4));
        assert!(
            curl.explanation.contains("::1 refused"),
            "{}",
            curl.explanation
        );
        assert!(curl.explanation.contains("Windows"), "{}", curl.explanation);
        assert_eq!(ids(&x), ["bind_both", "use_address"]);
        assert!(x[1].text.contains("http://127.0.0.1:5000/"));
    }

    #[test]
    fn ipv6_first_resolver_refuses_first_answer_clients() {
        // macOS, Windows, or a hosts file listing ::1 first.
        let f = facts(
            "localhost",
            Ok(vec![V6, V4]),
            vec![refused(V6), up(V4, "werk/0.1.0", 10)],
        );
        let (v, x) = report(&f);
        assert_eq!(verdict(&v, "node17-19").outcome, Outcome::Refused);
        assert_eq!(verdict(&v, "python").outcome, Outcome::Ok);
        assert_eq!(verdict(&v, "node20+").outcome, Outcome::Ok);
        assert_eq!(
            ids(&x),
            [
                "bind_both",
                "use_address",
                "node_ipv4first",
                "gai_precedence"
            ]
        );
    }

    #[test]
    fn ipv6_only_server_refuses_resolver_clients() {
        let f = facts(
            "localhost",
            Ok(vec![V4]),
            vec![refused(V4), up(V6, "vite", 20)],
        );
        let (v, x) = report(&f);
        use Outcome as O;
        assert_eq!(
            outcomes(&v),
            [
                ("browser", O::Ok),
                ("curl", O::Ok),
                ("node20+", O::Refused),
                ("node17-19", O::Refused),
                ("python", O::Refused),
                ("ipv4-only", O::Refused),
                ("ipv6-only", O::Ok),
            ]
        );
        assert_eq!(ids(&x), ["bind_both", "use_address", "add_hosts_ipv6"]);
        assert!(x[1].text.contains("http://[::1]:5000/"), "{}", x[1].text);
    }

    #[test]
    fn another_server_on_ipv6_is_the_wrong_server() {
        let f = facts(
            "localhost",
            Ok(vec![V4]),
            vec![up(V4, "werk/0.1.0", 10), up(V6, "other/9", 20)],
        );
        let (v, x) = report(&f);
        assert_eq!(verdict(&v, "browser").outcome, Outcome::WrongServer);
        assert_eq!(verdict(&v, "curl").outcome, Outcome::WrongServer);
        assert_eq!(verdict(&v, "ipv6-only").outcome, Outcome::WrongServer);
        assert_eq!(verdict(&v, "python").outcome, Outcome::Ok);
        assert!(verdict(&v, "curl").explanation.contains("other/9"));
        assert_eq!(ids(&x), ["stop_other_server", "use_address"]);
        assert!(
            x[0].text.contains("[::1]:5000 (pid 20, other)"),
            "{}",
            x[0].text
        );
    }

    #[test]
    fn same_header_from_another_process_is_another_server() {
        let f = facts(
            "localhost",
            Ok(vec![V6, V4]),
            vec![up(V6, "werk/0.1.0", 20), up(V4, "werk/0.1.0", 10)],
        );
        let (v, _) = report(&f);
        // The resolver puts ::1 first, so even Python lands on the other one.
        assert_eq!(verdict(&v, "python").outcome, Outcome::WrongServer);
        assert_eq!(verdict(&v, "ipv4-only").outcome, Outcome::Ok);
    }

    #[test]
    fn one_process_on_both_families_is_all_ok() {
        let f = facts(
            "localhost",
            Ok(vec![V4]),
            vec![up(V4, "werk/0.1.0", 10), up(V6, "werk/0.1.0", 10)],
        );
        let (v, x) = report(&f);
        assert!(v.iter().all(|v| v.outcome == Outcome::Ok), "{v:#?}");
        assert!(x.is_empty(), "{x:?}");
        assert!(verdict(&v, "browser").attempts.len() == 1);
    }

    #[test]
    fn nothing_listening_is_refused_everywhere() {
        let f = facts("localhost", Ok(vec![V4]), vec![refused(V4), refused(V6)]);
        let (v, x) = report(&f);
        assert!(v.iter().all(|v| v.outcome == Outcome::Refused));
        assert_eq!(ids(&x), ["start_server"]);
    }

    #[test]
    fn dropped_packets_make_the_fallback_slow() {
        let f = facts(
            "localhost",
            Ok(vec![V4]),
            vec![
                up(V4, "werk/0.1.0", 10),
                down(V6, ConnectError::Timeout, 1000.0),
            ],
        );
        let (v, x) = report(&f);
        let browser = verdict(&v, "browser");
        assert_eq!(browser.outcome, Outcome::Slow);
        assert_eq!(browser.reached, Some(V4));
        assert!(
            browser.explanation.contains("about 300 ms"),
            "{}",
            browser.explanation
        );
        assert_eq!(verdict(&v, "curl").outcome, Outcome::Slow);
        assert_eq!(verdict(&v, "python").outcome, Outcome::Ok);
        assert!(ids(&x).contains(&"unblock"), "{x:?}");
        assert!(!ids(&x).contains(&"bind_both"), "{x:?}");
    }

    #[test]
    fn a_server_that_does_not_answer_is_slow() {
        let mut stuck = up(V4, "werk/0.1.0", 10);
        stuck.http = Some(HttpAnswer::Timeout);
        let mut stuck6 = stuck.clone();
        stuck6.ip = V6;
        let f = facts("localhost", Ok(vec![V4]), vec![stuck, stuck6]);
        let (v, x) = report(&f);
        assert!(v.iter().all(|v| v.outcome == Outcome::Slow), "{v:#?}");
        assert_eq!(ids(&x), ["server_busy", "server_busy"]);
    }

    #[test]
    fn unresolvable_subdomain_works_only_for_browsers_and_curl() {
        let f = facts(
            "api.localhost",
            Err("Name or service not known".into()),
            vec![up(V4, "werk/0.1.0", 10), up(V6, "werk/0.1.0", 10)],
        );
        let (v, x) = report(&f);
        assert_eq!(verdict(&v, "browser").outcome, Outcome::Ok);
        assert_eq!(verdict(&v, "curl").outcome, Outcome::Ok);
        assert_eq!(verdict(&v, "python").outcome, Outcome::Unresolved);
        assert_eq!(verdict(&v, "node17-19").outcome, Outcome::Unresolved);
        assert_eq!(ids(&x), ["add_hosts_name"]);
        assert!(resolution_note(&f)
            .unwrap()
            .contains("no answer for api.localhost"));
        let curl = &client_overrides("api.localhost")[1];
        assert!(curl.who.contains("7.85"));
    }

    #[test]
    fn hosts_line_for_ipv6_without_ipv6_comes_first() {
        let mut f = facts(
            "localhost",
            Ok(vec![V6, V4]),
            vec![
                down(V6, ConnectError::AddressNotAvailable, 0.02),
                up(V4, "werk/0.1.0", 10),
            ],
        );
        f.loopback.ipv6_bind = Err("Cannot assign requested address".into());
        f.resolution.hosts_lines.push(HostsLine {
            number: 2,
            text: "::1 localhost ip6-localhost".into(),
            ip: Some(V6),
        });
        let (v, x) = report(&f);
        assert!(v.iter().all(|v| v.client != "ipv6-only"));
        assert_eq!(verdict(&v, "node17-19").outcome, Outcome::Refused);
        assert_eq!(x[0].id, "ipv6_missing");
        // Nobody can listen on ::1 here, so binding both is no advice.
        assert!(!ids(&x).contains(&"bind_both"), "{x:?}");
    }

    #[test]
    fn other_names_use_the_resolver_for_every_client() {
        let f = facts("app.test", Ok(vec![V4]), vec![up(V4, "werk/0.1.0", 10)]);
        let (v, x) = report(&f);
        assert_eq!(v.len(), 5);
        assert!(v.iter().all(|v| v.outcome == Outcome::Ok));
        assert!(x.is_empty());
        assert!(client_overrides("app.test").is_empty());
        assert_eq!(candidates("app.test", &Ok(vec![V4])), [V4]);
        assert_eq!(candidates("localhost", &Ok(vec![V6])), [V6, V4]);
    }

    #[test]
    fn happy_eyeballs_starts_the_next_attempt_after_the_delay() {
        let probes = [down(V6, ConnectError::Timeout, 1000.0), up(V4, "a", 1)];
        let (attempts, reached) = simulate(Strategy::HappyEyeballs(300.0), &[V6, V4], &probes);
        assert_eq!(attempts.len(), 2);
        let (ip, at) = reached.unwrap();
        assert_eq!(ip, V4);
        assert!((at - 300.1).abs() < 1e-9, "{at}");
        // A refusal starts the next attempt at once.
        let probes = [refused(V6), up(V4, "a", 1)];
        let (_, reached) = simulate(Strategy::HappyEyeballs(300.0), &[V6, V4], &probes);
        assert!(reached.unwrap().1 < 1.0);
        // Node.js gives up on a slow attempt, but not on the last one.
        let mut slow = up(V6, "a", 1);
        slow.connect.ms = 400.0;
        let probes = [slow.clone(), up(V4, "a", 1)];
        let (attempts, reached) = simulate(Strategy::PerAttempt(250.0), &[V6, V4], &probes);
        assert_eq!(attempts[0].result, AttemptResult::GaveUp(250.0));
        assert_eq!(reached, Some((V4, 250.1)));
        let (_, reached) = simulate(Strategy::PerAttempt(250.0), &[V6], &[slow]);
        assert_eq!(reached, Some((V6, 400.0)));
    }

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

    #[test]
    fn text_has_the_sections_in_order() {
        let f = facts(
            "localhost",
            Ok(vec![V4]),
            vec![up(V4, "werk/0.1.0", 10), refused(V6)],
        );
        let (v, x) = report(&f);
        let text = render_text(&f, &v, &x);
        let mut at = 0;
        for heading in HEADINGS {
            let found = text[at..]
                .find(heading)
                .unwrap_or_else(|| panic!("{heading}:\n{text}"));
            at += found + heading.len();
        }
        assert!(text.contains("browsers and curl also try ::1"), "{text}");
    }

    #[test]
    fn json_has_the_documented_shape() {
        let mut other = up(V6, "say \"hi\"", 20);
        other.listener = None;
        let f = facts(
            "localhost",
            Ok(vec![V4]),
            vec![up(V4, "werk/0.1.0", 10), other],
        );
        let (v, x) = report(&f);
        let json = render_json(&f, &v, &x);
        let mut at = 0;
        for key in [
            "\"host\": \"localhost\"",
            "\"port\": 5000",
            "\"resolution\"",
            "\"order\"",
            "\"hosts_lines\"",
            "\"client_overrides\"",
            "\"loopback\"",
            "\"bindv6only\": 0",
            "\"ipv6_available\": true",
            "\"addresses\"",
            "\"family\": \"ipv4\"",
            "\"listener\": {",
            "\"connect\"",
            "\"http\"",
            "\"listener\": null",
            "\"server\": \"say \\\"hi\\\"\"",
            "\"verdicts\"",
            "\"outcome\": \"wrong_server\"",
            "\"fixes\"",
            "\"id\": \"stop_other_server\"",
        ] {
            let found = json[at..]
                .find(key)
                .unwrap_or_else(|| panic!("{key}:\n{json}"));
            at += found;
        }
        assert!(json.starts_with("{\n") && json.ends_with("}\n"));
        assert!(json.contains("\"ms\": 0.1"), "{json}");
    }
}
