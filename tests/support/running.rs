//! A `werk serve` process tree under test: the first process started in
//! a process group of its own (killed with the whole group when the test
//! ends, however it ends), its standard error collected, its port read
//! from the banner; and the helpers to look at the processes under it
//! (Linux `/proc`) and to ask which process served a request (the echo
//! app's `pid`). Every wait has a deadline.
//!
//! Included by the tests that run the binary as a tree of processes
//! (`reload.rs`, `processes.rs`) with `#[path = "support/running.rs"]`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest any one step may take; only a guard against hangs.
pub const GUARD: Duration = Duration::from_secs(20);

/// A running `werk serve` and what it printed.
pub struct Werk {
    /// The first process (the reloader's supervisor, or the parent of the
    /// processes).
    pub first: Child,
    stderr: Arc<Mutex<String>>,
    /// The TCP address from the banner.
    pub addr: SocketAddr,
}

impl Werk {
    /// Starts `command` (a `werk serve` with `--host 127.0.0.1`, or a
    /// `unix://` host) in a process group of its own with `NO_COLOR`,
    /// waits until `ready` is printed and reads the port from the banner
    /// (0 for a Unix socket).
    pub fn start(command: &mut Command, ready: &str) -> Werk {
        command
            .env_remove("WERK_RUN_MAIN")
            .env_remove("WERK_PROCESS")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group: the drop guard kills the group, and a
            // "Ctrl-C" can go to the group as a terminal sends it.
            .process_group(0);
        let mut first = spawn(command);
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = first.stderr.take().unwrap();
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
            first,
            stderr,
            addr: "127.0.0.1:0".parse().unwrap(),
        };
        werk.wait_for(ready, 1);
        let text = werk.log();
        let port: u16 = text
            .lines()
            .find_map(|l| l.strip_prefix(" * Running on https://127.0.0.1:"))
            .or_else(|| {
                text.lines()
                    .find_map(|l| l.strip_prefix(" * Running on http://127.0.0.1:"))
            })
            .and_then(|p| p.trim().parse().ok())
            .or_else(|| text.contains(" * Running on unix://").then_some(0))
            .unwrap_or_else(|| panic!("no port in the banner:\n{text}"));
        werk.addr = SocketAddr::from(([127, 0, 0, 1], port));
        werk
    }

    /// Everything printed so far.
    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn count(&self, needle: &str) -> usize {
        self.log().matches(needle).count()
    }

    /// Waits until `needle` has been printed `times` times.
    pub fn wait_for(&self, needle: &str, times: usize) {
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

    /// The process id of the process that serves `GET /` on a new
    /// connection.
    pub fn serving_pid(&self) -> u32 {
        let response = get(self.addr).unwrap_or_else(|e| panic!("GET /: {e}\n{}", self.log()));
        pid_of(&response).unwrap_or_else(|| panic!("no pid in {response:?}\n{}", self.log()))
    }

    /// Waits for the first process to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let stderr = &self.stderr;
        wait_for_exit(&mut self.first, || {
            let log = stderr.lock().unwrap();
            format!("the first werk process did not exit:\n{log}")
        })
    }

    /// Sends `signal` (`TERM`, `KILL`, ...) to the first process.
    pub fn signal_first(&self, signal: &str) {
        kill(signal, &self.first.id().to_string());
    }

    /// Sends `signal` to the whole process group, as a terminal's Ctrl-C.
    pub fn signal_group(&self, signal: &str) {
        kill(signal, &format!("-{}", self.first.id()));
    }
}

impl Drop for Werk {
    fn drop(&mut self) {
        self.signal_group("KILL");
        let _ = self.first.kill();
        let _ = self.first.wait();
    }
}

/// Spawns `command`, retrying while the kernel says the executable is
/// busy: a copy just written can still be open for writing in a process
/// another test thread is forking (rust-lang/rust#114554).
pub fn spawn(command: &mut Command) -> Child {
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

/// `kill -SIGNAL -- TARGET` (a process id, or `-PGID` for a group).
/// Waits up to [`GUARD`] for `child` to exit; past it, fails with
/// `why()`.
pub fn wait_for_exit(child: &mut Child, why: impl Fn() -> String) -> ExitStatus {
    let deadline = Instant::now() + GUARD;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "{}", why());
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn kill(signal: &str, target: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), "--", target])
        .stderr(Stdio::null())
        .status();
}

/// The fields of `/proc/PID/stat` after the command name: the state is
/// the first, the parent's process id the second.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// True while process `pid` exists (a zombie counts as gone).
pub fn alive(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().is_some_and(|state| state != "Z"))
}

/// Waits until process `pid` is gone.
pub fn wait_gone(pid: u32) {
    let deadline = Instant::now() + GUARD;
    while alive(pid) {
        assert!(Instant::now() < deadline, "process {pid} is still running");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The parent of process `pid`, while it exists.
pub fn parent_of(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

/// True once process `pid` runs several threads: a werk server process
/// starts its workers only after its sockets and certificates are ready.
pub fn is_serving(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse::<u32>().ok())
        .is_some_and(|n| n > 2)
}

/// The live processes whose parent is `pid`, in no particular order.
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| alive(p) && parent_of(p) == Some(pid))
        .collect()
}

/// `GET /` on a new connection with `Connection: close`; the whole
/// response.
pub fn get(addr: SocketAddr) -> std::io::Result<String> {
    get_accepting(addr, None)
}

/// The echo app's `pid` in a 200 response.
pub fn pid_of(response: &str) -> Option<u32> {
    if !response.starts_with("HTTP/1.1 200 ") {
        return None;
    }
    let rest = &response[response.find("\"pid\": ")? + 7..];
    rest[..rest.find(|c: char| !c.is_ascii_digit())?]
        .parse()
        .ok()
}

/// `GET /` on a new connection, as `get` does, with the `Accept` header a
/// browser sends or none.
pub fn get_accepting(addr: SocketAddr, accept: Option<&str>) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, GUARD)?;
    stream.set_read_timeout(Some(GUARD))?;
    stream.set_write_timeout(Some(GUARD))?;
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n{accept}Connection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}
