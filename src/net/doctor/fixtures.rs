//! Hand-made facts for the unit tests of the pure steps.

use std::net::{IpAddr, SocketAddr};

use super::facts::{
    Connect, ConnectError, Facts, HostsLine, HttpAnswer, Listening, Loopback, Probe, Resolution,
};
use super::fix::{fixes, Fix};
use super::verdict::{verdicts, Verdict};
use super::{V4, V6};

pub(super) fn facts(
    host: &str,
    order: Result<Vec<IpAddr>, String>,
    addresses: Vec<Probe>,
) -> Facts {
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

pub(super) fn up(ip: IpAddr, server: &str, pid: u32) -> Probe {
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

pub(super) fn down(ip: IpAddr, error: ConnectError, ms: f64) -> Probe {
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

pub(super) fn refused(ip: IpAddr) -> Probe {
    down(ip, ConnectError::Refused, 0.05)
}

pub(super) fn report(f: &Facts) -> (Vec<Verdict>, Vec<Fix>) {
    let v = verdicts(f);
    let x = fixes(f, &v);
    (v, x)
}
