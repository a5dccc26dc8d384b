//! `werk doctor` over real sockets: a server on 127.0.0.1 only, werk on
//! both loopbacks, and another server answering on ::1; the JSON report is
//! parsed and checked, and the text report's sections come in order.
//!
//! Tests that need ::1 print why and return early where it cannot be
//! bound.

use std::io::{Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpListener};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use werk_test_support::Json;

const WERK: &str = env!("CARGO_BIN_EXE_werk");

/// The report of `werk doctor ARGS`, with a deadline against hangs.
fn doctor(args: &[&str]) -> Output {
    let mut child = Command::new(WERK)
        .arg("doctor")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("werk runs");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("werk doctor {args:?} did not finish within 30 s");
        }
        thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn doctor_json(host: &str, port: u16) -> Json {
    let out = doctor(&[host, &port.to_string(), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    Json::parse(&text).unwrap_or_else(|e| panic!("{e}:\n{text}"))
}

fn ipv6_available() -> bool {
    TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok()
}

/// A listener on 127.0.0.1 at a port that is also free on [::1].
fn ipv4_listener() -> TcpListener {
    for _ in 0..20 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().unwrap().port();
        if !ipv6_available() || TcpListener::bind((Ipv6Addr::LOCALHOST, port)).is_ok() {
            return listener;
        }
    }
    panic!("no port free on both loopbacks");
}

/// Answers every request on `listener` with an empty 200 and `Server:
/// server`, from a thread that lives as long as the test process.
fn answer_http(listener: TcpListener, server: &'static str) {
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nServer: {server}\r\nContent-Length: 0\r\n\
                     Connection: close\r\n\r\n"
                )
                .as_bytes(),
            );
        }
    });
}

fn address<'a>(report: &'a Json, ip: &str) -> &'a Json {
    report["addresses"]
        .items()
        .iter()
        .find(|a| a["address"].str() == ip)
        .unwrap_or_else(|| panic!("no address {ip} in the report"))
}

fn verdict<'a>(report: &'a Json, client: &str) -> &'a Json {
    report["verdicts"]
        .items()
        .iter()
        .find(|v| v["client"].str() == client)
        .unwrap_or_else(|| panic!("no verdict for {client}"))
}

fn fix_ids(report: &Json) -> Vec<&str> {
    report["fixes"]
        .items()
        .iter()
        .map(|f| f["id"].str())
        .collect()
}

/// `(address, result)` of each attempt of a verdict.
fn attempts(verdict: &Json) -> Vec<(&str, &str)> {
    verdict["attempts"]
        .items()
        .iter()
        .map(|a| (a["address"].str(), a["result"].str()))
        .collect()
}

/// The pid the report gives for an address's listener, if visible.
fn listener_pid(address: &Json) -> Option<f64> {
    match &address["listener"] {
        Json::Null => None,
        listener => listener["pid"].num(),
    }
}

#[test]
fn ipv4_only_server_refuses_ipv6_and_clients_fall_back() {
    let listener = ipv4_listener();
    let port = listener.local_addr().unwrap().port();
    answer_http(listener, "doctor-test-v4/1");
    let report = doctor_json("localhost", port);
    assert_eq!(report["host"].str(), "localhost");
    assert_eq!(report["port"].num(), Some(f64::from(port)));

    let v4 = address(&report, "127.0.0.1");
    assert_eq!(v4["family"].str(), "ipv4");
    assert_eq!(v4["connect"]["ok"], Json::Bool(true));
    assert_eq!(v4["http"]["status"].num(), Some(200.0));
    assert_eq!(v4["http"]["server"].str(), "doctor-test-v4/1");
    if let Some(pid) = listener_pid(v4) {
        assert_eq!(pid, f64::from(std::process::id()));
    }
    assert_eq!(verdict(&report, "ipv4-only")["outcome"].str(), "ok");
    assert_eq!(verdict(&report, "python")["outcome"].str(), "ok");

    if report["loopback"]["ipv6_available"] != Json::Bool(true) {
        eprintln!("skipped the ::1 checks: [::1] cannot be bound on this machine");
        return;
    }
    let v6 = address(&report, "::1");
    assert_eq!(v6["connect"]["ok"], Json::Bool(false));
    assert_eq!(v6["connect"]["error"].str(), "refused");
    assert_eq!(v6["listener"], Json::Null);
    assert_eq!(v6["http"], Json::Null);

    // Browsers and curl try ::1 first, are refused, and fall back at once.
    for client in ["browser", "curl"] {
        let v = verdict(&report, client);
        assert_eq!(
            attempts(v),
            [("::1", "refused"), ("127.0.0.1", "connected")],
            "{client}"
        );
        assert_eq!(v["reached"].str(), "127.0.0.1");
        let outcome = v["outcome"].str();
        assert!(outcome == "ok" || outcome == "slow", "{client}: {outcome}");
        assert!(v["explanation"].str().contains("::1 refused"), "{client}");
    }
    // A client that only tries ::1 is refused.
    let pinned = verdict(&report, "ipv6-only");
    assert_eq!(pinned["outcome"].str(), "refused");
    assert_eq!(attempts(pinned), [("::1", "refused")]);

    let fixes = fix_ids(&report);
    assert_eq!(fixes.first(), Some(&"bind_both"), "{fixes:?}");
    assert!(fixes.contains(&"use_address"), "{fixes:?}");
}

#[test]
fn werk_serving_localhost_is_ok_for_every_client() {
    if !ipv6_available() {
        eprintln!("skipped: [::1] cannot be bound, so werk serves 127.0.0.1 only here");
        return;
    }
    let server = werk::make_server(
        "localhost",
        0,
        werk::apps::hello,
        werk::Options::default().log_requests(false),
    )
    .expect("make_server");
    let addrs: Vec<SocketAddr> = server.addresses().to_vec();
    assert_eq!(addrs.len(), 2, "{addrs:?}");
    let port = addrs[0].port();
    let handle = server.handle();
    let serving = thread::spawn(move || server.serve_forever());

    let report = doctor_json("localhost", port);
    handle.shutdown();
    serving
        .join()
        .expect("serve thread")
        .expect("serve_forever");

    for ip in ["127.0.0.1", "::1"] {
        let a = address(&report, ip);
        assert_eq!(a["connect"]["ok"], Json::Bool(true), "{ip}");
        assert!(a["http"]["server"].str().starts_with("werk/"), "{ip}");
    }
    let pids: Vec<Option<f64>> = ["127.0.0.1", "::1"]
        .iter()
        .map(|ip| listener_pid(address(&report, ip)))
        .collect();
    if let [Some(a), Some(b)] = pids[..] {
        assert_eq!(a, b);
    }
    for v in report["verdicts"].items() {
        let outcome = v["outcome"].str();
        let waited: f64 = v["attempts"]
            .items()
            .iter()
            .filter_map(|a| a["ms"].num())
            .sum();
        // "slow" only if this busy machine really took 100 ms to connect.
        assert!(
            outcome == "ok" || (outcome == "slow" && waited >= 100.0),
            "{}: {outcome}: {}",
            v["client"].str(),
            v["explanation"].str()
        );
        assert_eq!(attempts(v).len(), 1, "{}", v["client"].str());
    }
    assert_eq!(fix_ids(&report), Vec::<&str>::new());
}

#[test]
fn another_server_on_ipv6_is_the_wrong_server() {
    if !ipv6_available() {
        eprintln!("skipped: [::1] cannot be bound on this machine");
        return;
    }
    let v4 = ipv4_listener();
    let port = v4.local_addr().unwrap().port();
    let v6 = TcpListener::bind((Ipv6Addr::LOCALHOST, port)).expect("bind [::1]");
    answer_http(v4, "doctor-test-v4/1");
    answer_http(v6, "doctor-test-other/2");
    let report = doctor_json("localhost", port);

    assert_eq!(
        address(&report, "::1")["http"]["server"].str(),
        "doctor-test-other/2"
    );
    for client in ["browser", "curl", "ipv6-only"] {
        let v = verdict(&report, client);
        assert_eq!(v["outcome"].str(), "wrong_server", "{client}");
        assert_eq!(v["reached"].str(), "::1", "{client}");
        assert!(
            v["explanation"].str().contains("doctor-test-other/2"),
            "{client}"
        );
    }
    assert_eq!(verdict(&report, "ipv4-only")["outcome"].str(), "ok");
    // Python follows the resolver: the other server only if ::1 comes first.
    let python = verdict(&report, "python");
    let expected = if python["reached"].str() == "::1" {
        "wrong_server"
    } else {
        "ok"
    };
    assert_eq!(python["outcome"].str(), expected);

    let fixes = &report["fixes"].items();
    assert_eq!(fixes[0]["id"].str(), "stop_other_server");
    assert!(fixes[0]["text"].str().contains(&format!("[::1]:{port}")));
}

#[test]
fn text_report_has_the_sections_in_order() {
    let listener = ipv4_listener();
    let port = listener.local_addr().unwrap().port();
    answer_http(listener, "doctor-test-v4/1");
    let out = doctor(&["localhost", &port.to_string()]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let mut at = 0;
    for heading in [
        "1. How the name resolves",
        "2. Loopback and IPv6",
        &format!("3. Who answers on port {port}"),
        "4. What each client gets",
        "5. Fixes, best first",
    ] {
        let found = text[at..]
            .find(heading)
            .unwrap_or_else(|| panic!("{heading:?} missing or out of order in\n{text}"));
        at += found + heading.len();
    }
    assert!(text.contains("Server: doctor-test-v4/1"), "{text}");
}

#[test]
fn help_mentions_doctor_and_a_bad_port_is_a_usage_error() {
    let help = Command::new(WERK).arg("--help").output().expect("werk");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("werk doctor [HOST] [PORT] [--json]"),
        "{help}"
    );
    let out = doctor(&["localhost", "http"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PORT"));
}
