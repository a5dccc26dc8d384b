//! The project's `.gitignore` rules, so that `werk run` rebuilds for a
//! change to what the project tracks and not for its build outputs, logs
//! or generated files.
//!
//! The rules follow gitignore(5):
//!
//! - a `.gitignore` file's patterns apply to the paths below its
//!   directory; a deeper file's patterns take precedence over a shallower
//!   one's, and within one file the last pattern that matches decides;
//!   `.git/info/exclude`, of the repository top, comes before them all
//!   (it is overridden by every `.gitignore`);
//! - blank lines match nothing, lines that start with `#` are comments
//!   (`\#` starts a pattern with `#`), trailing spaces are dropped unless
//!   escaped with `\`, and a `\r` before the end of a line is dropped too;
//! - `!` re-includes what an earlier pattern ignored (`\!` starts a
//!   pattern with `!`), but nothing is re-included below an ignored
//!   directory: git does not even look there;
//! - a trailing `/` matches directories only;
//! - a pattern with a `/` at its start or in its middle is anchored to
//!   the directory of its file; one without matches a name at any depth;
//! - `*`, `?` and `[...]` never match a `/`; `**/` at the start matches in
//!   every directory, `/**` at the end everything inside, `/**/` zero or
//!   more directories; any other `**` is a `*`.
//!
//! The rules are read once, by [`Ignore::load`]: the caller loads them
//! again when a `.gitignore` changes ([`Ignore::is_rules_file`]).
//!
//! Not read: `core.excludesFile` (the user's global ignore file, about
//! their own editor and system rather than the project). Not applied:
//! `core.ignoreCase`; names are compared case for case.

// Read by `werk run` (the `cli` feature) only.
#![cfg_attr(not(feature = "cli"), allow(dead_code))]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::{always_skipped, Glob};

/// The `.gitignore` rules that concern one watched directory.
#[derive(Debug, Clone)]
pub(crate) struct Ignore {
    /// The watched directory; never ignored itself.
    root: PathBuf,
    /// The repository's top (the first directory from `root` up that
    /// holds `.git`), if `root` is in a repository.
    top: Option<PathBuf>,
    /// The repository's `info/exclude`.
    exclude_file: Option<PathBuf>,
    /// Lowest precedence first: `info/exclude`, then the `.gitignore`
    /// files from the repository top down, a directory's before its
    /// subdirectories'.
    files: Vec<RuleFile>,
}

/// The patterns of one file, and the directory they are relative to.
#[derive(Debug, Clone)]
struct RuleFile {
    dir: PathBuf,
    rules: Vec<Rule>,
}

/// One pattern line.
#[derive(Debug, Clone)]
struct Rule {
    glob: Glob,
    /// Began with `!`: re-includes.
    negated: bool,
    /// Ended with `/`.
    dir_only: bool,
    /// Held a `/` before its end: matched against the path relative to
    /// the file's directory rather than against the name alone.
    anchored: bool,
}

impl Ignore {
    /// Reads the rules for the tree at `root`: the `.gitignore` files in
    /// `root` and in every directory below it that is neither ignored nor
    /// always skipped, and, when `root` lies in a git repository, those of
    /// the directories from the repository top down to `root`, and the
    /// repository's `info/exclude`. Files that cannot be read count as
    /// empty.
    pub(crate) fn load(root: &Path) -> Ignore {
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_owned());
        let top = root
            .ancestors()
            .find(|dir| dir.join(".git").symlink_metadata().is_ok())
            .map(Path::to_owned);
        let exclude_file = top
            .as_deref()
            .and_then(common_git_dir)
            .map(|git| git.join("info/exclude"));
        let mut ignore = Ignore {
            root: root.clone(),
            top,
            exclude_file,
            files: Vec::new(),
        };
        ignore.read_repository();
        ignore.read_tree(&root);
        ignore
    }

    /// The directory the rules were loaded for.
    #[cfg(test)]
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// True if `path`, below the watched directory, is ignored: it, or a
    /// directory between the watched directory and it, is matched by a
    /// pattern that is not overridden by a later `!` one. `path` is
    /// absolute, like the paths the watchers report; a path outside the
    /// watched directory is never ignored.
    pub(crate) fn ignores(&self, path: &Path, is_dir: bool) -> bool {
        let Ok(below) = path.strip_prefix(&self.root) else {
            return false;
        };
        let mut walked = self.root.clone();
        let mut components = below.components().peekable();
        while let Some(component) = components.next() {
            walked.push(component);
            let last = components.peek().is_none();
            if self.verdict(&walked, is_dir || !last) == Some(true) {
                return true;
            }
        }
        false
    }

    /// [`ignores`](Ignore::ignores) for an entry met while walking the
    /// tree, in a directory the walk entered (so not an ignored one): only
    /// what the rules say of `path` itself is looked at, which spares a
    /// walk going over every directory above each entry again.
    pub(crate) fn ignores_entry(&self, path: &Path, is_dir: bool) -> bool {
        let below_root = path
            .strip_prefix(&self.root)
            .is_ok_and(|below| !below.as_os_str().is_empty());
        below_root && self.verdict(path, is_dir) == Some(true)
    }

    /// True if `path` is a file the rules come from: a `.gitignore` in
    /// the repository (or in the watched directory, outside one), or the
    /// repository's `info/exclude`. Its change calls for loading the rules
    /// again.
    pub(crate) fn is_rules_file(&self, path: &Path) -> bool {
        let scope = self.top.as_deref().unwrap_or(&self.root);
        let named_gitignore = path.file_name() == Some(OsStr::new(".gitignore"));
        (named_gitignore && path.starts_with(scope)) || self.exclude_file.as_deref() == Some(path)
    }

    /// What the rules say of `path` alone, whatever they say of the
    /// directories above it: `Some(true)` ignored, `Some(false)`
    /// re-included, `None` no pattern matches.
    fn verdict(&self, path: &Path, is_dir: bool) -> Option<bool> {
        self.files
            .iter()
            .rev()
            .find_map(|file| file.verdict(path, is_dir))
    }

    /// Reads the repository's `info/exclude`, then the `.gitignore` files
    /// of the directories above the watched one, from the top down.
    fn read_repository(&mut self) {
        let Some(top) = self.top.clone() else {
            return;
        };
        if let Some(exclude_file) = self.exclude_file.clone() {
            self.read(&exclude_file, &top);
        }
        let mut above: Vec<PathBuf> = self
            .root
            .ancestors()
            .skip(1)
            .take_while(|dir| dir.starts_with(&top))
            .map(Path::to_owned)
            .collect();
        above.reverse();
        for dir in above {
            self.read(&dir.join(".gitignore"), &dir);
        }
    }

    /// Reads `dir/.gitignore`, then walks the subdirectories that are not
    /// ignored (their parents were not, or the walk would not be here).
    fn read_tree(&mut self, dir: &Path) {
        self.read(&dir.join(".gitignore"), dir);
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if !is_dir || always_skipped(&entry.file_name()) {
                continue;
            }
            let path = entry.path();
            if !self.ignores_entry(&path, true) {
                self.read_tree(&path);
            }
        }
    }

    /// Adds the rules of `file`, relative to `dir`, if it has any.
    fn read(&mut self, file: &Path, dir: &Path) {
        let Ok(bytes) = std::fs::read(file) else {
            return;
        };
        let text = String::from_utf8_lossy(&bytes);
        let rules: Vec<Rule> = parse(&text).collect();
        if !rules.is_empty() {
            self.files.push(RuleFile {
                dir: dir.to_owned(),
                rules,
            });
        }
    }
}

impl RuleFile {
    /// The last of its patterns that matches `path` decides; `None` if
    /// none does, or if `path` is not below the file's directory.
    fn verdict(&self, path: &Path, is_dir: bool) -> Option<bool> {
        let relative = path.strip_prefix(&self.dir).ok()?;
        if relative.as_os_str().is_empty() {
            return None;
        }
        let relative = relative.to_string_lossy();
        let name = path.file_name()?.to_string_lossy();
        self.rules
            .iter()
            .rev()
            .find(|rule| rule.matches(&relative, &name, is_dir))
            .map(|rule| !rule.negated)
    }
}

impl Rule {
    /// The rule of one line, `None` for a blank line, a comment, or a
    /// pattern that can match nothing.
    fn parse(line: &str) -> Option<Rule> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let line = trim_trailing_spaces(line);
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let (negated, pattern) = match line.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        // A backslash with nothing to escape makes git's matcher fail.
        if ends_in_lone_backslash(pattern) {
            return None;
        }
        let (dir_only, pattern) = match pattern.strip_suffix('/') {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        let anchored = pattern.contains('/');
        let pattern = pattern.strip_prefix('/').unwrap_or(pattern);
        if pattern.is_empty() {
            return None;
        }
        Some(Rule {
            glob: Glob::gitignore(pattern),
            negated,
            dir_only,
            anchored,
        })
    }

    /// True if the rule matches the entry `name` at `relative` (its path
    /// from the rule file's directory).
    fn matches(&self, relative: &str, name: &str, is_dir: bool) -> bool {
        if self.dir_only && !is_dir {
            return false;
        }
        self.glob
            .matches(if self.anchored { relative } else { name })
    }
}

/// The rules of a file's text, in order; a UTF-8 byte-order mark at its
/// start is not part of the first pattern.
fn parse(text: &str) -> impl Iterator<Item = Rule> + '_ {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.split('\n').filter_map(Rule::parse)
}

/// `line` without its trailing spaces, but those escaped with `\`.
fn trim_trailing_spaces(line: &str) -> &str {
    let mut keep = 0;
    let mut chars = line.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            ' ' => {}
            '\\' => {
                keep = chars.next().map_or(i + 1, |(j, e)| j + e.len_utf8());
            }
            _ => keep = i + c.len_utf8(),
        }
    }
    &line[..keep]
}

/// True if `pattern` ends in a `\` that is not itself escaped.
fn ends_in_lone_backslash(pattern: &str) -> bool {
    let run = pattern.chars().rev().take_while(|&c| c == '\\').count();
    run % 2 == 1
}

/// The directory that holds the repository's shared files (`info/`
/// among them), for the repository whose top is `top`: `top/.git`, or,
/// when `.git` is a file (a linked worktree, a submodule), the directory
/// it names, or that directory's `commondir` (a worktree's shares the
/// main repository's).
fn common_git_dir(top: &Path) -> Option<PathBuf> {
    let dot_git = top.join(".git");
    if dot_git.is_dir() {
        return Some(dot_git);
    }
    let link = std::fs::read_to_string(&dot_git).ok()?;
    let git_dir = top.join(link.trim_end().strip_prefix("gitdir:")?.trim());
    match std::fs::read_to_string(git_dir.join("commondir")) {
        Ok(common) => Some(git_dir.join(common.trim_end())),
        Err(_) => Some(git_dir),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A directory of its own for one test, removed at the end.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "werk-ignore-{name}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        /// Writes `text` to `name`, making its directories.
        fn write(&self, name: &str, text: &str) -> &Scratch {
            let path = self.0.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
            self
        }

        fn mkdir(&self, name: &str) -> &Scratch {
            std::fs::create_dir_all(self.0.join(name)).unwrap();
            self
        }

        fn path(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// The rules of `text` as the only `.gitignore` of a fresh tree, and
    /// that tree.
    fn rules(name: &str, text: &str) -> (Scratch, Ignore) {
        let scratch = Scratch::new(name);
        scratch.write(".gitignore", text);
        let ignore = Ignore::load(&scratch.0);
        (scratch, ignore)
    }

    fn file(ignore: &Ignore, scratch: &Scratch, name: &str) -> bool {
        ignore.ignores(&scratch.path(name), false)
    }

    fn dir(ignore: &Ignore, scratch: &Scratch, name: &str) -> bool {
        ignore.ignores(&scratch.path(name), true)
    }

    #[test]
    fn an_entry_is_judged_on_its_own_rules() {
        let (s, ig) = rules("entries", "build/\n*.o\n");
        assert!(ig.ignores_entry(&s.path("sub/x.o"), false));
        assert!(ig.ignores_entry(&s.path("build"), true));
        // The walk never enters `build`; asked anyway, only `x.rs` counts.
        assert!(!ig.ignores_entry(&s.path("build/x.rs"), false));
        assert!(ig.ignores(&s.path("build/x.rs"), false));
        assert!(!ig.ignores_entry(&s.0, true));
        assert!(!ig.ignores_entry(Path::new("/elsewhere/x.o"), false));
    }

    #[test]
    fn blank_lines_and_comments_match_nothing() {
        for line in ["", "   ", "# comment", "#", "\r", "!", "/", "!/"] {
            assert!(Rule::parse(line).is_none(), "{line:?}");
        }
        let (s, ig) = rules("comments", "\n# a.txt\n   \nb.txt\n");
        assert!(!file(&ig, &s, "a.txt"));
        assert!(file(&ig, &s, "b.txt"));
        assert!(!file(&ig, &s, "# a.txt"));
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_pattern() {
        let (s, ig) = rules("bom", "\u{feff}first.txt\n");
        assert!(file(&ig, &s, "first.txt"));
    }

    #[test]
    fn escapes_and_trailing_spaces() {
        let (s, ig) = rules(
            "escapes",
            "\\#hash\n\\!bang\ntrimmed   \nspace\\ \n\\*star\nback\\\ncrlf\r\n",
        );
        assert!(file(&ig, &s, "#hash"));
        assert!(file(&ig, &s, "!bang"));
        assert!(!file(&ig, &s, "bang"));
        assert!(file(&ig, &s, "trimmed"));
        assert!(!file(&ig, &s, "trimmed "));
        assert!(file(&ig, &s, "space "));
        assert!(!file(&ig, &s, "space"));
        assert!(file(&ig, &s, "*star"));
        assert!(!file(&ig, &s, "xstar"));
        // A lone trailing backslash makes a pattern that matches nothing.
        assert!(!file(&ig, &s, "back"));
        assert!(!file(&ig, &s, "back\\"));
        assert!(file(&ig, &s, "crlf"));
        assert_eq!(trim_trailing_spaces("a \\  "), "a \\ ");
        assert_eq!(trim_trailing_spaces("a\\\\  "), "a\\\\");
        assert_eq!(trim_trailing_spaces("é  "), "é");
    }

    #[test]
    fn a_pattern_without_a_slash_matches_a_name_at_any_depth() {
        let (s, ig) = rules("names", "*.log\nfrotz\n");
        assert!(file(&ig, &s, "a.log"));
        assert!(file(&ig, &s, "deep/er/a.log"));
        assert!(!file(&ig, &s, "a.log.txt"));
        assert!(file(&ig, &s, "x/frotz"));
        assert!(dir(&ig, &s, "x/frotz"));
        assert!(file(&ig, &s, "x/frotz/inside.rs"));
    }

    #[test]
    fn a_slash_at_the_start_or_in_the_middle_anchors() {
        let (s, ig) = rules("anchored", "/top.txt\ndoc/frotz\n/src/*.gen\n");
        assert!(file(&ig, &s, "top.txt"));
        assert!(!file(&ig, &s, "sub/top.txt"));
        assert!(dir(&ig, &s, "doc/frotz"));
        assert!(file(&ig, &s, "doc/frotz/a.rs"));
        assert!(!dir(&ig, &s, "a/doc/frotz"));
        assert!(file(&ig, &s, "src/x.gen"));
        // `*` does not cross a `/`.
        assert!(!file(&ig, &s, "src/sub/x.gen"));
    }

    #[test]
    fn a_trailing_slash_matches_directories_only() {
        let (s, ig) = rules("dir-only", "build/\n/out/\n");
        assert!(dir(&ig, &s, "build"));
        assert!(dir(&ig, &s, "sub/build"));
        assert!(file(&ig, &s, "sub/build/x.o"));
        assert!(!file(&ig, &s, "build"));
        assert!(dir(&ig, &s, "out"));
        assert!(!dir(&ig, &s, "sub/out"));
        assert!(!file(&ig, &s, "out"));
    }

    #[test]
    fn the_last_matching_pattern_wins() {
        let (s, ig) = rules(
            "negation",
            "*.log\n!keep.log\nkept.*\n!kept.rs\n!first.txt\nfirst.txt\n",
        );
        assert!(file(&ig, &s, "a.log"));
        assert!(!file(&ig, &s, "keep.log"));
        assert!(!file(&ig, &s, "sub/keep.log"));
        assert!(file(&ig, &s, "kept.log"));
        assert!(!file(&ig, &s, "kept.rs"));
        assert!(file(&ig, &s, "first.txt"));
    }

    #[test]
    fn nothing_is_re_included_below_an_ignored_directory() {
        let (s, ig) = rules("parent", "build/\n!build/keep.rs\n!keep.txt\n");
        assert!(file(&ig, &s, "build/keep.rs"));
        assert!(file(&ig, &s, "build/sub/keep.txt"));
        // gitignore(5)'s example: everything but foo/bar.
        let (s, ig) = rules("parent-example", "/*\n!/foo\n/foo/*\n!/foo/bar\n");
        assert!(file(&ig, &s, "other.txt"));
        assert!(!dir(&ig, &s, "foo"));
        assert!(file(&ig, &s, "foo/baz"));
        assert!(!file(&ig, &s, "foo/bar"));
        assert!(!file(&ig, &s, "foo/bar/deeper"));
    }

    #[test]
    fn double_stars() {
        let (s, ig) = rules("stars", "**/logs\n**/gen/out\nabc/**\na/**/b\nx**y\n");
        assert!(dir(&ig, &s, "logs"));
        assert!(dir(&ig, &s, "p/q/logs"));
        assert!(file(&ig, &s, "gen/out"));
        assert!(file(&ig, &s, "p/gen/out"));
        assert!(!file(&ig, &s, "p/gen/x/out"));
        assert!(!dir(&ig, &s, "abc"));
        assert!(file(&ig, &s, "abc/x"));
        assert!(file(&ig, &s, "abc/x/y"));
        assert!(file(&ig, &s, "a/b"));
        assert!(file(&ig, &s, "a/x/b"));
        assert!(file(&ig, &s, "a/x/y/b"));
        assert!(!file(&ig, &s, "a/x/bb"));
        // Not a whole component: an ordinary `*`.
        assert!(file(&ig, &s, "xzzy"));
        assert!(!file(&ig, &s, "x/y"));
    }

    #[test]
    fn everything_but_some_files() {
        let (s, ig) = rules("whitelist", "*\n!*/\n!*.rs\n");
        assert!(!dir(&ig, &s, "src"));
        assert!(!file(&ig, &s, "src/main.rs"));
        assert!(file(&ig, &s, "src/notes.txt"));
    }

    #[test]
    fn character_classes_and_question_marks() {
        let (s, ig) = rules("classes", "*.[oa]\nfile[0-9]\n[!x]?.tmp\n[\\]]\n");
        assert!(file(&ig, &s, "lib.a"));
        assert!(file(&ig, &s, "x.o"));
        assert!(!file(&ig, &s, "x.so"));
        assert!(file(&ig, &s, "file7"));
        assert!(!file(&ig, &s, "filex"));
        assert!(file(&ig, &s, "ab.tmp"));
        assert!(!file(&ig, &s, "xb.tmp"));
        assert!(file(&ig, &s, "]"));
        let (s, ig) = rules("named-classes", "v[[:digit:]]\nweird[\n");
        assert!(file(&ig, &s, "v1"));
        assert!(!file(&ig, &s, "vx"));
        // git's matcher rejects an unclosed `[`: the pattern matches nothing.
        assert!(!file(&ig, &s, "weird["));
    }

    #[test]
    fn deeper_files_override_shallower_ones() {
        let s = Scratch::new("nested");
        s.write(".gitignore", "*.gen\n!keep.txt\n")
            .write("sub/.gitignore", "!keep.gen\nkeep.txt\n/local\n")
            .write("sub/deeper/.gitignore", "!*.gen\n")
            .mkdir("other");
        let ig = Ignore::load(&s.0);
        assert!(file(&ig, &s, "keep.gen"));
        assert!(!file(&ig, &s, "sub/keep.gen"));
        assert!(file(&ig, &s, "sub/other.gen"));
        assert!(!file(&ig, &s, "sub/deeper/other.gen"));
        assert!(!file(&ig, &s, "keep.txt"));
        assert!(file(&ig, &s, "sub/keep.txt"));
        // Anchored to its own directory.
        assert!(file(&ig, &s, "sub/local"));
        assert!(!file(&ig, &s, "local"));
        assert!(!file(&ig, &s, "other/local"));
    }

    #[test]
    fn ignored_and_always_skipped_directories_are_not_read() {
        let s = Scratch::new("unread");
        s.write(".gitignore", "cache/\n")
            .write("cache/.gitignore", "x\n")
            .write("node_modules/.gitignore", "x\n")
            .write("src/.gitignore", "x\n");
        let ig = Ignore::load(&s.0);
        let dirs: Vec<&Path> = ig.files.iter().map(|f| f.dir.as_path()).collect();
        assert_eq!(dirs, [s.0.as_path(), s.path("src").as_path()]);
    }

    #[test]
    fn the_repository_above_the_watched_directory_counts() {
        let s = Scratch::new("repo");
        s.write(".git/info/exclude", "secret.txt\n*.bak\n")
            .write(".gitignore", "/pkg/out/\n*.tmp\n/pkg/Cargo.lock\n")
            .write("pkg/.gitignore", "!kept.tmp\n")
            .write("pkg/src/.gitignore", "!secret.txt\n")
            .write("other/.gitignore", "*.rs\n");
        let ig = Ignore::load(&s.path("pkg"));
        assert!(dir(&ig, &s, "pkg/out"));
        assert!(file(&ig, &s, "pkg/out/a.o"));
        assert!(file(&ig, &s, "pkg/src/x.tmp"));
        assert!(!file(&ig, &s, "pkg/kept.tmp"));
        assert!(file(&ig, &s, "pkg/Cargo.lock"));
        assert!(file(&ig, &s, "pkg/secret.txt"));
        assert!(file(&ig, &s, "pkg/a.bak"));
        // Every `.gitignore` overrides `info/exclude`.
        assert!(!file(&ig, &s, "pkg/src/secret.txt"));
        // A sibling's rules are not the package's.
        assert!(!file(&ig, &s, "pkg/src/main.rs"));
        // Nothing outside the watched directory is ignored.
        assert!(!file(&ig, &s, "x.tmp"));
    }

    #[test]
    fn the_watched_directory_itself_is_never_ignored() {
        let s = Scratch::new("inside-ignored");
        s.mkdir(".git").write(".gitignore", "/vendor/\n*.o\n");
        let ig = Ignore::load(&s.path("vendor/pkg"));
        assert!(!file(&ig, &s, "vendor/pkg/src/main.rs"));
        assert!(file(&ig, &s, "vendor/pkg/src/main.o"));
    }

    #[test]
    fn without_a_repository_only_the_tree_counts() {
        let s = Scratch::new("no-repo");
        s.write(".gitignore", "*.rs\n")
            .write("pkg/.gitignore", "*.o\n");
        let ig = Ignore::load(&s.path("pkg"));
        assert!(!file(&ig, &s, "pkg/main.rs"));
        assert!(file(&ig, &s, "pkg/main.o"));
    }

    #[test]
    fn a_linked_worktree_reads_the_main_repository_exclude_file() {
        let s = Scratch::new("worktree");
        s.write("main/.git/info/exclude", "*.secret\n")
            .write("main/.git/worktrees/wt/commondir", "../..\n")
            .write("wt/.git", "gitdir: ../main/.git/worktrees/wt\n");
        let ig = Ignore::load(&s.path("wt"));
        assert!(file(&ig, &s, "wt/a.secret"));
        let exclude = s.path("wt/../main/.git/worktrees/wt/../../info/exclude");
        assert!(ig.is_rules_file(&exclude));
    }

    #[test]
    fn rules_files_are_recognised() {
        let s = Scratch::new("rules-files");
        s.write(".git/info/exclude", "").mkdir("pkg");
        let ig = Ignore::load(&s.path("pkg"));
        assert_eq!(ig.root(), s.path("pkg"));
        assert!(ig.is_rules_file(&s.path(".gitignore")));
        assert!(ig.is_rules_file(&s.path("pkg/.gitignore")));
        assert!(ig.is_rules_file(&s.path("pkg/new/.gitignore")));
        assert!(ig.is_rules_file(&s.path(".git/info/exclude")));
        assert!(!ig.is_rules_file(&s.path("pkg/main.rs")));
        assert!(!ig.is_rules_file(Path::new("/elsewhere/.gitignore")));
    }
}
