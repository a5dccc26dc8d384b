//! The first process: binds once, prints the banner, then starts children
//! and restarts them, holding the listening sockets all along.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::Child;
use std::time::SystemTime;

use super::watch::{self, Watched, Watcher};
use super::{glob::Exclude, Settings};
use crate::procs::{describe, Children, Program};
use crate::sys::process::FIRST_FD;
use crate::{App, Options};

/// The supervisor's side of the protocol; returns the exit status.
pub(super) fn run(host: &str, port: u16, app: impl App, options: Options) -> i32 {
    let settings = options.reloader.clone();
    // Resolved once, before a build can replace the file.
    let exe = match crate::procs::running_exe() {
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
    let Some(server) = crate::procs::make_server_or_say(host, port, app, options) else {
        return 1;
    };
    server.log_startup();
    if let Some(why) = &fallback {
        let raw = watch::raw_name().unwrap_or("a file event interface");
        eprintln!(" * Cannot use {raw}: {why}; polling with stat instead");
    }
    let (listeners, created_files) = server.into_listeners();
    let children = Children::new(created_files);
    let started = std::io::pipe().and_then(|(status_rx, status_tx)| {
        let program = Program::new(exe, listeners, vec![OwnedFd::from(status_tx)])?;
        let supervisor = Supervisor {
            program,
            status_rx,
            settings,
            watched,
            exclude,
            kind,
            fell_back: fallback.is_some(),
            children: children.clone(),
        };
        supervisor.start()
    });
    match started {
        Ok(status) => status,
        Err(e) => {
            eprintln!(" * The reloader failed: {e}");
            children.remove_socket_files();
            1
        }
    }
}

#[derive(Debug)]
struct Supervisor {
    /// This program, started again as each child; the status pipe's write
    /// end follows the sockets.
    program: Program,
    status_rx: std::io::PipeReader,
    settings: Settings,
    watched: Vec<Watched>,
    exclude: Exclude,
    /// The watcher's name: `inotify`, `kqueue` or `stat`.
    kind: &'static str,
    /// `auto` fell back to stat: children use stat without trying again.
    fell_back: bool,
    children: Children,
}

impl Supervisor {
    fn start(mut self) -> std::io::Result<i32> {
        crate::procs::handle_signals(false, self.children.clone())?;
        let mut changed_at: Option<SystemTime> = None;
        loop {
            eprintln!(" * Restarting with {}", self.kind);
            let status = match self.spawn(changed_at) {
                Ok(Some(child)) => self.children.wait(child),
                Ok(None) => return Ok(self.finish()),
                Err(e) => Err(e),
            };
            if self.children.is_stopping() {
                return Ok(self.finish());
            }
            let reported = read_change_time(&mut self.status_rx);
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
                    self.program.exe().display()
                ),
            }
            let path = self.wait_for_change();
            eprintln!(" * Detected change in '{}', reloading", path.display());
            changed_at = Some(super::change_time(&path, self.settings.interval));
        }
    }

    /// Starts a child unless the session is ending (`None`).
    fn spawn(&self, changed_at: Option<SystemTime>) -> std::io::Result<Option<Child>> {
        let mut command = self.program.command();
        command
            .env(super::RUN_MAIN, "true")
            .env(
                super::STATUS_FD,
                (FIRST_FD + self.program.sockets() as i32).to_string(),
            )
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
        self.children.spawn(&mut command)
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
                self.program.exe().to_path_buf()
            }
        }
    }

    /// The end of the session: the exit status.
    fn finish(&self) -> i32 {
        self.children.remove_socket_files();
        0
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
