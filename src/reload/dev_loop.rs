//! `werk run`: the edit–build–reload loop for a cargo project whose binary
//! serves with `run_simple` or `make_server`.
//!
//! ```text
//!  werk run (binds, banner, watches the sources)
//!    │ change ──► cargo build ──┬─ ok ──► start build N+1 on the sockets
//!    │                          │           │ "ready": it accepts
//!    │                          │           ▼
//!    │                          │         SIGTERM to build N, which stops
//!    │                          │         accepting and finishes its requests
//!    │                          └─ failed ─► build N keeps serving; its pages
//!    │                                       show the errors (live reload)
//!    └ no process serves (first build failed, crash) ─► werk answers 503
//! ```
//!
//! Two processes overlap during a swap: the new one accepts before the old
//! one is told to stop, so no connection waits on a build or a start and
//! none is refused. A process that ends by itself is not started again
//! until the next change.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::cargo::{Built, Cargo, Layout, Outcome};
use super::served::{Event, Served, Stopper};
use super::standby::{Down, Standby};
use super::watch::{self, Watched, Watcher};
use crate::procs::link::BuildState;
use crate::procs::{describe, Children, Program, Stoppable};
use crate::sys::process::Signal;
use crate::Options;

/// How long an old process may take to stop accepting before the new
/// one accepts anyway.
const HANDOVER: Duration = Duration::from_secs(2);

/// How long an old process may take to finish its requests and exit,
/// after it was told to stop, before it is killed.
const LEAVE_LIMIT: Duration = Duration::from_secs(30);

/// How long a new process may take to serve before werk says so.
const SLOW_START: Duration = Duration::from_secs(10);

/// What `werk run` was asked for, besides the server's options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Project {
    pub cargo: Cargo,
    /// The program's arguments (after `--`).
    pub args: Vec<OsString>,
}

/// Runs the loop; returns the exit status.
pub(crate) fn serve(host: &str, port: u16, project: Project, options: Options) -> i32 {
    let layout = match project.cargo.layout() {
        Ok(layout) => layout,
        Err(e) => {
            say!("werk run: {e}");
            return 1;
        }
    };
    let settings = options.reloader.clone();
    let sources = Sources {
        cargo: project.cargo.clone(),
        settings: settings.clone(),
    };
    let watcher = match sources.open(&layout) {
        Ok(watcher) => watcher,
        Err(why) => {
            say!(" * Cannot watch the sources: {why}");
            return 1;
        }
    };
    let standby_options = options.clone();
    let app = |_: &crate::Environ, _: crate::StartResponse| crate::Body::empty();
    let Some(server) = crate::procs::make_server_or_say(host, port, app, options) else {
        return 1;
    };
    server.log_startup();
    say!(
        " * Building {} (package {}) and watching {} with {}",
        layout.bin,
        layout.package,
        describe_trees(&layout.trees),
        watcher.0.name()
    );
    let (standby, listeners, created_files) = match Standby::new(server, &standby_options) {
        Ok(parts) => parts,
        Err(e) => {
            say!(" * werk run failed: {e}");
            return 1;
        }
    };
    let children = Children::new(created_files);
    let (events_tx, events) = crossbeam_channel::unbounded();
    let mut args = vec![OsString::from(&layout.bin)];
    args.extend(project.args.iter().cloned());
    let started = Program::new(PathBuf::from(&layout.bin), args, listeners).and_then(|program| {
        let dev_loop = DevLoop {
            cargo: project.cargo,
            layout,
            program,
            children: children.clone(),
            builds: Children::new(Vec::new()),
            standby,
            events,
            events_tx,
            current: None,
            next: None,
            leaving: Vec::new(),
            building: false,
            pending: None,
            generation: 0,
            reload: None,
            serving_exe: None,
            next_exe: None,
            handover: None,
            said_slow: false,
            stopping: false,
            #[cfg(feature = "tls")]
            tls_files: match &standby_options.ssl_context {
                Some(crate::SslContext::Files { cert, key }) => Some((cert.clone(), key.clone())),
                // The certificate the server above has just made current:
                // every build serves that same file (certificate and key).
                Some(crate::SslContext::Local) => crate::tls::local::data_dir()
                    .map(|dir| crate::tls::local::leaf_path(&dir, host))
                    .map(|file| (file.clone(), file)),
                _ => None,
            },
            live_reload: standby_options.live_reload,
            quiet: !standby_options.log_requests,
        };
        dev_loop.start(sources, watcher)
    });
    match started {
        Ok(status) => status,
        Err(e) => {
            say!(" * werk run failed: {e}");
            children.remove_socket_files();
            1
        }
    }
}

/// What `werk run` watches, and how to watch it again when the rules
/// change: the package trees and files, the extra files, minus the
/// patterns, what `.gitignore` files ignore, and the target directory
/// wherever it is.
#[derive(Debug, Clone)]
struct Sources {
    cargo: Cargo,
    settings: crate::options::ReloaderSettings,
}

impl Sources {
    fn open(&self, layout: &Layout) -> Result<(Watcher, crate::glob::Exclude), String> {
        let mut watched: Vec<Watched> = layout.trees.iter().cloned().map(Watched::Tree).collect();
        watched.extend(layout.files.iter().cloned().map(Watched::File));
        watched.extend(self.settings.watched_extra());
        let mut patterns = self.settings.exclude_patterns.clone();
        // Cargo makes the target directory under a temporary name beside
        // it (`target` and six random characters), then renames it.
        let target = crate::glob::escape(&layout.target_dir.display().to_string());
        patterns.extend([
            target.clone(),
            format!("{target}/**"),
            format!("{target}??????"),
            format!("{target}??????/**"),
        ]);
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let exclude = crate::glob::Exclude::new(&patterns, &cwd)
            .with_gitignore(crate::glob::ignore::Ignore::load(&layout.workspace_root));
        let settings = &self.settings;
        let (watcher, fallback) =
            Watcher::open(settings.kind, &watched, &exclude, settings.interval)?;
        if let Some(why) = fallback {
            watch::say_fallback(&why);
        }
        Ok((watcher, exclude))
    }

    /// The watcher's thread: every change goes to the loop. A changed
    /// `.gitignore` or manifest may change what is watched: the watcher
    /// opens again with the rules and packages as they are now.
    fn watch(
        self,
        (mut watcher, mut exclude): (Watcher, crate::glob::Exclude),
        mut layout: Layout,
        to_loop: Sender<Event>,
    ) {
        loop {
            let path = watcher.wait();
            let at = super::change_time(&path, self.settings.interval);
            let rules = exclude.gitignore().is_some_and(|i| i.is_rules_file(&path));
            let manifest = path.file_name().is_some_and(|n| n == "Cargo.toml");
            if manifest {
                match self.cargo.layout() {
                    Ok(new) => {
                        layout = new;
                        let _ = to_loop.send(Event::Layout(layout.clone()));
                    }
                    Err(e) => say!(" * {e}"),
                }
            }
            if rules || manifest {
                match self.open(&layout) {
                    Ok(again) => (watcher, exclude) = again,
                    Err(why) => say!(" * Cannot watch the sources again: {why}"),
                }
            }
            if to_loop.send(Event::Changed(path, at)).is_err() {
                return;
            }
        }
    }
}

/// The trees as the user knows them: relative to the current directory
/// where they are below it.
fn describe_trees(trees: &[PathBuf]) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    let names: Vec<String> = trees
        .iter()
        .map(|t| match t.strip_prefix(&cwd) {
            Ok(rel) if rel.as_os_str().is_empty() => ".".to_owned(),
            Ok(rel) => rel.display().to_string(),
            Err(_) => t.display().to_string(),
        })
        .collect();
    names.join(", ")
}

struct DevLoop {
    cargo: Cargo,
    layout: Layout,
    program: Program,
    /// The serving processes.
    children: Children,
    /// The running `cargo build`, stopped with the session.
    builds: Children,
    standby: Standby,
    events: Receiver<Event>,
    events_tx: Sender<Event>,
    /// The process that serves.
    current: Option<Served>,
    /// The process of the newest build, until it serves.
    next: Option<Served>,
    /// Processes told to stop, and since when.
    leaving: Vec<(Served, Instant)>,
    building: bool,
    /// A change seen while building: build again before starting.
    pending: Option<(PathBuf, SystemTime)>,
    generation: u32,
    /// The reload under way, for its timeline line.
    reload: Option<Timeline>,
    /// The executable the serving process runs, and the one `next` runs.
    serving_exe: Option<ExeStamp>,
    next_exe: Option<ExeStamp>,
    /// The old process the new one waits for to stop accepting, and until
    /// when.
    handover: Option<(u32, Instant)>,
    said_slow: bool,
    stopping: bool,
    #[cfg(feature = "tls")]
    tls_files: Option<(PathBuf, PathBuf)>,
    live_reload: bool,
    quiet: bool,
}

/// When each step of one reload happened.
#[derive(Debug)]
struct Timeline {
    /// What changed (`None` for the first build).
    path: Option<PathBuf>,
    /// When it changed (its modification time).
    changed_at: SystemTime,
    /// When the watcher reported it.
    seen_at: SystemTime,
    build_started: Instant,
    build_took: Duration,
    spawned: Option<Instant>,
    /// When the new process said it was ready to accept.
    ready: Option<Instant>,
    /// When it was told to accept: the old one had stopped accepting.
    accepting: Option<Instant>,
    /// The process it replaced, whose exit ends the line.
    replaced: Option<u32>,
}

impl DevLoop {
    fn start(
        mut self,
        sources: Sources,
        watcher: (Watcher, crate::glob::Exclude),
    ) -> std::io::Result<i32> {
        Stopper::install(&self.children, &self.events_tx)?;
        self.standby.serve(Down::Building);
        let (layout, to_loop) = (self.layout.clone(), self.events_tx.clone());
        std::thread::Builder::new()
            .name("werk-watch".into())
            .spawn(move || sources.watch(watcher, layout, to_loop))?;
        let now = SystemTime::now();
        self.start_build(None, now);
        loop {
            let tick = match self.handover {
                Some(_) => Duration::from_millis(100),
                None => Duration::from_secs(1),
            };
            let received = self.events.recv_timeout(tick);
            // Deadlines, whether events come or not.
            self.check_slow_start();
            self.check_handover();
            self.check_leaving();
            let event = match received {
                Ok(event) => event,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return Ok(self.finish()),
            };
            match event {
                Event::Changed(path, at) => self.changed(path, at),
                Event::Built(outcome) => self.built(outcome),
                Event::Layout(layout) => self.layout = layout,
                Event::Ready(pid) => self.ready(pid),
                Event::Stopped(pid) => self.stopped(pid),
                Event::Exited(pid, status) => self.exited(pid, status),
                Event::Stop => {
                    self.stopping = true;
                    // Its outcome no longer matters.
                    self.building = false;
                    self.builds.stop(false);
                }
            }
            if self.stopping && self.is_idle() {
                return Ok(self.finish());
            }
        }
    }

    fn changed(&mut self, path: PathBuf, at: SystemTime) {
        if self.stopping {
            return;
        }
        if self.building {
            self.pending.get_or_insert((path, at));
            return;
        }
        self.start_build(Some(path), at);
    }

    /// Starts `cargo build` on a thread; its outcome comes as an event.
    fn start_build(&mut self, path: Option<PathBuf>, changed_at: SystemTime) {
        // A reload whose new process already accepts, while its old one
        // still finishes, is reported now: its timeline gives way to this
        // build's, and every reload gets its line.
        self.print_timeline(None);
        let seen_at = SystemTime::now();
        if let Some(path) = &path {
            say!(" * Detected change in '{}', building", path.display());
            self.tell_all(&BuildState::Building);
        }
        self.building = true;
        self.reload = Some(Timeline {
            path,
            changed_at,
            seen_at,
            build_started: Instant::now(),
            build_took: Duration::ZERO,
            spawned: None,
            ready: None,
            accepting: None,
            replaced: None,
        });
        let (cargo, layout, builds) =
            (self.cargo.clone(), self.layout.clone(), self.builds.clone());
        let to_loop = self.events_tx.clone();
        let spawned = std::thread::Builder::new()
            .name("werk-build".into())
            .spawn(move || {
                if let Some(outcome) = cargo.build(&layout, &builds) {
                    let _ = to_loop.send(Event::Built(outcome));
                }
            });
        if let Err(e) = spawned {
            self.building = false;
            self.build_failed(format!("cannot start the build: {e}"));
        }
    }

    fn built(&mut self, outcome: Outcome) {
        if self.stopping {
            return;
        }
        self.building = false;
        if let Some(timeline) = &mut self.reload {
            timeline.build_took = outcome.took;
        }
        if let Some((path, at)) = self.pending.take() {
            say!(" * Changed again while building; building again");
            return self.start_build(Some(path), at);
        }
        match outcome.result {
            Ok(built) => self.build_succeeded(built, outcome.took),
            Err(errors) => {
                say!(" * Build failed in {}", seconds(outcome.took));
                self.build_failed(errors)
            }
        }
    }

    fn build_succeeded(&mut self, built: Built, took: Duration) {
        // Cargo's `fresh` says this build compiled nothing: another build
        // (a `cargo build` elsewhere) may still have made a new executable.
        let unchanged = built.fresh && exe_stamp(&built.exe) == self.serving_exe;
        if unchanged && self.current.is_some() && self.next.is_none() {
            say!(
                " * Build finished in {}: nothing changed, the same process keeps serving",
                seconds(took)
            );
            self.tell_all(&BuildState::Ok);
            self.reload = None;
            return;
        }
        // A newer build replaces one that has not served yet.
        if let Some(next) = self.next.take() {
            self.stop_process(next);
        }
        self.next_exe = exe_stamp(&built.exe);
        self.program.set_exe(built.exe);
        match self.spawn() {
            Ok(Some(next)) => {
                if let Some(timeline) = &mut self.reload {
                    timeline.spawned = Some(Instant::now());
                }
                if self.standby.is_serving() {
                    self.standby.serve(Down::Starting);
                }
                self.said_slow = false;
                self.next = Some(next);
            }
            Ok(None) => {}
            Err(e) => {
                let how = format!("could not start ({}: {e})", self.program.exe().display());
                say!(" * The new process {how}; waiting for a change");
                self.down(Down::Ended {
                    how,
                    tail: String::new(),
                });
            }
        }
    }

    /// The errors go to the page that serves: over the running build's
    /// pages, or as werk's own 503 page when nothing runs.
    fn build_failed(&mut self, errors: String) {
        self.reload = None;
        let errors = super::standby::strip_ansi(&errors);
        if self.current.is_some() || self.next.is_some() {
            say!(" * The previous build keeps serving; its pages show the errors");
            self.tell_all(&BuildState::Failed(format!("The build failed\n\n{errors}")));
        } else {
            say!(" * No build serves: werk answers 503 with the errors until one builds");
            self.down(Down::BuildFailed(errors));
        }
    }

    fn spawn(&mut self) -> std::io::Result<Option<Served>> {
        self.generation += 1;
        let (live, quiet) = (self.live_reload, self.quiet);
        #[cfg(feature = "tls")]
        let tls_files = self.tls_files.clone();
        let adjust = move |command: &mut Command| {
            command
                .env(crate::procs::RUN_MAIN, "true")
                .env(crate::procs::DEV_LOOP, "1")
                .env(crate::procs::LIVE_RELOAD, if live { "1" } else { "0" });
            if quiet {
                command.env(crate::procs::QUIET, "1");
            }
            #[cfg(feature = "tls")]
            if let Some((cert, key)) = &tls_files {
                command
                    .env(crate::procs::TLS_CERT, cert)
                    .env(crate::procs::TLS_KEY, key);
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

    /// The new process is ready: it serves from now on. The one before it
    /// is told to stop, and the new one accepts once the old one has
    /// stopped accepting (or at once, if there is none).
    fn ready(&mut self, pid: u32) {
        if self.next.as_ref().map(|n| n.pid) != Some(pid) {
            return;
        }
        let next = self.next.take().expect("checked above");
        self.standby.stop();
        self.serving_exe = self.next_exe.take();
        if let Some(timeline) = &mut self.reload {
            timeline.ready = Some(Instant::now());
        }
        match self.current.replace(next) {
            Some(old) => {
                self.handover = Some((old.pid, Instant::now() + HANDOVER));
                if let Some(timeline) = &mut self.reload {
                    timeline.replaced = Some(old.pid);
                }
                self.stop_process(old);
            }
            None => {
                self.hand_over();
                self.print_timeline(None);
            }
        }
    }

    /// The process that serves may accept now.
    fn hand_over(&mut self) {
        self.handover = None;
        if let Some(current) = &self.current {
            current.accept();
        }
        if let Some(timeline) = &mut self.reload {
            timeline.accepting = Some(Instant::now());
        }
    }

    /// Process `pid` accepts no more.
    fn stopped(&mut self, pid: u32) {
        if self.handover.is_some_and(|(from, _)| from == pid) {
            self.hand_over();
        }
    }

    /// An old process that does not say it stopped accepting is not
    /// waited for long.
    fn check_handover(&mut self) {
        if let Some((from, deadline)) = self.handover {
            if Instant::now() >= deadline {
                say!(
                    " * The old process (pid {from}) did not stop accepting within {} s; \
                     the new one accepts too",
                    HANDOVER.as_secs()
                );
                self.hand_over();
            }
        }
    }

    fn stop_process(&mut self, process: Served) {
        self.children.signal(process.pid, Signal::Term);
        self.leaving.push((process, Instant::now()));
    }

    /// Kills an old process that has not exited long after it was told to
    /// stop (its `main` goes on after `serve_forever`, say): one more would
    /// stay at each reload, and Ctrl-C would wait for them.
    fn check_leaving(&mut self) {
        for (process, since) in &mut self.leaving {
            if since.elapsed() >= LEAVE_LIMIT {
                say!(
                    " * The old process (pid {}) has not exited {} s after it was told to stop; killing it",
                    process.pid,
                    LEAVE_LIMIT.as_secs()
                );
                self.children.signal(process.pid, Signal::Kill);
                // Not again: its exit comes as an event.
                *since = Instant::now() + Duration::from_secs(3600);
            }
        }
    }

    fn exited(&mut self, pid: u32, status: std::io::Result<ExitStatus>) {
        if let Some(i) = self.leaving.iter().position(|(p, _)| p.pid == pid) {
            self.leaving.remove(i);
            if self.handover.is_some_and(|(from, _)| from == pid) {
                self.hand_over();
            }
            if self
                .reload
                .as_ref()
                .is_some_and(|t| t.replaced == Some(pid))
            {
                self.print_timeline(Some(Instant::now()));
            }
            return;
        }
        let how = match &status {
            Ok(status) => describe(*status),
            Err(e) => format!("could not be waited for ({e})"),
        };
        if self.next.as_ref().is_some_and(|n| n.pid == pid) {
            let next = self.next.take().expect("checked above");
            if self.stopping {
                return;
            }
            let tail = next.last_lines();
            self.reload = None;
            // What answers is settled before the line that says so: a
            // reader of the line may ask at once.
            if self.current.is_some() {
                self.tell_all(&BuildState::Failed(format!(
                    "The new build's process {how} before it served.\n\n{tail}"
                )));
                say!(
                    " * The new build's process {how} before it served; the previous build keeps serving until the next change"
                );
            } else {
                let line =
                    format!(" * The server process {how}; waiting for a change to start it again");
                self.down(Down::Ended { how, tail });
                say!("{line}");
            }
            return;
        }
        if self.current.as_ref().is_some_and(|c| c.pid == pid) {
            let current = self.current.take().expect("checked above");
            self.handover = None;
            if self.stopping {
                return;
            }
            let line = format!(
                " * The server process {how}; werk answers 503 until the next change starts it again"
            );
            self.down(Down::Ended {
                how,
                tail: current.last_lines(),
            });
            say!("{line}");
        }
    }

    /// Nothing serves: werk answers with why, unless a process is about
    /// to serve.
    fn down(&mut self, why: Down) {
        self.standby.serve(why);
    }

    fn tell_all(&self, state: &BuildState) {
        for process in self.current.iter().chain(self.next.iter()) {
            process.tell(state);
        }
    }

    /// Says once when a new process takes long to serve.
    fn check_slow_start(&mut self) {
        let Some(next) = &self.next else { return };
        if !self.said_slow && next.started.elapsed() >= SLOW_START {
            self.said_slow = true;
            say!(
                " * The new process (pid {}) has not served after {} s: does its main call \
                 werk::run_simple or make_server(..).serve_forever()?",
                next.pid,
                SLOW_START.as_secs()
            );
        }
    }

    /// Prints the reload's timeline in one line, once the old process is
    /// gone (`gone`), or as soon as the new one accepts if there was none
    /// (or another change comes first). Nothing before the new process
    /// accepts.
    fn print_timeline(&mut self, gone: Option<Instant>) {
        let Some(t) = &self.reload else { return };
        let (Some(spawned), Some(ready), Some(accepting)) = (t.spawned, t.ready, t.accepting)
        else {
            return;
        };
        let built = t.build_started + t.build_took;
        let seen = t.seen_at.duration_since(t.changed_at).unwrap_or_default();
        let werk_part =
            seen + spawned.saturating_duration_since(built) + accepting.duration_since(spawned);
        let mut line = match &t.path {
            Some(path) => format!(
                " * Reloaded after a change to '{}': seen in {} ms, built in {}",
                path.display(),
                seen.as_millis(),
                seconds(t.build_took)
            ),
            None => format!(" * Built in {}", seconds(t.build_took)),
        };
        line.push_str(&format!(
            ", new process ready in {} ms, accepting in {} ms",
            ready.duration_since(spawned).as_millis(),
            accepting.duration_since(spawned).as_millis()
        ));
        if let Some(gone) = gone {
            line.push_str(&format!(
                ", old process gone in {} ms",
                gone.saturating_duration_since(ready).as_millis()
            ));
        }
        if t.path.is_some() {
            line.push_str(&format!(" (werk's part {} ms)", werk_part.as_millis()));
        }
        say!("{line}");
        self.reload = None;
    }

    /// True when no process, build or exit is left to wait for.
    fn is_idle(&self) -> bool {
        self.current.is_none() && self.next.is_none() && self.leaving.is_empty() && !self.building
    }

    fn finish(&mut self) -> i32 {
        self.standby.stop();
        self.children.remove_socket_files();
        0
    }
}

/// What tells one executable file from the next: cargo writes a new file
/// (a new inode) for each build.
type ExeStamp = (u64, u64, i64, i64);

fn exe_stamp(exe: &std::path::Path) -> Option<ExeStamp> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(exe).ok()?;
    Some((meta.dev(), meta.ino(), meta.mtime(), meta.mtime_nsec()))
}

/// `1.84 s`, `210 ms`.
fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}
