//! The polling watcher: every `interval`, it lists the watched trees and
//! compares each file's identity, size and modification time with the
//! previous look. It works on every system and file system (network
//! mounts, containers' bind mounts that deliver no events), at a CPU cost
//! that grows with the number of files.
//!
//! Unlike Werkzeug's stat reloader, a file created or deleted in a
//! watched tree counts as a change, and a file replaced by a rename is
//! seen through its new inode even when its modification time is older.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{settle, Stamp, Watched};
use crate::glob::Exclude;

pub(crate) const NAME: &str = "stat";

type Snapshot = BTreeMap<PathBuf, Stamp>;

/// Polls the watched paths.
#[derive(Debug)]
pub(crate) struct Watcher {
    paths: Vec<Watched>,
    exclude: Exclude,
    interval: Duration,
    last: Snapshot,
}

impl Watcher {
    /// Takes the first look.
    pub(crate) fn new(
        paths: &[Watched],
        exclude: &Exclude,
        interval: Duration,
    ) -> io::Result<Watcher> {
        let mut watcher = Watcher {
            paths: paths.to_vec(),
            exclude: exclude.clone(),
            interval: interval.max(Duration::from_millis(10)),
            last: Snapshot::new(),
        };
        watcher.last = watcher.scan();
        Ok(watcher)
    }

    /// Looks every interval until something differs, then every
    /// [`QUIET`](super::QUIET) until the burst is over.
    pub(crate) fn wait(&mut self) -> PathBuf {
        loop {
            std::thread::sleep(self.interval);
            let now = self.scan();
            let Some(changed) = first_difference(&self.last, &now) else {
                continue;
            };
            self.last = now;
            settle(|quiet| {
                std::thread::sleep(quiet);
                let now = self.scan();
                let moved = now != self.last;
                self.last = now;
                moved
            });
            return changed;
        }
    }

    fn scan(&self) -> Snapshot {
        let mut snapshot = Snapshot::new();
        for watched in &self.paths {
            match watched {
                Watched::File(file) => {
                    if self.exclude.excludes_named(file) {
                        continue;
                    }
                    if let Ok(meta) = std::fs::metadata(file) {
                        snapshot.insert(file.clone(), Stamp::of(&meta));
                    }
                }
                Watched::Tree(root) => self.scan_tree(root, &mut snapshot),
            }
        }
        snapshot
    }

    /// Every entry below `dir` (directories included, so that an empty
    /// directory created or removed counts), without following symbolic
    /// links to directories.
    fn scan_tree(&self, dir: &Path, snapshot: &mut Snapshot) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if self.exclude.always_skipped(&name) {
                continue;
            }
            let path = entry.path();
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if self.exclude.excludes_entry(&path, is_dir) {
                continue;
            }
            if is_dir {
                // A directory's own times change with its entries, which
                // are compared one by one.
                snapshot.insert(path.clone(), Stamp::directory());
                self.scan_tree(&path, snapshot);
            } else if let Ok(meta) = std::fs::metadata(&path) {
                snapshot.insert(path, Stamp::of(&meta));
            }
        }
    }
}

/// The first path (in path order) that was added, removed or changed.
fn first_difference(before: &Snapshot, after: &Snapshot) -> Option<PathBuf> {
    let changed = after
        .iter()
        .find(|(path, stamp)| before.get(*path) != Some(stamp))
        .map(|(path, _)| path);
    let removed = before.keys().find(|path| !after.contains_key(*path));
    match (changed, removed) {
        (Some(a), Some(b)) => Some(a.min(b).clone()),
        (a, b) => a.or(b).cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::glob::ignore::Ignore;

    #[test]
    fn a_scan_leaves_out_what_gitignore_ignores_but_named_files() {
        let dir = std::env::temp_dir().join(format!("werk-stat-ignore-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("out")).unwrap();
        std::fs::create_dir_all(dir.join("src/out")).unwrap();
        std::fs::write(dir.join(".gitignore"), "/out/\n*.log\n").unwrap();
        for file in ["a.log", "named.log", "out/x.o", "src/main.rs"] {
            std::fs::write(dir.join(file), "").unwrap();
        }
        let exclude = Exclude::new(&[], &dir).with_gitignore(Ignore::load(&dir));
        let paths = [
            Watched::Tree(dir.clone()),
            Watched::File(dir.join("named.log")),
        ];
        let watcher = Watcher::new(&paths, &exclude, Duration::from_secs(1)).unwrap();
        let seen: Vec<&Path> = watcher.last.keys().map(PathBuf::as_path).collect();
        let expected = [".gitignore", "named.log", "src", "src/main.rs", "src/out"];
        let expected: Vec<PathBuf> = expected.iter().map(|p| dir.join(p)).collect();
        assert_eq!(
            seen,
            expected.iter().map(PathBuf::as_path).collect::<Vec<_>>()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn differences_are_reported_in_path_order() {
        let stamp = |ino| Stamp {
            ino,
            ..Stamp::directory()
        };
        let before: Snapshot = [("/a".into(), stamp(1)), ("/c".into(), stamp(3))].into();
        let same = before.clone();
        assert_eq!(first_difference(&before, &same), None);
        let added: Snapshot = [
            ("/a".into(), stamp(1)),
            ("/b".into(), stamp(2)),
            ("/c".into(), stamp(3)),
        ]
        .into();
        assert_eq!(first_difference(&before, &added), Some("/b".into()));
        let removed: Snapshot = [("/c".into(), stamp(3))].into();
        assert_eq!(first_difference(&before, &removed), Some("/a".into()));
        let replaced: Snapshot = [("/a".into(), stamp(1)), ("/c".into(), stamp(9))].into();
        assert_eq!(first_difference(&before, &replaced), Some("/c".into()));
    }
}
