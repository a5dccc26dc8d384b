//! Helpers for the tests that run werk behind real web servers
//! (`deploy_lighttpd.rs`, `deploy_nginx.rs`): a temporary directory, a
//! guard that stops a server by its process id, readiness checks with a
//! deadline, the CGI wrapper script, and the checks of the echo app that
//! every deployment must pass.
//!
//! A server that is not installed, or does not start here, fails the test
//! under CI (`CI` set: `.ci/run` installs lighttpd, nginx-light and
//! fcgiwrap, and runs as root, so there every one must start); elsewhere
//! the test says that it skips and why, with the server's own output, and
//! returns (see `support::skip`).
#![allow(dead_code)]

use std::fs;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::{
    assert_same_bytes, pattern, skip, Client, Json, Response, INTERNAL_ERROR_TEXT,
};

/// How long a server may take to start listening.
pub const START_LIMIT: Duration = Duration::from_secs(10);

/// A directory under the system's temporary directory, removed on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "werk-{tag}-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create the temporary directory");
        TempDir { path }
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The path as text, for configuration files.
    pub fn text(&self, name: &str) -> String {
        self.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// The full path of a program, looked up in PATH and the sbin directories
/// (where Debian puts lighttpd, nginx and fcgiwrap, and which a non-root
/// PATH may lack).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The full path of the server program `name`, from the Debian package
/// `package`, for `test`; `None` when it is not installed, which fails
/// under CI and is a skip elsewhere.
pub fn installed(name: &str, package: &str, test: &str) -> Option<PathBuf> {
    let found = find_program(name);
    if found.is_none() {
        skip(
            test,
            &format!("{name} is not installed (apt-get install {package})"),
        );
    }
    found
}

/// Starts a server with `start` and waits with `ready`; `None` when it
/// does not start here (it cannot be run, exits, or is not ready in time),
/// which fails `test` under CI and is a skip elsewhere, with the server's
/// own output as the reason.
pub fn start_daemon(
    test: &str,
    name: &str,
    start: impl FnOnce() -> io::Result<Daemon>,
    ready: impl FnOnce(&mut Daemon) -> Result<(), String>,
) -> Option<Daemon> {
    let mut daemon = match start() {
        Ok(daemon) => daemon,
        Err(e) => {
            skip(test, &format!("{name} does not start here ({e})"));
            return None;
        }
    };
    match ready(&mut daemon) {
        Ok(()) => Some(daemon),
        Err(why) => {
            // Stopped quietly: `why` already holds its logs.
            drop(daemon);
            skip(test, &format!("{name} does not start here: {why}"));
            None
        }
    }
}

/// A free TCP port on 127.0.0.1 (bound, then released for the server).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// A server process, stopped by its process id (kill, then wait) when
/// dropped; its output goes to a log file in the test's directory, printed
/// if the test fails.
pub struct Daemon {
    name: String,
    child: Option<Child>,
    pid: u32,
    pub log: PathBuf,
    extra_logs: Vec<PathBuf>,
}

impl Daemon {
    /// Starts `command` with its output in `log`.
    pub fn spawn(name: &str, command: &mut Command, log: PathBuf) -> io::Result<Daemon> {
        let out = fs::File::create(&log)?;
        let err = out.try_clone()?;
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()?;
        Ok(Daemon {
            name: name.to_owned(),
            pid: child.id(),
            child: Some(child),
            log,
            extra_logs: Vec::new(),
        })
    }

    /// Another log file to print if the test fails (the server's own).
    pub fn also_log(&mut self, path: PathBuf) {
        self.extra_logs.push(path);
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// What the process printed, and its own logs.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        for path in std::iter::once(&self.log).chain(&self.extra_logs) {
            let body = fs::read_to_string(path).unwrap_or_default();
            text.push_str(&format!("--- {}\n{body}", path.display()));
        }
        text
    }

    /// The exit status, if the process has ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// Waits until `ready` is true, failing (with the logs) if the process
    /// exits first or [`START_LIMIT`] passes.
    pub fn wait_ready(&mut self, mut ready: impl FnMut() -> bool) -> Result<(), String> {
        let deadline = Instant::now() + START_LIMIT;
        loop {
            if ready() {
                return Ok(());
            }
            if let Some(status) = self.exited() {
                return Err(format!(
                    "{} exited ({status}) before it was ready\n{}",
                    self.name,
                    self.logs()
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} was not ready within {START_LIMIT:?}\n{}",
                    self.name,
                    self.logs()
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until the process accepts connections on 127.0.0.1:`port`.
    pub fn wait_listening(&mut self, port: u16) -> Result<(), String> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        self.wait_ready(|| TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok())
    }

    /// Kills the process by its id and waits for it (bounded).
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = child.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => return None,
            }
        }
    }

    /// Stops the process and checks that it is gone: no such process id,
    /// and nothing listening on `port` (when given).
    pub fn stop_and_check(mut self, port: Option<u16>) {
        let status = self.stop();
        assert!(status.is_some(), "{} did not stop when killed", self.name);
        assert!(
            !Path::new(&format!("/proc/{}", self.pid)).exists(),
            "{} (pid {}) is still there after it was stopped",
            self.name,
            self.pid
        );
        if let Some(port) = port {
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            assert!(
                TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
                "port {port} still accepts connections after {} stopped",
                self.name
            );
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("{} (pid {}) logs:\n{}", self.name, self.pid, self.logs());
        }
    }
}

/// Checks that no process left has `text` on its command line (where
/// /proc exists): a server that forked workers did not leave them behind.
pub fn assert_no_process_mentions(text: &str) {
    let Ok(entries) = fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(
            !cmdline.contains(text),
            "process {} is still running: {cmdline}",
            entry.file_name().to_string_lossy()
        );
    }
}

/// Writes the one-line CGI script that runs the echo app, executable, at
/// `path`.
pub fn write_cgi_wrapper(path: &Path) {
    let script = format!(
        "#!/bin/sh\nexec '{}' cgi echo\n",
        env!("CARGO_BIN_EXE_werk")
    );
    fs::write(path, script).expect("write the CGI wrapper");
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod the wrapper");
}

/// The value of `key` in the echo app's JSON object: a string, or the
/// text of a number or boolean; `None` if it is absent (or `json` is not
/// JSON).
pub fn json_field(json: &str, key: &str) -> Option<String> {
    match &Json::parse(json).ok()?[key] {
        Json::Null => None,
        Json::Str(s) => Some(s.clone()),
        Json::Bool(b) => Some(b.to_string()),
        Json::Num(n) => Some(n.to_string()),
        other => Some(format!("{other:?}")),
    }
}

/// Where the echo app is reachable behind a web server, and what its
/// environ should say there.
pub struct Mount {
    /// What is deployed, for messages: "lighttpd + CGI".
    pub what: &'static str,
    /// The web server's port on 127.0.0.1.
    pub port: u16,
    /// The URL prefix in front of the app's own paths.
    pub prefix: &'static str,
    /// The SCRIPT_NAME the app should see.
    pub script_name: &'static str,
    /// CGI (a process per request) rather than SCGI.
    pub cgi: bool,
}

impl Mount {
    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let target = format!("{}{path}", self.prefix);
        Client::connect(addr).request(method, &target, headers, body)
    }

    fn environ(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> String {
        let response = self.request(method, path, headers, body);
        assert_eq!(
            response.status,
            200,
            "{}: {method} {path}: {}",
            self.what,
            response.text()
        );
        assert_eq!(response.header("content-type"), Some("application/json"));
        response.text()
    }
}

/// Checks the echo app behind a web server: the environ (method, script
/// name, path info, query, headers as HTTP_*, the body), a 1 MiB body
/// round trip, a status passed through, HEAD, and a panic answered with
/// 500. Returns the process ids that served the two environ requests.
pub fn check_echo_app(m: &Mount) -> [u64; 2] {
    let what = m.what;
    let field = |json: &str, key: &str| {
        json_field(json, key).unwrap_or_else(|| panic!("{what}: no {key} in {json}"))
    };

    let get = m.environ(
        "GET",
        "/some/path?x=1&y=two",
        &[
            ("X-Custom-Header", "v1"),
            ("User-Agent", "werk-deploy-test"),
        ],
        b"",
    );
    assert_eq!(field(&get, "REQUEST_METHOD"), "GET", "{what}: {get}");
    assert_eq!(field(&get, "SCRIPT_NAME"), m.script_name, "{what}: {get}");
    assert_eq!(field(&get, "PATH_INFO"), "/some/path", "{what}: {get}");
    assert_eq!(field(&get, "QUERY_STRING"), "x=1&y=two", "{what}: {get}");
    assert_eq!(field(&get, "HTTP_X_CUSTOM_HEADER"), "v1", "{what}: {get}");
    assert_eq!(field(&get, "HTTP_USER_AGENT"), "werk-deploy-test");
    assert_eq!(field(&get, "REMOTE_ADDR"), "127.0.0.1", "{what}: {get}");
    assert_eq!(field(&get, "SERVER_PORT"), m.port.to_string(), "{what}");
    assert_eq!(field(&get, "wsgi.url_scheme"), "http");
    assert_eq!(field(&get, "wsgi.run_once"), m.cgi.to_string(), "{what}");
    assert_eq!(field(&get, "wsgi.multithread"), (!m.cgi).to_string());
    assert_eq!(field(&get, "body_length"), "0", "{what}: {get}");
    assert!(
        json_field(&get, "CONTENT_LENGTH").is_none_or(|v| v == "0"),
        "{what}: a GET has no body: {get}"
    );

    let decoded = m.environ("GET", "/a%20b/%E2%9C%93", &[], b"");
    assert_eq!(field(&decoded, "PATH_INFO"), "/a b/\u{2713}", "{what}");

    let put = m.environ("PUT", "/put", &[("Content-Type", "text/plain")], b"hello");
    assert_eq!(field(&put, "REQUEST_METHOD"), "PUT", "{what}: {put}");
    assert_eq!(field(&put, "CONTENT_LENGTH"), "5", "{what}: {put}");
    assert_eq!(field(&put, "CONTENT_TYPE"), "text/plain", "{what}: {put}");
    assert_eq!(field(&put, "body_length"), "5", "{what}: {put}");

    let big = pattern(1024 * 1024, 8);
    let echoed = m.request(
        "POST",
        "/echo",
        &[("Content-Type", "application/x-werk-test")],
        &big,
    );
    assert_eq!(echoed.status, 200, "{what}: POST /echo: {}", echoed.text());
    assert_eq!(
        echoed.header("content-type"),
        Some("application/x-werk-test"),
        "{what}"
    );
    assert_same_bytes(&echoed.body, &big, &format!("{what}: 1 MiB round trip"));

    let status = m.request("GET", "/status/404", &[], b"");
    assert_eq!(status.status, 404, "{what}: /status/404");

    let head = m.request("HEAD", "/bytes/10", &[], b"");
    assert_eq!(head.status, 200, "{what}: HEAD");
    assert!(head.body.is_empty(), "{what}: HEAD has no body");

    let panicked = m.request("GET", "/panic", &[], b"");
    assert_eq!(panicked.status, 500, "{what}: /panic: {}", panicked.text());
    assert!(
        panicked.text().contains(INTERNAL_ERROR_TEXT),
        "{what}: the 500 page: {}",
        panicked.text()
    );

    let pid = |json: &str| field(json, "pid").parse::<u64>().expect("pid");
    [pid(&get), pid(&put)]
}

/// Checks that the CGI script's message about the `/panic` request
/// reached the web server's logs (standard error of a CGI script goes
/// there), within a moment.
pub fn check_panic_logged(daemons: &[&Daemon], what: &str) {
    let logged = crate::support::wait_until(Duration::from_secs(5), || {
        daemons.iter().any(|d| {
            let logs = d.logs();
            logs.contains("werk cgi: Error on request")
                && logs.contains("panic requested by /panic")
        })
    });
    let all: String = daemons.iter().map(|d| d.logs()).collect();
    assert!(
        logged,
        "{what}: the panic message is not in the logs:\n{all}"
    );
}

/// Checks the process ids [`check_echo_app`] saw: a new process per
/// request under CGI, this test's own process (the in-process SCGI
/// server) under SCGI.
pub fn check_process_model(m: &Mount, pids: [u64; 2]) {
    if m.cgi {
        assert_ne!(
            pids[0], pids[1],
            "{}: CGI runs a process per request",
            m.what
        );
        assert_ne!(pids[0], u64::from(std::process::id()));
    } else {
        let me = u64::from(std::process::id());
        assert_eq!(
            pids,
            [me, me],
            "{}: SCGI requests reach the one server",
            m.what
        );
    }
}
