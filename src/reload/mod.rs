//! The reloader: Werkzeug's two-process protocol, made robust.
//!
//! ```text
//!  supervisor (first process)              child (WERK_RUN_MAIN=true)
//!  ───────────────────────────             ──────────────────────────
//!  bind the sockets, print the banner
//!  " * Restarting with inotify"
//!  spawn ──── fds 3.. (LISTEN_FDS) ──────► adopt the sockets, serve,
//!             fd 3+n: status pipe          watch the files in a thread
//!                                          ... a file changes:
//!                                          " * Detected change in '…', reloading"
//!                                   ◄───── "changed <time>" on the pipe
//!                                          drain in-flight requests
//!  wait ◄──────────── exit status 3 ────── exit 3
//!  " * Restarting with inotify"
//!  spawn ─────────────────────────────────► serve; " * Restarted in 23 ms"
//! ```
//!
//! The supervisor keeps the listening sockets open across restarts, so a
//! client that connects meanwhile waits in the kernel's backlog and is
//! served by the next child: none is refused. A child that exits any other
//! way (a panic at startup, a bad configuration file, a signal) does not
//! end the session: the supervisor says how it ended, watches the same
//! files itself, and starts a new child at the next change.
//!
//! Signals: Ctrl-C reaches both processes (one process group). A child
//! under a supervisor ignores SIGINT and leaves the decision to the
//! supervisor, which sends it SIGTERM and waits for it to finish its
//! requests, then exits 0; SIGTERM to the supervisor alone does the same.
//! A second signal kills the child and exits at once. If the supervisor
//! dies, the child gets SIGTERM (Linux, `PR_SET_PDEATHSIG`) or notices
//! within half a second that its parent changed (everywhere), and stops.
//!
//! Starting a child on the sockets, signals and the parent check are not
//! the reloader's own: `Options::processes` runs its processes the same
//! way, and both use `procs`. With `processes` above 1, the reloader's
//! child is the parent of those processes instead of serving itself.

#[cfg(feature = "cli")]
pub(crate) mod cargo;
#[cfg(feature = "reload")]
mod child;
#[cfg(feature = "cli")]
pub(crate) mod dev_loop;
#[cfg(feature = "cli")]
mod json;
#[cfg(feature = "reload")]
mod served;
#[cfg(feature = "reload")]
mod standby;
#[cfg(feature = "reload")]
mod supervisor;
#[cfg(feature = "reload")]
pub(crate) mod watch;

#[cfg(feature = "reload")]
use std::path::{Path, PathBuf};
#[cfg(feature = "reload")]
use std::time::{Duration, SystemTime};

#[cfg(feature = "reload")]
use crate::options::ReloaderSettings;
#[cfg(feature = "reload")]
use crate::{App, Options};
#[cfg(feature = "reload")]
use watch::Watched;

/// When the change that caused this start happened, in microseconds since
/// the Unix epoch.
#[cfg(feature = "reload")]
const CHANGED_AT: &str = "WERK_RELOAD_CHANGED_AT";
/// The watcher the supervisor settled on, when `auto` fell back to stat.
#[cfg(feature = "reload")]
const WATCHER: &str = "WERK_RELOADER_TYPE";
/// When the supervisor started this child, in microseconds since the Unix
/// epoch.
#[cfg(feature = "reload")]
const SPAWNED_AT: &str = "WERK_RELOAD_SPAWNED_AT";

/// The exit status by which a child asks to be restarted.
#[cfg(feature = "reload")]
const RESTART: i32 = 3;

#[cfg(feature = "reload")]
impl ReloaderSettings {
    /// What to watch: the running executable and the extra files; an extra
    /// path that is a directory is watched with everything below it.
    fn watched(&self, exe: &Path) -> Vec<Watched> {
        let mut watched = vec![Watched::File(exe.to_owned())];
        watched.extend(self.watched_extra());
        watched
    }

    /// The extra files; a directory is watched with everything below it.
    fn watched_extra(&self) -> impl Iterator<Item = Watched> + '_ {
        self.extra_files.iter().map(|path| {
            let path = std::path::absolute(path).unwrap_or_else(|_| path.clone());
            if path.is_dir() {
                Watched::Tree(path)
            } else {
                Watched::File(path)
            }
        })
    }

    fn exclude(&self) -> crate::glob::Exclude {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        crate::glob::Exclude::new(&self.exclude_patterns, &cwd)
    }
}

/// Runs `app` under the reloader: as the supervisor in the first process,
/// as the server in the child. Returns the exit status for the process.
#[cfg(feature = "reload")]
pub(crate) fn serve_reloading(host: &str, port: u16, app: impl App, options: Options) -> i32 {
    if crate::procs::is_running_from_reloader() {
        child::serve_until_changed(host, port, app, options)
    } else {
        supervisor::supervise(host, port, app, options)
    }
}

/// The time of a change to `path` seen now: the file's modification time
/// when it is recent (so the polling delay counts), else now.
#[cfg(feature = "reload")]
fn change_time(path: &Path, interval: Duration) -> SystemTime {
    let now = SystemTime::now();
    let recent = interval + Duration::from_secs(1);
    match std::fs::metadata(path).and_then(|m| m.modified()) {
        Ok(mtime) if mtime <= now && now.duration_since(mtime).is_ok_and(|d| d <= recent) => mtime,
        _ => now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_are_watched_as_trees() {
        let dir = std::env::temp_dir();
        let settings = ReloaderSettings {
            extra_files: vec![dir.clone(), dir.join("no-such-file.toml")],
            ..ReloaderSettings::default()
        };
        let watched = settings.watched(Path::new("/bin/werk"));
        assert_eq!(watched[0], Watched::File("/bin/werk".into()));
        assert_eq!(watched[1], Watched::Tree(dir.clone()));
        assert_eq!(watched[2], Watched::File(dir.join("no-such-file.toml")));
    }
}
