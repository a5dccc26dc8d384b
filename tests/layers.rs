//! The layers of `docs/architecture.md` hold: no module of `src/` uses a
//! module of a layer above its own, nor one that its row of the "Layers"
//! table does not list under "may use"; and each row lists only what its
//! modules use. The table is read from the doc, so the two cannot drift.
//!
//! A use is a `crate::NAME` path in code (comments, doc comments and
//! string literals are skipped), `use crate::{A, B}` groups included, or
//! a `super::` path that climbs out of its top-level module to the crate
//! root; the `#[cfg(test)]` modules of `src/` count as their module's
//! code. `NAME` is a top-level module, an item that `lib.rs` re-exports
//! from one (`crate::Body` is `model`'s), an item of the crate root that
//! every layer may use (listed under the table), or another item of the
//! crate root, which is the root's layer. A failure names the file and
//! the line of the first such use of each path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The `lib.rs` row of the table: the crate root's own items.
const ROOT: &str = "lib.rs";

#[test]
fn no_module_reaches_a_layer_above_its_own() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(dir.join("docs/architecture.md")).unwrap();
    let layers = Layers::from_doc(&doc).unwrap_or_else(|e| panic!("docs/architecture.md: {e}"));
    let src = dir.join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let reexports = reexports(&strip(&lib));

    let mut wrong = layers.check_table();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    // Each module of src/ and the modules it uses.
    let mut modules: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let Some(scope) = module_path(rel) else {
            continue; // main.rs: the binary, a crate of its own
        };
        let Some(module) = scope.first().cloned() else {
            continue; // lib.rs: the root, above the layers it declares
        };
        modules.entry(module.clone()).or_default();
        let shown = format!("src/{}", rel.display());
        let Some(&(layer, ref may_use)) = layers.rows.get(&module) else {
            wrong.push(format!(
                "{shown}: module {module} is not in the Layers table"
            ));
            continue;
        };
        let code = strip(&std::fs::read_to_string(file).unwrap());
        let mut seen = BTreeSet::new();
        for Use {
            written,
            name,
            line,
        } in uses(&code, &scope)
        {
            let used = if layers.shared.contains(&name) {
                continue;
            } else if is_module(&src, &name) {
                name.clone()
            } else if let Some(from) = reexports.get(&name) {
                from.clone()
            } else {
                ROOT.to_owned()
            };
            if used == module || !seen.insert(written.clone()) {
                continue;
            }
            modules.get_mut(&module).unwrap().insert(used.clone());
            let at = format!("{shown}:{line}");
            let Some(&(used_layer, _)) = layers.rows.get(&used) else {
                wrong.push(format!(
                    "{at}: module {module} uses {written}, whose module {used} is not in the Layers table"
                ));
                continue;
            };
            if used_layer >= layer {
                wrong.push(format!(
                    "{at}: module {module} (layer {layer}) uses {written} (layer {used_layer} {} {layer})",
                    if used_layer == layer { "=" } else { ">" }
                ));
            } else if !may_use.contains(&used) {
                wrong.push(format!(
                    "{at}: module {module} (layer {layer}) uses {written} (layer {used_layer}), \
                     which its row does not list under \"may use\""
                ));
            }
        }
    }
    for (listed, (_, may_use)) in &layers.rows {
        if listed == ROOT {
            continue;
        }
        let Some(used) = modules.get(listed) else {
            wrong.push(format!(
                "the Layers table lists {listed}, which is not a module of src/"
            ));
            continue;
        };
        for unused in may_use.difference(used) {
            wrong.push(format!(
                "the Layers table says {listed} may use {unused}, which it does not use"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "layers broken (docs/architecture.md, \"Layers\"):\n{}",
        wrong.join("\n")
    );
}

/// The "Layers" table: each module's layer and what it may use, and the
/// crate-root items every layer may use.
#[derive(Debug)]
struct Layers {
    rows: BTreeMap<String, (usize, BTreeSet<String>)>,
    shared: BTreeSet<String>,
}

impl Layers {
    /// Reads the first table after the `## Layers` heading (columns:
    /// layer, modules, may use; names in backticks) and the line after
    /// it that starts "Every layer may use" (the shared root items).
    fn from_doc(doc: &str) -> Result<Layers, String> {
        let section = doc
            .split("\n## ")
            .find(|s| s.starts_with("Layers\n"))
            .ok_or("no \"## Layers\" section")?;
        let mut rows = BTreeMap::new();
        for line in section.lines().filter(|l| l.starts_with('|')) {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let Ok(layer) = cells[0].parse::<usize>() else {
                continue; // the header and the rule under it
            };
            if cells.len() != 3 {
                return Err(format!("a row without three cells: {line}"));
            }
            let may_use: BTreeSet<String> = backticked(cells[2]).collect();
            for module in backticked(cells[1]) {
                if rows
                    .insert(module.clone(), (layer, may_use.clone()))
                    .is_some()
                {
                    return Err(format!("{module} is in two rows"));
                }
            }
        }
        if rows.is_empty() {
            return Err("the Layers table has no rows".into());
        }
        let shared = section
            .lines()
            .find(|l| l.starts_with("Every layer may use"))
            .ok_or("no line \"Every layer may use ...\" under the table")?;
        Ok(Layers {
            rows,
            shared: backticked(shared).collect(),
        })
    }

    /// Each row may use only modules of lower layers.
    fn check_table(&self) -> Vec<String> {
        let mut wrong = Vec::new();
        for (module, (layer, may_use)) in &self.rows {
            for used in may_use {
                match self.rows.get(used) {
                    Some((l, _)) if l < layer => {}
                    Some((l, _)) => wrong.push(format!(
                        "the Layers table says {module} (layer {layer}) may use {used} (layer {l}), which is not below it"
                    )),
                    None => wrong.push(format!(
                        "the Layers table says {module} may use {used}, which has no row"
                    )),
                }
            }
        }
        wrong
    }
}

/// The names in backticks in a cell, without a trailing `!` or `/`.
fn backticked(cell: &str) -> impl Iterator<Item = String> + '_ {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(|name| name.trim_end_matches(['!', '/']).to_owned())
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file under `src/` (`net/doctor/mod.rs` is
/// `[net, doctor]`); empty for `lib.rs`, `None` for `main.rs`.
fn module_path(rel: &Path) -> Option<Vec<String>> {
    let mut path: Vec<String> = rel
        .iter()
        .map(|part| part.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    match path.as_slice() {
        [only] if only == "main" => return None,
        [only] if only == "lib" => return Some(Vec::new()),
        _ => {}
    }
    if path.last().is_some_and(|last| last == "mod") {
        path.pop();
    }
    Some(path)
}

/// True if `name` is a top-level module: `src/NAME.rs` or `src/NAME/`.
fn is_module(src: &Path, name: &str) -> bool {
    src.join(format!("{name}.rs")).is_file() || src.join(name).is_dir()
}

/// The items `lib.rs` re-exports, each with the module it comes from:
/// `pub use model::{App, Body};` gives `App` and `Body`, from `model`.
fn reexports(lib: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for statement in lib.split(';') {
        let words: Vec<&str> = statement.split_whitespace().collect();
        let Some(at) = words.iter().position(|w| *w == "use") else {
            continue;
        };
        if !words[..at].iter().any(|w| w.starts_with("pub")) {
            continue;
        }
        let path: String = words[at + 1..].concat();
        let Some((module, rest)) = path.split_once("::") else {
            continue;
        };
        for name in rest.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
            if !name.is_empty() && name != "self" && name != "as" {
                out.insert(name.to_owned(), module.to_owned());
            }
        }
    }
    out
}

/// `code` with comments, string literals and character literals made
/// blank (newlines kept); lifetimes stay.
fn strip(code: &str) -> String {
    let c: Vec<char> = code.chars().collect();
    let mut out = String::with_capacity(code.len());
    let blank = |out: &mut String, text: &[char]| {
        out.extend(text.iter().map(|&ch| if ch == '\n' { '\n' } else { ' ' }));
    };
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        let start = i;
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c[i] == 'r'
            && (i == 0 || !ident(c[i - 1]) || (c[i - 1] == 'b' && (i < 2 || !ident(c[i - 2]))))
            && matches!(c.get(i + 1), Some('"' | '#'))
        {
            // A raw string: r"..." or r#"..."#, as many # on each side.
            let mut j = i + 1;
            while c.get(j) == Some(&'#') {
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(c[i]);
                i += 1;
                continue;
            }
            let hashes = j - i - 1;
            j += 1;
            while j < c.len() && !(c[j] == '"' && (1..=hashes).all(|k| c.get(j + k) == Some(&'#')))
            {
                j += 1;
            }
            i = (j + 1 + hashes).min(c.len());
        } else if c[i] == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i = (i + 1).min(c.len());
        } else if c[i] == '\'' && c.get(i + 1) == Some(&'\\') {
            // An escape: '\'', '\n', '\x41', '\u{e9}'.
            i += 3;
            while i < c.len() && c[i] != '\'' {
                i += 1;
            }
            i = (i + 1).min(c.len());
        } else if c[i] == '\'' && c.get(i + 2) == Some(&'\'') {
            i += 3;
        } else {
            out.push(c[i]);
            i += 1;
            continue;
        }
        blank(&mut out, &c[start..i]);
    }
    out
}

/// Tokens of stripped code: identifiers, `::`, and single punctuation,
/// each with its line (from 1).
fn tokens(code: &str) -> (Vec<String>, Vec<usize>) {
    let c: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut lines = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < c.len() {
        if c[i].is_alphanumeric() || c[i] == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(c[start..i].iter().collect());
            lines.push(line);
        } else if c[i] == ':' && c.get(i + 1) == Some(&':') {
            out.push("::".into());
            lines.push(line);
            i += 2;
        } else {
            if c[i] == '\n' {
                line += 1;
            } else if !c[i].is_whitespace() {
                out.push(c[i].to_string());
                lines.push(line);
            }
            i += 1;
        }
    }
    (out, lines)
}

/// A crate-root name that a file uses: the path as written, the name,
/// and the line it is on.
#[derive(Debug, PartialEq)]
struct Use {
    written: String,
    name: String,
    line: usize,
}

/// The crate-root names that stripped `code` uses: each `crate::NAME`
/// (every name of a `crate::{...}` group), and each `super::...::NAME`
/// that climbs from `scope` (the file's module path, and the inline
/// modules around the path) to the root.
fn uses(code: &str, scope: &[String]) -> Vec<Use> {
    let (t, lines) = tokens(code);
    let mut out = Vec::new();
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < t.len() {
        match t[i].as_str() {
            "{" => depth += 1,
            "}" => {
                depth -= 1;
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
            }
            "mod" if t.get(i + 2).is_some_and(|b| b == "{") => {
                inline.push((t[i + 1].clone(), depth));
            }
            "crate" if t.get(i + 1).is_some_and(|s| s == "::") && (i == 0 || t[i - 1] != "::") => {
                out.extend(root_names(&t, &lines, i + 2, "crate::"));
            }
            "super" if i == 0 || t[i - 1] != "::" => {
                let mut up = 0;
                let mut j = i;
                while t.get(j).is_some_and(|s| s == "super")
                    && t.get(j + 1).is_some_and(|s| s == "::")
                {
                    up += 1;
                    j += 2;
                }
                let here = scope.len() + inline.len();
                if up > 0 && up == here {
                    let written = "super::".repeat(up);
                    out.extend(root_names(&t, &lines, j, &written));
                }
                i = j.max(i + 1);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The first name after a path prefix at `at`, or each first name of a
/// `{...}` group there.
fn root_names(t: &[String], lines: &[usize], at: usize, prefix: &str) -> Vec<Use> {
    let found = |k: usize| Use {
        written: format!("{prefix}{}", t[k]),
        name: t[k].clone(),
        line: lines[k],
    };
    let Some(first) = t.get(at) else {
        return Vec::new();
    };
    if first != "{" {
        return vec![found(at)];
    }
    let mut out = Vec::new();
    let mut depth = 0;
    let mut expect_name = true;
    for (k, token) in t.iter().enumerate().skip(at) {
        match token.as_str() {
            "{" => {
                depth += 1;
                expect_name = depth == 1;
            }
            "}" => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            "," if depth == 1 => expect_name = true,
            name if expect_name && depth == 1 => {
                if name != "self" {
                    out.push(found(k));
                }
                expect_name = false;
            }
            _ => {}
        }
    }
    out
}

#[test]
fn the_reader_finds_paths_in_code_only() {
    let code = r####"
        // crate::commented
        /* crate::block /* nested crate::deeper */ still */
        /// crate::documented
        use crate::{model::{self, Body}, http, Error};
        pub(crate) fn f<'a>(x: &'a str) -> char {
            let _ = "crate::quoted \" crate::escaped";
            let _ = r#"crate::raw "# ;
            let _ = b'"';
            let _ = '\'';
            crate::server::decode_path(x);
            'x'
        }
        mod tests {
            use super::super::super::apps;
            use super::super::inner;
        }
    "####;
    let found: Vec<(String, usize)> = uses(&strip(code), &["net".into(), "doctor".into()])
        .into_iter()
        .map(|u| (u.written, u.line))
        .collect();
    assert_eq!(
        found,
        [
            ("crate::model".to_owned(), 5),
            ("crate::http".to_owned(), 5),
            ("crate::Error".to_owned(), 5),
            ("crate::server".to_owned(), 11),
            ("super::super::super::apps".to_owned(), 15),
        ]
    );
}

#[test]
fn reexports_name_their_module() {
    let lib = "pub use model::{App, Body};\nmod x;\npub use error::Error;\nuse server::Config;\n#[cfg(feature = \"tls\")]\npub use tls::{make_ssl_devcert, SslContext};";
    let found = reexports(lib);
    assert_eq!(found["Body"], "model");
    assert_eq!(found["Error"], "error");
    assert_eq!(found["SslContext"], "tls");
    assert!(!found.contains_key("Config"));
}

/// build.rs names the systems with inotify and kqueue for the code
/// (`cfg(werk_inotify)`, `cfg(werk_kqueue)`); Cargo.toml must give the
/// same systems the `inotify` and `kqueue` dependencies, or a system would
/// compile a watcher without its crate, or the crate without its watcher.
#[test]
fn the_watcher_systems_are_the_same_in_build_rs_and_cargo_toml() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let build = std::fs::read_to_string(root.join("build.rs")).expect("build.rs");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    for (constant, dependency) in [("INOTIFY", "inotify"), ("KQUEUE", "kqueue")] {
        let line = build
            .lines()
            .find(|l| l.starts_with(&format!("const {constant}:")))
            .unwrap_or_else(|| panic!("build.rs has no const {constant}"));
        let in_build = quoted(line.split_once('=').map_or("", |(_, list)| list));
        let table = manifest
            .lines()
            .zip(manifest.lines().skip(1))
            .find(|(_, next)| next.starts_with(&format!("{dependency} =")))
            .map(|(table, _)| table)
            .unwrap_or_else(|| panic!("Cargo.toml has no target table for {dependency}"));
        let in_manifest = quoted(table);
        assert!(
            !in_build.is_empty(),
            "build.rs lists no system for {dependency}"
        );
        assert_eq!(
            in_build, in_manifest,
            "build.rs's {constant} and Cargo.toml's target table for {dependency} differ"
        );
    }
}

/// The double-quoted words of `text`.
fn quoted(text: &str) -> BTreeSet<String> {
    let words = text.split('"').skip(1).step_by(2);
    words.map(str::to_owned).collect()
}
