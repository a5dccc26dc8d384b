//! What a hostile or careless client, an application's mistake or a closed
//! terminal must not do to the server: each case over a real socket or a
//! real process, with the status it must get.

use crate::support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{quiet, run, Client, TestServer, GUARD};
use werk::{Body, Environ, StartResponse};

const WERK: &str = env!("CARGO_BIN_EXE_werk");

/// An app that answers with the status and Content-Length the path asks
/// for: `/status/100`, `/length/+5`.
fn misuse(environ: &Environ, start_response: StartResponse) -> Body {
    let path = environ.path_info().to_owned();
    let (status, length) = match path.split('/').collect::<Vec<_>>()[..] {
        ["", "status", code] => (format!("{code} Whatever"), None),
        ["", "length", length] => ("200 OK".to_owned(), Some(length.to_owned())),
        _ => ("200 OK".to_owned(), None),
    };
    let mut headers = vec![("Content-Type".to_owned(), "text/plain".to_owned())];
    headers.extend(length.map(|l| ("Content-Length".to_owned(), l)));
    let _ = start_response.start(&status, headers);
    Body::from("hello")
}

#[test]
fn an_informational_status_as_the_final_one_is_a_500() {
    let server = TestServer::start(misuse, quiet());
    for code in ["100", "101", "103", "199"] {
        let mut client = server.connect();
        let response = client.get(&format!("/status/{code}"));
        assert_eq!(response.status, 500, "{code}");
        // The connection carries the next request: the 500 was the answer.
        assert_eq!(client.get("/").status, 200, "{code}");
    }
    assert_eq!(server.connect().get("/status/200").status, 200);
}

#[test]
fn a_content_length_is_digits_only() {
    let server = TestServer::start(misuse, quiet());
    for bad in ["+5", "-5", "5x", "0x5", "5%205"] {
        let response = server.connect().get(&format!("/length/{bad}"));
        assert_eq!(response.status, 500, "Content-Length: {bad}");
        assert!(response.header("content-length") != Some(bad), "{bad}");
    }
    assert_eq!(server.connect().get("/length/5").text(), "hello");
}

#[test]
fn cgi_refuses_a_content_length_with_a_sign() {
    let ran = run(
        Command::new(WERK)
            .args(["cgi", "echo"])
            .env("GATEWAY_INTERFACE", "CGI/1.1")
            .env("REQUEST_METHOD", "POST")
            .env("SERVER_PROTOCOL", "HTTP/1.1")
            .env("SERVER_NAME", "localhost")
            .env("SERVER_PORT", "80")
            .env("CONTENT_LENGTH", "+5"),
        b"hello",
        GUARD,
    );
    let out = ran.stdout_text();
    assert!(out.starts_with("Status: 400"), "{out}");
    assert!(out.contains("digits only"), "{out}");
}

#[test]
fn targets_that_rfc_9112_refuses() {
    let server = TestServer::start(misuse, quiet());
    let status = |request: &str| {
        let mut client = server.connect();
        client.send(request.as_bytes());
        client.read_response().status
    };
    // Section 3.2: Host in every HTTP/1.1 request, absolute form or not.
    assert_eq!(status("GET http://other.test/p HTTP/1.1\r\n\r\n"), 400);
    assert_eq!(
        status("GET http://other.test/p HTTP/1.1\r\nHost: other.test\r\n\r\n"),
        200
    );
    assert_eq!(status("GET http://other.test/p HTTP/1.0\r\n\r\n"), 200);
    // Section 3.2.4: the asterisk form is for OPTIONS only.
    assert_eq!(status("GET * HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
    assert_eq!(
        status("POST * HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"),
        400
    );
    assert_eq!(status("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"), 200);
}

/// `werk serve 2>&1 | head -2`: once the reader of standard error is
/// gone, writes to it fail, and the server must still log nothing fatal,
/// serve, and stop on SIGINT and SIGTERM.
#[test]
fn signals_still_stop_the_server_when_stderr_is_a_closed_pipe() {
    for signal in ["INT", "TERM"] {
        let mut child = Command::new(WERK)
            .args(["serve", "echo", "--host", "127.0.0.1", "--port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut port = None;
        while port.is_none() {
            let mut line = String::new();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "no banner");
            port = line
                .strip_prefix(" * Running on http://127.0.0.1:")
                .and_then(|p| p.trim().parse::<u16>().ok());
        }
        // As `head` exits: the pipe's read end closes.
        drop(stderr);
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port.unwrap()));
        for _ in 0..3 {
            // Each request writes a log line into the closed pipe.
            assert_eq!(Client::connect(addr).get("/").status, 200, "{signal}");
        }
        let sent = Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + GUARD;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("SIG{signal} did not stop the server with stderr closed");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(status.code(), Some(0), "SIG{signal}");
    }
}

/// `werk --help | head -1`: a closed standard output is not a panic.
#[test]
fn help_into_a_closed_pipe_is_not_a_panic() {
    let mut child = Command::new(WERK)
        .arg("--help")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    let status = child.wait().unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status.code(), Some(0), "{err}");
    let _ = std::io::stdout().flush();
}

fn panics(_: &Environ, _: StartResponse) -> Body {
    panic!("secret detail in src/main.rs");
}

/// An address of this machine other than loopback, from the banner of a
/// server on 0.0.0.0.
fn non_loopback_ip(server: &werk::Server) -> Option<std::net::IpAddr> {
    server.banner().iter().find_map(|line| {
        let url = line.strip_prefix(" * Running on http://")?;
        let ip: std::net::IpAddr = url.rsplit_once(':')?.0.parse().ok()?;
        (!ip.is_loopback()).then_some(ip)
    })
}

/// Asks `GET /` with `Host` of `addr` and returns the response.
fn ask_with_host(addr: std::net::SocketAddr, host: &str) -> support::Response {
    let mut client = Client::connect(addr);
    client.send(format!("GET / HTTP/1.1\r\nHost: {host}\r\nAccept: text/plain\r\n\r\n").as_bytes());
    client.read_response()
}

#[test]
fn the_debugger_page_is_for_local_clients_and_known_hosts() {
    let options = quiet().use_debugger(true);
    let server = werk::make_server("0.0.0.0", 0, panics, options).unwrap();
    let port = server.addresses()[0].port();
    let outside = non_loopback_ip(&server);
    let handle = server.handle();
    let thread = std::thread::spawn(move || server.serve_forever());
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], port));

    let page = ask_with_host(local, &format!("localhost:{port}"));
    assert_eq!(page.status, 500);
    assert!(page.text().contains("secret detail"), "{}", page.text());
    assert!(ask_with_host(local, "app.localhost")
        .text()
        .contains("secret detail"));
    assert!(ask_with_host(local, "127.0.0.1")
        .text()
        .contains("secret detail"));

    // DNS rebinding: a hostile name that resolves to 127.0.0.1.
    let rebound = ask_with_host(local, "attacker.example:80");
    assert_eq!(rebound.status, 500);
    assert!(
        !rebound.text().contains("secret detail"),
        "{}",
        rebound.text()
    );
    assert!(rebound.text().contains(support::INTERNAL_ERROR_TEXT));

    match outside {
        Some(ip) => {
            let remote = ask_with_host(std::net::SocketAddr::new(ip, port), "localhost");
            assert_eq!(remote.status, 500);
            assert!(
                !remote.text().contains("secret detail"),
                "{}",
                remote.text()
            );
        }
        None => support::skip(
            "the_debugger_page_is_for_local_clients, its part from another address",
            "this machine has no address other than loopback",
        ),
    }
    handle.shutdown();
    thread.join().unwrap().unwrap();
}

#[test]
fn debugger_any_client_shows_the_page_to_everyone_and_says_so() {
    let options = quiet().use_debugger(true).debugger_any_client(true);
    let server = werk::make_server("0.0.0.0", 0, panics, options).unwrap();
    assert!(
        server
            .banner()
            .iter()
            .any(|l| l.contains("shows its page to any client")),
        "{:?}",
        server.banner()
    );
    let port = server.addresses()[0].port();
    let target = non_loopback_ip(&server).unwrap_or([127, 0, 0, 1].into());
    let handle = server.handle();
    let thread = std::thread::spawn(move || server.serve_forever());
    let page = ask_with_host(std::net::SocketAddr::new(target, port), "attacker.example");
    assert!(page.text().contains("secret detail"), "{}", page.text());
    handle.shutdown();
    thread.join().unwrap().unwrap();
}

/// A project directory exported whole, as `--static /=.` does.
struct Project(std::path::PathBuf);

impl Project {
    fn new() -> Project {
        let root = std::env::temp_dir().join(format!("werk-dotfiles-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::create_dir_all(root.join(".well-known")).unwrap();
        std::fs::write(root.join(".env"), "SECRET_KEY=hunter2").unwrap();
        std::fs::write(root.join(".git/config"), "[remote]").unwrap();
        std::fs::write(root.join(".well-known/security.txt"), "Contact: me").unwrap();
        std::fs::write(root.join("index.html"), "<h1>site</h1>").unwrap();
        std::fs::write(root.join("big.bin"), vec![7u8; 1000]).unwrap();
        Project(root)
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn static_files_refuse_dot_files_unless_allowed() {
    let project = Project::new();
    let server = TestServer::start(misuse, quiet().static_files("/", &project.0));
    for secret in [
        "/.env",
        "/.git/config",
        "/.well-known/security.txt",
        "/%2Eenv",
    ] {
        // Not found among the files: the request reaches the app.
        assert_eq!(server.connect().get(secret).text(), "hello", "{secret}");
    }
    assert_eq!(server.connect().get("/index.html").text(), "<h1>site</h1>");

    let open = TestServer::start(
        misuse,
        quiet().static_files("/", &project.0).static_dot_files(true),
    );
    assert_eq!(
        open.connect().get("/.well-known/security.txt").text(),
        "Contact: me"
    );
}

#[test]
fn a_range_past_any_size_is_clamped_to_the_file() {
    let project = Project::new();
    let server = TestServer::start(misuse, quiet().static_files("/", &project.0));
    let response = server.connect().request(
        "GET",
        "/big.bin",
        &[("Range", "bytes=0-99999999999999999999999")],
        b"",
    );
    assert_eq!(response.status, 206);
    assert_eq!(response.header("content-range"), Some("bytes 0-999/1000"));
    assert_eq!(response.body.len(), 1000);
}

/// `werk serve echo` in a process of its own (the memory cap is the
/// process's), with its port.
struct Served {
    child: std::process::Child,
    addr: std::net::SocketAddr,
}

impl Served {
    fn start() -> Served {
        let mut child = Command::new(WERK)
            .args(["serve", "echo", "--host", "127.0.0.1", "--port", "0", "-q"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let port = loop {
            let mut line = String::new();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "no banner");
            if let Some(p) = line.strip_prefix(" * Running on http://127.0.0.1:") {
                break p.trim().parse::<u16>().unwrap();
            }
        };
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        Served {
            child,
            addr: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// 62 KiB of a request head that never ends.
fn partial_head() -> Vec<u8> {
    let mut head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Filler: ".to_vec();
    head.resize(62 * 1024, b'a');
    head
}

#[test]
fn unfinished_heads_past_the_memory_cap_get_503_and_others_are_served() {
    let served = Served::start();
    let head = partial_head();
    // 700 × 62 KiB is more than the 32 MiB that unfinished requests may
    // hold together.
    let mut holding = Vec::new();
    for _ in 0..700 {
        let mut stream = std::net::TcpStream::connect(served.addr).unwrap();
        stream.write_all(&head).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(1)))
            .unwrap();
        holding.push(stream);
    }
    // A fresh, small request is served meanwhile.
    assert_eq!(Client::connect(served.addr).get("/").status, 200);
    let deadline = Instant::now() + GUARD;
    let mut refused = 0;
    let mut open = holding.len();
    while Instant::now() < deadline && refused == 0 {
        for stream in &mut holding {
            let mut answer = [0u8; 512];
            if let Ok(n) = std::io::Read::read(stream, &mut answer) {
                if n > 0 {
                    let text = String::from_utf8_lossy(&answer[..n]);
                    assert!(text.starts_with("HTTP/1.1 503 "), "{text}");
                    assert!(text.contains("too many unfinished requests"), "{text}");
                    refused += 1;
                }
                open -= usize::from(n == 0);
            }
        }
    }
    assert!(refused > 0, "no head was refused at the cap");
    assert!(
        refused < 700 && open > 400,
        "most heads are held: {refused} refused"
    );
    drop(holding);
    // The memory comes back: a long head can grow again, and completes.
    let deadline = Instant::now() + GUARD;
    loop {
        let mut client = Client::connect(served.addr);
        let mut request = head.clone();
        request.extend_from_slice(b"\r\n\r\n");
        client.send(&request);
        let status = client.read_response().status;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
        assert!(Instant::now() < deadline, "memory never came back");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The echo app's `/discard` answers the count of body bytes it read.
fn discard_server(options: werk::Options) -> TestServer {
    TestServer::start(werk::apps::echo, options)
}

/// A POST of `len` body bytes to `/discard` whose head is sent at once.
/// What the server sends until it closes the connection (each read may
/// wait up to [`GUARD`]), and how the reading ended.
fn read_until_closed(stream: &mut std::net::TcpStream) -> (String, std::io::Result<usize>) {
    stream.set_read_timeout(Some(GUARD)).unwrap();
    let mut answer = String::new();
    let read = std::io::Read::read_to_string(stream, &mut answer);
    (answer, read)
}

fn slow_upload(addr: std::net::SocketAddr, len: usize) -> std::net::TcpStream {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST /discard HTTP/1.1\r\nHost: x\r\nContent-Length: {len}\r\n\r\n"
    )
    .unwrap();
    stream
}

#[test]
fn slow_body_senders_hold_no_worker() {
    // Two workers that may grow to four: far fewer than the senders.
    let server = discard_server(quiet().threads(2).max_threads(4));
    let mut senders: Vec<_> = (0..64).map(|_| slow_upload(server.addr, 100_000)).collect();
    for round in 0..3 {
        for sender in &mut senders {
            sender.write_all(b"x").unwrap();
        }
        // Every sender is part way through its body: a fresh request is
        // still answered (a held pool would leave it waiting 30 s).
        let mut client = server.connect();
        let started = Instant::now();
        assert_eq!(client.get("/").status, 200, "round {round}");
        eprintln!("round {round}: answered in {:?}", started.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_steady_slow_upload_completes() {
    let server = discard_server(quiet().threads(1).max_threads(1));
    let mut upload = slow_upload(server.addr, 100_000);
    // 50 KB/s: 5 KB every 100 ms.
    for _ in 0..20 {
        upload.write_all(&[b'u'; 5_000]).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    // A reset may follow the answer: what came before it counts.
    let (answer, _) = read_until_closed(&mut upload);
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.ends_with("100000"), "{answer}");
}

#[test]
fn a_body_slower_than_the_floor_gets_408() {
    let server = discard_server(quiet().head_timeout(Duration::from_millis(500)));
    // 8 KiB may take 0.5 s plus one second; one byte a second does not make it.
    let mut upload = slow_upload(server.addr, 8 * 1024);
    upload
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let deadline = Instant::now() + GUARD;
    let mut answer = Vec::new();
    while Instant::now() < deadline {
        let _ = upload.write_all(b"z");
        let mut buf = [0u8; 512];
        match std::io::Read::read(&mut upload, &mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(
        answer.contains("request body not received in time"),
        "{answer}"
    );
}

/// A small body with `Expect: 100-continue` is not awaited before the app
/// runs: the app may refuse it from the head, and `100 Continue` goes out
/// once, when the app reads.
#[test]
fn expect_100_continue_is_sent_once_when_the_app_reads_a_small_body() {
    let server = discard_server(quiet());
    let mut client = server.connect();
    client.send(
        b"POST /discard HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    );
    client
        .wait_for_bytes(b"HTTP/1.1 100 Continue\r\n\r\n")
        .unwrap();
    client.send(b"hello");
    let response = client.read_response();
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "5");
    // One 100 Continue only: the next response is read cleanly.
    assert_eq!(client.get("/").status, 200);
}

/// A request sent on a kept-alive connection just as the server shuts
/// down is answered, or meets the end of the stream (a client sends it
/// again on a new connection); never a reset, which loses it.
///
/// A crossing is a request sent before the server's FIN arrived, and
/// on its way within a few milliseconds of that look: the server reads
/// for 50 ms after its FIN. A client thread that the machine's load holds
/// back longer than that sends on a closed connection, as no real client
/// does once it has seen the end; such an attempt is counted apart.
#[test]
fn a_request_crossing_a_shutdown_gets_an_answer_or_a_clean_close() {
    let mut resets = 0;
    let mut answered = 0;
    let mut held_back = 0;
    for attempt in 0..40 {
        let server = TestServer::start(werk::apps::hello, quiet());
        let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
        stream.set_read_timeout(Some(GUARD)).unwrap();
        let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        stream.write_all(request).unwrap();
        let mut first = [0u8; 4096];
        let n = std::io::Read::read(&mut stream, &mut first).unwrap();
        assert!(first[..n].starts_with(b"HTTP/1.1 200"));
        let stopping = std::thread::spawn(move || server.stop());
        // Send at a different moment of the shutdown each time.
        std::thread::sleep(Duration::from_micros(50 * (attempt % 20)));
        let looked = Instant::now();
        stream.set_nonblocking(true).unwrap();
        let ended_already = matches!(stream.peek(&mut [0u8; 1]), Ok(0));
        stream.set_nonblocking(false).unwrap();
        if !ended_already {
            let _ = stream.write_all(request);
        }
        let crossing = !ended_already && looked.elapsed() < Duration::from_millis(20);
        let mut rest = Vec::new();
        match std::io::Read::read_to_end(&mut stream, &mut rest) {
            Ok(_) if rest.is_empty() => {}
            Ok(_) => {
                assert!(rest.starts_with(b"HTTP/1.1 200"), "{rest:?}");
                answered += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && !crossing => {
                held_back += 1
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                eprintln!(
                    "reset at attempt {attempt} looked {:?} after stop",
                    looked.elapsed()
                );
                resets += 1
            }
            Err(e) => panic!("attempt {attempt}: {e}"),
        }
        stopping.join().unwrap().unwrap().unwrap();
    }
    eprintln!(
        "answered {answered} of 40; {held_back} sent too late to cross; the others closed cleanly"
    );
    assert_eq!(resets, 0, "requests lost to a reset");
    assert!(held_back < 40, "no attempt crossed the shutdown");
}

/// A request whose body is still arriving when the server shuts down
/// (a `werk run` swap, Ctrl-C) is answered, within the shutdown's grace.
#[test]
fn a_body_still_arriving_at_shutdown_is_answered() {
    let server = discard_server(quiet());
    let addr = server.addr;
    let mut upload = slow_upload(addr, 200_000);
    upload.write_all(&[b'u'; 50_000]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let stopping = std::thread::spawn(move || server.stop());
    for _ in 0..15 {
        std::thread::sleep(Duration::from_millis(30));
        upload.write_all(&[b'u'; 10_000]).unwrap();
    }
    let (answer, read) = read_until_closed(&mut upload);
    read.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.ends_with("200000"), "{answer}");
    stopping.join().unwrap().unwrap().unwrap();
}

/// A client that stops sending its body during a shutdown gets a 408
/// before the grace ends, not a silent close when the process goes.
#[test]
fn a_body_abandoned_at_shutdown_gets_408_within_the_grace() {
    let grace = Duration::from_secs(2);
    let server = discard_server(quiet().shutdown_grace(grace));
    let mut upload = slow_upload(server.addr, 10_000);
    upload.write_all(&[b'u'; 300]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let began = Instant::now();
    let stopping = std::thread::spawn(move || server.stop());
    let (answer, read) = read_until_closed(&mut upload);
    read.unwrap();
    let took = began.elapsed();
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(
        answer.contains("request body not received in time"),
        "{answer}"
    );
    assert!(
        took < grace + Duration::from_secs(1),
        "answered after {took:?}"
    );
    stopping.join().unwrap().unwrap().unwrap();
}

/// A body still trickling in when the shutdown begins (a byte every 50 ms,
/// so that no single read waits long) is cut off with a 408 before the
/// grace ends, not when the process goes.
#[test]
fn a_body_trickling_at_shutdown_gets_408_within_the_grace() {
    let grace = Duration::from_secs(2);
    let server = discard_server(quiet().shutdown_grace(grace));
    let mut upload = slow_upload(server.addr, 10_000);
    upload.write_all(&[b'u'; 300]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let mut trickle = upload.try_clone().unwrap();
    let trickling = std::thread::spawn(move || {
        let until = Instant::now() + GUARD;
        while Instant::now() < until && trickle.write_all(b"u").is_ok() {
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let began = Instant::now();
    let stopping = std::thread::spawn(move || server.stop());
    let (answer, _) = read_until_closed(&mut upload);
    let took = began.elapsed();
    let _ = upload.shutdown(std::net::Shutdown::Both);
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer:?}");
    assert!(
        took < grace + Duration::from_secs(1),
        "answered after {took:?}"
    );
    stopping.join().unwrap().unwrap().unwrap();
    trickling.join().unwrap();
}

/// A body that arrived whole before the shutdown is read even late in
/// the grace: only reads that must wait for the client are cut off.
#[test]
fn a_body_already_here_is_read_late_in_the_grace() {
    fn late_reader(environ: &werk::Environ, start_response: werk::StartResponse) -> werk::Body {
        std::thread::sleep(Duration::from_millis(1900));
        let mut body = Vec::new();
        let read = std::io::Read::read_to_end(&mut environ.input(), &mut body);
        let _ = start_response.start("200 OK", [("Content-Type", "text/plain")]);
        werk::Body::from(format!("{} {}", read.is_ok(), body.len()))
    }
    let server = TestServer::start(late_reader, quiet().shutdown_grace(Duration::from_secs(2)));
    let mut client = std::net::TcpStream::connect(server.addr).unwrap();
    client
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let stopping = std::thread::spawn(move || server.stop());
    let (answer, read) = read_until_closed(&mut client);
    read.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.ends_with("true 10"), "{answer}");
    stopping.join().unwrap().unwrap().unwrap();
}

/// A chunked body of one-byte chunks is decoded once as it arrives, and
/// its framing counts toward what is buffered: it is answered.
#[test]
fn a_body_of_tiny_chunks_is_answered() {
    let server = discard_server(quiet());
    let mut client = server.connect();
    let mut request =
        b"POST /discard HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..20_000 {
        request.extend_from_slice(b"0000000000000001\r\nx\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    client.send(&request);
    let response = client.read_response();
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "20000");
}
