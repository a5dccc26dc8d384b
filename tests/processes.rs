//! `werk serve echo --processes N`, end to end: the binary runs as a
//! parent and N children that share its listening sockets; real clients
//! talk to them and real signals stop them. The echo app puts the serving
//! process's id in its JSON, which tells the children apart; `/proc` says
//! whose children they are.
//!
//! Nothing here depends on timing beyond generous deadlines: a test waits
//! for what it expects (a log line, a set of processes), polling.

#[path = "support/running.rs"]
mod running;
mod support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Instant;

use running::{children_of, get, kill, parent_of, pid_of, wait_gone, Werk, GUARD};

const WERK: &str = env!("CARGO_BIN_EXE_werk");

/// Starts `werk serve echo` on a free loopback port with `args`, and waits
/// until the parent has started its processes.
fn start(args: &[&str]) -> Werk {
    let mut command = Command::new(WERK);
    command
        .args(["serve", "echo", "--host", "127.0.0.1", "--port", "0", "-q"])
        .args(args);
    Werk::start(&mut command, " * Serving with ")
}

/// Waits until the first process has exactly the children that `pick`
/// accepts, `n` of them; returns them.
fn wait_for_children(werk: &Werk, n: usize, pick: impl Fn(u32) -> bool) -> BTreeSet<u32> {
    let mut children = BTreeSet::new();
    let found = support::wait_until(GUARD, || {
        children = children_of(werk.first.id()).into_iter().collect();
        children.len() == n && children.iter().all(|&pid| pick(pid))
    });
    assert!(
        found,
        "expected {n} children, found {children:?}:\n{}",
        werk.log()
    );
    children
}

#[test]
fn new_connections_are_served_by_several_children_of_the_server() {
    let werk = start(&["--processes", "3"]);
    let children = wait_for_children(&werk, 3, |_| true);
    let log = werk.log();
    for pid in &children {
        assert!(log.contains(&pid.to_string()), "{pid} not named in:\n{log}");
    }
    // Each process accepts from the shared socket; which one wins a
    // connection is up to the scheduler, so ask until two have answered.
    let mut served = BTreeSet::new();
    let deadline = Instant::now() + GUARD;
    while served.len() < 2 {
        assert!(
            Instant::now() < deadline,
            "only {served:?} answered within {GUARD:?}:\n{}",
            werk.log()
        );
        let addr = werk.addr;
        let batch: Vec<_> = (0..6)
            .map(|_| std::thread::spawn(move || get(addr)))
            .collect();
        for thread in batch {
            let response = thread.join().unwrap().expect("GET /");
            assert!(
                response.contains("\"wsgi.multiprocess\": true"),
                "{response}"
            );
            served.insert(pid_of(&response).expect("a pid in the response"));
        }
    }
    for pid in &served {
        assert!(children.contains(pid), "{pid} is not one of {children:?}");
        assert_eq!(parent_of(*pid), Some(werk.first.id()));
    }
}

#[test]
fn a_killed_child_is_replaced_and_requests_still_succeed() {
    let werk = start(&["--processes", "2"]);
    let before = wait_for_children(&werk, 2, |_| true);
    let victim = *before.first().unwrap();
    kill("KILL", &victim.to_string());
    wait_gone(victim);
    // The other process serves meanwhile.
    for _ in 0..5 {
        assert_ne!(werk.serving_pid(), victim);
    }
    werk.wait_for(
        &format!(" (pid {victim}) was killed by signal SIGKILL; starting another in "),
        1,
    );
    werk.wait_for(" * Started server process ", 1);
    let after = wait_for_children(&werk, 2, |pid| pid != victim);
    for _ in 0..10 {
        let pid = werk.serving_pid();
        assert!(after.contains(&pid), "{pid} is not one of {after:?}");
    }
}

#[test]
fn sigterm_to_the_parent_stops_every_child_and_frees_the_port() {
    let mut werk = start(&["--processes", "3"]);
    let children = wait_for_children(&werk, 3, |_| true);
    werk.serving_pid();
    werk.signal_first("TERM");
    let status = werk.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", werk.log());
    for pid in children {
        wait_gone(pid);
    }
    TcpListener::bind(werk.addr)
        .unwrap_or_else(|e| panic!("port {} still taken: {e}", werk.addr.port()));
}

#[test]
fn ctrl_c_stops_the_parent_and_every_child_and_exits_0() {
    let mut werk = start(&["--processes", "2"]);
    let children = wait_for_children(&werk, 2, |_| true);
    // As a terminal sends it: to every process of the group. The children
    // leave it to the parent, which sends each of them SIGTERM.
    werk.signal_group("INT");
    let status = werk.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", werk.log());
    assert_eq!(werk.count(" * Shutting down"), 1, "{}", werk.log());
    for pid in children {
        wait_gone(pid);
    }
}

#[test]
fn killing_the_parent_stops_the_children() {
    let mut werk = start(&["--processes", "2"]);
    let children = wait_for_children(&werk, 2, |_| true);
    werk.signal_first("KILL");
    werk.wait_exit();
    for pid in children {
        wait_gone(pid);
    }
}

#[test]
fn a_unix_socket_is_served_by_the_children_and_removed_at_the_end() {
    let path = std::env::temp_dir().join(format!("werk-processes-{}.sock", std::process::id()));
    let mut command = Command::new(WERK);
    command.args(["serve", "echo", "-q", "--processes", "2", "--host"]);
    command.arg(format!("unix://{}", path.display()));
    let mut werk = Werk::start(&mut command, " * Serving with ");
    let children = wait_for_children(&werk, 2, |_| true);
    let mut stream = UnixStream::connect(&path).expect("connect to the socket");
    stream.set_read_timeout(Some(GUARD)).unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let pid = pid_of(&response).unwrap_or_else(|| panic!("{response}"));
    assert!(children.contains(&pid), "{pid} is not one of {children:?}");
    werk.signal_first("TERM");
    assert_eq!(werk.wait_exit().code(), Some(0), "{}", werk.log());
    assert!(!path.exists(), "{} was left behind", path.display());
}

/// A process that cannot start (its certificate file went bad after the
/// first start) is retried after a wait that doubles, not in a loop that
/// spins; the others keep serving, and the server still stops cleanly.
#[cfg(feature = "tls")]
#[test]
fn a_process_that_cannot_start_is_retried_after_a_growing_wait() {
    let dir = std::env::temp_dir().join(format!("werk-processes-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = dir.join("dev");
    let made = support::run(
        Command::new(WERK).args(["devcert", &base.to_string_lossy()]),
        b"",
        GUARD,
    );
    assert!(made.status.success(), "{}", made.stderr_text());
    let cert = dir.join("dev.crt");
    let key = dir.join("dev.key");
    let mut werk = start(&[
        "--processes",
        "2",
        "--cert",
        &cert.to_string_lossy(),
        "--key",
        &key.to_string_lossy(),
    ]);
    // Both must have read the certificate before it goes bad.
    let children = wait_for_children(&werk, 2, running::is_serving);
    std::fs::write(&cert, "not a certificate\n").unwrap();
    let victim = *children.first().unwrap();
    kill("KILL", &victim.to_string());
    for wait in ["100 ms", "200 ms", "400 ms"] {
        werk.wait_for(&format!("; starting another in {wait}"), 1);
    }
    assert!(werk.count("holds no certificate") >= 2, "{}", werk.log());
    let survivor = *children.last().unwrap();
    assert!(running::alive(survivor), "{}", werk.log());
    werk.signal_first("TERM");
    assert_eq!(werk.wait_exit().code(), Some(0), "{}", werk.log());
    wait_gone(survivor);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn zero_processes_is_a_clear_error() {
    let ran = support::run(
        Command::new(WERK).args(["serve", "echo", "--port", "0", "--processes", "0"]),
        b"",
        GUARD,
    );
    assert_eq!(ran.status.code(), Some(2));
    let err = ran.stderr_text();
    assert!(
        err.contains("--processes must be at least 1"),
        "stderr: {err:?}"
    );
    assert_eq!(err.lines().count(), 1, "stderr: {err:?}");
    // The same check in the Rust API, as `make_server` reports it.
    let options = werk::Options::default().processes(0);
    let err = werk::make_server("127.0.0.1", 0, werk::apps::hello, options)
        .expect_err("processes(0) is refused");
    assert!(
        err.to_string().contains("processes must be at least 1"),
        "{err}"
    );
}
