//! The macOS and BSD watcher: kqueue `EVFILT_VNODE` events on every
//! watched directory (which fire when an entry is created, deleted or
//! renamed: an atomic save) and on every watched file in them (writes,
//! growth, metadata, deletion, renames).
//!
//! A directory event does not say which entry changed, so each directory's
//! entries are listed with their identity, size and times, and listed
//! again when it fires; a file event is checked the same way, so that an
//! event that changed nothing (an access-time update) does not restart.
//!
//! kqueue needs an open descriptor per watched file and directory: a large
//! tree can reach the open-file limit (`ulimit -n`, 256 by default on
//! macOS), in which case `new` fails and `auto` falls back to stat.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::Duration;

use super::{settle, Plan, Stamp, Watched};
use crate::reload::glob::Exclude;
use crate::sys::kqueue::{open_for_events, Kqueue};

pub(crate) const NAME: &str = "kqueue";

/// The relevant entries of one directory.
type Listing = BTreeMap<OsString, Stamp>;

/// Watches files and directories with kqueue.
#[derive(Debug)]
pub(crate) struct Watcher {
    kqueue: Kqueue,
    plan: Plan,
    /// Indexed by event token: the directory of the plan the watched file
    /// or directory belongs to (its index in `plan.dirs`), and the
    /// descriptor, which must stay open for the watch to last.
    targets: Vec<(usize, OwnedFd)>,
    /// One per directory of the plan.
    listings: Vec<Listing>,
    interval: Duration,
}

impl Watcher {
    /// Opens and registers every directory of the plan and every relevant
    /// file in them.
    pub(crate) fn new(
        paths: &[Watched],
        exclude: &Exclude,
        interval: Duration,
    ) -> io::Result<Watcher> {
        let kqueue = Kqueue::new()?;
        let plan = Plan::new(paths, exclude);
        let mut watcher = Watcher {
            kqueue,
            listings: Vec::with_capacity(plan.dirs.len()),
            plan,
            targets: Vec::new(),
            interval,
        };
        for dir in 0..watcher.plan.dirs.len() {
            let listing = watcher.list(dir);
            let dir_path = watcher.plan.dirs[dir].path.clone();
            watcher.register(dir, &dir_path)?;
            for (name, stamp) in &listing {
                if *stamp != Stamp::directory() {
                    watcher.register(dir, &dir_path.join(name))?;
                }
            }
            watcher.listings.push(listing);
        }
        Ok(watcher)
    }

    fn register(&mut self, dir: usize, path: &std::path::Path) -> io::Result<()> {
        let fd = match open_for_events(path) {
            Ok(fd) => fd,
            Err(e)
                if e.raw_os_error() == Some(libc::EMFILE)
                    || e.raw_os_error() == Some(libc::ENFILE) =>
            {
                return Err(io::Error::new(
                    e.kind(),
                    format!(
                        "kqueue needs an open file per watched file and directory, and the open-file limit is reached ({e}); raise it with `ulimit -n`"
                    ),
                ));
            }
            // Gone since it was listed, or not ours to read.
            Err(_) => return Ok(()),
        };
        self.kqueue.watch(fd.as_raw_fd(), self.targets.len())?;
        self.targets.push((dir, fd));
        Ok(())
    }

    /// The relevant entries of directory `dir`, with their stamps.
    fn list(&self, dir: usize) -> Listing {
        let mut listing = Listing::new();
        let Ok(entries) = std::fs::read_dir(&self.plan.dirs[dir].path) else {
            return listing;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(path) = self.plan.relevant(dir, &name) else {
                continue;
            };
            let stamp = match entry.file_type() {
                Ok(t) if t.is_dir() => Stamp::directory(),
                _ => match std::fs::metadata(&path) {
                    Ok(meta) => Stamp::of(&meta),
                    Err(_) => continue,
                },
            };
            listing.insert(name, stamp);
        }
        listing
    }

    /// Waits for an event that changed a watched path, then drains the
    /// burst that follows it.
    pub(crate) fn wait(&mut self) -> PathBuf {
        let timeout = (!self.plan.missing.is_empty()).then_some(self.interval);
        let mut tokens = Vec::new();
        let changed = loop {
            tokens.clear();
            if self.kqueue.wait(timeout, &mut tokens).is_err() {
                std::thread::sleep(self.interval);
            }
            if let Some(path) = tokens.iter().find_map(|&t| self.check(t)) {
                break path;
            }
            if let Some(path) = self.plan.appeared() {
                break path;
            }
        };
        let kqueue = &self.kqueue;
        settle(|quiet| {
            let mut more = Vec::new();
            kqueue.wait(Some(quiet), &mut more).is_ok() && !more.is_empty()
        });
        changed
    }

    /// Lists the directory behind `token` again (the one of the file, for
    /// a file) and returns the first relevant entry that differs.
    fn check(&mut self, token: usize) -> Option<PathBuf> {
        let dir = self.targets.get(token)?.0;
        let now = self.list(dir);
        let before = std::mem::replace(&mut self.listings[dir], now);
        let now = &self.listings[dir];
        let name = now
            .iter()
            .find(|(name, stamp)| before.get(*name) != Some(stamp))
            .map(|(name, _)| name)
            .or_else(|| before.keys().find(|name| !now.contains_key(*name)))?;
        Some(self.plan.dirs[dir].path.join(name))
    }
}
