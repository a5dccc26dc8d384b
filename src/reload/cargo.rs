//! Cargo as `werk run` drives it: `cargo metadata` says which package and
//! binary to build and which source trees to watch, and `cargo build
//! --message-format=json` says where the executable is, whether it is new,
//! and what the compiler's errors were (cargo's "External tools" chapter:
//! JSON messages `compiler-message`, `compiler-artifact`,
//! `build-finished`).
//!
//! The compiler's messages are printed here as cargo would print them;
//! cargo's own lines (`Compiling …`) pass through to the terminal as they
//! come.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::json::Value;
use crate::procs::{Children, Tail};

/// The most error text kept for the browser.
const MOST_ERRORS: usize = 256 * 1024;

/// What to build: `werk run`'s cargo flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Cargo {
    pub manifest_path: Option<PathBuf>,
    pub package: Option<String>,
    pub bin: Option<String>,
    pub release: bool,
    pub features: Vec<String>,
    pub all_features: bool,
    pub no_default_features: bool,
    pub offline: bool,
}

/// What `cargo metadata` says about the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The package whose binary runs.
    pub package: String,
    /// The binary.
    pub bin: String,
    /// The directories of the package and of every local package it
    /// depends on (path dependencies, workspace members).
    pub trees: Vec<PathBuf>,
    /// The workspace's manifest and lock file.
    pub files: Vec<PathBuf>,
    /// Where cargo builds (never watched).
    pub target_dir: PathBuf,
    /// The workspace's directory, whose `.gitignore` rules apply.
    pub workspace_root: PathBuf,
}

/// How a build ended.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The executable, or the errors (the compiler's, else cargo's last
    /// lines).
    pub result: Result<Built, String>,
    /// How long cargo ran.
    pub took: Duration,
}

/// A successful build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Built {
    pub exe: PathBuf,
    /// Nothing was compiled: the executable is the one already running.
    pub fresh: bool,
}

impl Cargo {
    /// The flags `cargo metadata` and `cargo build` share.
    fn shared_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        if let Some(path) = &self.manifest_path {
            args.extend(["--manifest-path".into(), path.into()]);
        }
        if !self.features.is_empty() {
            args.extend(["--features".into(), self.features.join(",").into()]);
        }
        if self.all_features {
            args.push("--all-features".into());
        }
        if self.no_default_features {
            args.push("--no-default-features".into());
        }
        if self.offline {
            args.push("--offline".into());
        }
        args
    }

    /// Asks `cargo metadata` about the project.
    pub(crate) fn layout(&self) -> Result<Layout, String> {
        let output = Command::new(cargo_program())
            .args(["metadata", "--format-version", "1"])
            .args(self.shared_args())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "cargo metadata failed:\n{}",
                String::from_utf8_lossy(&output.stderr).trim_end()
            ));
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let metadata = Value::parse(&text).map_err(|e| format!("cargo metadata: {e}"))?;
        self.layout_of(&metadata)
    }

    /// The layout from `cargo metadata`'s answer.
    fn layout_of(&self, metadata: &Value) -> Result<Layout, String> {
        let packages = metadata.get("packages").map(Value::items).unwrap_or(&[]);
        let by_id = |id: &str| packages.iter().find(|p| p.str_at("id") == Some(id));
        let members: Vec<&Value> = metadata
            .get("workspace_members")
            .map(Value::items)
            .unwrap_or(&[])
            .iter()
            .filter_map(|id| by_id(id.as_str()?))
            .collect();
        let package = self.choose_package(metadata, &members, by_id)?;
        let name = package.str_at("name").unwrap_or_default().to_owned();
        let bin = self.choose_bin(package, &name)?;
        let mut trees = Vec::new();
        for id in local_dependencies(metadata, package.str_at("id").unwrap_or_default()) {
            let Some(dep) = by_id(&id) else { continue };
            if dep.get("source").is_some_and(|s| *s != Value::Null) {
                continue;
            }
            if let Some(dir) = dep
                .str_at("manifest_path")
                .map(Path::new)
                .and_then(Path::parent)
            {
                if !trees.iter().any(|t: &PathBuf| dir.starts_with(t)) {
                    trees.retain(|t: &PathBuf| !t.starts_with(dir));
                    trees.push(dir.to_owned());
                }
            }
        }
        let root = PathBuf::from(metadata.str_at("workspace_root").unwrap_or("."));
        Ok(Layout {
            package: name,
            bin,
            trees,
            files: vec![root.join("Cargo.toml"), root.join("Cargo.lock")],
            target_dir: PathBuf::from(metadata.str_at("target_directory").unwrap_or("target")),
            workspace_root: root,
        })
    }

    fn choose_package<'a>(
        &self,
        metadata: &'a Value,
        members: &[&'a Value],
        by_id: impl Fn(&str) -> Option<&'a Value>,
    ) -> Result<&'a Value, String> {
        if let Some(wanted) = &self.package {
            return members
                .iter()
                .find(|p| p.str_at("name") == Some(wanted))
                .copied()
                .ok_or_else(|| {
                    format!(
                        "no package {wanted:?} in this workspace (its packages: {})",
                        names(members)
                    )
                });
        }
        let root = metadata
            .get("resolve")
            .and_then(|r| r.str_at("root"))
            .and_then(&by_id);
        match (root, members) {
            (Some(root), _) => Ok(root),
            (None, [only]) => Ok(only),
            (None, _) => Err(format!(
                "this workspace has several packages ({}): choose one with -p NAME",
                names(members)
            )),
        }
    }

    fn choose_bin(&self, package: &Value, name: &str) -> Result<String, String> {
        let bins: Vec<&str> = package
            .get("targets")
            .map(Value::items)
            .unwrap_or(&[])
            .iter()
            .filter(|t| {
                t.get("kind")
                    .is_some_and(|k| k.items().iter().any(|k| k.as_str() == Some("bin")))
            })
            .filter_map(|t| t.str_at("name"))
            .collect();
        if let Some(wanted) = &self.bin {
            return if bins.contains(&wanted.as_str()) {
                Ok(wanted.clone())
            } else {
                Err(format!(
                    "package {name} has no binary {wanted:?} (its binaries: {})",
                    list_or_none(&bins)
                ))
            };
        }
        match (bins.as_slice(), package.str_at("default_run")) {
            ([], _) => Err(format!(
                "package {name} has no binary to run: add src/main.rs (see docs/reloader.md)"
            )),
            ([only], _) => Ok((*only).to_owned()),
            (_, Some(default)) => Ok(default.to_owned()),
            (several, None) => Err(format!(
                "package {name} has several binaries ({}): choose one with --bin NAME",
                several.join(", ")
            )),
        }
    }

    /// Builds the binary, printing cargo's progress and the compiler's
    /// messages as they come. `None` if the session ended meanwhile (the
    /// build was not started, or was stopped).
    pub(crate) fn build(&self, layout: &Layout, builds: &Children) -> Option<Outcome> {
        let started = Instant::now();
        let colour = crate::server::log::colour_wanted();
        let format = if colour {
            "json-diagnostic-rendered-ansi"
        } else {
            "json"
        };
        let mut command = Command::new(cargo_program());
        command
            .arg("build")
            .arg(format!("--message-format={format}"))
            .args(["--color", if colour { "always" } else { "never" }])
            .args(["-p", &layout.package, "--bin", &layout.bin])
            .args(self.shared_args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if self.release {
            command.arg("--release");
        }
        let fail = |why: String| {
            Some(Outcome {
                result: Err(why),
                took: started.elapsed(),
            })
        };
        let mut child = match builds.spawn(&mut command) {
            Ok(Some(child)) => child,
            Ok(None) => return None,
            Err(e) => return fail(format!("cannot run cargo: {e}")),
        };
        let tail = child.stderr.take().map(Tail::follow).transpose();
        let messages = match child.stdout.take() {
            Some(stdout) => read_messages(BufReader::new(stdout), &layout.bin),
            None => Messages::default(),
        };
        let status = builds.wait(child);
        if builds.is_stopping() {
            return None;
        }
        let took = started.elapsed();
        let cargo_said = || match &tail {
            Ok(Some(tail)) => tail.text(Duration::from_millis(200)),
            _ => String::new(),
        };
        let result = match (status, messages.exe) {
            (Ok(status), Some(exe)) if status.success() && messages.success => Ok(Built {
                exe,
                fresh: messages.fresh,
            }),
            (Ok(status), None) if status.success() => Err(format!(
                "cargo built no executable for binary {}",
                layout.bin
            )),
            (Err(e), _) => Err(format!("cannot wait for cargo: {e}")),
            _ if !messages.errors.is_empty() => Err(messages.errors),
            _ => Err(cargo_said()),
        };
        Some(Outcome { result, took })
    }
}

/// The program `cargo`, or the one the environment names (`CARGO`, as
/// cargo sets it for the programs it runs).
fn cargo_program() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn names(packages: &[&Value]) -> String {
    let names: Vec<&str> = packages.iter().filter_map(|p| p.str_at("name")).collect();
    list_or_none(&names)
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// The ids of `root` and every package it depends on, however deep.
fn local_dependencies(metadata: &Value, root: &str) -> Vec<String> {
    let nodes = metadata
        .get("resolve")
        .and_then(|r| r.get("nodes"))
        .map(Value::items)
        .unwrap_or(&[]);
    let mut seen = BTreeSet::new();
    let mut order = Vec::new();
    let mut next = vec![root.to_owned()];
    while let Some(id) = next.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        if let Some(node) = nodes.iter().find(|n| n.str_at("id") == Some(&id)) {
            let deps = node.get("deps").map(Value::items).unwrap_or(&[]);
            next.extend(
                deps.iter()
                    .filter_map(|d| d.str_at("pkg"))
                    .map(str::to_owned),
            );
        }
        order.push(id);
    }
    order
}

/// What the JSON messages of one build said.
#[derive(Debug, Default)]
struct Messages {
    exe: Option<PathBuf>,
    fresh: bool,
    success: bool,
    /// The compiler's errors, as rendered for a terminal.
    errors: String,
}

/// Reads cargo's JSON messages until the end, printing each compiler
/// message to standard error.
fn read_messages(from: impl BufRead, bin: &str) -> Messages {
    let mut messages = Messages::default();
    let mut stderr = std::io::stderr();
    for line in from.lines() {
        let Ok(line) = line else { break };
        let Ok(message) = Value::parse(&line) else {
            // Not a message: a build script's output; pass it on.
            let _ = writeln!(stderr, "{line}");
            continue;
        };
        match message.str_at("reason") {
            Some("compiler-message") => {
                let Some(diagnostic) = message.get("message") else {
                    continue;
                };
                let rendered = diagnostic.str_at("rendered").unwrap_or_default();
                let _ = stderr.write_all(rendered.as_bytes());
                if diagnostic
                    .str_at("level")
                    .is_some_and(|l| l.starts_with("error"))
                    && messages.errors.len() < MOST_ERRORS
                {
                    messages.errors.push_str(rendered);
                }
            }
            Some("compiler-artifact") => {
                let is_bin = message
                    .get("target")
                    .is_some_and(|t| t.str_at("name") == Some(bin));
                if let (true, Some(exe)) = (is_bin, message.str_at("executable")) {
                    messages.exe = Some(PathBuf::from(exe));
                    messages.fresh = message.get("fresh").and_then(Value::as_bool) == Some(true);
                }
            }
            Some("build-finished") => {
                messages.success = message.get("success").and_then(Value::as_bool) == Some(true);
            }
            _ => {}
        }
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A trimmed `cargo metadata` of a workspace: `app` (two binaries,
    /// `default-run = "app"`) depends on the path package `../shared` and
    /// on `httparse` from crates.io; `tool` is another member.
    const METADATA: &str = r#"{
      "packages": [
        {"name":"app","id":"path+file:///w/app#0.1.0","source":null,
         "manifest_path":"/w/app/Cargo.toml","default_run":"app",
         "targets":[{"kind":["bin"],"name":"app"},{"kind":["bin"],"name":"admin"},{"kind":["lib"],"name":"app"}]},
        {"name":"shared","id":"path+file:///shared#0.1.0","source":null,
         "manifest_path":"/shared/Cargo.toml","targets":[{"kind":["lib"],"name":"shared"}]},
        {"name":"httparse","id":"registry+https://github.com/rust-lang/crates.io-index#httparse@1.10.1",
         "source":"registry+https://github.com/rust-lang/crates.io-index",
         "manifest_path":"/home/me/.cargo/registry/src/httparse-1.10.1/Cargo.toml","targets":[]},
        {"name":"tool","id":"path+file:///w/tool#0.1.0","source":null,
         "manifest_path":"/w/tool/Cargo.toml","targets":[{"kind":["bin"],"name":"tool"}]}
      ],
      "workspace_members":["path+file:///w/app#0.1.0","path+file:///w/tool#0.1.0"],
      "resolve":{"root":null,"nodes":[
        {"id":"path+file:///w/app#0.1.0","deps":[
          {"pkg":"path+file:///shared#0.1.0"},
          {"pkg":"registry+https://github.com/rust-lang/crates.io-index#httparse@1.10.1"}]},
        {"id":"path+file:///shared#0.1.0","deps":[]},
        {"id":"registry+https://github.com/rust-lang/crates.io-index#httparse@1.10.1","deps":[]},
        {"id":"path+file:///w/tool#0.1.0","deps":[]}]},
      "target_directory":"/w/target","workspace_root":"/w"
    }"#;

    fn layout(cargo: Cargo) -> Result<Layout, String> {
        cargo.layout_of(&Value::parse(METADATA).unwrap())
    }

    #[test]
    fn the_package_its_binary_and_its_local_dependencies() {
        let layout = layout(Cargo {
            package: Some("app".into()),
            ..Cargo::default()
        })
        .unwrap();
        assert_eq!(layout.package, "app");
        assert_eq!(layout.bin, "app", "default-run picks among two binaries");
        assert_eq!(
            layout.trees,
            [PathBuf::from("/w/app"), PathBuf::from("/shared")],
            "registry packages are not watched"
        );
        assert_eq!(
            layout.files,
            [
                PathBuf::from("/w/Cargo.toml"),
                PathBuf::from("/w/Cargo.lock")
            ]
        );
        assert_eq!(layout.target_dir, PathBuf::from("/w/target"));
    }

    #[test]
    fn choices_that_cannot_be_made_say_how_to_make_them() {
        let err = layout(Cargo::default()).unwrap_err();
        assert!(
            err.contains("several packages (app, tool)") && err.contains("-p NAME"),
            "{err}"
        );
        let err = layout(Cargo {
            package: Some("nope".into()),
            ..Cargo::default()
        })
        .unwrap_err();
        assert!(err.contains("no package \"nope\""), "{err}");
        let err = layout(Cargo {
            package: Some("app".into()),
            bin: Some("worker".into()),
            ..Cargo::default()
        })
        .unwrap_err();
        assert!(err.contains("its binaries: app, admin"), "{err}");
        let chosen = layout(Cargo {
            package: Some("app".into()),
            bin: Some("admin".into()),
            ..Cargo::default()
        })
        .unwrap();
        assert_eq!(chosen.bin, "admin");
    }

    #[test]
    fn messages_give_the_executable_and_the_errors() {
        let stream = [
            r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"shared"},"executable":null,"fresh":true}"#,
            r#"{"reason":"compiler-message","message":{"level":"warning","rendered":"warning: unused\n"}}"#,
            r#"{"reason":"compiler-message","message":{"level":"error","rendered":"error[E0308]: mismatched types\n"}}"#,
            r#"{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"app"},"executable":"/w/target/debug/app","fresh":false}"#,
            r#"{"reason":"build-finished","success":true}"#,
        ]
        .join("\n");
        let messages = read_messages(stream.as_bytes(), "app");
        assert_eq!(messages.exe, Some(PathBuf::from("/w/target/debug/app")));
        assert!(!messages.fresh && messages.success);
        assert_eq!(messages.errors, "error[E0308]: mismatched types\n");
    }
}
