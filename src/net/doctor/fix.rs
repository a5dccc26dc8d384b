//! What to change, best first, from the facts and the verdicts; and the
//! notes on how the name resolves. Pure: no I/O.

use std::net::{IpAddr, SocketAddr};

use super::facts::{ConnectError, Facts, HttpAnswer, Listening, Probe};
use super::verdict::{reference, same_server, Outcome, Verdict};
use super::{host_port, ip_list, url, CONNECT_TIMEOUT, HTTP_TIMEOUT, V4, V6};
use crate::net::is_localhost;

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
pub(super) fn hosts_ipv6_without_ipv6(facts: &Facts) -> bool {
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
