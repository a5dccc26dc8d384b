//! Each kind of client replayed over the facts: which address it tries,
//! in what order, and what it gets. Pure: no I/O.

use std::net::IpAddr;

use super::facts::{ConnectError, Facts, HttpAnswer, Listening, Probe};
use super::{capitalize, ip_list, ms, HTTP_TIMEOUT, SLOW_MS, V4, V6};
use crate::net::is_localhost;

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
    pub(super) fn code(&self) -> &'static str {
        match self {
            AttemptResult::Connected(_) => "connected",
            AttemptResult::Failed(e, _) => e.code(),
            AttemptResult::GaveUp(_) => "gave_up",
        }
    }

    pub(super) fn ms(&self) -> f64 {
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

    pub(super) fn mark(self) -> &'static str {
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
pub(super) fn reference(facts: &Facts) -> Option<&Probe> {
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
pub(super) fn same_server(a: &Probe, b: &Probe) -> bool {
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

#[cfg(test)]
mod tests {
    use super::super::facts::{candidates, HostsLine};
    use super::super::fix::{resolution_note, Fix};
    use super::super::fixtures::*;
    use super::*;

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
}
