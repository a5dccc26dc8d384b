//! `werk run`, end to end: a cargo project written to a temporary
//! directory, depending on this werk by path, built offline by real cargo;
//! the `werk` binary run in it, its sources changed, broken and fixed,
//! its process killed, while clients talk to it.
//!
//! The projects depend on werk without its default `tls` feature, so that
//! building them compiles no cryptography, and share one target directory
//! under this crate's `target/`, so werk and its dependencies are built
//! once for all the tests. Each project has a package name of its own.
//! Every wait has a deadline; none is a timing assertion.

#[path = "support/running.rs"]
mod running;
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use running::{get, get_accepting, Werk};

/// The first build of a project compiles werk and its dependencies.
const FIRST_BUILD: Duration = Duration::from_secs(600);

/// A later build compiles the project alone.
const REBUILD: Duration = Duration::from_secs(120);

/// A cargo project of its own.
struct Project {
    dir: PathBuf,
}

impl Project {
    /// A package `werk-run-NAME` whose `main` serves `TEXT` (and its
    /// process id) with `run_simple`.
    fn new(name: &str, text: &str) -> Project {
        Project::with_werk_features(name, text, "default-features = false")
    }

    /// The same, with werk's dependency line ending in `features`.
    fn with_werk_features(name: &str, text: &str, features: &str) -> Project {
        let dir = std::env::temp_dir().join(format!("werk-run-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        let repo = env!("CARGO_MANIFEST_DIR");
        std::fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"werk-run-{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
                 [dependencies]\nwerk = {{ path = {repo:?}, {features} }}\n\n\
                 [workspace]\n"
            ),
        )
        .unwrap();
        // The versions this repository builds with: resolving offline
        // then needs nothing that is not downloaded already.
        std::fs::copy(Path::new(repo).join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
        std::fs::write(dir.join(".gitignore"), "/target\n*.log\n").unwrap();
        let project = Project { dir };
        project.write_main(&program(text));
        project
    }

    fn main_rs(&self) -> PathBuf {
        self.dir.join("src/main.rs")
    }

    /// Writes `src/main.rs` in place.
    fn write_main(&self, source: &str) {
        std::fs::write(self.main_rs(), source).unwrap();
    }

    /// `werk run` in the project, on a free port of 127.0.0.1, once its
    /// banner is printed.
    fn run(&self, args: &[&str]) -> Werk {
        self.run_with_env(args, &[])
    }

    /// [`Project::run`] with more environment variables.
    fn run_with_env(&self, args: &[&str], env: &[(&str, &Path)]) -> Werk {
        let mut command = Command::new(env!("CARGO_BIN_EXE_werk"));
        command.envs(env.iter().copied());
        // This repository is a path dependency, so werk run watches it
        // too; edits made to it while the tests run are not theirs.
        let repo = format!("{}/**", env!("CARGO_MANIFEST_DIR"));
        command
            .args(["run", "--offline", "--host", "127.0.0.1", "--port", "0"])
            .args(["--exclude-patterns", &repo])
            .args(args)
            .current_dir(&self.dir)
            .env("CARGO_TARGET_DIR", target_dir())
            .env_remove("CARGO_MANIFEST_DIR")
            .env_remove("CARGO_PKG_NAME");
        Werk::start(&mut command, "Press CTRL+C to quit")
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The target directory every project shares.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("werk-run")
}

/// A program that answers `TEXT pid=PID`.
fn program(text: &str) -> String {
    format!(
        r#"use werk::{{Body, Environ, Options, StartResponse}};

const TEXT: &str = {text:?};

fn app(_: &Environ, start_response: StartResponse) -> Body {{
    start_response
        .start("200 OK", [("Content-Type", "text/plain")])
        .expect("first call");
    Body::from(format!("{{TEXT}} pid={{}}\n", std::process::id()))
}}

fn main() {{
    werk::run_simple("localhost", 8080, app, Options::default().log_requests(false));
}}
"#
    )
}

/// A program whose `TEXT` is not a string: it does not compile.
fn broken_program() -> String {
    program("x").replace("const TEXT: &str = \"x\";", "const TEXT: &str = 42;")
}

/// The body of a 200 response, or `None`.
fn body_of(response: &str) -> Option<&str> {
    response
        .starts_with("HTTP/1.1 200 ")
        .then(|| response.split_once("\r\n\r\n").map(|(_, b)| b))?
}

/// The serving process's id, from `TEXT pid=PID`.
fn pid_in(body: &str) -> u32 {
    body.trim()
        .rsplit_once("pid=")
        .and_then(|(_, pid)| pid.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {body:?}"))
}

/// Waits until `GET /` answers a body that starts with `text`.
fn wait_for_text(werk: &Werk, text: &str, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(response) = get(werk.addr) {
            if let Some(body) = body_of(&response).filter(|b| b.starts_with(text)) {
                return body.to_owned();
            }
        }
        assert!(
            Instant::now() < deadline,
            "{text:?} was not served within {limit:?}:\n{}",
            werk.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `needle` is printed `times` times, for as long as a build
/// may take.
fn wait_printed(werk: &Werk, needle: &str, times: usize, limit: Duration) {
    let deadline = Instant::now() + limit;
    while werk.count(needle) < times {
        assert!(
            Instant::now() < deadline,
            "{needle:?} was not printed {times} times within {limit:?}:\n{}",
            werk.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Clients that ask `GET /` on a new connection, one after the other,
/// for as long as the test runs, and count what happens to each request.
struct Clients {
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
    thread: std::thread::JoinHandle<()>,
}

#[derive(Debug, Default)]
struct Tally {
    answered: usize,
    /// Connections refused.
    refused: Vec<String>,
    /// Requests with no response, a broken one, or one other than 200.
    failed: Vec<String>,
    /// Requests that took more than 100 ms (reported, not asserted).
    slow: usize,
    texts: Vec<String>,
}

impl Clients {
    fn start(addr: SocketAddr) -> Clients {
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Mutex::new(Tally::default()));
        let (stopping, counting) = (stop.clone(), tally.clone());
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                let started = Instant::now();
                let outcome = ask(addr);
                let mut tally = counting.lock().unwrap();
                if started.elapsed() > Duration::from_millis(100) {
                    tally.slow += 1;
                }
                match outcome {
                    Ok(body) => {
                        tally.answered += 1;
                        let text = body.split(" pid=").next().unwrap_or_default().to_owned();
                        if tally.texts.last() != Some(&text) {
                            tally.texts.push(text);
                        }
                    }
                    Err(Failure::Refused(e)) => tally.refused.push(e),
                    Err(Failure::Failed(e)) => tally.failed.push(e),
                }
                drop(tally);
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        Clients {
            stop,
            tally,
            thread,
        }
    }

    /// Waits until the clients have been answered `text`.
    fn wait_to_see(&self, text: &str) {
        let deadline = Instant::now() + running::GUARD;
        while !self.tally.lock().unwrap().texts.iter().any(|t| t == text) {
            assert!(Instant::now() < deadline, "the clients never saw {text:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn stop(self) -> Tally {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap();
        Arc::try_unwrap(self.tally).unwrap().into_inner().unwrap()
    }
}

enum Failure {
    Refused(String),
    Failed(String),
}

fn ask(addr: SocketAddr) -> Result<String, Failure> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
        .map_err(|e| Failure::Refused(e.to_string()))?;
    let failed = |e: std::io::Error| Failure::Failed(e.to_string());
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(failed)?;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .map_err(failed)?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(failed)?;
    body_of(&response)
        .map(str::to_owned)
        .ok_or_else(|| Failure::Failed(format!("not a 200: {response:?}")))
}

/// An event stream on `/__werk/live`, read line by line.
struct Events {
    lines: BufReader<TcpStream>,
}

impl Events {
    fn open(addr: SocketAddr) -> Events {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(REBUILD)).unwrap();
        stream
            .write_all(b"GET /__werk/live HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
            .unwrap();
        Events {
            lines: BufReader::new(stream),
        }
    }

    /// Reads until an event named `name` whose data contains `needle`;
    /// false at the end of the stream.
    fn wait_for(&mut self, name: &str, needle: &str) -> bool {
        let mut event = String::new();
        let mut data = String::new();
        loop {
            let mut line = String::new();
            match self.lines.read_line(&mut line) {
                Ok(0) | Err(_) => return false,
                Ok(_) => {}
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if let Some(e) = line.strip_prefix("event: ") {
                event = e.to_owned();
            } else if let Some(d) = line.strip_prefix("data:") {
                data.push_str(d.trim_start());
                data.push('\n');
            } else if line.is_empty() {
                if event == name && data.contains(needle) {
                    return true;
                }
                event.clear();
                data.clear();
            }
        }
    }

    /// True once the stream ends.
    fn ends(&mut self) -> bool {
        let mut rest = Vec::new();
        self.lines.read_to_end(&mut rest).is_ok()
    }
}

#[test]
fn edit_break_fix_and_kill_with_no_request_refused_or_failed() {
    let project = Project::new("loop", "one");
    let werk = project.run(&[]);
    wait_printed(&werk, " * Built in ", 1, FIRST_BUILD);
    wait_for_text(&werk, "one", REBUILD);
    let clients = Clients::start(werk.addr);

    // A change: the new text is served, from a new process.
    let first_pid = pid_in(&wait_for_text(&werk, "one", REBUILD));
    project.write_main(&program("two"));
    let second_pid = pid_in(&wait_for_text(&werk, "two", REBUILD));
    assert_ne!(first_pid, second_pid);

    // A break: the old text is still served, and the event stream says
    // what the compiler said.
    let mut events = Events::open(werk.addr);
    assert!(events.wait_for("hello", ""), "no hello:\n{}", werk.log());
    project.write_main(&broken_program());
    wait_printed(&werk, " * Build failed", 1, REBUILD);
    assert!(
        events.wait_for("failed", "mismatched types"),
        "no failed event with the compiler's error:\n{}",
        werk.log()
    );
    let during = get(werk.addr).unwrap();
    assert_eq!(body_of(&during).map(pid_in), Some(second_pid), "{during}");
    assert!(werk.log().contains("error[E0308]: mismatched types"));

    // The fix: the new text; the old process's stream ends, so the page
    // reconnects to the new build and reloads.
    project.write_main(&program("three"));
    let third_pid = pid_in(&wait_for_text(&werk, "three", REBUILD));
    assert!(events.ends());
    running::wait_gone(second_pid);
    clients.wait_to_see("three");

    let tally = clients.stop();
    eprintln!(
        "{} requests answered, {} took over 100 ms; texts in order: {:?}",
        tally.answered, tally.slow, tally.texts
    );
    assert!(tally.refused.is_empty(), "refused: {:?}", tally.refused);
    assert!(tally.failed.is_empty(), "failed: {:?}", tally.failed);
    assert_eq!(tally.texts, ["one", "two", "three"]);
    // One line per reload, printed once the old process has gone.
    wait_printed(&werk, " * Reloaded after a change to ", 2, running::GUARD);
    assert_eq!(
        werk.count(" * Reloaded after a change to "),
        2,
        "{}",
        werk.log()
    );

    // kill -9: the next request gets 503 naming the signal, at once.
    running::kill("KILL", &third_pid.to_string());
    running::wait_gone(third_pid);
    let gone = Instant::now();
    let response = loop {
        let response = get(werk.addr).unwrap();
        if !response.starts_with("HTTP/1.1 200") || gone.elapsed() > running::GUARD {
            break response;
        }
    };
    eprintln!(
        "503 {} ms after the process was gone",
        gone.elapsed().as_millis()
    );
    assert!(response.starts_with("HTTP/1.1 503 "), "{response}");
    assert!(
        response.contains("was killed by signal SIGKILL"),
        "{response}"
    );

    // The next change starts it again.
    project.write_main(&program("four"));
    wait_for_text(&werk, "four", REBUILD);
}

#[test]
fn a_first_build_that_fails_is_answered_with_503_and_the_errors() {
    let project = Project::new("first-fails", "x");
    project.write_main(&broken_program());
    let werk = project.run(&[]);
    wait_printed(&werk, " * No build serves", 1, FIRST_BUILD);

    let plain = get(werk.addr).unwrap();
    assert!(plain.starts_with("HTTP/1.1 503 "), "{plain}");
    assert!(plain.contains("Content-Type: text/plain"), "{plain}");
    assert!(plain.contains("error[E0308]: mismatched types"), "{plain}");
    let page = get_accepting(werk.addr, Some("text/html,application/xhtml+xml,*/*;q=0.8")).unwrap();
    assert!(page.contains("Content-Type: text/html"), "{page}");
    assert!(page.contains("<h1>The build failed</h1>"), "{page}");
    assert!(
        page.contains("/__werk/live.js?id="),
        "the page reloads itself: {page}"
    );

    project.write_main(&program("fixed"));
    wait_for_text(&werk, "fixed", REBUILD);
}

#[test]
fn a_program_that_panics_at_start_is_not_restarted_in_a_loop() {
    let project = Project::new("panics", "x");
    project.write_main(&program("x").replace(
        "fn main() {",
        "fn main() {\n    panic!(\"cannot read app.toml\");",
    ));
    let werk = project.run(&[]);
    wait_printed(
        &werk,
        " * The server process exited with status 101",
        1,
        FIRST_BUILD,
    );
    let response = get(werk.addr).unwrap();
    assert!(response.starts_with("HTTP/1.1 503 "), "{response}");
    assert!(
        response.contains("cannot read app.toml"),
        "the last lines: {response}"
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        werk.count("panicked at src/main.rs"),
        1,
        "started again:\n{}",
        werk.log()
    );

    project.write_main(&program("fixed"));
    wait_for_text(&werk, "fixed", REBUILD);
}

/// The ways editors save `src/main.rs`, each of which must give exactly
/// one build.
fn saves(main: &Path, source: &str, style: &str) {
    let dir = main.parent().unwrap();
    let at = |name: &str| dir.join(name);
    match style {
        "in place" => std::fs::write(main, source).unwrap(),
        "vim" => {
            // The write test, the backup by rename, the new file.
            std::fs::write(at("4913"), "").unwrap();
            std::fs::remove_file(at("4913")).unwrap();
            std::fs::rename(main, at("main.rs~")).unwrap();
            std::fs::write(main, source).unwrap();
            std::fs::remove_file(at("main.rs~")).unwrap();
        }
        "jetbrains" => {
            std::fs::write(at("main.rs___jb_tmp___"), source).unwrap();
            std::fs::rename(main, at("main.rs___jb_old___")).unwrap();
            std::fs::rename(at("main.rs___jb_tmp___"), main).unwrap();
            std::fs::remove_file(at("main.rs___jb_old___")).unwrap();
        }
        "emacs" => {
            std::os::unix::fs::symlink("me@host.1:1", at(".#main.rs")).unwrap();
            std::fs::write(at("#main.rs#"), source).unwrap();
            std::fs::write(main, source).unwrap();
            std::fs::remove_file(at("#main.rs#")).unwrap();
            std::fs::remove_file(at(".#main.rs")).unwrap();
        }
        "a burst" => {
            for _ in 0..5 {
                std::fs::write(main, source).unwrap();
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        other => panic!("no save style {other}"),
    }
}

#[test]
fn every_editor_save_style_builds_once() {
    let project = Project::new("saves", "start");
    let werk = project.run(&[]);
    wait_printed(&werk, " * Built in ", 1, FIRST_BUILD);
    for (n, style) in ["in place", "vim", "jetbrains", "emacs", "a burst"]
        .into_iter()
        .enumerate()
    {
        let text = format!("saved {n}");
        saves(&project.main_rs(), &program(&text), style);
        wait_for_text(&werk, &text, REBUILD);
        // Anything the save still had to say has been said by now.
        std::thread::sleep(Duration::from_millis(300));
        let log = werk.log();
        let builds: Vec<&str> = log
            .lines()
            .filter(|l| l.starts_with(" * Detected change in "))
            .collect();
        assert_eq!(builds.len(), n + 1, "{style}: one build per save:\n{log}");
        assert!(
            builds[n].ends_with("src/main.rs', building"),
            "{style}: the change names the file saved: {}",
            builds[n]
        );
    }
}

/// A path dependency added to the manifest while `werk run` runs is
/// watched from then on: the manifest change reads the packages again.
#[test]
fn a_path_dependency_added_to_the_manifest_is_watched() {
    let project = Project::new("add-dep", "before");
    let dep = std::env::temp_dir().join(format!("werk-run-greeting-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dep);
    std::fs::create_dir_all(dep.join("src")).unwrap();
    std::fs::write(
        dep.join("Cargo.toml"),
        "[package]\nname = \"greeting\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    let write_dep = |text: &str| {
        std::fs::write(
            dep.join("src/lib.rs"),
            format!("pub const TEXT: &str = {text:?};\n"),
        )
        .unwrap()
    };
    write_dep("from the dependency 1");
    let werk = project.run(&[]);
    wait_printed(&werk, " * Built in ", 1, FIRST_BUILD);
    wait_for_text(&werk, "before", REBUILD);

    let manifest = project.dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap().replace(
        "[dependencies]\n",
        &format!(
            "[dependencies]\ngreeting = {{ path = {:?} }}\n",
            dep.display().to_string()
        ),
    );
    std::fs::write(&manifest, text).unwrap();
    project.write_main(&program("x").replace(
        "const TEXT: &str = \"x\";",
        "const TEXT: &str = greeting::TEXT;",
    ));
    wait_for_text(&werk, "from the dependency 1", REBUILD);

    write_dep("from the dependency 2");
    wait_for_text(&werk, "from the dependency 2", REBUILD);
    let log = werk.log();
    assert!(
        log.contains(&format!("{}", dep.join("src/lib.rs").display())),
        "the change in the dependency was seen:\n{log}"
    );
    let _ = std::fs::remove_dir_all(&dep);
}

#[test]
fn ctrl_c_stops_werk_run_and_its_program() {
    let project = Project::new("ctrl-c", "up");
    let mut werk = project.run(&[]);
    wait_printed(&werk, " * Built in ", 1, FIRST_BUILD);
    let pid = pid_in(&wait_for_text(&werk, "up", REBUILD));
    werk.signal_group("INT");
    let status = werk.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", werk.log());
    running::wait_gone(pid);
}

/// The certificate served on `addr`, in PEM, as Python's `ssl` reads it.
fn served_certificate(addr: SocketAddr) -> String {
    let script =
        "import ssl, sys; print(ssl.get_server_certificate(('127.0.0.1', int(sys.argv[1]))))";
    let out = Command::new("python3")
        .args(["-c", script, &addr.port().to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn an_adhoc_certificate_stays_the_same_across_builds() {
    if !support::needs(
        "python3",
        "an_adhoc_certificate_stays_the_same_across_builds",
    ) {
        return;
    }
    let project = Project::with_werk_features("tls", "one", "features = [\"tls\"]");
    let werk = project.run(&["--cert", "adhoc"]);
    wait_printed(&werk, " * Built in ", 1, FIRST_BUILD);
    assert!(
        werk.log().contains(" * Running on https://127.0.0.1:"),
        "{}",
        werk.log()
    );
    let before = served_certificate(werk.addr);
    assert!(before.contains("BEGIN CERTIFICATE"), "{before}");
    project.write_main(&program("two"));
    wait_printed(&werk, " * Reloaded after a change to ", 1, REBUILD);
    assert_eq!(served_certificate(werk.addr), before);
}

/// `werk run --cert local`: every build serves the certificate the local
/// authority signed, which curl verifies against the root alone.
#[test]
fn a_local_certificate_verifies_and_stays_the_same_across_builds() {
    let test = "a_local_certificate_verifies_and_stays_the_same_across_builds";
    if !support::needs("python3", test) || !support::needs("curl", test) {
        return;
    }
    let project = Project::with_werk_features("tls-local", "one", "features = [\"tls\"]");
    // The authority goes to XDG_DATA_HOME, outside the project (whose
    // files werk run watches); HOME stays, for cargo and rustup.
    let data = std::env::temp_dir().join(format!("werk-run-data-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let werk = project.run_with_env(&["--cert", "local"], &[("XDG_DATA_HOME", &data)]);
    wait_printed(&werk, " * Built in ", 1, FIRST_BUILD);
    let root = data.join("werk/root.crt");
    let curl = || {
        let port = werk.addr.port();
        Command::new("curl")
            .args(["-sS", "--max-time", "10", "--cacert"])
            .arg(&root)
            .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
            .arg(format!("https://localhost:{port}/"))
            .output()
            .unwrap()
    };
    let out = curl();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        werk.log()
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("one"));
    let before = served_certificate(werk.addr);
    project.write_main(&program("two"));
    wait_printed(&werk, " * Reloaded after a change to ", 1, REBUILD);
    assert_eq!(served_certificate(werk.addr), before);
    let out = curl();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("two"),
        "{}",
        werk.log()
    );
    let _ = std::fs::remove_dir_all(&data);
}
