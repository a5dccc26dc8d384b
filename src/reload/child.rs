//! The child: serves on the sockets the supervisor passed, watches the
//! files in a thread, and exits with status 3 when one changes, after the
//! requests in progress have finished (up to the shutdown grace period).
//! With `processes` above 1 it serves through that many processes of its
//! own instead (`procs::prefork`), and a change stops them all.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::watch::{self, Watched, Watcher};
use crate::options::ReloaderType;
use crate::procs::link::{self, Report};
use crate::procs::{prefork, Stoppable};
use crate::{App, Options};

/// File times come from a clock that ticks every few milliseconds (a
/// jiffy on Linux), so they may lag behind the write.
const CLOCK_SLACK: Duration = Duration::from_millis(15);

/// What the supervisor told this child through its environment.
#[derive(Debug, Default)]
struct Link {
    /// The supervisor's process id, when there is one.
    supervisor: Option<u32>,
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
        // Taken now, before this process starts any of its own.
        link::to_parent();
        Link {
            supervisor: crate::procs::take_supervisor(),
            changed_at: take(super::CHANGED_AT)
                .and_then(|v| v.parse().ok())
                .map(crate::procs::from_micros),
            watcher: take(super::WATCHER).and_then(|v| v.parse().ok()),
            spawned_at: take(super::SPAWNED_AT)
                .and_then(|v| v.parse().ok())
                .map(crate::procs::from_micros),
        }
    }

    /// Tells the supervisor when the change happened.
    fn report(&self, at: SystemTime) {
        if let Some(parent) = link::to_parent() {
            parent.report(&Report::Changed(at));
        }
    }
}

/// The child's side of the protocol; returns the exit status.
pub(super) fn serve_until_changed(host: &str, port: u16, app: impl App, options: Options) -> i32 {
    let link = Arc::new(Link::from_env());
    let settings = options.reloader.clone();
    let exclude = settings.exclude();
    let exe = crate::procs::running_exe().unwrap_or_default();
    let watched = settings.watched(&exe);
    // Watch before binding, so that a change made while starting is seen.
    let kind = link.watcher.unwrap_or(settings.kind);
    let watcher = match Watcher::open(kind, &watched, &exclude, settings.interval) {
        Ok((watcher, fallback)) => {
            if let Some(why) = fallback {
                watch::say_fallback(&why);
            }
            watcher
        }
        Err(why) => {
            say!(" * {why}; polling with stat instead");
            match Watcher::open(ReloaderType::Stat, &watched, &exclude, settings.interval) {
                Ok((watcher, _)) => watcher,
                Err(_) => return 1,
            }
        }
    };
    let processes = options.processes;
    let Some(server) = crate::procs::make_server_or_say(host, port, app, options) else {
        return 1;
    };
    // After a restart, a watched file that changed between the start of
    // this process and the first look of its watcher would be missed.
    // (Not at the first start: `cargo run` starts it right after writing
    // the executable.)
    let early = link
        .changed_at
        .zip(link.spawned_at)
        .and_then(|(change, spawned)| changed_since(&watched, change, spawned));
    let restart = Arc::new(AtomicBool::new(false));
    let watching = Watching {
        watcher,
        early,
        interval: settings.interval,
        link: link.clone(),
        restart: restart.clone(),
    };
    let status = if processes > 1 {
        // The parent of the processes, in place of a server.
        let (listeners, created_files) = server.into_listeners();
        let processes = match prefork::Processes::new(listeners, created_files, processes) {
            Ok(processes) => processes,
            Err(e) => return cannot_start(e),
        };
        if let Err(e) = watching.start(processes.stopper()) {
            return cannot_start(e);
        }
        // The processes accept on the sockets from now on.
        if let Some(parent) = link::to_parent() {
            parent.report(&Report::Ready(std::process::id()));
        }
        processes.supervise()
    } else {
        if let Err(e) = watching.start(server.handle()) {
            return cannot_start(e);
        }
        match server.serve_forever() {
            Ok(()) => 0,
            Err(e) => {
                say!("{e}");
                1
            }
        }
    };
    if status == 0 && restart.load(Ordering::SeqCst) {
        super::RESTART
    } else {
        status
    }
}

fn cannot_start(e: std::io::Error) -> i32 {
    say!(" * The reloader cannot start: {e}");
    1
}

/// What the child watches, and what it tells the supervisor.
struct Watching {
    watcher: Watcher,
    /// A change seen before the watcher started.
    early: Option<PathBuf>,
    interval: Duration,
    link: Arc<Link>,
    restart: Arc<AtomicBool>,
}

impl Watching {
    /// Starts the threads that stop `target`: the watcher, the signals,
    /// and the check that the supervisor is still there.
    fn start<S: Stoppable + Clone>(self, target: S) -> std::io::Result<()> {
        let (supervisor, changed_at) = (self.link.supervisor, self.link.changed_at);
        self.spawn(target.clone())?;
        crate::procs::handle_signals(supervisor.is_some(), target.clone())?;
        crate::procs::watch_parent(supervisor, target)?;
        if let Some(at) = changed_at {
            let took = SystemTime::now().duration_since(at).unwrap_or_default();
            say!(" * Restarted in {} ms", took.as_millis());
        }
        Ok(())
    }

    /// The watcher thread: on a change, says so, reports the time to the
    /// supervisor, and stops `target`.
    fn spawn(self, target: impl Stoppable) -> std::io::Result<()> {
        let Watching {
            mut watcher,
            early,
            interval,
            link,
            restart,
        } = self;
        std::thread::Builder::new()
            .name("werk-reloader".into())
            .spawn(move || {
                let path = early.unwrap_or_else(|| watcher.wait());
                let at = super::change_time(&path, interval);
                say!(" * Detected change in '{}', reloading", path.display());
                link.report(at);
                restart.store(true, Ordering::SeqCst);
                target.stop(false);
            })?;
        Ok(())
    }
}

/// The first watched file (the trees' contents are not looked at) written
/// after the change that caused this start (`change`, in whole
/// microseconds as the supervisor passed it) and after `spawned`, or
/// close enough before `spawned` that the file system's coarse clock may
/// have put a later write there.
fn changed_since(watched: &[Watched], change: SystemTime, spawned: SystemTime) -> Option<PathBuf> {
    let since = spawned - CLOCK_SLACK;
    let change = crate::procs::to_micros(change);
    watched.iter().find_map(|w| match w {
        Watched::File(path) => std::fs::metadata(path)
            .and_then(|m| m.modified())
            .is_ok_and(|mtime| mtime >= since && crate::procs::to_micros(mtime) > change)
            .then(|| path.clone()),
        Watched::Tree(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_change_that_caused_the_start_is_not_seen_again() {
        let path = std::env::temp_dir().join(format!("werk-child-{}.toml", std::process::id()));
        std::fs::write(&path, "a = 1\n").unwrap();
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        let watched = [Watched::File(path.clone())];
        // Started just after the change it was started for.
        let spawned = mtime + Duration::from_millis(5);
        assert_eq!(changed_since(&watched, mtime, spawned), None);
        // A write after that change, while the child started, is seen.
        let earlier = mtime - Duration::from_millis(2);
        assert_eq!(
            changed_since(&watched, earlier, spawned),
            Some(path.clone())
        );
        // One long before the start is not a change during it.
        let late = mtime + CLOCK_SLACK + Duration::from_secs(1);
        assert_eq!(changed_since(&watched, earlier, late), None);
        let _ = std::fs::remove_file(path);
    }
}
