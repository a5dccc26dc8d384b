//! The first process: binds once, prints the banner, then starts children
//! and restarts them, holding the listening sockets all along. While no
//! child serves (one crashed, or cannot start), it answers every request
//! itself with 503 and the reason ([`Standby`]), until a change starts a
//! child that serves.

use std::process::{Command, ExitStatus};
use std::time::SystemTime;

use crossbeam_channel::{Receiver, Sender};

use super::served::{Event, Served, Stopper};
use super::standby::{Down, Standby};
use super::watch::{self, Watched, Watcher};
use crate::glob::Exclude;
use crate::options::{ReloaderSettings, ReloaderType};
use crate::procs::{describe, Children, Program};
use crate::{App, Options};

/// The supervisor's side of the protocol; returns the exit status.
pub(super) fn supervise(host: &str, port: u16, app: impl App, options: Options) -> i32 {
    let settings = options.reloader.clone();
    // Resolved once, before a build can replace the file.
    let exe = match crate::procs::running_exe() {
        Ok(exe) => exe,
        Err(e) => {
            say!(" * Cannot find the running executable to restart it: {e}");
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
            say!(" * Cannot start the reloader: {why}");
            return 1;
        }
    };
    let standby_options = options.clone();
    let Some(server) = crate::procs::make_server_or_say(host, port, app, options) else {
        return 1;
    };
    server.log_startup();
    if let Some(why) = &fallback {
        watch::say_fallback(why);
    }
    let (standby, listeners, created_files) = match Standby::new(server, &standby_options) {
        Ok(parts) => parts,
        Err(e) => {
            say!(" * The reloader failed: {e}");
            return 1;
        }
    };
    let children = Children::new(created_files);
    let (events_tx, events) = crossbeam_channel::unbounded();
    let started = Program::this(exe, listeners).and_then(|program| {
        let supervisor = Supervisor {
            program,
            settings,
            watched,
            exclude,
            kind,
            fell_back: fallback.is_some(),
            children: children.clone(),
            standby,
            events,
            events_tx,
            generation: 0,
        };
        supervisor.start()
    });
    match started {
        Ok(status) => status,
        Err(e) => {
            say!(" * The reloader failed: {e}");
            children.remove_socket_files();
            1
        }
    }
}

/// How a child stopped serving.
enum Ended {
    /// It saw a change and stopped accepting; it finishes its requests.
    Restarting(SystemTime),
    /// It exited.
    Exited(std::io::Result<ExitStatus>),
}

#[derive(Debug)]
struct Supervisor {
    /// This program, started again as each child.
    program: Program,
    settings: ReloaderSettings,
    watched: Vec<Watched>,
    exclude: Exclude,
    /// The watcher's name: `inotify`, `kqueue` or `stat`.
    kind: &'static str,
    /// `auto` fell back to stat: children use stat without trying again.
    fell_back: bool,
    children: Children,
    standby: Standby,
    events: Receiver<Event>,
    events_tx: Sender<Event>,
    /// Children started so far.
    generation: u32,
}

impl Supervisor {
    fn start(mut self) -> std::io::Result<i32> {
        Stopper::install(&self.children, &self.events_tx)?;
        let mut changed_at: Option<SystemTime> = None;
        loop {
            say!(" * Restarting with {}", self.kind);
            let child = match self.spawn(changed_at) {
                Ok(Some(child)) => child,
                Ok(None) => return Ok(self.finish()),
                Err(e) => {
                    let how = format!("could not start ({}: {e})", self.program.exe().display());
                    let line =
                        format!(" * The server process {how}; waiting for a change to try again");
                    // The 503 first: a reader of the line may ask at once.
                    self.standby.serve(Down::Ended {
                        how,
                        tail: String::new(),
                    });
                    say!("{line}");
                    match self.wait_for_change() {
                        Some(at) => {
                            changed_at = Some(at);
                            continue;
                        }
                        None => return Ok(self.finish()),
                    }
                }
            };
            let status = match self.serve_with(&child) {
                None => return Ok(self.finish()),
                Some(_) if self.children.is_stopping() => return Ok(self.finish()),
                // It finishes its requests; the next one accepts already.
                Some(Ended::Restarting(at)) => {
                    changed_at = Some(at);
                    continue;
                }
                Some(Ended::Exited(status)) => status,
            };
            match status {
                Ok(status) if status.code() == Some(super::RESTART) => {
                    changed_at = child.reported_change().or_else(|| Some(SystemTime::now()));
                    continue;
                }
                Ok(status) => {
                    self.standby.serve(Down::Ended {
                        how: describe(status),
                        tail: child.last_lines(),
                    });
                    say!(
                        " * The server process {}; waiting for a change to restart it",
                        describe(status)
                    );
                }
                Err(e) => {
                    self.standby.serve(Down::Ended {
                        how: format!("could not be waited for ({e})"),
                        tail: String::new(),
                    });
                    say!(" * Cannot wait for the server process: {e}");
                }
            }
            match self.wait_for_change() {
                Some(at) => changed_at = Some(at),
                None => return Ok(self.finish()),
            }
        }
    }

    /// Starts a child unless the session is ending (`None`).
    fn spawn(&mut self, changed_at: Option<SystemTime>) -> std::io::Result<Option<Served>> {
        self.generation += 1;
        let fell_back = self.fell_back;
        let adjust = |command: &mut Command| {
            command
                .env(crate::procs::RUN_MAIN, "true")
                .env(
                    super::SPAWNED_AT,
                    crate::procs::to_micros(SystemTime::now()).to_string(),
                )
                .env_remove(super::CHANGED_AT)
                .env_remove(super::WATCHER);
            if let Some(at) = changed_at {
                command.env(super::CHANGED_AT, crate::procs::to_micros(at).to_string());
            }
            if fell_back {
                command.env(super::WATCHER, "stat");
            }
        };
        Served::start(
            &self.program,
            &self.children,
            self.generation,
            adjust,
            &self.events_tx,
        )
    }

    /// Waits for `child` to stop serving, stopping the standby server once
    /// it serves: until it has stopped accepting after a change (the next
    /// child may accept then, while this one finishes its requests) or it
    /// ended. `None` if the session ends first.
    fn serve_with(&mut self, child: &Served) -> Option<Ended> {
        loop {
            match self.events.recv().ok()? {
                Event::Ready(pid) if pid == child.pid => self.standby.stop(),
                Event::Stopped(pid) if pid == child.pid && !self.children.is_stopping() => {
                    if let Some(at) = child.change_heard() {
                        return Some(Ended::Restarting(at));
                    }
                }
                Event::Exited(pid, status) if pid == child.pid => {
                    return Some(Ended::Exited(status))
                }
                // The child got SIGTERM, or an earlier child ended.
                _ => {}
            }
        }
    }

    /// Watches the files itself (no child runs) until one changes, and
    /// returns when; `None` if the session ends first.
    fn wait_for_change(&mut self) -> Option<SystemTime> {
        let kind = if self.fell_back {
            ReloaderType::Stat
        } else {
            self.settings.kind
        };
        let opened = Watcher::open(kind, &self.watched, &self.exclude, self.settings.interval)
            .or_else(|_| {
                Watcher::open(
                    ReloaderType::Stat,
                    &self.watched,
                    &self.exclude,
                    self.settings.interval,
                )
            });
        let interval = self.settings.interval;
        let to_loop = self.events_tx.clone();
        let fallback = self.program.exe().to_path_buf();
        let watching = std::thread::Builder::new()
            .name("werk-reloader".into())
            .spawn(move || {
                let path = match opened {
                    Ok((mut watcher, _)) => watcher.wait(),
                    Err(why) => {
                        // Not expected (stat always starts); retry now and then.
                        say!(" * Cannot watch the files: {why}");
                        std::thread::sleep(interval);
                        fallback
                    }
                };
                let at = super::change_time(&path, interval);
                let _ = to_loop.send(Event::Changed(path, at));
            });
        if let Err(e) = watching {
            say!(" * Cannot watch the files: {e}");
            return None;
        }
        loop {
            match self.events.recv().ok()? {
                Event::Changed(path, at) => {
                    say!(" * Detected change in '{}', reloading", path.display());
                    return Some(at);
                }
                Event::Stop => return None,
                _ => {}
            }
        }
    }

    /// The end of the session: the exit status.
    fn finish(&mut self) -> i32 {
        self.standby.stop();
        self.children.remove_socket_files();
        0
    }
}
