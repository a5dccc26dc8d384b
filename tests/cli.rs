//! The `werk` binary: help and usage errors, the banner and request log
//! on stderr, Ctrl-C (SIGINT) handling, and a port that is taken.

mod support;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{run, Client, GUARD};

const WERK: &str = env!("CARGO_BIN_EXE_werk");

fn werk(args: &[&str]) -> support::Ran {
    run(Command::new(WERK).args(args), b"", GUARD)
}

#[test]
fn help_lists_every_flag_and_exits_0() {
    for args in [&["--help"][..], &["-h"], &["serve", "--help"]] {
        let ran = werk(args);
        assert_eq!(ran.status.code(), Some(0), "werk {args:?}");
        let help = ran.stdout_text();
        for flag in [
            "serve",
            "--host",
            "--port",
            "--threads",
            "--max-threads",
            "--processes",
            "--max-body-size",
            "--passthrough-errors",
            "--quiet",
            "-q",
            "--help",
            "--version",
            "testapp",
            "hello",
            "echo",
        ] {
            assert!(
                help.contains(flag),
                "werk {args:?}: {flag} missing from\n{help}"
            );
        }
        assert!(
            ran.stderr.is_empty(),
            "werk {args:?}: {}",
            ran.stderr_text()
        );
    }
}

#[test]
fn version_prints_the_version() {
    let ran = werk(&["--version"]);
    assert_eq!(ran.status.code(), Some(0));
    assert_eq!(
        ran.stdout_text().trim(),
        format!("werk/{}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn bad_flags_and_values_print_one_line_and_exit_2() {
    for args in [
        &["serve", "--nope"][..],
        &["serve", "--port", "http"],
        &["serve", "--port", "70000"],
        &["serve", "--port=-1"],
        &["serve", "--threads", "0"],
        &["serve", "--threads", "many"],
        &["serve", "--max-body-size", "10MB"],
        &["serve", "--host"],
        &["serve", "nosuchapp"],
        &["serve", "echo", "extra"],
        &["frobnicate"],
        &[],
    ] {
        let ran = werk(args);
        assert_eq!(
            ran.status.code(),
            Some(2),
            "werk {args:?}: {}",
            ran.stderr_text()
        );
        let err = ran.stderr_text();
        assert!(
            err.ends_with('\n') && err.trim_end().lines().count() == 1 && !err.trim().is_empty(),
            "werk {args:?}: stderr must be exactly one line: {err:?}"
        );
        assert!(
            ran.stdout.is_empty(),
            "werk {args:?}: {}",
            ran.stdout_text()
        );
    }
}

/// A `werk serve` child process whose stderr is read line by line.
struct Werk {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Werk {
    /// Starts `werk serve echo --host 127.0.0.1 --port 0 <extra>`, with
    /// stderr a pipe (not a TTY) and `NO_COLOR` as given.
    fn start(extra: &[&str], no_color: Option<&str>) -> Werk {
        let mut command = Command::new(WERK);
        command
            .args(["serve", "echo", "--host", "127.0.0.1", "--port", "0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        match no_color {
            Some(v) => command.env("NO_COLOR", v),
            None => command.env_remove("NO_COLOR"),
        };
        let mut child = command.spawn().expect("start werk serve");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).split(b'\n') {
                let Ok(line) = line else { break };
                if tx
                    .send(String::from_utf8_lossy(&line).into_owned())
                    .is_err()
                {
                    break;
                }
            }
        });
        Werk {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a stderr line matching `pred`; panics after `limit`.
    fn wait_line(&mut self, limit: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        if let Some(line) = self.seen.iter().find(|l| pred(l)) {
            return line.clone();
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no such line on werk's stderr within {limit:?}; got:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Every stderr line so far (and those that arrive within `settle`).
    fn all_lines(&mut self, settle: Duration) -> Vec<String> {
        while let Ok(line) = self.lines.recv_timeout(settle) {
            self.seen.push(line);
        }
        self.seen.clone()
    }

    /// Waits for the banner and returns the address it names.
    fn address(&mut self) -> SocketAddr {
        let line = self.wait_line(GUARD, |l| l.contains("Running on http://"));
        let url = line
            .split("Running on http://")
            .nth(1)
            .expect("a URL")
            .trim();
        url.parse()
            .unwrap_or_else(|e| panic!("banner URL {url:?} is not an address: {e}"))
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on the pid of a child this test started and has
        // not reaped yet.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal})");
    }

    /// Waits for the process to exit; its exit code (None if killed by a
    /// signal) and how long it took. Panics after `limit`.
    fn wait_exit(&mut self, limit: Duration) -> (Option<i32>, Duration) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return (status.code(), started.elapsed());
            }
            if started.elapsed() >= limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "werk did not exit within {limit:?}; stderr:\n{}",
                    self.all_lines(Duration::from_millis(100)).join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Werk {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn serve_prints_the_banner_on_stderr_and_serves() {
    let mut werk = Werk::start(&[], None);
    let addr = werk.address();
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    assert_ne!(addr.port(), 0, "the banner must show the real port");
    werk.wait_line(GUARD, |l| l.trim() == "Press CTRL+C to quit");

    let r = Client::connect(addr).get("/x");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("\"PATH_INFO\": \"/x\""), "{}", r.text());
    assert!(
        r.text()
            .contains(&format!("\"SERVER_PORT\": \"{}\"", addr.port())),
        "{}",
        r.text()
    );

    let lines = werk.all_lines(Duration::from_millis(300));
    let warning = lines
        .iter()
        .position(|l| l.contains("WARNING: This is a development server."))
        .unwrap_or_else(|| panic!("no development-server warning in {lines:#?}"));
    let running = lines
        .iter()
        .position(|l| l.trim() == format!("* Running on http://{addr}"))
        .unwrap_or_else(|| panic!("no ' * Running on http://{addr}' in {lines:#?}"));
    let quit = lines
        .iter()
        .position(|l| l.trim() == "Press CTRL+C to quit")
        .unwrap();
    assert!(
        warning < running && running < quit,
        "banner order: {lines:#?}"
    );
    assert!(
        lines[warning].contains("Do not use it in a production deployment."),
        "{}",
        lines[warning]
    );
}

/// Checks Werkzeug's request log format:
/// `127.0.0.1 - - [dd/Mon/yyyy HH:MM:SS] "GET /x HTTP/1.1" 200 -`.
fn assert_log_line(line: &str, request: &str, code: u16) {
    let fail = || panic!("not a Werkzeug log line for {request:?} {code}: {line:?}");
    let Some(rest) = line.strip_prefix("127.0.0.1 - - [") else {
        fail()
    };
    let Some((stamp, rest)) = rest.split_once("] ") else {
        fail()
    };
    if rest != format!("\"{request}\" {code} -") {
        fail();
    }
    let b = stamp.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let ok = b.len() == 20
        && digits(0..2)
        && b[2] == b'/'
        && months.contains(&&stamp[3..6])
        && b[6] == b'/'
        && digits(7..11)
        && b[11] == b' '
        && digits(12..14)
        && b[14] == b':'
        && digits(15..17)
        && b[17] == b':'
        && digits(18..20);
    if !ok {
        fail();
    }
}

fn check_log_without_colour(no_color: Option<&str>) {
    let mut werk = Werk::start(&[], no_color);
    let addr = werk.address();
    let mut c = Client::connect(addr);
    assert_eq!(c.get("/x").status, 200);
    assert_eq!(c.get("/status/404").status, 404);
    assert_eq!(c.get("/status/500").status, 500);
    c.send(b"BROKEN\r\n\r\n");
    let bad = c.try_read_response().expect("a response to a bad request");
    assert_eq!(bad.status, 400);

    let line = werk.wait_line(GUARD, |l| l.contains("\"GET /x HTTP/1.1\""));
    assert_log_line(&line, "GET /x HTTP/1.1", 200);
    let line = werk.wait_line(GUARD, |l| l.contains("\"GET /status/404 HTTP/1.1\""));
    assert_log_line(&line, "GET /status/404 HTTP/1.1", 404);
    let line = werk.wait_line(GUARD, |l| l.contains("\"GET /status/500 HTTP/1.1\""));
    assert_log_line(&line, "GET /status/500 HTTP/1.1", 500);
    werk.wait_line(GUARD, |l| l.contains("\"BROKEN\" 400"));

    for line in werk.all_lines(Duration::from_millis(300)) {
        assert!(
            !line.contains('\x1b'),
            "ANSI escape in the log with NO_COLOR={no_color:?} and stderr not a TTY: {line:?}"
        );
    }
}

#[test]
fn request_log_has_werkzeugs_format_and_no_colour_when_not_a_tty() {
    check_log_without_colour(None);
}

#[test]
fn no_color_gives_no_ansi_escapes() {
    check_log_without_colour(Some("1"));
}

#[test]
fn quiet_logs_no_requests() {
    let mut werk = Werk::start(&["--quiet"], None);
    let addr = werk.address();
    assert_eq!(Client::connect(addr).get("/quiet-please").status, 200);
    let lines = werk.all_lines(Duration::from_millis(500));
    assert!(
        !lines.iter().any(|l| l.contains("/quiet-please")),
        "{lines:#?}"
    );
}

#[test]
fn sigint_lets_the_request_in_flight_finish_then_exits_0() {
    let mut werk = Werk::start(&[], None);
    let addr = werk.address();
    let mut c = Client::connect(addr);
    c.send_request("GET", "/sleep/1000", &[], b"");
    // A second request in flight whose start can be seen: a slow stream
    // whose first line has arrived.
    let mut streaming = Client::connect(addr);
    streaming.send_request("GET", "/stream/8?delay_ms=100", &[], b"");
    streaming
        .wait_for_bytes(b"{\"chunk\": 0}")
        .expect("the stream starts");
    // Let the sleeping request reach the app before the signal.
    std::thread::sleep(Duration::from_millis(400));
    let signalled = Instant::now();
    werk.signal(libc::SIGINT);

    let r = c.read_response();
    eprintln!(
        "in-flight response completed {:?} after SIGINT",
        signalled.elapsed()
    );
    assert_eq!(r.status, 200);
    assert!(
        r.text().contains("\"PATH_INFO\": \"/sleep/1000\""),
        "{}",
        r.text()
    );
    assert!(r.text().ends_with("}\n"));
    let r = streaming.read_response();
    let want: String = (0..8).map(|i| format!("{{\"chunk\": {i}}}\n")).collect();
    assert_eq!(r.text(), want, "the stream in flight ends properly");

    let (code, took) = werk.wait_exit(GUARD);
    eprintln!("werk exited {took:?} after the response; code {code:?}");
    assert_eq!(code, Some(0));
    let lines = werk.all_lines(Duration::from_millis(100));
    assert!(
        lines.iter().any(|l| l.contains("Shutting down")),
        "{lines:#?}"
    );
    // The request was logged as answered.
    let line = lines
        .iter()
        .find(|l| l.contains("\"GET /sleep/1000 HTTP/1.1\""))
        .unwrap_or_else(|| panic!("the request was not logged: {lines:#?}"));
    assert_log_line(line, "GET /sleep/1000 HTTP/1.1", 200);
}

#[test]
fn second_sigint_exits_at_once_with_130() {
    let mut werk = Werk::start(&[], None);
    let addr = werk.address();
    let mut c = Client::connect(addr);
    c.send_request("GET", "/sleep/15000", &[], b"");
    std::thread::sleep(Duration::from_millis(400));
    werk.signal(libc::SIGINT);
    werk.wait_line(GUARD, |l| l.contains("Shutting down"));
    let signalled = Instant::now();
    werk.signal(libc::SIGINT);
    // Well before the request could have finished.
    let (code, _) = werk.wait_exit(Duration::from_secs(10));
    eprintln!("exited {:?} after the second SIGINT", signalled.elapsed());
    assert_eq!(code, Some(130));
    // The request was not answered.
    let got = c.read_to_end().unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(&got).contains("/sleep/15000"),
        "{got:?}"
    );
}

#[test]
fn port_in_use_exits_1_naming_the_port() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let port = taken.local_addr().unwrap().port().to_string();
    let ran = werk(&["serve", "echo", "--host", "127.0.0.1", "--port", &port]);
    assert_eq!(ran.status.code(), Some(1), "{}", ran.stderr_text());
    let err = ran.stderr_text();
    assert!(
        err.contains(&port),
        "the message must name port {port}: {err}"
    );
    assert!(err.contains("in use"), "{err}");
    assert!(
        !err.contains("Running on"),
        "no banner for a server that did not start: {err}"
    );
    drop(taken);
}

/// Startup mistakes name their cause and the fix, with exit status 2 for
/// a bad command line and 1 for a server that cannot start.
#[test]
fn mistakes_name_the_cause_and_the_fix() {
    for (args, code, says) in [
        (
            &["serve", "--host", "127.0.0.1:5000"][..],
            2,
            "use --host 127.0.0.1 --port 5000",
        ),
        (&["serve", "--port", "70000"], 2, "from 0 to 65535"),
        (&["serve", "--prot", "5000"], 2, "did you mean --port?"),
        (
            &["serve", "--exclude-patterns", "[abc"],
            2,
            "the [ at character 1",
        ),
        (
            &["serve", "--host", "unix:///nonexistent-werk-dir/app.sock"],
            1,
            "does not exist: create it",
        ),
    ] {
        let ran = werk(args);
        let err = ran.stderr_text();
        assert_eq!(ran.status.code(), Some(code), "werk {args:?}: {err}");
        assert!(err.contains(says), "werk {args:?}: {err}");
    }
}

/// The keys of the Werkzeug page's own recipe (`openssl genrsa 1024`), an
/// encrypted key and key types the TLS library cannot use each get a
/// message that says what to do.
#[test]
fn refused_keys_say_how_to_make_a_good_one() {
    if !support::needs("openssl", "refused_keys_say_how_to_make_a_good_one") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("werk-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let openssl = |args: &[&str]| {
        let ok = Command::new("openssl")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success(), "openssl {args:?}");
    };
    openssl(&["genrsa", "-out", &path("small.key"), "1024"]);
    openssl(&[
        "req",
        "-new",
        "-x509",
        "-key",
        &path("small.key"),
        "-out",
        &path("small.crt"),
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
    ]);
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-aes256",
        "-pass",
        "pass:secret",
        "-out",
        &path("locked.key"),
    ]);
    let small = werk(&[
        "serve",
        "--port",
        "0",
        "--cert",
        &path("small.crt"),
        "--key",
        &path("small.key"),
    ]);
    assert_eq!(small.status.code(), Some(1));
    let err = small.stderr_text();
    assert!(
        err.contains("has 1024 bits") && err.contains("rsa:2048"),
        "{err}"
    );
    let locked = werk(&[
        "serve",
        "--port",
        "0",
        "--cert",
        &path("small.crt"),
        "--key",
        &path("locked.key"),
    ]);
    assert_eq!(locked.status.code(), Some(1));
    let err = locked.stderr_text();
    assert!(
        err.contains("is encrypted") && err.contains("openssl pkey"),
        "{err}"
    );
    // Key types the TLS library cannot sign with are named as such, in
    // both of OpenSSL's EC key formats, not as a key that does not fit.
    let unsupported = [
        (
            "p521",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"][..],
            "ECDSA P-521",
        ),
        ("ed448", &["-algorithm", "ED448"][..], "Ed448"),
        (
            "rsa5120",
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:5120"][..],
            "RSA key of 5120 bits",
        ),
    ];
    for (name, algorithm, says) in unsupported {
        let key = path(&format!("{name}.key"));
        let cert = path(&format!("{name}.crt"));
        openssl(&[&["genpkey"][..], algorithm, &["-out", &key]].concat());
        openssl(&[
            "req",
            "-new",
            "-x509",
            "-key",
            &key,
            "-out",
            &cert,
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ]);
        let mut keys = vec![key.clone()];
        if name == "p521" {
            let sec1 = path("p521.sec1.key");
            openssl(&["ec", "-in", &key, "-out", &sec1]);
            keys.push(sec1);
        }
        for key in keys {
            let ran = werk(&["serve", "--port", "0", "--cert", &cert, "--key", &key]);
            assert_eq!(ran.status.code(), Some(1), "{key}");
            let err = ran.stderr_text();
            assert!(
                err.contains(says) && err.contains("does not support") && err.contains("P-256"),
                "{key}: {err}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `werk serve files DIR`: the directory as `python -m http.server`
/// serves it, dot files left out.
#[test]
fn serve_files_lists_a_directory_and_keeps_dot_files() {
    let dir = std::env::temp_dir().join(format!("werk-serve-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("docs")).unwrap();
    std::fs::write(dir.join("notes.txt"), "plain notes").unwrap();
    std::fs::write(dir.join(".env"), "TOKEN=secret").unwrap();
    let mut child = Command::new(WERK)
        .args(["serve", "files"])
        .arg(&dir)
        .args(["--host", "127.0.0.1", "--port", "0", "-q"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let addr: SocketAddr = loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "no banner");
        if let Some(url) = line.trim().strip_prefix("* Running on http://") {
            break url.parse().unwrap();
        }
    };
    let listing = Client::connect(addr).get("/");
    assert_eq!(listing.status, 200);
    let html = listing.text();
    assert!(html.contains("<a href=\"./docs/\">docs/</a>"), "{html}");
    assert!(
        html.contains("<a href=\"./notes.txt\">notes.txt</a>"),
        "{html}"
    );
    assert!(!html.contains(".env"), "{html}");
    assert_eq!(
        Client::connect(addr).get("/notes.txt").text(),
        "plain notes"
    );
    let secret = Client::connect(addr).get("/.env");
    assert_eq!(secret.status, 404);
    assert!(!secret.text().contains("secret"));
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The command-line reference in the docs (the synopsis and the table of
/// options and flags in docs/serving.md, the `werk run` synopsis in
/// docs/reloader.md) and `werk --help` name the same commands and flags.
#[test]
fn the_docs_and_the_help_name_the_same_flags() {
    let root = env!("CARGO_MANIFEST_DIR");
    let section = |file: &str, from: &str, to: &str| {
        let text = std::fs::read_to_string(format!("{root}/docs/{file}")).unwrap();
        let start = text
            .find(from)
            .unwrap_or_else(|| panic!("{from} in {file}"));
        let end = text[start..].find(to).map_or(text.len(), |e| start + e);
        text[start..end].to_owned()
    };
    let flags = |text: &str| -> std::collections::BTreeSet<String> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| w.starts_with("--") && w[2..].starts_with(|c: char| c.is_ascii_lowercase()))
            .map(str::to_owned)
            .collect()
    };
    let serve = section(
        "serving.md",
        "## The `werk serve` command",
        "`cargo run -- serve`",
    );
    let table = section(
        "serving.md",
        "| Werkzeug | `Options` | `werk serve` |",
        "\n\n",
    );
    let run = section("reloader.md", "    werk run [--bin NAME]", "\n\n");
    let documented: std::collections::BTreeSet<String> =
        [flags(&serve), flags(&table), flags(&run)]
            .into_iter()
            .flatten()
            .collect();
    let help_text = werk(&["--help"]).stdout_text();
    let help = flags(&help_text);
    // The commands: `werk NAME` at the start of a synopsis line.
    let commands = |text: &str| -> std::collections::BTreeSet<String> {
        text.lines()
            .filter_map(|l| l.trim_start().strip_prefix("werk "))
            .filter_map(|rest| rest.split_whitespace().next())
            .filter(|w| !w.starts_with('-'))
            .map(str::to_owned)
            .collect()
    };
    let documented_commands = commands(&serve);
    let help_commands = commands(&help_text);
    assert_eq!(
        documented_commands, help_commands,
        "the commands of the synopsis in docs/serving.md and of werk --help"
    );
    let undocumented: Vec<_> = help.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&help).collect();
    assert!(
        undocumented.is_empty(),
        "in werk --help, not in the docs: {undocumented:?}"
    );
    assert!(
        unknown.is_empty(),
        "in the docs, not in werk --help: {unknown:?}"
    );
}

/// A server at rest with a kept-alive connection sleeps: its threads wake
/// for their periodic checks (about ten times a second each), not every
/// few milliseconds while a connection waits in the parker.
#[cfg(target_os = "linux")]
#[test]
fn an_idle_server_with_a_kept_alive_connection_sleeps() {
    let mut werk = Werk::start(&["--quiet"], None);
    let mut client = Client::connect(werk.address());
    assert_eq!(client.get("/").status, 200);
    let woke = wakeups_in_a_second(werk.child.id());
    assert!(
        woke < 80,
        "the server's threads woke {woke} times in a second at rest"
    );
    assert_eq!(client.get("/").status, 200, "the connection still serves");
}

/// A server whose CPU other programs take (a build on the same cores)
/// keeps its workers: its one worker, kept from the CPU for milliseconds
/// at a time while clients wait, is starved, not held by a request, and
/// more workers on the same CPU would only lengthen every request's wait
/// for as long as the load lasts. (Before this was told apart, two
/// spinning threads beside a loaded server started four more workers.)
#[cfg(target_os = "linux")]
#[test]
fn a_server_kept_from_its_cpu_does_not_start_more_workers() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    let (mut werk, pid, cpu) = werk_on_one_cpu();
    let addr = werk.address();

    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let (stop, served) = (stop.clone(), served.clone());
            std::thread::spawn(move || {
                let mut client = Client::connect(addr);
                while !stop.load(Ordering::Relaxed) {
                    assert_eq!(client.get("/").status, 200);
                    served.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let hogs: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                pin_this_thread(cpu);
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    // Extra workers may not live long (they end once they only take
    // turns): count them all along.
    let until = Instant::now() + Duration::from_millis(1500);
    let mut most = 1;
    while Instant::now() < until {
        most = most.max(workers(pid));
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    for thread in clients.into_iter().chain(hogs) {
        thread.join().unwrap();
    }
    assert!(
        served.load(Ordering::Relaxed) > 100,
        "the clients were served"
    );
    assert_eq!(most, 1, "no worker started for a starved pool");
}

/// Workers started for slow requests end once a steady load of quick
/// ones only has them take turns on the CPU; they would otherwise stay
/// for as long as the load lasts (an extra worker ends after 10 s
/// without work, which a steady load never gives it).
#[cfg(target_os = "linux")]
#[test]
fn extra_workers_that_only_take_turns_on_the_cpu_end_under_load() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let (mut werk, pid, _) = werk_on_one_cpu();
    let addr = werk.address();
    let slow: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(move || Client::connect(addr).get("/sleep/500").status))
        .collect();
    let grown = wait_for_workers(pid, GUARD, |n| n >= 3);
    assert!(grown >= 3, "slow requests start workers: {grown}");
    for request in slow {
        assert_eq!(request.join().unwrap(), 200);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut client = Client::connect(addr);
                while !stop.load(Ordering::Relaxed) {
                    assert_eq!(client.get("/").status, 200);
                }
            })
        })
        .collect();
    // Well within the 10 s an idle extra worker lives: idleness cannot
    // be what ends them.
    let under_load = wait_for_workers(pid, Duration::from_secs(5), |n| n <= 2);
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    assert!(
        under_load <= 2,
        "{under_load} workers still share one CPU under a steady load"
    );
}

/// Starts `werk serve echo` on one of this process's CPUs (so with one
/// worker); returns it, its pid and the CPU.
#[cfg(target_os = "linux")]
fn werk_on_one_cpu() -> (Werk, u32, usize) {
    let allowed = affinity_of_this_thread();
    let cpu = (0..libc::CPU_SETSIZE as usize)
        .rev()
        // SAFETY: `cpu` is below CPU_SETSIZE, the set's size.
        .find(|&cpu| unsafe { libc::CPU_ISSET(cpu, &allowed) })
        .expect("some CPU is allowed");
    // The child inherits this thread's CPUs.
    pin_this_thread(cpu);
    let werk = Werk::start(&["--quiet"], None);
    set_affinity_of_this_thread(&allowed);
    let pid = werk.child.id();
    // Threads take their names as they start, maybe after the banner.
    assert_eq!(
        wait_for_workers(pid, GUARD, |n| n > 0),
        1,
        "one CPU, one worker"
    );
    (werk, pid, cpu)
}

/// Waits up to `limit` for the count of `pid`'s workers to satisfy
/// `done`; returns the last count.
#[cfg(target_os = "linux")]
fn wait_for_workers(pid: u32, limit: Duration, done: impl Fn(usize) -> bool) -> usize {
    let mut last = 0;
    support::wait_until(limit, || {
        last = workers(pid);
        done(last)
    });
    last
}

/// The worker threads of process `pid`.
#[cfg(target_os = "linux")]
fn workers(pid: u32) -> usize {
    threads_named(pid, "werk-worker")
}

/// The threads of process `pid` whose names start with `prefix`.
#[cfg(target_os = "linux")]
fn threads_named(pid: u32, prefix: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the server's threads")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(prefix))
        .count()
}

/// A fast download in 64 KiB pieces over loopback keeps each piece's
/// small last TCP segment for the next piece (docs/wsgi-model.md): the
/// thread that would send a late one runs meanwhile (it starts with the
/// first tail kept, and lives 50 ms past the last), and ends once
/// nothing waits. Its own process, so no other server's thread counts.
#[cfg(target_os = "linux")]
#[test]
fn a_fast_stream_keeps_its_tails_and_the_tails_thread_ends_after() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let mut werk = Werk::start(&["--quiet"], None);
    let (addr, pid) = (werk.address(), werk.child.id());
    assert_eq!(threads_named(pid, "werk-tails"), 0, "no stream yet");
    let (seen, stop) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let watcher = std::thread::spawn({
        let (seen, stop) = (seen.clone(), stop.clone());
        move || {
            while !stop.load(Ordering::SeqCst) {
                if threads_named(pid, "werk-tails") > 0 {
                    seen.store(true, Ordering::SeqCst);
                    return;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    });
    let r = Client::connect(addr).get("/bytes/8388608");
    assert_eq!((r.status, r.body.len()), (200, 8 << 20));
    support::wait_until(Duration::from_secs(2), || seen.load(Ordering::SeqCst));
    stop.store(true, Ordering::SeqCst);
    watcher.join().unwrap();
    assert!(seen.load(Ordering::SeqCst), "no tail was kept in 8 MiB");
    support::wait_until(GUARD, || threads_named(pid, "werk-tails") == 0);
    assert_eq!(threads_named(pid, "werk-tails"), 0, "the thread ends");
}

#[cfg(target_os = "linux")]
fn affinity_of_this_thread() -> libc::cpu_set_t {
    // SAFETY: an all-zero cpu_set_t is a valid empty set, which
    // sched_getaffinity fills for the calling thread.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    assert_eq!(rc, 0, "sched_getaffinity");
    set
}

#[cfg(target_os = "linux")]
fn pin_this_thread(cpu: usize) {
    // SAFETY: as above; CPU_SET stays within the set for cpu < CPU_SETSIZE.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    unsafe { libc::CPU_SET(cpu, &mut set) };
    set_affinity_of_this_thread(&set);
}

#[cfg(target_os = "linux")]
fn set_affinity_of_this_thread(set: &libc::cpu_set_t) {
    // SAFETY: `set` is a valid cpu_set_t of the size given.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(set), set) };
    assert_eq!(rc, 0, "sched_setaffinity");
}

/// A server whose every worker is held by a long request sleeps too: it
/// waits on its listeners for a newcomer (and a shutdown wakes it) rather
/// than looking every few milliseconds, and the newcomer is served while
/// the request goes on.
#[cfg(target_os = "linux")]
#[test]
fn a_server_whose_workers_are_all_held_waits_for_newcomers_without_polling() {
    let mut werk = Werk::start(&["--quiet", "--threads", "1"], None);
    let addr = werk.address();
    let slow = std::thread::spawn(move || Client::connect(addr).get("/sleep/3000").status);
    let woke = wakeups_in_a_second(werk.child.id());
    // Looking every 5 ms would be 200 wake-ups a second; waking every
    // 20 ms to look for a shutdown, 50. The parker's sweep alone is 10.
    assert!(
        woke < 30,
        "the server's threads woke {woke} times in a second with its worker held"
    );
    assert_eq!(Client::connect(addr).get("/").status, 200);
    assert!(!slow.is_finished(), "served while the slow request goes on");
    assert_eq!(slow.join().unwrap(), 200);
}

/// How many times the threads of process `pid` wake in a second, after
/// 300 ms to settle.
#[cfg(target_os = "linux")]
fn wakeups_in_a_second(pid: u32) -> u64 {
    std::thread::sleep(Duration::from_millis(300));
    let before = wakeups(pid);
    std::thread::sleep(Duration::from_secs(1));
    wakeups(pid) - before
}

/// How many times the threads of process `pid` have waited and woken
/// (their voluntary context switches).
#[cfg(target_os = "linux")]
fn wakeups(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the server's threads")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("status")).ok())
        .filter_map(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|n| n.trim().parse::<u64>().ok())
        })
        .sum()
}
