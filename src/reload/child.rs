//! The child: serves on the sockets the supervisor passed, watches the
//! files in a thread, and exits with status 3 when one changes, after the
//! requests in progress have finished (up to the shutdown grace period).

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::watch::{self, Watched, Watcher};
use super::ReloaderType;
use crate::{App, Options, ServerHandle};

/// How often a child checks that its supervisor is still there.
const PARENT_CHECK: Duration = Duration::from_millis(500);

/// File times come from a clock that ticks every few milliseconds (a
/// jiffy on Linux), so they may lag behind the write. The change that
/// caused a restart is older than this by at least the coalescing window.
const CLOCK_SLACK: Duration = Duration::from_millis(15);

/// What the supervisor told this child through its environment.
#[derive(Debug, Default)]
struct Link {
    /// The supervisor's process id, when there is one.
    supervisor: Option<u32>,
    /// Where to report the time of a change.
    status: Option<std::fs::File>,
    /// When the change that caused this start happened.
    changed_at: Option<SystemTime>,
    /// The watcher the supervisor settled on.
    watcher: Option<ReloaderType>,
    /// When the supervisor started this child.
    spawned_at: Option<SystemTime>,
}

impl Link {
    /// Reads the variables and removes them, so that processes this one
    /// starts do not take them for theirs.
    fn from_env() -> Link {
        let take = |name: &str| {
            let value = std::env::var(name).ok();
            std::env::remove_var(name);
            value
        };
        let supervisor = take(super::SUPERVISOR_PID)
            .and_then(|v| v.parse().ok())
            .filter(|&pid| pid == std::os::unix::process::parent_id());
        let status = take(super::STATUS_FD)
            .and_then(|v| v.parse().ok())
            .filter(|_| supervisor.is_some())
            .and_then(|fd| crate::sys::process::adopt_fd(fd).ok())
            .map(|fd: OwnedFd| std::fs::File::from(fd));
        Link {
            supervisor,
            status,
            changed_at: take(super::CHANGED_AT)
                .and_then(|v| v.parse().ok())
                .map(super::from_micros),
            watcher: take(super::WATCHER).and_then(|v| v.parse().ok()),
            spawned_at: take(super::SPAWNED_AT)
                .and_then(|v| v.parse().ok())
                .map(super::from_micros),
        }
    }

    /// Tells the supervisor when the change happened.
    fn report(&self, at: SystemTime) {
        if let Some(mut status) = self.status.as_ref() {
            let _ = status.write_all(format!("changed {}\n", super::to_micros(at)).as_bytes());
        }
    }
}

/// The child's side of the protocol; returns the exit status.
pub(super) fn run(host: &str, port: u16, app: impl App, options: Options) -> i32 {
    let link = Arc::new(Link::from_env());
    let settings = options.reloader.clone();
    let exclude = settings.exclude();
    let exe = super::running_exe().unwrap_or_default();
    let watched = settings.watched(&exe);
    // Watch before binding, so that a change made while starting is seen.
    let kind = link.watcher.unwrap_or(settings.kind);
    let watcher = match Watcher::open(kind, &watched, &exclude, settings.interval) {
        Ok((watcher, fallback)) => {
            if let Some(why) = fallback {
                let raw = watch::raw_name().unwrap_or("a file event interface");
                eprintln!(" * Cannot use {raw}: {why}; polling with stat instead");
            }
            watcher
        }
        Err(why) => {
            eprintln!(" * {why}; polling with stat instead");
            match Watcher::open(ReloaderType::Stat, &watched, &exclude, settings.interval) {
                Ok((watcher, _)) => watcher,
                Err(_) => return 1,
            }
        }
    };
    let server = match crate::make_server(host, port, app, options) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let handle = server.handle();
    let restart = Arc::new(AtomicBool::new(false));
    // After a restart, a watched file that changed between the start of
    // this process and the first look of its watcher would be missed.
    // (Not at the first start: `cargo run` starts it right after writing
    // the executable.)
    let early = link
        .changed_at
        .and(link.spawned_at)
        .and_then(|since| changed_since(&watched, since));
    let started = spawn_watcher(watcher, early, settings.interval, &link, &handle, &restart)
        .and_then(|()| handle_signals(&link, &handle))
        .and_then(|()| watch_parent(&link, &handle));
    if let Err(e) = started {
        eprintln!(" * The reloader cannot start: {e}");
        return 1;
    }
    if let Some(at) = link.changed_at {
        let took = SystemTime::now().duration_since(at).unwrap_or_default();
        eprintln!(" * Restarted in {} ms", took.as_millis());
    }
    match server.serve_forever() {
        Ok(()) if restart.load(Ordering::SeqCst) => super::RESTART,
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

/// The watcher thread: on a change, says so, reports the time to the
/// supervisor, and shuts the server down.
fn spawn_watcher(
    mut watcher: Watcher,
    early: Option<PathBuf>,
    interval: Duration,
    link: &Arc<Link>,
    handle: &ServerHandle,
    restart: &Arc<AtomicBool>,
) -> std::io::Result<()> {
    let (link, handle, restart) = (link.clone(), handle.clone(), restart.clone());
    std::thread::Builder::new()
        .name("werk-reloader".into())
        .spawn(move || {
            let path = early.unwrap_or_else(|| watcher.wait());
            let at = super::change_time(&path, interval);
            eprintln!(" * Detected change in '{}', reloading", path.display());
            link.report(at);
            restart.store(true, Ordering::SeqCst);
            handle.shutdown();
        })?;
    Ok(())
}

/// The first watched file (the trees' contents are not looked at) whose
/// modification time is after `since`, or close enough before it that the
/// file system's coarse clock may have put a later write there.
fn changed_since(watched: &[Watched], since: SystemTime) -> Option<PathBuf> {
    let since = since - CLOCK_SLACK;
    watched.iter().find_map(|w| match w {
        Watched::File(path) => std::fs::metadata(path)
            .and_then(|m| m.modified())
            .is_ok_and(|mtime| mtime >= since)
            .then(|| path.clone()),
        Watched::Tree(_) => None,
    })
}

/// SIGTERM (and SIGINT without a supervisor) shuts down, letting requests
/// finish; a second signal exits at once. Under a supervisor, SIGINT (the
/// terminal's Ctrl-C, which reaches both processes) is left to it: it
/// answers with SIGTERM.
fn handle_signals(link: &Arc<Link>, handle: &ServerHandle) -> std::io::Result<()> {
    let mut signals = crate::sys::signals::install()?;
    let supervised = link.supervisor.is_some();
    let handle = handle.clone();
    std::thread::Builder::new()
        .name("werk-signals".into())
        .spawn(move || {
            let mut stopping = false;
            while let Ok(signo) = signals.wait() {
                if supervised && signo == libc::SIGINT {
                    continue;
                }
                if stopping {
                    std::process::exit(130);
                }
                stopping = true;
                if !supervised {
                    eprintln!(
                        " * Shutting down: waiting for requests in progress (Ctrl-C again to quit now)"
                    );
                }
                handle.shutdown();
            }
        })?;
    Ok(())
}

/// Stops serving when the supervisor goes away (its process id is no
/// longer our parent's), on systems without a parent-death signal and as
/// a second guard on Linux.
fn watch_parent(link: &Arc<Link>, handle: &ServerHandle) -> std::io::Result<()> {
    let Some(supervisor) = link.supervisor else {
        return Ok(());
    };
    let handle = handle.clone();
    std::thread::Builder::new()
        .name("werk-parent".into())
        .spawn(move || loop {
            std::thread::sleep(PARENT_CHECK);
            if std::os::unix::process::parent_id() != supervisor {
                eprintln!(" * The reloader's supervisor is gone; shutting down");
                handle.shutdown();
                return;
            }
        })?;
    Ok(())
}
