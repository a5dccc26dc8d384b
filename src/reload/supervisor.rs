//! The first process: binds once, prints the banner, then starts children
//! and restarts them, holding the listening sockets all along.

use std::ffi::OsString;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use super::watch::{self, Watched, Watcher};
use super::{glob::Exclude, Settings};
use crate::sys::process::{send_signal, signal_name, wait_for_exit, Handoff, Signal, FIRST_FD};
use crate::{App, Options};

/// How long a missing or busy executable is tried again.
const EXE_SETTLE: Duration = Duration::from_secs(2);

/// What the signal thread and the main thread share.
#[derive(Debug, Default)]
struct State {
    /// The running child's process id.
    child: Option<u32>,
    /// A signal asked the session to end.
    stopping: bool,
}

/// The supervisor's side of the protocol; returns the exit status.
pub(super) fn run(host: &str, port: u16, app: impl App, options: Options) -> i32 {
    let settings = options.reloader.clone();
    // Resolved once, before a build can replace the file.
    let exe = match super::running_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!(" * Cannot find the running executable to restart it: {e}");
            return 1;
        }
    };
    let watched = settings.watched(&exe);
    let exclude = settings.exclude();
    // Check the watcher before binding, so a reloader that cannot work is
    // reported without a banner; `auto` settles on its backend here.
    let (kind, fallback) = match Watcher::open(settings.kind, &watched, &exclude, settings.interval)
    {
        Ok((watcher, fallback)) => (watcher.name(), fallback),
        Err(why) => {
            eprintln!(" * Cannot start the reloader: {why}");
            return 1;
        }
    };
    let server = match crate::make_server(host, port, app, options) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    server.log_startup();
    if let Some(why) = &fallback {
        let raw = watch::raw_name().unwrap_or("a file event interface");
        eprintln!(" * Cannot use {raw}: {why}; polling with stat instead");
    }
    let (listeners, created_files) = server.into_listeners();
    let supervisor = Supervisor {
        exe,
        args: std::env::args_os().collect(),
        settings,
        watched,
        exclude,
        kind,
        fell_back: fallback.is_some(),
        sockets: listeners.len(),
        state: Arc::new(Mutex::new(State::default())),
        created_files,
    };
    match supervisor.start(listeners) {
        Ok(status) => status,
        Err(e) => {
            eprintln!(" * The reloader failed: {e}");
            supervisor.remove_socket_files();
            1
        }
    }
}

#[derive(Debug)]
struct Supervisor {
    exe: PathBuf,
    /// The command line, `argv[0]` included (the child gets the same).
    args: Vec<OsString>,
    settings: Settings,
    watched: Vec<Watched>,
    exclude: Exclude,
    /// The watcher's name: `inotify`, `kqueue` or `stat`.
    kind: &'static str,
    /// `auto` fell back to stat: children use stat without trying again.
    fell_back: bool,
    sockets: usize,
    state: Arc<Mutex<State>>,
    created_files: Vec<PathBuf>,
}

impl Supervisor {
    fn start(&self, listeners: Vec<OwnedFd>) -> std::io::Result<i32> {
        let (mut status_rx, status_tx) = std::io::pipe()?;
        let mut fds = listeners;
        fds.push(OwnedFd::from(status_tx));
        let handoff = Handoff::new(fds)?;
        self.handle_signals()?;
        let mut changed_at: Option<SystemTime> = None;
        loop {
            eprintln!(" * Restarting with {}", self.kind);
            let status = match self.spawn(&handoff, changed_at) {
                Ok(Some(child)) => self.wait(child),
                Ok(None) => return Ok(self.finish()),
                Err(e) => Err(e),
            };
            if self.lock().stopping {
                return Ok(self.finish());
            }
            let reported = read_change_time(&mut status_rx);
            match status {
                Ok(status) if status.code() == Some(super::RESTART) => {
                    changed_at = reported.or_else(|| Some(SystemTime::now()));
                    continue;
                }
                Ok(status) => eprintln!(
                    " * The server process {}; waiting for a change to restart it",
                    describe(status)
                ),
                Err(e) => eprintln!(
                    " * Cannot start the server process {}: {e}; waiting for a change to try again",
                    self.exe.display()
                ),
            }
            let path = self.wait_for_change();
            eprintln!(" * Detected change in '{}', reloading", path.display());
            changed_at = Some(super::change_time(&path, self.settings.interval));
        }
    }

    /// Waits for the child to end. It is forgotten before it is reaped, so
    /// the signal thread never signals a process id that was reused.
    fn wait(&self, mut child: Child) -> std::io::Result<ExitStatus> {
        if wait_for_exit(child.id()).is_ok() {
            self.lock().child = None;
        }
        let status = child.wait();
        self.lock().child = None;
        status
    }

    /// Starts a child unless the session is ending (`None`). The lock is
    /// held while spawning, so a signal either comes before (and no child
    /// starts) or finds the child's id. An executable that is missing or
    /// busy is tried again for a moment: a build may be putting the new one
    /// in place.
    fn spawn(
        &self,
        handoff: &Handoff,
        changed_at: Option<SystemTime>,
    ) -> std::io::Result<Option<Child>> {
        let mut command = self.command(changed_at);
        handoff.prepare(&mut command, std::process::id());
        let deadline = Instant::now() + EXE_SETTLE;
        loop {
            let mut state = self.lock();
            if state.stopping {
                return Ok(None);
            }
            match command.spawn() {
                Ok(child) => {
                    state.child = Some(child.id());
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

    /// The child's command line and environment.
    fn command(&self, changed_at: Option<SystemTime>) -> Command {
        let mut command = Command::new(&self.exe);
        if let Some(arg0) = self.args.first() {
            command.arg0(arg0);
        }
        command
            .args(self.args.iter().skip(1))
            .env(super::RUN_MAIN, "true")
            .env("LISTEN_FDS", self.sockets.to_string())
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDNAMES")
            .env(
                super::STATUS_FD,
                (FIRST_FD + self.sockets as i32).to_string(),
            )
            .env(super::SUPERVISOR_PID, std::process::id().to_string())
            .env(
                super::SPAWNED_AT,
                super::to_micros(SystemTime::now()).to_string(),
            )
            .env_remove(super::CHANGED_AT)
            .env_remove(super::WATCHER);
        if let Some(at) = changed_at {
            command.env(super::CHANGED_AT, super::to_micros(at).to_string());
        }
        if self.fell_back {
            command.env(super::WATCHER, "stat");
        }
        command
    }

    /// Watches the files itself (no child runs) until one changes.
    fn wait_for_change(&self) -> PathBuf {
        let kind = if self.fell_back {
            super::ReloaderType::Stat
        } else {
            self.settings.kind
        };
        let opened = Watcher::open(kind, &self.watched, &self.exclude, self.settings.interval)
            .or_else(|_| {
                Watcher::open(
                    super::ReloaderType::Stat,
                    &self.watched,
                    &self.exclude,
                    self.settings.interval,
                )
            });
        match opened {
            Ok((mut watcher, _)) => watcher.wait(),
            Err(why) => {
                // Not expected (stat always starts); retry now and then.
                eprintln!(" * Cannot watch the files: {why}");
                std::thread::sleep(self.settings.interval);
                self.exe.clone()
            }
        }
    }

    /// SIGINT or SIGTERM: the child gets SIGTERM and the session ends when
    /// it has finished its requests; a second signal kills it and exits.
    fn handle_signals(&self) -> std::io::Result<()> {
        let mut signals = crate::sys::signals::install()?;
        let state = self.state.clone();
        let created_files = self.created_files.clone();
        std::thread::Builder::new()
            .name("werk-supervisor-signals".into())
            .spawn(move || {
                while signals.wait().is_ok() {
                    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
                    let child = st.child;
                    if !st.stopping {
                        st.stopping = true;
                        if let Some(pid) = child {
                            eprintln!(
                                " * Shutting down: waiting for requests in progress (Ctrl-C again to quit now)"
                            );
                            let _ = send_signal(pid, Signal::Term);
                            continue;
                        }
                        remove_files(&created_files);
                        std::process::exit(0);
                    }
                    if let Some(pid) = child {
                        let _ = send_signal(pid, Signal::Kill);
                    }
                    remove_files(&created_files);
                    std::process::exit(130);
                }
            })?;
        Ok(())
    }

    /// The end of the session: the exit status.
    fn finish(&self) -> i32 {
        self.remove_socket_files();
        0
    }

    fn remove_socket_files(&self) {
        remove_files(&self.created_files);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn remove_files(files: &[PathBuf]) {
    for path in files {
        crate::net::remove_socket_file(path);
    }
}

/// The change time the last child reported on the status pipe, if any.
fn read_change_time(rx: &mut std::io::PipeReader) -> Option<SystemTime> {
    let mut text = Vec::new();
    let mut buf = [0u8; 512];
    while crate::sys::wait_readable(rx.as_raw_fd(), 0).unwrap_or(false) {
        match rx.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&text)
        .lines()
        .filter_map(|line| line.strip_prefix("changed "))
        .filter_map(|micros| micros.trim().parse::<u128>().ok())
        .next_back()
        .map(super::from_micros)
}

/// "exited with status 1", "was killed by signal SIGKILL".
fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signo)) => format!("was killed by signal {}", signal_name(signo)),
        (None, None) => format!("ended ({status})"),
    }
}
