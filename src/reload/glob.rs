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

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// Names that are skipped inside watched directories, whatever the
/// patterns say: version-control and build directories (a build writing
/// into a watched tree would restart the server over and over) and the
/// scratch files editors write next to the file being edited.
const ALWAYS_SKIPPED: [&str; 11] = [
    ".git",
    ".hg",
    ".svn",
    "target",
    "node_modules",
    "*.swp",
    "*.swx",
    "*.swo",
    "*~",
    ".#*",
    "4913",
];

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

impl Glob {
    /// Compiles `pattern`; every string is a valid pattern.
    pub(crate) fn new(pattern: &str) -> Glob {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' if chars.get(i + 1) == Some(&'*') => {
                    if chars.get(i + 2) == Some(&'/') {
                        tokens.push(Token::Dirs);
                        i += 3;
                    } else {
                        tokens.push(Token::Stars);
                        i += 2;
                    }
                    // `***` and beyond mean the same as `**`.
                    while chars.get(i) == Some(&'*') {
                        i += 1;
                    }
                }
                '*' => {
                    tokens.push(Token::Star);
                    i += 1;
                }
                '?' => {
                    tokens.push(Token::One);
                    i += 1;
                }
                '[' => match parse_class(&chars[i + 1..]) {
                    Some((token, used)) => {
                        tokens.push(token);
                        i += 1 + used;
                    }
                    None => {
                        tokens.push(Token::Char('['));
                        i += 1;
                    }
                },
                c => {
                    tokens.push(Token::Char(c));
                    i += 1;
                }
            }
        }
        Glob { tokens }
    }

    /// True if the whole of `text` matches.
    pub(crate) fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        let mut memo = vec![None; (self.tokens.len() + 1) * (text.len() + 1)];
        match_at(&self.tokens, &text, 0, 0, &mut memo)
    }
}

/// Parses the inside of `[...]` (after the `[`); returns the class and
/// how many characters it used, `]` included.
fn parse_class(chars: &[char]) -> Option<(Token, usize)> {
    let mut i = 0;
    let negated = matches!(chars.first(), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = *chars.get(i)?;
        if c == ']' && !first {
            return Some((Token::Class { negated, ranges }, i + 1));
        }
        first = false;
        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|&e| e != ']') {
            ranges.push((c, chars[i + 2]));
            i += 3;
        } else {
            ranges.push((c, c));
            i += 1;
        }
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

/// The user's `exclude_patterns` plus the names always skipped.
#[derive(Debug, Clone, Default)]
pub(crate) struct Exclude {
    patterns: Vec<Glob>,
    skipped: Vec<Glob>,
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
            skipped: ALWAYS_SKIPPED.iter().map(|p| Glob::new(p)).collect(),
        }
    }

    /// True if a user pattern matches `path` or its file name, or, for a
    /// pattern that ends in `/**`, everything in `path` (so `cache/**`
    /// excludes the directory `cache` itself, which is then not walked).
    pub(crate) fn excludes(&self, path: &Path) -> bool {
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
        let name = name.to_string_lossy();
        self.skipped.iter().any(|g| g.matches(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        for name in [".git", "target", "a.rs.swp", "a.rs~", ".#a.rs", "4913"] {
            assert!(ex.always_skipped(OsStr::new(name)), "{name}");
        }
        assert!(!ex.always_skipped(OsStr::new("a.rs")));
    }
}
