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

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest any one step may take; only a guard against hangs.
const GUARD: Duration = Duration::from_secs(20);

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

/// A running `werk serve echo --reload` and what it printed.
struct Werk {
    supervisor: Child,
    stderr: Arc<Mutex<String>>,
    addr: SocketAddr,
}

impl Werk {
    /// Starts the binary (a copy in `scratch/bin`) with `args` after the
    /// common ones, and waits until the first child serves.
    fn start(scratch: &Scratch, kind: Kind, args: &[&str]) -> Werk {
        let exe = scratch.exe();
        let mut command = Command::new(&exe);
        command
            .args(["serve", "echo", "--host", "127.0.0.1", "--port", "0", "-q"])
            .args(["--reload"])
            .args(kind.args())
            .args(args)
            .current_dir(&scratch.0)
            .env_remove("WERK_RUN_MAIN")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group: the drop guard kills the group, and a
            // "Ctrl-C" can go to the group as a terminal sends it.
            .process_group(0);
        let mut supervisor = spawn(&mut command);
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = supervisor.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        let mut werk = Werk {
            supervisor,
            stderr,
            addr: "127.0.0.1:0".parse().unwrap(),
        };
        werk.wait_for(" * Restarting with ", 1);
        let text = werk.log();
        let port: u16 = text
            .lines()
            .find_map(|l| l.strip_prefix(" * Running on https://127.0.0.1:"))
            .or_else(|| {
                text.lines()
                    .find_map(|l| l.strip_prefix(" * Running on http://127.0.0.1:"))
            })
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("no port in the banner:\n{text}"));
        werk.addr = SocketAddr::from(([127, 0, 0, 1], port));
        werk
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn count(&self, needle: &str) -> usize {
        self.log().matches(needle).count()
    }

    /// Waits until `needle` has been printed `times` times.
    fn wait_for(&self, needle: &str, times: usize) {
        let deadline = Instant::now() + GUARD;
        while self.count(needle) < times {
            assert!(
                Instant::now() < deadline,
                "{needle:?} was not printed {times} times within {GUARD:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until the `n`th restart serves.
    fn wait_for_restart(&self, n: usize) {
        self.wait_for(" * Restarted in ", n);
    }

    /// The process id of the child that serves `GET /`.
    fn serving_pid(&self) -> u32 {
        let response = get(self.addr).unwrap_or_else(|e| panic!("GET /: {e}\n{}", self.log()));
        pid_of(&response).unwrap_or_else(|| panic!("no pid in {response:?}"))
    }

    /// Waits for the supervisor to exit.
    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + GUARD;
        loop {
            if let Some(status) = self.supervisor.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the supervisor did not exit:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn signal_supervisor(&self, signal: &str) {
        kill(signal, &self.supervisor.id().to_string());
    }

    /// Sends `signal` to the whole process group, as a terminal's Ctrl-C.
    fn signal_group(&self, signal: &str) {
        kill(signal, &format!("-{}", self.supervisor.id()));
    }
}

impl Drop for Werk {
    fn drop(&mut self) {
        self.signal_group("KILL");
        let _ = self.supervisor.kill();
        let _ = self.supervisor.wait();
    }
}

/// Spawns `command`, retrying while the kernel says the executable is
/// busy: a copy just written can still be open for writing in a process
/// another test thread is forking (rust-lang/rust#114554).
fn spawn(command: &mut Command) -> Child {
    let deadline = Instant::now() + GUARD;
    loop {
        match command.spawn() {
            Ok(child) => return child,
            Err(e) if e.raw_os_error() == Some(26) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("cannot start {command:?}: {e}"),
        }
    }
}

fn kill(signal: &str, target: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), "--", target])
        .stderr(Stdio::null())
        .status();
}

/// True while process `pid` exists (a zombie counts as gone).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

fn wait_gone(pid: u32) {
    let deadline = Instant::now() + GUARD;
    while alive(pid) {
        assert!(Instant::now() < deadline, "process {pid} is still running");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `GET /` on a new connection with `Connection: close`; the whole
/// response.
fn get(addr: SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, GUARD)?;
    stream.set_read_timeout(Some(GUARD))?;
    stream.set_write_timeout(Some(GUARD))?;
    stream.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

fn pid_of(response: &str) -> Option<u32> {
    if !response.starts_with("HTTP/1.1 200 ") {
        return None;
    }
    let rest = &response[response.find("\"pid\": ")? + 7..];
    rest[..rest.find(|c: char| !c.is_ascii_digit())?]
        .parse()
        .ok()
}

fn editing_an_extra_file_restarts_the_child(kind: Kind) {
    let scratch = Scratch::new("edit");
    let conf = scratch.write("app.toml", "a = 1\n");
    let werk = Werk::start(&scratch, kind, &["--extra-files", "app.toml"]);
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
    let werk = Werk::start(
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
    let werk = Werk::start(&scratch, kind, &["--extra-files", "app.toml"]);
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
    let werk = Werk::start(&scratch, kind, &["--extra-files", "app.toml"]);
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
    let werk = Werk::start(&scratch, kind, &["--extra-files", "app.toml"]);
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
    let made = spawn(
        Command::new(scratch.exe())
            .args(["devcert", &scratch.path("dev").to_string_lossy()])
            .stdout(Stdio::null()),
    )
    .wait()
    .unwrap();
    assert!(made.success());
    let good = std::fs::read(scratch.path("dev.crt")).unwrap();
    let werk = Werk::start(
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
    // A plain HTTP request on the HTTPS port is answered (with a 400 that
    // says to use https): enough to tell that a child serves.
    let answered = |response: std::io::Result<String>| {
        response.is_ok_and(|r| r.starts_with("HTTP/1.1 400") && r.contains("https"))
    };
    assert!(answered(get(werk.addr)), "{}", werk.log());
    // A bad certificate: the next child exits 1 at startup.
    scratch.write("dev.crt", "not a certificate\n");
    werk.wait_for(" * The server process exited with status 1", 1);
    // No child serves now, but the socket is open: a client connects and
    // waits in the backlog.
    let waiting = std::thread::spawn({
        let addr = werk.addr;
        move || get(addr)
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(!waiting.is_finished(), "answered while no child runs");
    // Fixing the file starts a child, which answers the waiting client.
    std::fs::write(scratch.path("dev.crt"), &good).unwrap();
    werk.wait_for_restart(1);
    assert!(answered(waiting.join().unwrap()), "{}", werk.log());
    assert!(answered(get(werk.addr)));
}

#[cfg(not(feature = "tls"))]
fn a_child_that_fails_to_start_is_restarted_after_the_next_change(_: Kind) {}

fn ctrl_c_stops_supervisor_and_child_and_exits_0(kind: Kind) {
    let scratch = Scratch::new("sigint");
    scratch.write("app.toml", "a = 1\n");
    let mut werk = Werk::start(&scratch, kind, &["--extra-files", "app.toml"]);
    let child = werk.serving_pid();
    werk.signal_group("INT");
    let status = werk.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", werk.log());
    wait_gone(child);
}

fn sigterm_to_the_supervisor_reaches_the_child(kind: Kind) {
    let scratch = Scratch::new("sigterm");
    scratch.write("app.toml", "a = 1\n");
    let mut werk = Werk::start(&scratch, kind, &["--extra-files", "app.toml"]);
    let child = werk.serving_pid();
    werk.signal_supervisor("TERM");
    let status = werk.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", werk.log());
    wait_gone(child);
}

fn killing_the_supervisor_stops_the_child(kind: Kind) {
    let scratch = Scratch::new("sigkill");
    scratch.write("app.toml", "a = 1\n");
    let mut werk = Werk::start(&scratch, kind, &["--extra-files", "app.toml"]);
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
    ctrl_c_stops_supervisor_and_child_and_exits_0,
    sigterm_to_the_supervisor_reaches_the_child,
    killing_the_supervisor_stops_the_child,
);

#[test]
fn auto_says_which_watcher_it_uses() {
    let scratch = Scratch::new("auto");
    let werk = Werk::start(&scratch, Kind::Auto, &[]);
    let log = werk.log();
    assert!(
        log.contains(" * Restarting with inotify") || log.contains(" * Restarting with stat"),
        "{log}"
    );
}
