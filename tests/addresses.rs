//! Where the server listens, over real sockets: `localhost` on both
//! loopback addresses, `::` for both families with IPv4 clients unmapped,
//! a specific address refusing the other family, Unix sockets (with curl
//! too, which CI must have: see `support::needs`), and listening sockets
//! inherited through LISTEN_FDS by a child process.

mod support;

use std::io::{Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use werk::{make_server, Options, ServerHandle};

const TIMEOUT: Duration = Duration::from_secs(5);

/// Serves the echo app on `host`, shutting down when dropped.
struct Running {
    handle: ServerHandle,
    addresses: Vec<SocketAddr>,
    unix: Vec<std::path::PathBuf>,
    thread: Option<std::thread::JoinHandle<Result<(), werk::Error>>>,
}

impl Running {
    fn start(host: &str) -> Running {
        let server = make_server(
            host,
            0,
            werk::apps::echo,
            Options::default().log_requests(false),
        )
        .unwrap_or_else(|e| panic!("cannot serve on {host}: {e}"));
        let handle = server.handle();
        let addresses = server.addresses().to_vec();
        let unix = server.unix_sockets();
        let thread = std::thread::spawn(move || server.serve_forever());
        Running {
            handle,
            addresses,
            unix,
            thread: Some(thread),
        }
    }

    fn port(&self) -> u16 {
        self.addresses[0].port()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Sends one GET and returns the whole response as text.
fn get(mut stream: impl Read + Write, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

fn tcp(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    Ok(stream)
}

/// The value of a string entry in the echo app's JSON, given a whole
/// response or its body.
fn json_str(text: &str, key: &str) -> Option<String> {
    let body = text.split_once("\r\n\r\n").map_or(text, |(_, body)| body);
    match &support::Json::parse(body).ok()?[key] {
        support::Json::Str(s) => Some(s.clone()),
        _ => None,
    }
}

fn ipv6_loopback() -> bool {
    let ok = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok();
    if !ok {
        eprintln!("skipped the IPv6 part: this machine has no ::1");
    }
    ok
}

#[test]
fn localhost_answers_on_both_loopback_addresses() {
    let server = Running::start("localhost");
    let port = server.port();
    let v4: SocketAddr = ([127, 0, 0, 1], port).into();
    let response = get(tcp(v4).unwrap(), "/");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert_eq!(
        json_str(&response, "REMOTE_ADDR").as_deref(),
        Some("127.0.0.1")
    );
    if ipv6_loopback() {
        assert!(server
            .addresses
            .contains(&SocketAddr::from((Ipv6Addr::LOCALHOST, port))));
        let response = get(tcp((Ipv6Addr::LOCALHOST, port).into()).unwrap(), "/");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert_eq!(json_str(&response, "REMOTE_ADDR").as_deref(), Some("::1"));
    }
}

#[test]
fn wildcard_v6_serves_both_families_with_ipv4_unmapped() {
    if !ipv6_loopback() {
        return;
    }
    let server = Running::start("::");
    assert_eq!(server.addresses.len(), 1, "one dual-stack socket");
    let port = server.port();
    let response = get(tcp(([127, 0, 0, 1], port).into()).unwrap(), "/");
    assert_eq!(
        json_str(&response, "REMOTE_ADDR").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        json_str(&response, "SERVER_NAME").as_deref(),
        Some("127.0.0.1")
    );
    let response = get(tcp((Ipv6Addr::LOCALHOST, port).into()).unwrap(), "/");
    assert_eq!(json_str(&response, "REMOTE_ADDR").as_deref(), Some("::1"));
}

#[test]
fn an_ipv4_address_is_refused_on_ipv6() {
    let server = Running::start("127.0.0.1");
    assert_eq!(server.addresses.len(), 1);
    if !ipv6_loopback() {
        return;
    }
    let err = tcp((Ipv6Addr::LOCALHOST, server.port()).into()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[test]
fn unix_socket_serves_and_is_removed_at_shutdown() {
    let path = std::env::temp_dir().join(format!("werk-addr-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let server = Running::start(&format!("unix://{}", path.display()));
    assert_eq!(server.unix, vec![path.clone()]);
    let stream = UnixStream::connect(&path).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let response = get(stream, "/unix");
    assert_eq!(
        json_str(&response, "REMOTE_ADDR").as_deref(),
        Some("<local>")
    );
    assert_eq!(json_str(&response, "PATH_INFO").as_deref(), Some("/unix"));
    // curl over the socket, when it is installed (under CI it must be).
    let curl_part = "unix_socket_serves_and_is_removed_at_shutdown (its curl part)";
    if support::needs("curl", curl_part) {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "10", "--unix-socket"])
            .arg(&path)
            .arg("http://localhost/curl?x=1")
            .output()
            .expect("curl runs");
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "curl failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(json_str(&body, "QUERY_STRING").as_deref(), Some("x=1"));
    }
    drop(server);
    assert!(!path.exists(), "the socket file is removed at shutdown");
}

/// A child process that is killed when dropped.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Retries `connect` until the child serves, up to the timeout. The
/// listener is ours, so a connection is accepted into its backlog at
/// once; its answer may wait for the child to start (a cold first start
/// of a debug build under load can take seconds), so the read may take
/// until the deadline too.
fn get_when_ready(addr: SocketAddr, path: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(stream) = tcp(addr) {
            let left = deadline.saturating_duration_since(Instant::now());
            stream.set_read_timeout(Some(left.max(TIMEOUT))).unwrap();
            let response = get(stream, path);
            if !response.is_empty() {
                return response;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the child never answered on {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn listen_fds_hands_two_sockets_to_a_child() {
    // `exec` keeps the shell's process id, so LISTEN_PID=$$ names the
    // werk process, as sd_listen_fds(3) requires.
    serves_two_inherited_sockets("LISTEN_PID=$$ LISTEN_FDS=2");
}

#[test]
fn listen_fds_without_listen_pid_is_taken_as_this_process_s() {
    // As `systemfd --no-pid` passes them, with cargo in between.
    serves_two_inherited_sockets("LISTEN_FDS=2");
}

/// Starts `werk serve echo` with two listeners at descriptors 3 and 4 and
/// the variables `env`, and checks that it serves both.
fn serves_two_inherited_sockets(env: &str) {
    let first = TcpListener::bind("127.0.0.1:0").unwrap();
    let second = TcpListener::bind("127.0.0.1:0").unwrap();
    let addrs = [first.local_addr().unwrap(), second.local_addr().unwrap()];
    let fds = [first.as_raw_fd(), second.as_raw_fd()];
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!(r#"{env} exec "$0" serve echo --port 1 -q"#))
        .arg(env!("CARGO_BIN_EXE_werk"))
        .env_remove("WERK_RUN_MAIN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: fcntl and dup2 are async-signal-safe; they place the two
    // listeners at descriptors 3 and 4 (without close-on-exec) in the
    // child only. Both are first copied above 10, so that placing one
    // cannot overwrite the other when a listener already is 3 or 4.
    unsafe {
        command.pre_exec(move || {
            let mut moved = [0; 2];
            for (copy, &fd) in moved.iter_mut().zip(&fds) {
                *copy = libc::fcntl(fd, libc::F_DUPFD, 10);
                if *copy < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (target, &copy) in (3..).zip(&moved) {
                if libc::dup2(copy, target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = ChildGuard(command.spawn().expect("sh runs"));
    for (addr, path) in addrs.iter().zip(["/first", "/second"]) {
        let response = get_when_ready(*addr, path);
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert_eq!(json_str(&response, "PATH_INFO").as_deref(), Some(path));
        assert_eq!(
            json_str(&response, "SERVER_PORT").as_deref(),
            Some(addr.port().to_string().as_str())
        );
    }
    drop(child);
}
