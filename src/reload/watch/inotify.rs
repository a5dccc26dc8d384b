//! The Linux watcher: one inotify watch per directory (the directory of
//! each watched file, every directory of each watched tree), so that a
//! file replaced by a rename is seen like a file written in place.
//!
//! Each watch counts against `fs.inotify.max_user_watches`; when the
//! limit is reached, `new` fails with a message that names the sysctl,
//! and `auto` falls back to stat.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::Duration;

use inotify::{EventMask, EventOwned, Inotify, WatchMask};

use super::{settle_writes, Plan, Watched};
use crate::glob::Exclude;

pub(crate) const NAME: &str = "inotify";

/// What a directory watch reports: entries written, their metadata
/// changed (`touch`), created, deleted or renamed in or out, and the
/// directory itself deleted or moved.
const WATCH_MASK: WatchMask = WatchMask::MODIFY
    .union(WatchMask::CLOSE_WRITE)
    .union(WatchMask::ATTRIB)
    .union(WatchMask::CREATE)
    .union(WatchMask::DELETE)
    .union(WatchMask::MOVED_FROM)
    .union(WatchMask::MOVED_TO)
    .union(WatchMask::DELETE_SELF)
    .union(WatchMask::MOVE_SELF)
    .union(WatchMask::ONLYDIR)
    .union(WatchMask::EXCL_UNLINK);

/// Room for many events at once; one is at most 16 bytes plus a name of
/// up to 256.
const BUFFER: usize = 64 * 1024;

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
        let mut watcher = Watcher {
            inotify: Inotify::init().map_err(|e| explain(e, "instances"))?,
            plan: Plan::new(paths, exclude),
            dirs: HashMap::new(),
            interval,
        };
        for dir in 0..watcher.plan.dirs.len() {
            watcher.add_watch(dir)?;
        }
        Ok(watcher)
    }

    /// Watches directory `dir` of the plan.
    fn add_watch(&mut self, dir: usize) -> io::Result<()> {
        match self
            .inotify
            .watches()
            .add(&self.plan.dirs[dir].path, WATCH_MASK)
        {
            Ok(wd) => {
                self.dirs.insert(wd.get_watch_descriptor_id(), dir);
                Ok(())
            }
            // Removed since the walk, or not ours to read: nothing to
            // watch there.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOENT | libc::EACCES | libc::ENOTDIR)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(explain(e, "watches")),
        }
    }

    /// Watches the directories that `events` say were created or moved
    /// into a watched tree, and the directories below them.
    fn follow_new_dirs(&mut self, events: &[EventOwned]) {
        for event in events {
            let Some(path) = self.new_tree_dir(event) else {
                continue;
            };
            for dir in self.plan.add_tree(&path) {
                // At the watch limit, the directory's creation still
                // counted as a change; only what follows inside it is lost.
                let _ = self.add_watch(dir);
            }
        }
    }

    /// The directory `event` says appeared in a watched tree, if it says so.
    fn new_tree_dir(&self, event: &EventOwned) -> Option<PathBuf> {
        let appeared = event.mask.contains(EventMask::ISDIR)
            && event
                .mask
                .intersects(EventMask::CREATE | EventMask::MOVED_TO);
        if !appeared {
            return None;
        }
        let &dir = self.dirs.get(&event.wd.get_watch_descriptor_id())?;
        self.plan.tree_entry(dir, event.name.as_deref()?)
    }

    /// Reads events until one concerns a watched path, then drains the
    /// burst that follows it. Of the paths the burst changed, the first
    /// that still exists is returned: an editor's or `sed -i`'s temporary
    /// file, renamed over the one edited, is not what the user changed.
    pub(crate) fn wait(&mut self) -> PathBuf {
        let timeout = if self.plan.missing.is_empty() {
            -1
        } else {
            self.interval.as_millis().clamp(1, i32::MAX as u128) as i32
        };
        let (changed, ended) = loop {
            match self.read(timeout) {
                Ok(events) => {
                    let mut paths = events.iter().filter_map(|e| self.relevant(e));
                    if let Some(path) = paths
                        .find(|p| p.exists())
                        .or_else(|| events.iter().find_map(|e| self.relevant(e)))
                    {
                        break (path, self.ends_a_write(&events));
                    }
                }
                Err(_) => std::thread::sleep(self.interval),
            }
            if let Some(path) = self.plan.appeared() {
                break (path, false);
            }
        };
        let mut burst = vec![changed];
        settle_writes(ended, |quiet| match self.read(quiet.as_millis() as i32) {
            Ok(events) if !events.is_empty() => {
                burst.extend(events.iter().filter_map(|e| self.relevant(e)));
                Some(self.ends_a_write(&events))
            }
            _ => None,
        });
        let first = burst.iter().position(|p| p.exists()).unwrap_or(0);
        burst.swap_remove(first)
    }

    /// True if the last of `events` that concerns a watched path ended a
    /// write: the file was closed after writing, or renamed into place.
    fn ends_a_write(&self, events: &[EventOwned]) -> bool {
        let relevant = events.iter().filter(|e| self.relevant(e).is_some());
        last_ends_a_write(relevant.map(|e| e.mask))
    }

    /// Waits up to `timeout_ms` (-1: no limit) for events, follows the
    /// directories they created, and returns them; empty when the time
    /// ran out.
    fn read(&mut self, timeout_ms: i32) -> io::Result<Vec<EventOwned>> {
        let events = self.read_queued(timeout_ms)?;
        self.follow_new_dirs(&events);
        Ok(events)
    }

    /// Waits up to `timeout_ms` (-1: no limit) for events and returns the
    /// ones queued; empty when the time ran out.
    fn read_queued(&mut self, timeout_ms: i32) -> io::Result<Vec<EventOwned>> {
        let mut events = Vec::new();
        if !crate::sys::wait_readable(self.inotify.as_raw_fd(), timeout_ms)? {
            return Ok(events);
        }
        let mut buffer = vec![0u8; BUFFER];
        loop {
            match self.inotify.read_events(&mut buffer) {
                Ok(batch) => events.extend(batch.map(|e| e.to_owned())),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(events),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn relevant(&self, event: &EventOwned) -> Option<PathBuf> {
        relevant(
            &self.plan,
            &self.dirs,
            event.wd.get_watch_descriptor_id(),
            event.mask,
            event.name.as_deref(),
        )
    }
}

/// The watched path that event `mask` on `name` (`None`: the directory
/// itself) from watch `wd` changed, if it changed one.
fn relevant(
    plan: &Plan,
    dirs: &HashMap<i32, usize>,
    wd: i32,
    mask: EventMask,
    name: Option<&OsStr>,
) -> Option<PathBuf> {
    if mask.contains(EventMask::Q_OVERFLOW) {
        // Events were lost: assume the worst.
        return Some(plan.dirs.first()?.path.clone());
    }
    let &dir = dirs.get(&wd)?;
    let gone = mask.intersects(EventMask::DELETE_SELF | EventMask::MOVE_SELF);
    match name {
        Some(name) => plan.relevant(dir, name),
        None if gone && !mask.contains(EventMask::IGNORED) => Some(plan.dirs[dir].path.clone()),
        None => None,
    }
}

/// True if the last of `masks` ended a write to a file: closed after
/// writing, or renamed into place.
fn last_ends_a_write(masks: impl DoubleEndedIterator<Item = EventMask>) -> bool {
    let mut masks = masks;
    masks.next_back().is_some_and(|mask| {
        !mask.contains(EventMask::ISDIR)
            && mask.intersects(EventMask::CLOSE_WRITE | EventMask::MOVED_TO)
    })
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

    #[test]
    fn a_close_after_writing_or_a_rename_into_place_ends_a_write() {
        let ends = |masks: &[EventMask]| last_ends_a_write(masks.iter().copied());
        assert!(ends(&[EventMask::MODIFY, EventMask::CLOSE_WRITE]));
        assert!(ends(&[EventMask::MOVED_FROM, EventMask::MOVED_TO]));
        assert!(
            !ends(&[EventMask::CLOSE_WRITE, EventMask::MODIFY]),
            "written again"
        );
        assert!(
            !ends(&[EventMask::MOVED_TO | EventMask::ISDIR]),
            "a directory"
        );
        assert!(!ends(&[EventMask::CREATE]), "its content may follow");
        assert!(!ends(&[]));
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("werk-inotify-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn an_overflow_or_a_vanished_directory_counts_as_a_change() {
        let dir = scratch("events");
        let plan = Plan::new(&[Watched::Tree(dir.clone())], &Exclude::default());
        let dirs = HashMap::from([(7, 0)]);
        let event =
            |wd, mask, name: Option<&str>| relevant(&plan, &dirs, wd, mask, name.map(OsStr::new));
        assert_eq!(event(-1, EventMask::Q_OVERFLOW, None), Some(dir.clone()));
        assert_eq!(
            event(7, EventMask::MODIFY, Some("a.toml")),
            Some(dir.join("a.toml"))
        );
        assert_eq!(event(8, EventMask::MODIFY, Some("a.toml")), None);
        assert_eq!(event(7, EventMask::DELETE_SELF, None), Some(dir.clone()));
        assert_eq!(event(7, EventMask::IGNORED, None), None);
        assert_eq!(event(7, EventMask::ATTRIB, None), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
