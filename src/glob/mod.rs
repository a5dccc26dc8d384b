//! Glob patterns for `exclude_patterns`, and the names every watch skips.
//!
//! Syntax: `*` is any run of characters within one path component, `?`
//! one character other than `/`, `**` any run including `/` (`**/`
//! also matches no directory at all), `[abc]`, `[a-z]` a character from a
//! set, `[!a-z]` (or `[^a-z]`) one outside it. Everything else is literal;
//! a `[` without its `]` is literal too.
//!
//! A changed path is excluded when a pattern matches its file name or its
//! full path. A pattern that contains a `/` and starts with neither `/`
//! nor `*` is relative to the current directory. Examples:
//!
//! | pattern | excludes |
//! |---|---|
//! | `*.log` | any file whose name ends in `.log` |
//! | `/srv/app/cache/*` | the files directly in `/srv/app/cache` |
//! | `/srv/app/cache/**`, `cache/**` | everything under that directory |
//! | `**/node_modules/**` | everything under any `node_modules` |
//!
//! A directory that a pattern excludes is not walked at all, so its
//! files are excluded with it.
//!
//! With [`Exclude::with_gitignore`], the project's `.gitignore` rules
//! ([`Ignore`]) exclude paths in watched trees too. [`Glob::gitignore`]
//! compiles their patterns in gitignore's own dialect, which differs in
//! three ways: `**` crosses `/` only as a whole component (`a**b` is
//! `a*b`), `\` makes the next character literal, and classes may name
//! POSIX classes (`[[:digit:]]`).
//!
//! Whatever the patterns say, some names are never watched inside a
//! watched directory: version-control and build directories (a build
//! writing into a watched tree would restart the server over and over),
//! and the scratch files editors write beside the file being edited.
//! Skipping those makes one save one change, and keeps the files an
//! editor writes while nothing is saved (swap files, autosaves, locks)
//! from counting at all:
//!
//! | names | written by |
//! |---|---|
//! | `.git`, `.hg`, `.svn` | version control |
//! | `target`, `node_modules` | cargo and npm builds |
//! | `*.swp`, `*.swx`, `*.swo` | vim and nano: swap and lock files, written while editing |
//! | `4913` | vim: the file it creates and deletes to learn whether it may write in a directory |
//! | `*~` | vim, emacs and nano: backups, made on save |
//! | `.#*` | emacs: the lock link made once a buffer is modified |
//! | `#*#` | emacs: auto-save files, written every 300 keystrokes or 30 idle seconds |
//! | `*___jb_tmp___`, `*___jb_old___`, `*___jb_bak___` | JetBrains IDEs' "safe write": the new text is written to `NAME___jb_tmp___` (`___jb_bak___` in older versions), the original renamed to `NAME___jb_old___`, the new one renamed to `NAME`, the old one deleted |
//! | `*.kate-swp` | Kate (and KDE's text editor part): the swap file, written while editing |
//! | `.goutputstream-*` | gedit and every GIO program: the temporary file a save is written to, then renamed over the original |
//!
//! Not skipped: `*.orig` and `*.rej` (patch and merge leftovers, real
//! files someone may want to see), and temporaries with a random part,
//! such as Helix's `NAMEXXXXXX.bck`, which only a pattern broad enough to
//! catch real files would match. Those come and go within one save, whose
//! changes the watchers count as one anyway (a burst).

pub(crate) mod ignore;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ignore::Ignore;

/// The names of the table above, skipped inside watched directories.
const ALWAYS_SKIPPED: [&str; 17] = [
    ".git",
    ".hg",
    ".svn",
    "target",
    "node_modules",
    "*.swp",
    "*.swx",
    "*.swo",
    "4913",
    "*~",
    ".#*",
    "#*#",
    "*___jb_tmp___",
    "*___jb_old___",
    "*___jb_bak___",
    "*.kate-swp",
    ".goutputstream-*",
];

/// `text` as a pattern that matches it literally: `*`, `?` and `[` each
/// inside a set of their own.
#[cfg(any(feature = "cli", test))]
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '*' | '?' | '[' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            c => out.push(c),
        }
    }
    out
}

/// One compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    /// `?`
    One,
    /// `*`
    Star,
    /// `**`
    Stars,
    /// `**/`: nothing, or anything that ends with `/`.
    Dirs,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// The two dialects a pattern can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Syntax {
    /// `exclude_patterns`: `**` crosses `/` wherever it stands, and `\` is
    /// an ordinary character.
    Exclude,
    /// gitignore(5): `**` crosses `/` only as a whole path component (and
    /// is `*` elsewhere), and `\` makes the next character literal.
    Gitignore,
}

impl Glob {
    /// Compiles `pattern`; every string is a valid pattern.
    pub(crate) fn new(pattern: &str) -> Glob {
        Glob::compile(pattern, Syntax::Exclude)
    }

    /// Compiles a pattern of a `.gitignore` file, whose leading `!`,
    /// trailing `/` and leading `/` the caller has already taken off.
    #[cfg_attr(not(feature = "cli"), allow(dead_code))]
    pub(crate) fn gitignore(pattern: &str) -> Glob {
        Glob::compile(pattern, Syntax::Gitignore)
    }

    fn compile(pattern: &str, syntax: Syntax) -> Glob {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let (token, used) = match chars[i] {
                '*' => stars(&chars, i, syntax),
                '?' => (Token::One, 1),
                '[' => match parse_class(&chars[i + 1..], syntax) {
                    Some((token, used)) => (token, 1 + used),
                    None if syntax == Syntax::Gitignore => (nothing(), 1),
                    None => (Token::Char('['), 1),
                },
                '\\' if syntax == Syntax::Gitignore && i + 1 < chars.len() => {
                    (Token::Char(chars[i + 1]), 2)
                }
                c => (Token::Char(c), 1),
            };
            tokens.push(token);
            i += used;
        }
        Glob { tokens }
    }

    /// Checks an `exclude_patterns` pattern: a `[` must open a class that
    /// ends with `]` (`[[]` is a literal `[`). The error says where.
    pub(crate) fn check(pattern: &str) -> Result<(), String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            i += match chars[i] {
                '[' => match parse_class(&chars[i + 1..], Syntax::Exclude) {
                    Some((_, used)) => 1 + used,
                    None => {
                        return Err(format!(
                            "pattern {pattern:?}: the [ at character {} opens a set that no ] \
                             closes (write [[] for a [ itself)",
                            i + 1
                        ))
                    }
                },
                _ => 1,
            };
        }
        Ok(())
    }

    /// True if the whole of `text` matches.
    pub(crate) fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        let mut memo = vec![None; (self.tokens.len() + 1) * (text.len() + 1)];
        match_at(&self.tokens, &text, 0, 0, &mut memo)
    }
}

/// The token for the run of `*` that starts at `chars[i]`, and how many
/// characters it used. A run of three or more means the same as `**`.
fn stars(chars: &[char], i: usize, syntax: Syntax) -> (Token, usize) {
    let run = chars[i..].iter().take_while(|&&c| c == '*').count();
    if run == 1 {
        return (Token::Star, 1);
    }
    let slash_after = chars.get(i + run) == Some(&'/');
    let whole_component =
        (i == 0 || chars[i - 1] == '/') && (slash_after || i + run == chars.len());
    match syntax {
        Syntax::Gitignore if !whole_component => (Token::Star, run),
        _ if slash_after => (Token::Dirs, run + 1),
        _ => (Token::Stars, run),
    }
}

/// Parses the inside of `[...]` (after the `[`); returns the class and
/// how many characters it used, `]` included.
fn parse_class(chars: &[char], syntax: Syntax) -> Option<(Token, usize)> {
    let mut i = 0;
    let negated = matches!(chars.first(), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        if chars.get(i) == Some(&']') && !first {
            return Some((Token::Class { negated, ranges }, i + 1));
        }
        first = false;
        if syntax == Syntax::Gitignore && chars[i..].starts_with(&['[', ':']) {
            if let Some((name, used)) = class_name(&chars[i + 2..]) {
                ranges.extend_from_slice(named_class(&name)?);
                i += 2 + used;
                continue;
            }
        }
        let (lo, used) = class_char(&chars[i..], syntax)?;
        i += used;
        let range_end = match chars.get(i) {
            Some('-') if chars.get(i + 1).is_some_and(|&e| e != ']') => {
                class_char(&chars[i + 1..], syntax).map(|(hi, used)| (hi, 1 + used))
            }
            _ => None,
        };
        match range_end {
            Some((hi, used)) => {
                ranges.push((lo, hi));
                i += used;
            }
            None => ranges.push((lo, lo)),
        }
    }
}

/// The name of a POSIX class such as `[:digit:]` (after its `[:`), and
/// how many characters it used; `None` if no `:]` closes it, and the `[`
/// is an ordinary one.
fn class_name(chars: &[char]) -> Option<(String, usize)> {
    let end = chars.windows(2).position(|w| w == [':', ']'])?;
    if chars[..end].contains(&']') {
        return None;
    }
    Some((chars[..end].iter().collect(), end + 2))
}

/// The ranges of a POSIX class of fnmatch(3), in ASCII as git has them;
/// `None` for an unknown name.
fn named_class(name: &str) -> Option<&'static [(char, char)]> {
    Some(match name {
        "alnum" => &[('0', '9'), ('A', 'Z'), ('a', 'z')],
        "alpha" => &[('A', 'Z'), ('a', 'z')],
        "blank" => &[(' ', ' '), ('\t', '\t')],
        "cntrl" => &[('\0', '\x1f'), ('\x7f', '\x7f')],
        "digit" => &[('0', '9')],
        "graph" => &[('!', '~')],
        "lower" => &[('a', 'z')],
        "print" => &[(' ', '~')],
        "punct" => &[('!', '/'), (':', '@'), ('[', '`'), ('{', '~')],
        "space" => &[(' ', ' '), ('\t', '\r')],
        "upper" => &[('A', 'Z')],
        "xdigit" => &[('0', '9'), ('A', 'F'), ('a', 'f')],
        _ => return None,
    })
}

/// A class of no character: in gitignore syntax, what a malformed `[`
/// (unclosed, or naming an unknown class) compiles to, since git's
/// matcher then matches nothing.
fn nothing() -> Token {
    Token::Class {
        negated: false,
        ranges: Vec::new(),
    }
}

/// One character of a class, and how many it used: in gitignore syntax a
/// `\` takes the next character literally (`[\]]` is a class of `]`).
fn class_char(chars: &[char], syntax: Syntax) -> Option<(char, usize)> {
    match chars {
        ['\\', c, ..] if syntax == Syntax::Gitignore => Some((*c, 2)),
        [c, ..] => Some((*c, 1)),
        [] => None,
    }
}

fn match_at(
    tokens: &[Token],
    text: &[char],
    t: usize,
    s: usize,
    memo: &mut Vec<Option<bool>>,
) -> bool {
    let key = t * (text.len() + 1) + s;
    if let Some(known) = memo[key] {
        return known;
    }
    let result = match tokens.get(t) {
        None => s == text.len(),
        Some(Token::Char(c)) => {
            text.get(s) == Some(c) && match_at(tokens, text, t + 1, s + 1, memo)
        }
        Some(Token::One) => {
            text.get(s).is_some_and(|&c| c != '/') && match_at(tokens, text, t + 1, s + 1, memo)
        }
        Some(Token::Class { negated, ranges }) => {
            text.get(s).is_some_and(|&c| {
                c != '/' && ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }) && match_at(tokens, text, t + 1, s + 1, memo)
        }
        Some(Token::Star) => {
            let mut end = s;
            loop {
                if match_at(tokens, text, t + 1, end, memo) {
                    break true;
                }
                if end == text.len() || text[end] == '/' {
                    break false;
                }
                end += 1;
            }
        }
        Some(Token::Stars) => (s..=text.len()).any(|end| match_at(tokens, text, t + 1, end, memo)),
        Some(Token::Dirs) => {
            match_at(tokens, text, t + 1, s, memo)
                || (s..text.len())
                    .filter(|&i| text[i] == '/')
                    .any(|i| match_at(tokens, text, t + 1, i + 1, memo))
        }
    };
    memo[key] = Some(result);
    result
}

/// True if `name`, an entry found inside a watched directory, is one of
/// the names always skipped.
pub(crate) fn always_skipped(name: &OsStr) -> bool {
    static SKIPPED: OnceLock<Vec<Glob>> = OnceLock::new();
    let skipped = SKIPPED.get_or_init(|| ALWAYS_SKIPPED.iter().map(|p| Glob::new(p)).collect());
    let name = name.to_string_lossy();
    skipped.iter().any(|g| g.matches(&name))
}

/// The user's `exclude_patterns`, the names always skipped and, for
/// `werk run`, the project's `.gitignore` rules.
#[derive(Debug, Clone, Default)]
pub(crate) struct Exclude {
    patterns: Vec<Glob>,
    gitignore: Option<Ignore>,
}

impl Exclude {
    /// Compiles `patterns`; relative ones with a `/` are taken from `cwd`.
    pub(crate) fn new(patterns: &[String], cwd: &Path) -> Exclude {
        let patterns = patterns
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| {
                if p.contains('/') && !p.starts_with('/') && !p.starts_with('*') {
                    let joined = cwd.join(p.trim_start_matches("./"));
                    Glob::new(&joined.to_string_lossy())
                } else {
                    Glob::new(p)
                }
            })
            .collect();
        Exclude {
            patterns,
            gitignore: None,
        }
    }

    /// Also excludes what `rules` ignore (in watched trees; a file named
    /// explicitly is watched whatever they say).
    #[cfg_attr(not(feature = "cli"), allow(dead_code))]
    pub(crate) fn with_gitignore(self, rules: Ignore) -> Exclude {
        Exclude {
            gitignore: Some(rules),
            ..self
        }
    }

    /// The `.gitignore` rules, to tell whether a changed path is one of
    /// their files ([`Ignore::is_rules_file`]) and load them again.
    #[cfg_attr(not(feature = "cli"), allow(dead_code))]
    pub(crate) fn gitignore(&self) -> Option<&Ignore> {
        self.gitignore.as_ref()
    }

    /// True if `path`, found in a watched tree, is excluded: by a user
    /// pattern, or by the `.gitignore` rules. The rules need to know
    /// whether `path` is a directory, which this looks up; a path that is
    /// gone (a deletion) counts as ignored when it would be either as a
    /// file or as a directory, so that deleting an ignored build directory
    /// does not count as a change.
    pub(crate) fn excludes(&self, path: &Path) -> bool {
        self.excludes_named(path)
            || self
                .gitignore
                .as_ref()
                .is_some_and(|rules| match std::fs::symlink_metadata(path) {
                    Ok(meta) => rules.ignores(path, meta.is_dir()),
                    Err(_) => rules.ignores(path, false) || rules.ignores(path, true),
                })
    }

    /// [`excludes`](Exclude::excludes) for an entry met while walking a
    /// watched tree, whose kind the walk knows, in a directory the walk
    /// entered (so not an excluded one).
    pub(crate) fn excludes_entry(&self, path: &Path, is_dir: bool) -> bool {
        self.excludes_named(path)
            || self
                .gitignore
                .as_ref()
                .is_some_and(|rules| rules.ignores_entry(path, is_dir))
    }

    /// True if a user pattern matches `path` or its file name, or, for a
    /// pattern that ends in `/**`, everything in `path` (so `cache/**`
    /// excludes the directory `cache` itself, which is then not walked).
    /// The only test for a file named explicitly: `.gitignore` rules are
    /// about the project's tree, not about files one asks to watch.
    pub(crate) fn excludes_named(&self, path: &Path) -> bool {
        let full = path.to_string_lossy();
        let name = path.file_name().map(OsStr::to_string_lossy);
        let inside: PathBuf = path.join("\u{0}");
        let inside = inside.to_string_lossy();
        self.patterns.iter().any(|g| {
            g.matches(&full)
                || name.as_deref().is_some_and(|n| g.matches(n))
                || (g.tokens.ends_with(&[Token::Char('/'), Token::Stars]) && g.matches(&inside))
        })
    }

    /// True if `name`, an entry found inside a watched directory, is one
    /// of the names always skipped.
    pub(crate) fn always_skipped(&self, name: &OsStr) -> bool {
        always_skipped(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_text_matches_itself_only() {
        let path = "/w/odd[1]*?/target";
        let glob = Glob::new(&escape(path));
        assert!(glob.matches(path));
        assert!(!glob.matches("/w/odd1xx/target"));
    }

    #[test]
    fn a_set_that_never_closes_is_refused_with_its_place() {
        let err = Glob::check("[abc").unwrap_err();
        assert!(err.contains("character 1"), "{err}");
        assert!(Glob::check("logs/*.[ch]").is_ok());
        assert!(Glob::check("[[]x").is_ok());
        assert!(Glob::check("a[!b]c[").unwrap_err().contains("character 7"));
    }

    fn m(pattern: &str, text: &str) -> bool {
        Glob::new(pattern).matches(text)
    }

    #[test]
    fn literals_and_question_marks() {
        assert!(m("a.toml", "a.toml"));
        assert!(!m("a.toml", "a.tomlx"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "a/c"));
        assert!(!m("a?c", "ac"));
    }

    #[test]
    fn star_stays_within_a_component() {
        assert!(m("*.log", "server.log"));
        assert!(m("*.log", ".log"));
        assert!(!m("*.log", "logs/server.log"));
        assert!(m("/a/*/c", "/a/b/c"));
        assert!(!m("/a/*/c", "/a/b/x/c"));
        assert!(m("*", ""));
    }

    #[test]
    fn double_star_crosses_components() {
        assert!(m("/a/**", "/a/b/c/d"));
        assert!(m("**.log", "/var/x/y.log"));
        assert!(m("/a/**/c", "/a/c"));
        assert!(m("/a/**/c", "/a/b/x/c"));
        assert!(!m("/a/**/c", "/a/b/x/cd"));
        assert!(m("**/node_modules/**", "/p/node_modules/x/y.js"));
        assert!(m("a***b", "a/x/b"));
    }

    #[test]
    fn character_classes() {
        assert!(m("[abc].rs", "b.rs"));
        assert!(!m("[abc].rs", "d.rs"));
        assert!(m("v[0-9]", "v7"));
        assert!(!m("v[!0-9]", "v7"));
        assert!(m("v[!0-9]", "vx"));
        assert!(m("v[^0-9]", "vx"));
        assert!(m("[]]", "]"));
        assert!(m("[a-]", "-"));
        assert!(!m("[!a]", "/"));
        // An unclosed class is a literal `[`.
        assert!(m("a[b", "a[b"));
    }

    fn git(pattern: &str, text: &str) -> bool {
        Glob::gitignore(pattern).matches(text)
    }

    #[test]
    fn gitignore_double_stars_only_as_whole_components() {
        assert!(git("**/foo", "foo"));
        assert!(git("**/foo", "a/b/foo"));
        assert!(git("abc/**", "abc/x/y"));
        assert!(!git("abc/**", "abc"));
        assert!(git("a/**/b", "a/b"));
        assert!(git("a/**/b", "a/x/y/b"));
        assert!(git("**", "a/b"));
        assert!(git("a/***/b", "a/x/b"));
        // Elsewhere `**` is `*`, which stays within a component.
        assert!(git("a**b", "axyb"));
        assert!(!git("a**b", "a/b"));
        assert!(!git("**b", "a/b"));
        assert!(m("a**b", "a/b"));
    }

    #[test]
    fn gitignore_named_classes_and_malformed_brackets() {
        assert!(git("[[:digit:]]z", "5z"));
        assert!(!git("[[:digit:]]z", "xz"));
        assert!(git("[[:upper:][:digit:]_]", "Q"));
        assert!(git("[[:upper:][:digit:]_]", "_"));
        assert!(!git("[[:upper:][:digit:]_]", "q"));
        assert!(git("[![:space:]]", "x"));
        assert!(!git("[![:space:]]", " "));
        // Without its `:]`, a `[:` is two characters of the set.
        assert!(git("[[:a]", ":"));
        // An unclosed `[`, or an unknown class, matches nothing at all.
        assert!(!git("weird[", "weird["));
        assert!(!git("[[:nope:]]", "n"));
        assert!(!git("[![:nope:]]", "n"));
        // In exclude patterns an unclosed `[` is literal, as before.
        assert!(m("weird[", "weird["));
    }

    #[test]
    fn gitignore_backslash_escapes() {
        assert!(git("\\*", "*"));
        assert!(!git("\\*", "x"));
        assert!(git("a\\?", "a?"));
        assert!(!git("a\\?", "ab"));
        assert!(git("[\\]a]", "]"));
        assert!(git("[\\]a]", "a"));
        assert!(git("[a-\\z]", "m"));
        assert!(git("\\#x", "#x"));
        assert!(git("[!\\!]", "x"));
        assert!(!git("[!\\!]", "!"));
        // Literal in exclude patterns.
        assert!(m("a\\?", "a\\b"));
    }

    #[test]
    fn exclude_matches_name_or_full_path() {
        let cwd = Path::new("/proj");
        let ex = Exclude::new(
            &["*.tmp".into(), "/proj/cache/*".into(), "gen/**".into()],
            cwd,
        );
        assert!(ex.excludes(Path::new("/proj/src/x.tmp")));
        assert!(ex.excludes(Path::new("/proj/cache/a.json")));
        assert!(!ex.excludes(Path::new("/proj/cache/deep/a.json")));
        assert!(ex.excludes(Path::new("/proj/gen/a/b.rs")));
        assert!(!ex.excludes(Path::new("/proj/src/main.rs")));
    }

    #[test]
    fn directories_excluded_with_their_files() {
        let ex = Exclude::new(&["/p/cache/**".into(), "build".into()], Path::new("/"));
        assert!(ex.excludes(Path::new("/p/cache")));
        assert!(ex.excludes(Path::new("/p/cache/sub")));
        assert!(ex.excludes(Path::new("/p/x/build")));
        assert!(!ex.excludes(Path::new("/p/src")));
        assert!(!ex.excludes(Path::new("/p")));
    }

    #[test]
    fn editor_and_build_names_are_always_skipped() {
        let ex = Exclude::new(&[], Path::new("/"));
        for name in [
            ".git",
            ".hg",
            ".svn",
            "target",
            "node_modules",
            ".main.rs.swp",
            ".main.rs.swx",
            ".main.rs.swo",
            "4913",
            "main.rs~",
            "main.rs.~1~",
            ".#main.rs",
            "#main.rs#",
            "main.rs___jb_tmp___",
            "main.rs___jb_old___",
            "main.rs___jb_bak___",
            ".main.rs.kate-swp",
            ".goutputstream-RKWC3X",
        ] {
            assert!(ex.always_skipped(OsStr::new(name)), "{name}");
        }
        for name in [
            "main.rs",
            "main.rs.orig",
            "main.rs.rej",
            "#main.rs",
            "4914",
            "x.swap",
        ] {
            assert!(!ex.always_skipped(OsStr::new(name)), "{name}");
        }
    }

    /// A scratch tree whose `.gitignore` ignores `*.log` and the directory
    /// `out`.
    fn ignoring_tree(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("werk-glob-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("out")).unwrap();
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join(".gitignore"), "*.log\nout/\n").unwrap();
        std::fs::write(dir.join("src/main.rs"), "").unwrap();
        std::fs::write(dir.join("src/out"), "").unwrap();
        dir
    }

    #[test]
    fn gitignore_rules_exclude_in_trees_only() {
        let dir = ignoring_tree("rules");
        let plain = Exclude::new(&["*.tmp".into()], &dir);
        let ex = plain.clone().with_gitignore(Ignore::load(&dir));
        assert!(plain.gitignore().is_none());
        assert_eq!(ex.gitignore().map(Ignore::root), Some(dir.as_path()));
        assert!(ex.excludes(&dir.join("a.log")));
        assert!(ex.excludes(&dir.join("a.tmp")));
        assert!(ex.excludes(&dir.join("out")));
        assert!(ex.excludes(&dir.join("out/x.o")));
        // A file named `out` is not the directory `out/`.
        assert!(!ex.excludes(&dir.join("src/out")));
        assert!(!ex.excludes(&dir.join("src/main.rs")));
        // The kind the caller knows, whatever is on disk.
        assert!(ex.excludes_entry(&dir.join("src/out"), true));
        assert!(!ex.excludes_entry(&dir.join("src/out"), false));
        assert!(ex.excludes_entry(&dir.join("new.log"), false));
        // A file named explicitly answers to the user's patterns only.
        assert!(!ex.excludes_named(&dir.join("a.log")));
        assert!(ex.excludes_named(&dir.join("a.tmp")));
        // Without the rules, as before.
        assert!(!plain.excludes(&dir.join("a.log")));
        assert!(!plain.excludes(&dir.join("out")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_deleted_path_is_excluded_if_it_would_be_as_a_file_or_a_directory() {
        let dir = ignoring_tree("deleted");
        let ex = Exclude::new(&[], &dir).with_gitignore(Ignore::load(&dir));
        std::fs::remove_dir(dir.join("out")).unwrap();
        assert!(ex.excludes(&dir.join("out")));
        assert!(ex.excludes(&dir.join("gone.log")));
        assert!(!ex.excludes(&dir.join("src/gone.rs")));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
