//! The reloader, end to end: the `werk` binary run as `werk serve echo
//! --reload`, real files changed under it, real clients talking to it.
//!
//! Every scenario runs twice, with the stat watcher polling every 0.1 s
//! (`stat::…`) and with the system's watcher (`auto::…`, inotify here).
//! The echo app puts the serving process's id in its JSON, which tells
//! one child from the next.
//!
//! Each test copies the binary into its own directory and runs the copy,
//! so that a `cargo build` elsewhere (which replaces the original, which
//! the reloader watches) cannot restart a test's server. Every process a
//! test starts is in its own process group, killed when the test ends,
//! however it ends; every wait has a deadline.

#[path = "support/running.rs"]
mod running;
mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use running::{children_of, get, pid_of, wait_gone, Werk, GUARD};

/// Which watcher a scenario runs with.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Stat,
    Auto,
}

impl Kind {
    fn args(self) -> &'static [&'static str] {
        match self {
            Kind::Stat => &["--reloader-type", "stat", "--reloader-interval", "0.1"],
            Kind::Auto => &["--reloader-type", "auto"],
        }
    }
}

/// A directory of its own for one test, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "werk-reload-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        Scratch(dir)
    }

    /// The test's copy of the `werk` binary.
    fn exe(&self) -> PathBuf {
        let exe = self.path("bin/werk");
        if !exe.exists() {
            std::fs::copy(env!("CARGO_BIN_EXE_werk"), &exe).unwrap();
        }
        exe
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn append(&self, name: &str, text: &str) {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(self.path(name))
            .unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts `werk serve echo --reload` (a copy of the binary in
/// `scratch/bin`) with `args` after the common ones, and waits until the
/// first child serves.
fn start(scratch: &Scratch, kind: Kind, args: &[&str]) -> Werk {
    let mut command = Command::new(scratch.exe());
    command
        .args(["serve", "echo", "--host", "127.0.0.1", "--port", "0", "-q"])
        .args(["--reload"])
        .args(kind.args())
        .args(args)
        .current_dir(&scratch.0);
    Werk::start(&mut command, " * Restarting with ")
}

/// What only the reloader's tests ask of a running `werk`.
trait Reloader {
    /// Waits until the `n`th restart serves.
    fn wait_for_restart(&self, n: usize);
    fn signal_supervisor(&self, signal: &str);
}

impl Reloader for Werk {
    fn wait_for_restart(&self, n: usize) {
        self.wait_for(" * Restarted in ", n);
    }

    fn signal_supervisor(&self, signal: &str) {
        self.signal_first(signal);
    }
}

fn editing_an_extra_file_restarts_the_child(kind: Kind) {
    let scratch = Scratch::new("edit");
    let conf = scratch.write("app.toml", "a = 1\n");
    let werk = start(&scratch, kind, &["--extra-files", "app.toml"]);
    let first = werk.serving_pid();
    scratch.append("app.toml", "b = 2\n");
    werk.wait_for_restart(1);
    let second = werk.serving_pid();
    assert_ne!(first, second, "the same child still serves");
    let log = werk.log();
    assert!(
        log.contains(&format!(
            " * Detected change in '{}', reloading",
            conf.display()
        )),
        "{log}"
    );
    wait_gone(first);
}

fn editing_an_excluded_file_does_not_restart(kind: Kind) {
    let scratch = Scratch::new("exclude");
    std::fs::create_dir(scratch.path("conf")).unwrap();
    scratch.write("conf/app.toml", "a = 1\n");
    scratch.write("conf/debug.log", "");
    let werk = start(
        &scratch,
        kind,
        &[
            "--extra-files",
            "conf",
            "--exclude-patterns",
            "*.log:**/cache/**",
        ],
    );
    let first = werk.serving_pid();
    scratch.append("conf/debug.log", "noise\n");
    std::fs::create_dir(scratch.path("conf/cache")).ok();
    // Longer than the stat interval and the coalescing window together.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(werk.count(" * Detected change"), 0, "{}", werk.log());
    assert_eq!(werk.serving_pid(), first);
    // The watcher is alive: a file that is not excluded restarts.
    scratch.write("conf/new.toml", "x = 1\n");
    werk.wait_for_restart(1);
    assert_ne!(werk.serving_pid(), first);
}

fn an_atomic_save_restarts_once(kind: Kind) {
    let scratch = Scratch::new("atomic");
    let conf = scratch.write("app.toml", "a = 1\n");
    let werk = start(&scratch, kind, &["--extra-files", "app.toml"]);
    let first = werk.serving_pid();
    // What editors do: write a temporary file, rename it over the target.
    let tmp = scratch.write(".app.toml.swp-tmp", "a = 2\n");
    std::fs::rename(&tmp, &conf).unwrap();
    werk.wait_for_restart(1);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(werk.count(" * Detected change"), 1, "{}", werk.log());
    assert_eq!(werk.count(" * Restarted in "), 1, "{}", werk.log());
    assert_ne!(werk.serving_pid(), first);
}

fn a_burst_of_writes_restarts_once(kind: Kind) {
    let scratch = Scratch::new("burst");
    scratch.write("app.toml", "a = 1\n");
    let werk = start(&scratch, kind, &["--extra-files", "app.toml"]);
    let first = werk.serving_pid();
    let start = Instant::now();
    for i in 0..10 {
        scratch.append("app.toml", &format!("x{i} = {i}\n"));
        std::thread::sleep(Duration::from_millis(2));
    }
    let burst = start.elapsed();
    werk.wait_for_restart(1);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        werk.count(" * Detected change"),
        1,
        "ten writes in {burst:?}:\n{}",
        werk.log()
    );
    assert_ne!(werk.serving_pid(), first);
}

fn no_request_fails_across_ten_restarts(kind: Kind) {
    let scratch = Scratch::new("continuous");
    scratch.write("app.toml", "n = 0\n");
    let werk = start(&scratch, kind, &["--extra-files", "app.toml"]);
    let first = werk.serving_pid();
    let addr = werk.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut ok, mut failures, mut pids) = (0usize, Vec::new(), BTreeSet::new());
            while !stop.load(Ordering::SeqCst) {
                match get(addr) {
                    Ok(response) => match pid_of(&response) {
                        Some(pid) => {
                            ok += 1;
                            pids.insert(pid);
                        }
                        None => failures.push(format!("bad response {response:?}")),
                    },
                    Err(e) => failures.push(e.to_string()),
                }
            }
            (ok, failures, pids)
        })
    };
    for n in 1..=10 {
        scratch.append("app.toml", &format!("n = {n}\n"));
        werk.wait_for_restart(n);
        // Let a few requests reach the new child.
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::SeqCst);
    let (ok, failures, pids) = client.join().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} requests failed: {:?}\n{}",
        failures.len(),
        ok + failures.len(),
        &failures[..failures.len().min(5)],
        werk.log()
    );
    assert_eq!(pids.len(), 11, "children seen: {pids:?}\n{}", werk.log());
    assert!(pids.contains(&first));
    let log = werk.log();
    let times: Vec<&str> = log
        .lines()
        .filter_map(|l| l.strip_prefix(" * Restarted in "))
        .collect();
    eprintln!("{kind:?}: {ok} requests, none failed; restarts took {times:?}");
}

#[cfg(feature = "tls")]
fn a_child_that_fails_to_start_is_restarted_after_the_next_change(kind: Kind) {
    let scratch = Scratch::new("crash");
    let made = running::spawn(
        Command::new(scratch.exe())
            .args(["devcert", &scratch.path("dev").to_string_lossy()])
            .stdout(std::process::Stdio::null()),
    )
    .wait()
    .unwrap();
    assert!(made.success());
    let good = std::fs::read(scratch.path("dev.crt")).unwrap();
    let werk = start(
        &scratch,
        kind,
        &[
            "--cert",
            "dev.crt",
            "--key",
            "dev.key",
            "--extra-files",
            "dev.crt",
        ],
    );
    let test = "a_child_that_fails_to_start_is_restarted_after_the_next_change";
    if !support::needs("curl", test) {
        return;
    }
    let curl = |addr: std::net::SocketAddr| {
        let out = Command::new("curl")
            .args(["-sk", "-m", "10", "-w", "\n%{http_code}"])
            .arg(format!("https://{addr}/"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(curl(werk.addr).ends_with("\n200"), "{}", werk.log());
    // A bad certificate: the next child exits 1 at startup.
    scratch.write("dev.crt", "not a certificate\n");
    werk.wait_for(" * The server process exited with status 1", 1);
    // No child serves now: the supervisor answers at once, over TLS with
    // the certificate it loaded at the start, with 503 and why.
    let down = curl(werk.addr);
    assert!(down.ends_with("\n503"), "{down}\n{}", werk.log());
    assert!(down.contains("exited with status 1"), "{down}");
    assert!(
        down.contains("holds no certificate"),
        "the child's last words: {down}"
    );
    // Fixing the file starts a child, which serves again.
    std::fs::write(scratch.path("dev.crt"), &good).unwrap();
    werk.wait_for_restart(1);
    // The supervisor answers until the new child says it accepts.
    let deadline = Instant::now() + GUARD;
    while !curl(werk.addr).ends_with("\n200") {
        assert!(
            Instant::now() < deadline,
            "no child serves:\n{}",
            werk.log()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A child that dies while serving (kill -9): the next request gets 503
/// naming the signal at once, not a wait in the backlog; the next change
/// starts a child again.
fn a_killed_child_is_answered_for_with_503(kind: Kind) {
    let scratch = Scratch::new("killed");
    scratch.write("app.toml", "a = 1\n");
    let werk = start(&scratch, kind, &["--extra-files", "app.toml"]);
    let pid = werk.serving_pid();
    running::kill("KILL", &pid.to_string());
    wait_gone(pid);
    let killed_at = Instant::now();
    let response = loop {
        let response = get(werk.addr).unwrap();
        // The supervisor may not have reaped the child yet.
        if !response.starts_with("HTTP/1.1 200") || killed_at.elapsed() > GUARD {
            break response;
        }
    };
    eprintln!(
        "{kind:?}: 503 {} ms after the child was gone",
        killed_at.elapsed().as_millis()
    );
    assert!(response.starts_with("HTTP/1.1 503 "), "{response}");
    assert!(
        response.contains("was killed by signal SIGKILL"),
        "{response}"
    );
    assert!(response.contains("Retry-After: 1"), "{response}");
    let page = running::get_accepting(werk.addr, Some("text/html,*/*;q=0.8")).unwrap();
    assert!(page.contains("Content-Type: text/html"), "{page}");
    assert!(
        page.contains("<h1>The server process was killed by signal SIGKILL</h1>"),
        "{page}"
    );
    scratch.append("app.toml", "b = 2\n");
    werk.wait_for_restart(1);
    // The supervisor answers until the new child says it accepts.
    let deadline = Instant::now() + GUARD;
    let new_pid = loop {
        if let Some(new_pid) = get(werk.addr).ok().as_deref().and_then(pid_of) {
            break new_pid;
        }
        assert!(
            Instant::now() < deadline,
            "no child serves:\n{}",
            werk.log()
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_ne!(new_pid, pid);
}

#[cfg(not(feature = "tls"))]
fn a_child_that_fails_to_start_is_restarted_after_the_next_change(_: Kind) {}

/// The next child accepts as soon as the old one stops accepting: a
/// long response still going out from the old one holds up no one, and
/// still arrives whole.
fn a_long_response_does_not_hold_up_the_restart(kind: Kind) {
    let scratch = Scratch::new("long-response");
    scratch.write("app.toml", "a = 1\n");
    let werk = start(&scratch, kind, &["--extra-files", "app.toml"]);
    let old = werk.serving_pid();
    let addr = werk.addr;
    let long = std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(GUARD)).unwrap();
        stream
            .write_all(
                b"GET /stream/8?delay_ms=250 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
            .unwrap();
        let mut response = String::new();
        std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
        response
    });
    std::thread::sleep(Duration::from_millis(300));
    scratch.append("app.toml", "b = 2\n");
    let deadline = Instant::now() + GUARD;
    let new = loop {
        match get(addr).ok().as_deref().and_then(pid_of) {
            Some(pid) if pid != old => break pid,
            _ => {}
        }
        assert!(Instant::now() < deadline, "no new child:\n{}", werk.log());
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(
        !long.is_finished(),
        "the new child ({new}) served only after the old one finished"
    );
    let response = long.join().unwrap();
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    assert!(response.contains("{\"chunk\": 7}"), "cut short: {response}");
}

fn ctrl_c_stops_supervisor_and_child_and_exits_0(kind: Kind) {
    let scratch = Scratch::new("sigint");
    scratch.write("app.toml", "a = 1\n");
    let mut werk = start(&scratch, kind, &["--extra-files", "app.toml"]);
    let child = werk.serving_pid();
    werk.signal_group("INT");
    let status = werk.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", werk.log());
    wait_gone(child);
}

fn sigterm_to_the_supervisor_reaches_the_child(kind: Kind) {
    let scratch = Scratch::new("sigterm");
    scratch.write("app.toml", "a = 1\n");
    let mut werk = start(&scratch, kind, &["--extra-files", "app.toml"]);
    let child = werk.serving_pid();
    werk.signal_supervisor("TERM");
    let status = werk.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", werk.log());
    wait_gone(child);
}

fn killing_the_supervisor_stops_the_child(kind: Kind) {
    let scratch = Scratch::new("sigkill");
    scratch.write("app.toml", "a = 1\n");
    let mut werk = start(&scratch, kind, &["--extra-files", "app.toml"]);
    let child = werk.serving_pid();
    werk.signal_supervisor("KILL");
    werk.wait_exit();
    wait_gone(child);
}

/// Each scenario once per watcher: `stat::name` and `auto::name`.
macro_rules! with_each_watcher {
    ($($name:ident),* $(,)?) => {
        mod stat {
            $(#[test] fn $name() { super::$name(super::Kind::Stat) })*
        }
        mod auto {
            $(#[test] fn $name() { super::$name(super::Kind::Auto) })*
        }
    };
}

with_each_watcher!(
    editing_an_extra_file_restarts_the_child,
    editing_an_excluded_file_does_not_restart,
    an_atomic_save_restarts_once,
    a_burst_of_writes_restarts_once,
    no_request_fails_across_ten_restarts,
    a_child_that_fails_to_start_is_restarted_after_the_next_change,
    a_killed_child_is_answered_for_with_503,
    a_long_response_does_not_hold_up_the_restart,
    ctrl_c_stops_supervisor_and_child_and_exits_0,
    sigterm_to_the_supervisor_reaches_the_child,
    killing_the_supervisor_stops_the_child,
);

#[test]
fn auto_says_which_watcher_it_uses() {
    let scratch = Scratch::new("auto");
    let werk = start(&scratch, Kind::Auto, &[]);
    let log = werk.log();
    assert!(
        log.contains(" * Restarting with inotify") || log.contains(" * Restarting with stat"),
        "{log}"
    );
}

/// With `--processes 2` the reloader's child is the parent of two serving
/// processes: a change stops both and the next child starts two new ones.
#[test]
fn with_processes_a_change_replaces_every_process() {
    let scratch = Scratch::new("processes");
    scratch.write("app.toml", "a = 1\n");
    let mut werk = start(
        &scratch,
        Kind::Stat,
        &["--extra-files", "app.toml", "--processes", "2"],
    );
    werk.wait_for(" * Serving with 2 processes", 1);
    let supervisor = werk.first.id();
    let serving = |werk: &Werk| {
        let deadline = Instant::now() + GUARD;
        loop {
            // The supervisor's one child, and that child's two.
            if let [child] = children_of(supervisor)[..] {
                let grandchildren: BTreeSet<u32> = children_of(child).into_iter().collect();
                if grandchildren.len() == 2 {
                    return grandchildren;
                }
            }
            assert!(Instant::now() < deadline, "{}", werk.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let first = serving(&werk);
    let pid = werk.serving_pid();
    assert!(first.contains(&pid), "{pid} is not one of {first:?}");
    scratch.append("app.toml", "b = 2\n");
    werk.wait_for_restart(1);
    werk.wait_for(" * Serving with 2 processes", 2);
    for &pid in &first {
        wait_gone(pid);
    }
    let second = serving(&werk);
    let pid = werk.serving_pid();
    assert!(second.contains(&pid), "{pid} is not one of {second:?}");
    assert!(first.is_disjoint(&second));
    werk.signal_supervisor("TERM");
    assert_eq!(werk.wait_exit().code(), Some(0), "{}", werk.log());
    for pid in second {
        wait_gone(pid);
    }
}
