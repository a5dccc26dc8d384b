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

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kqueue::{Event, EventData, EventFilter, FilterFlag, Ident};

use super::{settle, Plan, Stamp, Watched};
use crate::glob::Exclude;

pub(crate) const NAME: &str = "kqueue";

/// The vnode events every watch asks for.
const VNODE_EVENTS: FilterFlag = FilterFlag::NOTE_WRITE
    .union(FilterFlag::NOTE_DELETE)
    .union(FilterFlag::NOTE_RENAME)
    .union(FilterFlag::NOTE_EXTEND)
    .union(FilterFlag::NOTE_ATTRIB);

/// Open flags, besides read-only and close-on-exec, for a descriptor used
/// only for events: `O_EVTONLY` on Apple systems (it does not keep a volume
/// from unmounting); never blocking (a FIFO in a watched tree).
#[cfg(any(target_os = "macos", target_os = "ios"))]
const EVENT_OPEN_FLAGS: libc::c_int = libc::O_EVTONLY | libc::O_NONBLOCK;
#[cfg(not(any(target_os = "macos", target_os = "ios")))]
const EVENT_OPEN_FLAGS: libc::c_int = libc::O_NONBLOCK;

/// The relevant entries of one directory.
type Listing = BTreeMap<OsString, Stamp>;

/// Watches files and directories with kqueue.
#[derive(Debug)]
pub(crate) struct Watcher {
    kqueue: kqueue::Watcher,
    plan: Plan,
    /// Watched descriptor → the directory of the plan the watched file or
    /// directory belongs to (its index in `plan.dirs`), and the file,
    /// which must stay open for the watch to last.
    targets: HashMap<RawFd, (usize, File)>,
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
        let kqueue = kqueue::Watcher::new()?;
        crate::sys::socket::set_cloexec(kqueue.as_raw_fd(), true)?;
        let plan = Plan::new(paths, exclude);
        let mut watcher = Watcher {
            kqueue,
            listings: Vec::with_capacity(plan.dirs.len()),
            plan,
            targets: HashMap::new(),
            interval,
        };
        for dir in 0..watcher.plan.dirs.len() {
            watcher.watch_dir(dir)?;
        }
        watcher.kqueue.watch()?;
        Ok(watcher)
    }

    /// Lists directory `dir` of the plan, the next one without a listing,
    /// and registers it and its files.
    fn watch_dir(&mut self, dir: usize) -> io::Result<()> {
        debug_assert_eq!(dir, self.listings.len());
        let listing = self.list(dir);
        let dir_path = self.plan.dirs[dir].path.clone();
        let files: Vec<PathBuf> = listing
            .iter()
            .filter(|(_, stamp)| **stamp != Stamp::directory())
            .map(|(name, _)| dir_path.join(name))
            .collect();
        self.listings.push(listing);
        self.register(dir, &dir_path)?;
        for file in files {
            self.register(dir, &file)?;
        }
        Ok(())
    }

    /// Registers what appeared in directory `dir` since listing `before`:
    /// a new or replaced file, and for a directory in a watched tree, the
    /// directory and everything below it.
    fn watch_new_entries(&mut self, dir: usize, before: &Listing) {
        let dir_path = self.plan.dirs[dir].path.clone();
        let appeared: Vec<(OsString, Stamp)> = self.listings[dir]
            .iter()
            .filter(|(name, stamp)| before.get(*name).is_none_or(|old| !same_file(old, stamp)))
            .map(|(name, stamp)| (name.clone(), *stamp))
            .collect();
        if appeared.is_empty() {
            return;
        }
        for (name, stamp) in appeared {
            // At the open-file limit, the entry's appearance still counted
            // as a change; only what follows inside it is lost.
            if stamp != Stamp::directory() {
                let _ = self.register(dir, &dir_path.join(&name));
            } else if let Some(tree) = self.plan.tree_entry(dir, &name) {
                for added in self.plan.add_tree(&tree) {
                    let _ = self.watch_dir(added);
                }
            }
        }
        let _ = self.kqueue.watch();
    }

    /// Opens `path` and adds its watch, to be applied by the next
    /// `kqueue.watch()`.
    fn register(&mut self, dir: usize, path: &Path) -> io::Result<()> {
        let file = match open_for_events(path) {
            Ok(file) => file,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
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
        self.kqueue
            .add_file(&file, EventFilter::EVFILT_VNODE, VNODE_EVENTS)?;
        self.targets.insert(file.as_raw_fd(), (dir, file));
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
        let changed = loop {
            if let Some(path) = self.next_event(timeout).and_then(|fd| self.check(fd)) {
                break path;
            }
            if let Some(path) = self.plan.appeared() {
                break path;
            }
        };
        settle(|quiet| {
            self.next_event(Some(quiet))
                .map(|fd| self.check(fd))
                .is_some()
        });
        changed
    }

    /// Waits up to `timeout` (`None`: no limit) for an event; the
    /// descriptor it came from, if one came.
    fn next_event(&self, timeout: Option<Duration>) -> Option<RawFd> {
        match self.kqueue.poll_forever(timeout)? {
            Event {
                ident: Ident::Fd(fd),
                data: EventData::Vnode(_),
            } => Some(fd),
            Event {
                data: EventData::Error(e),
                ..
            } => {
                if e.kind() != io::ErrorKind::Interrupted {
                    std::thread::sleep(self.interval);
                }
                None
            }
            _ => None,
        }
    }

    /// Lists the directory behind descriptor `fd` again (the one of the
    /// file, for a file), registers what appeared in it, and returns the
    /// first relevant entry that differs.
    fn check(&mut self, fd: RawFd) -> Option<PathBuf> {
        let dir = self.targets.get(&fd)?.0;
        let now = self.list(dir);
        let before = std::mem::replace(&mut self.listings[dir], now);
        self.watch_new_entries(dir, &before);
        let now = &self.listings[dir];
        let name = now
            .iter()
            .find(|(name, stamp)| before.get(*name) != Some(stamp))
            .map(|(name, _)| name)
            .or_else(|| before.keys().find(|name| !now.contains_key(*name)))?;
        Some(self.plan.dirs[dir].path.join(name))
    }
}

/// Whether both stamps are of the same file, not of a replacement made by
/// a rename, whose descriptor needs a watch of its own; directory entries
/// are all alike.
fn same_file(a: &Stamp, b: &Stamp) -> bool {
    (a.dev, a.ino) == (b.dev, b.ino)
}

/// Opens `path` (a file or a directory) for event notification only.
fn open_for_events(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(EVENT_OPEN_FLAGS)
        .open(path)
}
