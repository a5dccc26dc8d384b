//! The parent's side: this program run again as a child that serves on
//! the listening sockets ([`Program`]), and the children that run
//! ([`Children`]): started unless the session is ending, signalled, and
//! reaped without ever signalling a process id that was reused.

use std::ffi::OsString;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
#[cfg(feature = "reload")]
use std::path::Path;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::Stoppable;
use crate::sys::process::{send_signal, signal_name, wait_for_exit, Handoff, Signal};

/// How long a missing or busy executable is tried again.
const EXE_SETTLE: Duration = Duration::from_secs(2);

/// This program, to be started again as a child that serves on the
/// listening sockets.
#[derive(Debug)]
pub(crate) struct Program {
    exe: PathBuf,
    /// The command line, `argv[0]` included (the child gets the same).
    args: Vec<OsString>,
    /// How many of the handed-down descriptors are listening sockets.
    sockets: usize,
    handoff: Handoff,
}

impl Program {
    /// This program again: `exe` (see [`running_exe`]) with this process's
    /// arguments; children get `listeners` at descriptors 3...
    pub(crate) fn this(exe: PathBuf, listeners: Vec<OwnedFd>) -> io::Result<Program> {
        Program::new(exe, std::env::args_os().collect(), listeners)
    }

    /// `exe` with `args` (`argv[0]` first); children get `listeners` at
    /// descriptors 3...
    pub(crate) fn new(
        exe: PathBuf,
        args: Vec<OsString>,
        listeners: Vec<OwnedFd>,
    ) -> io::Result<Program> {
        Ok(Program {
            exe,
            args,
            sockets: listeners.len(),
            handoff: Handoff::new(listeners)?,
        })
    }

    #[cfg(feature = "reload")]
    pub(crate) fn exe(&self) -> &Path {
        &self.exe
    }

    /// Starts `exe` from now on, named by its path (`argv[0]`), as
    /// `cargo run` starts it.
    #[cfg(feature = "cli")]
    pub(crate) fn set_exe(&mut self, exe: PathBuf) {
        match self.args.first_mut() {
            Some(arg0) => *arg0 = exe.clone().into(),
            None => self.args.push(exe.clone().into()),
        }
        self.exe = exe;
    }

    /// The command for a child: the executable and arguments, the sockets
    /// as `LISTEN_FDS` (without `LISTEN_PID`, which cannot be known before
    /// the child exists; `net::inherit` explains), this process as
    /// `WERK_SUPERVISOR_PID`, the child's end of its `link` after the
    /// sockets (`WERK_LINK_FD`), and the descriptors and parent-death
    /// signal of [`Handoff::prepare`]. Spawn it from a thread that lives
    /// as long as this process: on Linux the child's parent-death signal
    /// follows the spawning thread.
    pub(crate) fn command(&self, link: Option<OwnedFd>) -> io::Result<Command> {
        let mut command = Command::new(&self.exe);
        if let Some(arg0) = self.args.first() {
            command.arg0(arg0);
        }
        command
            .args(self.args.iter().skip(1))
            .env("LISTEN_FDS", self.sockets.to_string())
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDNAMES")
            .env(super::SUPERVISOR_PID, std::process::id().to_string())
            .env_remove(super::PROCESS)
            .env_remove(super::link::LINK_FD);
        if link.is_some() {
            command.env(super::link::LINK_FD, self.handoff.own_fd().to_string());
        }
        self.handoff
            .prepare(&mut command, std::process::id(), link)?;
        Ok(command)
    }
}

/// The path of the running executable. On Linux, once a build has
/// replaced the file, the kernel's answer ends in " (deleted)": the path
/// to watch and to start is the one without it.
pub(crate) fn running_exe() -> io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(
        match exe.to_str().and_then(|s| s.strip_suffix(" (deleted)")) {
            Some(path) => PathBuf::from(path),
            None => exe,
        },
    )
}

/// The running children, shared with the threads that signal them; cheap
/// to clone.
#[derive(Debug, Clone)]
pub(crate) struct Children {
    roster: Arc<Mutex<Roster>>,
    /// Unix socket files this process created, removed at the end.
    created_files: Arc<[PathBuf]>,
}

#[derive(Debug, Default)]
struct Roster {
    /// The process ids of the children not reaped yet.
    running: Vec<u32>,
    /// The session is ending: no child starts any more.
    stopping: bool,
}

impl Children {
    pub(crate) fn new(created_files: Vec<PathBuf>) -> Children {
        Children {
            roster: Arc::default(),
            created_files: created_files.into(),
        }
    }

    /// Starts `command` unless the session is ending (`None`). The lock is
    /// held while spawning, so a stop either comes before (and no child
    /// starts) or finds the child's id. An executable that is missing or
    /// busy is tried again for a moment: a build may be putting the new one
    /// in place.
    pub(crate) fn spawn(&self, command: &mut Command) -> io::Result<Option<Child>> {
        let deadline = Instant::now() + EXE_SETTLE;
        loop {
            let mut state = self.lock();
            if state.stopping {
                return Ok(None);
            }
            match command.spawn() {
                Ok(child) => {
                    state.running.push(child.id());
                    return Ok(Some(child));
                }
                Err(e)
                    if matches!(e.raw_os_error(), Some(libc::ETXTBSY | libc::ENOENT))
                        && Instant::now() < deadline =>
                {
                    drop(state);
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits for `child` to end. It is forgotten before it is reaped, so a
    /// stop never signals a process id that was reused.
    pub(crate) fn wait(&self, mut child: Child) -> io::Result<ExitStatus> {
        let pid = child.id();
        if wait_for_exit(pid).is_ok() {
            self.forget(pid);
        }
        let status = child.wait();
        self.forget(pid);
        status
    }

    /// Sends `signal` to child `pid` if it has not been reaped: a process
    /// id that may be another process's by now is never signalled.
    #[cfg(feature = "reload")]
    pub(crate) fn signal(&self, pid: u32, signal: Signal) {
        let state = self.lock();
        if state.running.contains(&pid) {
            let _ = send_signal(pid, signal);
        }
    }

    /// True once a stop has begun.
    pub(crate) fn is_stopping(&self) -> bool {
        self.lock().stopping
    }

    /// Removes the Unix socket files this process created.
    pub(crate) fn remove_socket_files(&self) {
        for path in self.created_files.iter() {
            crate::net::remove_socket_file(path);
        }
    }

    fn forget(&self, pid: u32) {
        self.lock().running.retain(|&p| p != pid);
    }

    fn signal_all(state: &Roster, signal: Signal) {
        for &pid in &state.running {
            let _ = send_signal(pid, signal);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Roster> {
        self.roster.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A stop sends each child SIGTERM: it finishes its requests and exits.
/// A second signal sends SIGKILL.
impl Stoppable for Children {
    fn stop(&self, announce: bool) -> bool {
        let mut state = self.lock();
        state.stopping = true;
        if state.running.is_empty() {
            return false;
        }
        if announce {
            super::announce_shutdown();
        }
        Children::signal_all(&state, Signal::Term);
        true
    }

    fn kill(&self) {
        Children::signal_all(&self.lock(), Signal::Kill);
    }

    fn cleanup(&self) {
        self.remove_socket_files();
    }
}

/// "exited with status 1", "was killed by signal SIGKILL".
pub(crate) fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signo)) => format!("was killed by signal {}", signal_name(signo)),
        (None, None) => format!("ended ({status})"),
    }
}
