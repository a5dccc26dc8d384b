//! `werk doctor [HOST] [PORT]`: why `localhost` is slow or refused for
//! some clients, and what to change.
//!
//! The report is built in three steps, kept apart so that the middle one
//! can be tested with hand-made facts:
//! 1. [`gather`] (`facts.rs`) collects [`Facts`]: the system resolver's
//!    answers in order, the hosts-file lines for the name, the loopback
//!    addresses and IPv6 state, and for every address a client may try, who
//!    listens there (/proc/net/tcp{,6}), a timed connect and one `GET /`;
//! 2. [`verdicts`] (`verdict.rs`) replays each kind of client (browsers,
//!    curl, Node.js, Python, clients pinned to one address) over those
//!    facts, and [`fixes`] (`fix.rs`) ranks what to change;
//! 3. [`render_text`] and [`render_json`] (`render.rs`) print the same
//!    report.
//!
//! Traffic goes only to the addresses HOST resolves to and to the two
//! loopback addresses (for `localhost` and `*.localhost`, which browsers
//! and curl map there themselves). `docs/doctor.md` describes the output
//! and the rules.

mod facts;
mod fix;
#[cfg(test)]
mod fixtures;
mod render;
mod verdict;

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use facts::gather;
use fix::fixes;
use render::{render_json, render_text};
use verdict::verdicts;

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

const V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

/// Runs the doctor and prints the report; returns the exit status.
pub(crate) fn examine(host: &str, port: u16, json: bool) -> i32 {
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
            say!("werk doctor: {e}");
            1
        }
    }
}

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
