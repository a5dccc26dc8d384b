//! The Linux watcher: one inotify watch per directory (the directory of
//! each watched file, every directory of each watched tree), so that a
//! file replaced by a rename is seen like a file written in place.
//!
//! Each watch counts against `fs.inotify.max_user_watches`; when the
//! limit is reached, `new` fails with a message that names the sysctl,
//! and `auto` falls back to stat.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use super::{settle, Plan, Watched};
use crate::reload::glob::Exclude;
use crate::sys::inotify::{Event, Inotify};

pub(crate) const NAME: &str = "inotify";

/// Watches directories with inotify.
#[derive(Debug)]
pub(crate) struct Watcher {
    inotify: Inotify,
    plan: Plan,
    /// Watch descriptor → index into `plan.dirs`.
    dirs: HashMap<i32, usize>,
    interval: Duration,
}

impl Watcher {
    /// Adds a watch for every directory of the plan.
    pub(crate) fn new(
        paths: &[Watched],
        exclude: &Exclude,
        interval: Duration,
    ) -> io::Result<Watcher> {
        let inotify = Inotify::new().map_err(|e| explain(e, "instances"))?;
        let plan = Plan::new(paths, exclude);
        let mut dirs = HashMap::new();
        for (i, dir) in plan.dirs.iter().enumerate() {
            match inotify.watch_dir(&dir.path) {
                Ok(wd) => {
                    dirs.insert(wd, i);
                }
                // Removed since the walk, or not ours to read: nothing to
                // watch there.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ENOENT | libc::EACCES | libc::ENOTDIR)
                    ) => {}
                Err(e) => return Err(explain(e, "watches")),
            }
        }
        Ok(Watcher {
            inotify,
            plan,
            dirs,
            interval,
        })
    }

    /// Reads events until one concerns a watched path, then drains the
    /// burst that follows it.
    pub(crate) fn wait(&mut self) -> PathBuf {
        let timeout = if self.plan.missing.is_empty() {
            -1
        } else {
            self.interval.as_millis().clamp(1, i32::MAX as u128) as i32
        };
        let changed = loop {
            match self.inotify.read(timeout) {
                Ok(events) => {
                    if let Some(path) = events.iter().find_map(|e| self.relevant(e)) {
                        break path;
                    }
                }
                Err(_) => std::thread::sleep(self.interval),
            }
            if let Some(path) = self.plan.appeared() {
                break path;
            }
        };
        let inotify = &self.inotify;
        settle(|quiet| {
            inotify
                .read(quiet.as_millis() as i32)
                .is_ok_and(|events| !events.is_empty())
        });
        changed
    }

    fn relevant(&self, event: &Event) -> Option<PathBuf> {
        if event.overflowed() {
            // Events were lost: assume the worst.
            return Some(self.plan.dirs.first()?.path.clone());
        }
        let &dir = self.dirs.get(&event.wd)?;
        match &event.name {
            Some(name) => self.plan.relevant(dir, name),
            None if event.directory_gone() && !event.watch_removed() => {
                Some(self.plan.dirs[dir].path.clone())
            }
            None => None,
        }
    }
}

/// Names the sysctl behind an inotify limit error.
fn explain(err: io::Error, what: &str) -> io::Error {
    let (sysctl, hit) = match (what, err.raw_os_error()) {
        ("watches", Some(libc::ENOSPC)) => ("fs.inotify.max_user_watches", true),
        ("instances", Some(libc::EMFILE)) => ("fs.inotify.max_user_instances", true),
        _ => ("", false),
    };
    if !hit {
        return io::Error::new(err.kind(), format!("inotify failed: {err}"));
    }
    let current = std::fs::read_to_string(format!("/proc/sys/{}", sysctl.replace('.', "/")))
        .map(|v| format!("{sysctl} = {}", v.trim()))
        .unwrap_or_else(|_| sysctl.to_owned());
    // EMFILE from inotify_init1 may also be this process's open-file limit.
    let or_files = if what == "instances" {
        " (or the open-file limit, `ulimit -n`)"
    } else {
        ""
    };
    io::Error::new(
        err.kind(),
        format!(
            "the inotify {what} limit{or_files} is reached ({current}); raise it with `sudo sysctl {sysctl}=524288`"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watch_limit_names_its_sysctl() {
        let err = explain(io::Error::from_raw_os_error(libc::ENOSPC), "watches");
        let text = err.to_string();
        assert!(text.contains("inotify watches limit is reached"), "{text}");
        assert!(
            text.contains("sudo sysctl fs.inotify.max_user_watches="),
            "{text}"
        );
        let other = explain(io::Error::from_raw_os_error(libc::EACCES), "watches");
        assert!(other.to_string().starts_with("inotify failed"));
    }
}
