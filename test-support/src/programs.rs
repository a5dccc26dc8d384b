//! The programs a test needs (curl, python3, openssl, ...), and running
//! them with a deadline. Under CI (`CI` set; `.ci/run` installs every one
//! of them) a test that cannot run fails; elsewhere it says on standard
//! error that it skips and why.

use std::io::{self, Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::IO_TIMEOUT;

/// Why `program` does not run here, or `None` if it does: `program
/// --version` must succeed (`openssl version` for openssl, which has no
/// `--version`; for NSS's certutil, which exits with 1 for every probe,
/// starting at all is enough).
pub fn missing(program: &str) -> Option<String> {
    let probe = match program {
        "openssl" => "version",
        "certutil" => "-H",
        _ => "--version",
    };
    let status = Command::new(program)
        .arg(probe)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match status {
        Ok(_) if program == "certutil" => None,
        Ok(status) if status.success() => None,
        Ok(status) => Some(format!("`{program} {probe}` failed ({status})")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Some(format!("{program} is not installed"))
        }
        Err(e) => Some(format!("{program} cannot be run ({e})")),
    }
}

/// True if `program` runs here (see [`missing`]).
pub fn have(program: &str) -> bool {
    missing(program).is_none()
}

/// True under CI (`CI` set), where `.ci/run` has installed every program
/// the tests use.
pub fn under_ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// For a test (or a named part of one) that cannot run here because of
/// `why`: under CI it fails, naming the reason, since CI must run every
/// test; elsewhere it says on standard error that it skips and why. The
/// caller then returns (or leaves the part out).
pub fn skip(test: &str, why: &str) {
    assert!(!under_ci(), "{test}: CI must run this test, but {why}");
    eprintln!("{test}: skipped, {why}");
}

/// True if `program` runs here. When it does not, `test` (or a named part
/// of it), which needs it, is skipped as [`skip`] says: under CI it fails.
pub fn needs(program: &str, test: &str) -> bool {
    let Some(why) = missing(program) else {
        return true;
    };
    skip(test, &why);
    false
}

/// What an external program did.
#[derive(Debug)]
pub struct Ran {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Ran {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Runs a program with `stdin` as its input, killing it if it takes longer
/// than `limit` (and then panicking with what it printed).
pub fn run(command: &mut Command, stdin: &[u8], limit: Duration) -> Ran {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let stdout = reader_thread(child.stdout.take().unwrap());
    let stderr = reader_thread(child.stderr.take().unwrap());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let out = stdout.recv_timeout(IO_TIMEOUT).unwrap_or_default();
            let err = stderr.recv_timeout(IO_TIMEOUT).unwrap_or_default();
            panic!(
                "{command:?} did not finish within {limit:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    Ran {
        status,
        stdout: stdout.recv_timeout(IO_TIMEOUT).unwrap_or_default(),
        stderr: stderr.recv_timeout(IO_TIMEOUT).unwrap_or_default(),
    }
}

fn reader_thread(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = pipe.read_to_end(&mut out);
        let _ = tx.send(out);
    });
    rx
}
