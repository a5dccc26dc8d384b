//! File watchers: one file per backend, each with the same surface.
//!
//! Every backend defines
//!
//! - `NAME: &str`, the name printed in ` * Restarting with NAME`;
//! - `Watcher::new(paths: &[Watched], exclude: &Exclude, interval: Duration)
//!   -> io::Result<Watcher>`, which starts watching at once (a change made
//!   after `new` returns is seen);
//! - `Watcher::wait(&mut self) -> PathBuf`, which blocks until a watched
//!   path changes, lets a burst of changes settle (until none has come for
//!   [`QUIET`]), and returns the first path that changed.
//!
//! Backends: `inotify.rs` (Linux), `kqueue.rs` (macOS and the BSDs), the
//! raw one of the platform being picked by a single `cfg` (`none.rs`, which
//! always fails, elsewhere); and `stat.rs`, polling every `interval`,
//! everywhere. The raw backends use `interval`
//! only to look for watched files whose directory does not exist yet.
//!
//! What counts as a change: a watched file written, its metadata changed
//! (`touch`), created, deleted or replaced by a rename; in a watched
//! directory tree, the same for any file or directory in it, except the
//! excluded ones, including directories created after `new` (the raw
//! backends watch them from their first event on).

#[cfg(werk_inotify)]
#[path = "inotify.rs"]
mod raw;
#[cfg(werk_kqueue)]
#[path = "kqueue.rs"]
mod raw;
#[cfg(not(any(werk_inotify, werk_kqueue)))]
#[path = "none.rs"]
mod raw;
mod stat;

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::glob::Exclude;
use crate::options::ReloaderType;

/// How long no further change must come before a burst counts as over:
/// editors write, rename and remove their scratch files within a few
/// milliseconds, and an executable still being written cannot be started
/// (`ETXTBSY`: the reloader tries again), so a short wait is enough.
pub(crate) const QUIET: Duration = Duration::from_millis(20);

/// How long the burst may go on once its last change ended a write (the
/// writer closed the file, or a rename put the new file in place): what
/// follows such a save (an editor removing its backup, a tool writing
/// again) comes within a few milliseconds. Where the watcher cannot tell
/// (kqueue, stat), the wait is [`QUIET`].
pub(crate) const QUIET_AFTER_WRITE: Duration = Duration::from_millis(10);

/// The longest a burst of changes may delay the restart.
const MOST_SETTLE: Duration = Duration::from_secs(1);

/// Something to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Watched {
    /// One file, which may not exist yet.
    File(PathBuf),
    /// A directory and everything below it.
    Tree(PathBuf),
}

/// What is compared between two looks at a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
    ctime: i64,
    ctime_nsec: i64,
}

impl Stamp {
    pub(crate) fn of(meta: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
            ctime: meta.ctime(),
            ctime_nsec: meta.ctime_nsec(),
        }
    }

    /// The stamp of a directory entry: only whether it exists is compared
    /// (its times change with its own entries, which are compared one by
    /// one).
    pub(crate) fn directory() -> Stamp {
        Stamp {
            dev: 0,
            ino: 0,
            size: 0,
            mtime: 0,
            mtime_nsec: 0,
            ctime: 0,
            ctime_nsec: 0,
        }
    }
}

/// Waits out a burst: `more(quiet)` must return whether anything changed
/// within that time; stops when nothing did, or after [`MOST_SETTLE`].
pub(crate) fn settle(mut more: impl FnMut(Duration) -> bool) {
    settle_writes(false, |quiet| more(quiet).then_some(false));
}

/// Waits out a burst whose changes say whether they ended a write:
/// `ended` for the changes so far; `more(quiet)` returns `None` when
/// nothing changed within `quiet`, else whether the last change ended a
/// write. Waits [`QUIET_AFTER_WRITE`] after such a change, [`QUIET`]
/// after any other; stops after [`MOST_SETTLE`] in any case.
pub(crate) fn settle_writes(mut ended: bool, mut more: impl FnMut(Duration) -> Option<bool>) {
    let start = Instant::now();
    while start.elapsed() < MOST_SETTLE {
        let quiet = if ended { QUIET_AFTER_WRITE } else { QUIET };
        match more(quiet) {
            Some(last_ended) => ended = last_ended,
            None => return,
        }
    }
}

/// The directories a raw backend watches, and which entries of each
/// matter.
#[derive(Debug)]
pub(crate) struct Plan {
    pub dirs: Vec<PlanDir>,
    /// Watched files whose directory does not exist (yet).
    pub missing: Vec<PathBuf>,
    exclude: Exclude,
}

/// One directory to watch.
#[derive(Debug)]
pub(crate) struct PlanDir {
    pub path: PathBuf,
    /// Lies in a watched tree: every entry matters, but the always-skipped
    /// names.
    pub in_tree: bool,
    /// Entries that matter because they were named as files.
    pub files: BTreeSet<OsString>,
}

impl Plan {
    /// Lists the directories: the directory of each watched file, and every
    /// directory of each watched tree that is not excluded.
    pub(crate) fn new(paths: &[Watched], exclude: &Exclude) -> Plan {
        let mut plan = Plan {
            dirs: Vec::new(),
            missing: Vec::new(),
            exclude: exclude.clone(),
        };
        for watched in paths {
            match watched {
                Watched::File(file) => {
                    let (Some(dir), Some(name)) = (file.parent(), file.file_name()) else {
                        continue;
                    };
                    if dir.is_dir() {
                        let i = plan.dir_index(dir);
                        plan.dirs[i].files.insert(name.to_owned());
                    } else if !plan.missing.contains(file) {
                        plan.missing.push(file.clone());
                    }
                }
                Watched::Tree(root) => {
                    plan.add_tree(root);
                }
            }
        }
        plan
    }

    /// Adds `root` and every directory below it as part of a watched tree:
    /// for each tree when the plan is made, and for a directory created in
    /// a watched tree later, so that changes inside it count too. Returns
    /// the indices of the directories that were not in the plan yet.
    pub(crate) fn add_tree(&mut self, root: &Path) -> Vec<usize> {
        let mut dirs = Vec::new();
        walk_dirs(root, &self.exclude, &mut dirs);
        let known = self.dirs.len();
        let mut added = Vec::new();
        for dir in dirs {
            let i = self.dir_index(&dir);
            self.dirs[i].in_tree = true;
            if i >= known {
                added.push(i);
            }
        }
        added
    }

    /// The index of directory `path` in `dirs`, where it is added at the
    /// end if it is not there yet.
    fn dir_index(&mut self, path: &Path) -> usize {
        if let Some(i) = self.dirs.iter().position(|d| d.path == path) {
            return i;
        }
        self.dirs.push(PlanDir {
            path: path.to_owned(),
            in_tree: false,
            files: BTreeSet::new(),
        });
        self.dirs.len() - 1
    }

    /// The full path of entry `name` of directory `dir` if the entry lies
    /// in a watched tree and is not excluded: a directory found there is
    /// watched with [`add_tree`](Plan::add_tree).
    pub(crate) fn tree_entry(&self, dir: usize, name: &OsStr) -> Option<PathBuf> {
        if !self.dirs.get(dir)?.in_tree {
            return None;
        }
        self.relevant(dir, name)
    }

    /// The full path if an event on entry `name` of directory `dir` (an
    /// index into `dirs`) is a change that counts.
    pub(crate) fn relevant(&self, dir: usize, name: &OsStr) -> Option<PathBuf> {
        let d = self.dirs.get(dir)?;
        let path = d.path.join(name);
        let counts = if d.files.contains(name) {
            !self.exclude.excludes_named(&path)
        } else {
            d.in_tree && !self.exclude.always_skipped(name) && !self.exclude.excludes(&path)
        };
        counts.then_some(path)
    }

    /// The first watched file of `missing` that exists now.
    pub(crate) fn appeared(&self) -> Option<PathBuf> {
        self.missing.iter().find(|p| p.exists()).cloned()
    }
}

/// Collects `root` and every directory below it that is neither excluded
/// (by a pattern or a `.gitignore` rule) nor always skipped (symbolic
/// links to directories are not followed).
pub(crate) fn walk_dirs(root: &Path, exclude: &Exclude, out: &mut Vec<PathBuf>) {
    out.push(root.to_owned());
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir || exclude.always_skipped(&entry.file_name()) {
            continue;
        }
        let path = entry.path();
        if !exclude.excludes_entry(&path, true) {
            walk_dirs(&path, exclude, out);
        }
    }
}

/// A watcher of the kind the options ask for.
#[derive(Debug)]
pub(crate) enum Watcher {
    Raw(raw::Watcher),
    Stat(stat::Watcher),
}

/// Says why `auto` polls with stat instead of the system's events.
pub(crate) fn say_fallback(why: &str) {
    let raw = raw_name().unwrap_or("a file event interface");
    say!(" * Cannot use {raw}: {why}; polling with stat instead");
}

/// The raw backend's name on this platform, if it has one.
pub(crate) fn raw_name() -> Option<&'static str> {
    Some(raw::NAME).filter(|name| *name != "none")
}

impl Watcher {
    /// Starts the watcher `kind` names. With `Auto`, the platform's raw
    /// watcher, or stat when that fails: the second value then says why.
    /// The error says why the requested kind cannot be used.
    pub(crate) fn open(
        kind: ReloaderType,
        paths: &[Watched],
        exclude: &Exclude,
        interval: Duration,
    ) -> Result<(Watcher, Option<String>), String> {
        let want_raw = match kind {
            ReloaderType::Stat => false,
            ReloaderType::Auto => raw_name().is_some(),
            ReloaderType::Inotify | ReloaderType::Kqueue => {
                if raw_name() != Some(kind.name()) {
                    return Err(format!(
                        "the {} reloader is not available on this system{}",
                        kind.name(),
                        raw_name()
                            .map(|n| format!(" (use auto, {n} or stat)"))
                            .unwrap_or_else(|| " (use auto or stat)".into())
                    ));
                }
                true
            }
        };
        if !want_raw {
            let stat = stat::Watcher::new(paths, exclude, interval)
                .map_err(|e| format!("the stat reloader cannot start: {e}"))?;
            return Ok((Watcher::Stat(stat), None));
        }
        match raw::Watcher::new(paths, exclude, interval) {
            Ok(watcher) => Ok((Watcher::Raw(watcher), None)),
            Err(e) if kind == ReloaderType::Auto => {
                let stat = stat::Watcher::new(paths, exclude, interval)
                    .map_err(|e| format!("the stat reloader cannot start: {e}"))?;
                Ok((Watcher::Stat(stat), Some(e.to_string())))
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// The backend's name: `inotify`, `kqueue` or `stat`.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Watcher::Raw(_) => raw::NAME,
            Watcher::Stat(_) => stat::NAME,
        }
    }

    /// Blocks until a watched path changes and the burst is over; returns
    /// the first path that changed.
    pub(crate) fn wait(&mut self) -> PathBuf {
        match self {
            Watcher::Raw(w) => w.wait(),
            Watcher::Stat(w) => w.wait(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::glob::ignore::Ignore;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("werk-plan-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("conf/sub")).unwrap();
        std::fs::create_dir_all(dir.join("conf/.git")).unwrap();
        std::fs::create_dir_all(dir.join("conf/cache")).unwrap();
        dir
    }

    #[test]
    fn a_file_is_watched_through_its_directory_and_a_tree_whole() {
        let dir = scratch("plan");
        let exclude = Exclude::new(&["*.log".into(), "**/cache/**".into()], &dir);
        let plan = Plan::new(
            &[
                Watched::File(dir.join("app.toml")),
                Watched::Tree(dir.join("conf")),
                Watched::File(dir.join("missing/x.toml")),
            ],
            &exclude,
        );
        let paths: Vec<&Path> = plan.dirs.iter().map(|d| d.path.as_path()).collect();
        assert!(paths.contains(&dir.as_path()));
        assert!(paths.contains(&dir.join("conf").as_path()));
        assert!(paths.contains(&dir.join("conf/sub").as_path()));
        assert!(!paths.contains(&dir.join("conf/.git").as_path()));
        assert!(!paths.contains(&dir.join("conf/cache").as_path()));
        assert_eq!(plan.missing, [dir.join("missing/x.toml")]);

        let top = paths.iter().position(|p| *p == dir).unwrap();
        let conf = paths.iter().position(|p| *p == dir.join("conf")).unwrap();
        let name = |n: &str| OsString::from(n);
        assert_eq!(
            plan.relevant(top, &name("app.toml")),
            Some(dir.join("app.toml"))
        );
        assert_eq!(plan.relevant(top, &name("other.toml")), None);
        assert_eq!(
            plan.relevant(conf, &name("new.toml")),
            Some(dir.join("conf/new.toml"))
        );
        assert_eq!(plan.relevant(conf, &name("debug.log")), None);
        assert_eq!(plan.relevant(conf, &name("new.toml.swp")), None);
        assert_eq!(plan.relevant(conf, &name("cache")), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_directory_created_in_a_tree_joins_the_plan() {
        let dir = scratch("add-tree");
        let exclude = Exclude::new(&["**/cache/**".into()], &dir);
        let mut plan = Plan::new(
            &[
                Watched::File(dir.join("app.toml")),
                Watched::Tree(dir.join("conf")),
            ],
            &exclude,
        );
        let known = plan.dirs.len();
        let index = |plan: &Plan, path: &Path| plan.dirs.iter().position(|d| d.path == path);
        let conf = index(&plan, &dir.join("conf")).unwrap();
        let top = index(&plan, &dir).unwrap();
        std::fs::create_dir_all(dir.join("conf/new/deeper/.git")).unwrap();
        std::fs::create_dir_all(dir.join("conf/new/cache")).unwrap();
        std::fs::create_dir(dir.join("sibling")).unwrap();

        let name = |n: &str| OsString::from(n);
        assert_eq!(plan.tree_entry(top, &name("sibling")), None);
        assert_eq!(plan.tree_entry(conf, &name("cache")), None);
        assert_eq!(plan.tree_entry(conf, &name(".git")), None);
        let new = plan.tree_entry(conf, &name("new")).unwrap();
        assert_eq!(new, dir.join("conf/new"));

        let added = plan.add_tree(&new);
        let paths: Vec<&Path> = added.iter().map(|&i| plan.dirs[i].path.as_path()).collect();
        assert_eq!(paths, [dir.join("conf/new"), dir.join("conf/new/deeper")]);
        assert_eq!(added, [known, known + 1]);
        assert!(added.iter().all(|&i| plan.dirs[i].in_tree));
        assert!(plan.add_tree(&new).is_empty());
        assert_eq!(
            plan.relevant(known + 1, &name("a.toml")),
            Some(dir.join("conf/new/deeper/a.toml"))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn gitignore_rules_prune_the_walk_and_the_events() {
        let dir = scratch("gitignore");
        std::fs::create_dir_all(dir.join("conf/out/deep")).unwrap();
        std::fs::write(dir.join("conf/.gitignore"), "out/\n*.log\n").unwrap();
        let conf = dir.join("conf");
        let exclude = Exclude::new(&[], &dir).with_gitignore(Ignore::load(&conf));
        let plan = Plan::new(
            &[
                Watched::Tree(conf.clone()),
                Watched::File(conf.join("named.log")),
            ],
            &exclude,
        );
        let paths: Vec<&Path> = plan.dirs.iter().map(|d| d.path.as_path()).collect();
        assert!(paths.contains(&conf.join("sub").as_path()));
        assert!(!paths.contains(&conf.join("out").as_path()));
        assert!(!paths.contains(&conf.join("out/deep").as_path()));

        let at = paths.iter().position(|p| *p == conf).unwrap();
        let relevant = |n: &str| plan.relevant(at, OsStr::new(n));
        assert_eq!(relevant("main.rs"), Some(conf.join("main.rs")));
        assert_eq!(relevant("debug.log"), None);
        assert_eq!(relevant("out"), None);
        // Named explicitly: watched whatever the rules say.
        assert_eq!(relevant("named.log"), Some(conf.join("named.log")));
        let changed = relevant(".gitignore").unwrap();
        assert!(exclude.gitignore().unwrap().is_rules_file(&changed));
        for scratch_name in ["main.rs___jb_tmp___", ".goutputstream-X1Y2Z3", "#main.rs#"] {
            assert_eq!(relevant(scratch_name), None, "{scratch_name}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_burst_whose_last_change_ended_a_write_waits_less() {
        let mut asked = Vec::new();
        let mut answers = [Some(false), Some(true), Some(false), Some(true), None].into_iter();
        settle_writes(true, |quiet| {
            asked.push(quiet);
            answers.next().unwrap()
        });
        let (short, long) = (QUIET_AFTER_WRITE, QUIET);
        assert_eq!(asked, [short, long, short, long, short]);
    }

    #[test]
    fn settle_stops_when_quiet_or_after_a_second() {
        let mut calls = 0;
        settle(|_| {
            calls += 1;
            calls < 3
        });
        assert_eq!(calls, 3);
        let start = Instant::now();
        settle(|quiet| {
            std::thread::sleep(quiet);
            true
        });
        assert!(start.elapsed() >= MOST_SETTLE);
        assert!(start.elapsed() < MOST_SETTLE + Duration::from_millis(500));
    }

    /// The platform's raw watcher on `paths`, or `None` where there is
    /// none.
    fn raw_watcher(paths: &[Watched], exclude: &Exclude) -> Option<raw::Watcher> {
        raw_name()?;
        Some(raw::Watcher::new(paths, exclude, Duration::from_millis(20)).unwrap())
    }

    /// What `watcher.wait()` returns, given a few seconds; the watcher
    /// comes back for another wait.
    fn next_change(mut watcher: raw::Watcher) -> (raw::Watcher, PathBuf) {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let path = watcher.wait();
            let _ = tx.send((watcher, path));
        });
        rx.recv_timeout(Duration::from_secs(5))
            .expect("no change seen within 5 s")
    }

    #[test]
    fn the_raw_watcher_sees_a_write_and_an_atomic_save() {
        let dir = scratch("raw-save");
        let conf = dir.join("app.toml");
        std::fs::write(&conf, "a = 1\n").unwrap();
        let paths = [Watched::File(conf.clone())];
        let Some(watcher) = raw_watcher(&paths, &Exclude::default()) else {
            return;
        };
        std::fs::write(dir.join("other.toml"), "not watched\n").unwrap();
        std::fs::write(&conf, "a = 2\n").unwrap();
        let (watcher, path) = next_change(watcher);
        assert_eq!(path, conf);
        let tmp = dir.join(".app.toml.tmp");
        std::fs::write(&tmp, "a = 3\n").unwrap();
        std::fs::rename(&tmp, &conf).unwrap();
        assert_eq!(next_change(watcher).1, conf);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_raw_watcher_skips_excluded_names_in_a_tree() {
        let dir = scratch("raw-tree");
        let exclude = Exclude::new(&["*.log".into()], &dir);
        let Some(watcher) = raw_watcher(&[Watched::Tree(dir.join("conf"))], &exclude) else {
            return;
        };
        std::fs::write(dir.join("conf/debug.log"), "noise\n").unwrap();
        std::fs::write(dir.join("conf/app.toml.swp"), "noise\n").unwrap();
        std::fs::write(dir.join("conf/.git/HEAD"), "noise\n").unwrap();
        std::fs::write(dir.join("conf/sub/app.toml"), "a = 1\n").unwrap();
        assert_eq!(next_change(watcher).1, dir.join("conf/sub/app.toml"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_raw_watcher_follows_a_directory_created_in_a_tree() {
        let dir = scratch("raw-new-dir");
        let Some(watcher) = raw_watcher(&[Watched::Tree(dir.join("conf"))], &Exclude::default())
        else {
            return;
        };
        std::fs::create_dir(dir.join("conf/new")).unwrap();
        let (watcher, path) = next_change(watcher);
        assert_eq!(path, dir.join("conf/new"));
        std::fs::write(dir.join("conf/new/app.toml"), "a = 1\n").unwrap();
        let (watcher, path) = next_change(watcher);
        assert_eq!(path, dir.join("conf/new/app.toml"));
        std::fs::write(dir.join("conf/new/app.toml"), "a = 2\n").unwrap();
        assert_eq!(next_change(watcher).1, dir.join("conf/new/app.toml"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_raw_watcher_sees_a_file_whose_directory_comes_later() {
        let dir = scratch("raw-missing");
        let later = dir.join("later/app.toml");
        let Some(watcher) = raw_watcher(&[Watched::File(later.clone())], &Exclude::default())
        else {
            return;
        };
        std::fs::create_dir(dir.join("later")).unwrap();
        std::fs::write(&later, "a = 1\n").unwrap();
        assert_eq!(next_change(watcher).1, later);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
