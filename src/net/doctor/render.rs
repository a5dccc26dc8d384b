//! The report as text for a person or as JSON for a program: the same
//! facts, verdicts and fixes.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::facts::{Facts, HttpAnswer, Loopback, Probe};
use super::fix::{hosts_ipv6_without_ipv6, resolution_note, Fix};
use super::verdict::{client_overrides, Verdict};
use super::{ip_list, ms};
use crate::escape::write_json_str;

/// Section headings of the text report, in order.
pub(crate) const HEADINGS: [&str; 5] = [
    "1. How the name resolves",
    "2. Loopback and IPv6",
    "3. Who answers on port",
    "4. What each client gets",
    "5. Fixes, best first",
];

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

pub(super) fn gai_summary(gai: &Option<Vec<String>>) -> String {
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
            Json::Str(s) => write_json_str(out, s),
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
                    write_json_str(out, key);
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

/// The report as one JSON object, keys in this order (`docs/doctor.md`,
/// "JSON", is the user's summary). Keys may be added; these keep their
/// meaning. A value that does not apply is `null`, never missing.
///
/// | key | contents |
/// |---|---|
/// | `host`, `port` | what was examined |
/// | `resolution` | `order` (the resolver's answers), `error`, `hosts_lines` (`{line, text}`), `nsswitch_hosts`, `gai_conf` (non-comment lines; `null` without the file), `client_overrides` (`{client, who, order, note}`, `localhost` names only), `note` (the disagreement) |
/// | `loopback` | `addresses` (`{interface, address}`), `bindv6only` (a number), `ipv6_available`, `ipv6_error`, `if_inet6`, `hosts_ipv6_unusable` |
/// | `listeners_visible` | `false` when `/proc/net/tcp` cannot be read (every `listener` is then `null`: unknown) |
/// | `addresses` | `address`, `family` (`ipv4`/`ipv6`), `listener` (`{socket, pid, process}`), `connect` (`{ok, ms, error, detail}`; `error`: `refused`, `timeout`, `unreachable`, `address_not_available`, `family_not_supported`, `other`), `http` (`{status, server, error}`, `null` when the connect failed; `error`: `timeout` or a message) |
/// | `verdicts` | `client` (`browser`, `curl`, ...: the ids of `docs/doctor.md`), `label`, `outcome`, `attempts` (`{address, result, ms}`; `result`: `connected`, a connect `error`, or `gave_up`), `reached` (an address), `explanation` |
/// | `fixes` | `{id, text}`, best first |
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::{V4, V6};
    use super::*;

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
