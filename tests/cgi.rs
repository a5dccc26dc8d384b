//! `werk cgi echo` run as a web server would run it: a clean environment
//! of CGI variables, the body on standard input, the response read from
//! standard output. The variable sets are the ones real servers pass
//! (docs/deploying.md); the servers themselves are in `deploy_*.rs`.

mod deploy_support;
mod support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use deploy_support::json_field;
use support::{run, GUARD};

/// Runs `werk cgi echo` with only `env` in its environment.
fn cgi(env: &[(&str, &str)], stdin: &[u8]) -> support::Ran {
    let mut command = Command::new(env!("CARGO_BIN_EXE_werk"));
    command.arg("cgi").arg("echo").env_clear();
    for (k, v) in env {
        command.env(k, v);
    }
    run(&mut command, stdin, GUARD)
}

/// The headers and body of a CGI response.
fn split(out: &[u8]) -> (String, Vec<u8>) {
    let end = support::find(out, b"\r\n\r\n").expect("a blank line after the headers");
    (
        String::from_utf8_lossy(&out[..end]).into_owned(),
        out[end + 4..].to_vec(),
    )
}

const BASE: [(&str, &str); 4] = [
    ("GATEWAY_INTERFACE", "CGI/1.1"),
    ("SERVER_PROTOCOL", "HTTP/1.1"),
    ("SCRIPT_NAME", "/cgi-bin/echo"),
    ("REMOTE_ADDR", "127.0.0.1"),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    BASE.iter().chain(extra).copied().collect()
}

#[test]
fn busybox_style_get_without_server_name_or_content_length() {
    let ran = cgi(
        &with(&[
            ("REQUEST_METHOD", "GET"),
            ("PATH_INFO", "/x"),
            ("QUERY_STRING", "a=1"),
            ("HTTP_HOST", "127.0.0.1:8080"),
        ]),
        b"",
    );
    assert!(ran.status.success(), "{}", ran.stderr_text());
    let (head, body) = split(&ran.stdout);
    assert!(head.starts_with("Status: 200 OK\r\n"), "{head}");
    let json = String::from_utf8(body).unwrap();
    assert_eq!(
        json_field(&json, "SERVER_NAME").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(json_field(&json, "SERVER_PORT").as_deref(), Some("8080"));
    assert_eq!(
        json_field(&json, "REQUEST_URI").as_deref(),
        Some("/cgi-bin/echo/x?a=1")
    );
    assert_eq!(json_field(&json, "wsgi.run_once").as_deref(), Some("true"));
}

#[test]
fn nginx_style_empty_content_length_and_a_posted_body() {
    let ran = cgi(
        &with(&[
            ("REQUEST_METHOD", "GET"),
            ("CONTENT_LENGTH", ""),
            ("CONTENT_TYPE", ""),
        ]),
        b"",
    );
    let json = String::from_utf8(split(&ran.stdout).1).unwrap();
    assert_eq!(json_field(&json, "CONTENT_LENGTH"), None, "{json}");
    assert_eq!(json_field(&json, "CONTENT_TYPE"), None, "{json}");

    let ran = cgi(
        &with(&[
            ("REQUEST_METHOD", "POST"),
            ("PATH_INFO", "/echo"),
            ("CONTENT_LENGTH", "11"),
            ("CONTENT_TYPE", "text/plain"),
        ]),
        b"hello world and what the server did not count",
    );
    let (head, body) = split(&ran.stdout);
    assert!(head.contains("Content-Type: text/plain"), "{head}");
    assert_eq!(body, b"hello world");
}

#[test]
fn a_panic_is_a_500_on_stdout_and_a_message_on_stderr() {
    let ran = cgi(
        &with(&[("REQUEST_METHOD", "GET"), ("PATH_INFO", "/panic")]),
        b"",
    );
    assert_eq!(ran.status.code(), Some(1));
    let (head, body) = split(&ran.stdout);
    assert!(
        head.starts_with("Status: 500 Internal Server Error\r\n"),
        "{head}"
    );
    assert!(String::from_utf8_lossy(&body).contains(support::INTERNAL_ERROR_TEXT));
    let stderr = ran.stderr_text();
    assert!(
        stderr.contains("werk cgi: Error on request \"GET /cgi-bin/echo/panic HTTP/1.1\" from 127.0.0.1: the application panicked: panic requested by /panic"),
        "{stderr}"
    );
}

#[test]
fn no_cgi_variables_is_a_400_and_says_why() {
    let ran = cgi(&[], b"");
    assert_eq!(ran.status.code(), Some(1));
    assert!(split(&ran.stdout).0.starts_with("Status: 400 Bad Request"));
    assert!(ran.stderr_text().contains("REQUEST_METHOD is missing"));
}

#[test]
fn a_broken_pipe_is_not_a_panic() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_werk"))
        .args(["cgi", "echo"])
        .env_clear()
        .envs(with(&[
            ("REQUEST_METHOD", "GET"),
            ("PATH_INFO", "/bytes/50000000"),
        ]))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start werk cgi");
    // Read a little of the response, then go away like a web server whose
    // client disconnected.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 100];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let deadline = Instant::now() + GUARD;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("werk cgi did not end after its stdout closed");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(first.starts_with(b"Status: 200 OK\r\n"));
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
