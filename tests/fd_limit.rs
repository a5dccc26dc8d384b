//! Out of file descriptors: werk says so, leaves the connections it could
//! not accept waiting in the kernel, and serves them once descriptors are
//! free again, instead of losing them or spinning.

#[path = "support/running.rs"]
mod running;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use running::Werk;

const WERK: &str = env!("CARGO_BIN_EXE_werk");

#[test]
fn connections_beyond_the_descriptor_limit_wait_and_are_then_served() {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#"ulimit -n 40 && exec "$0" serve echo --host 127.0.0.1 --port 0 -q"#)
        .arg(WERK);
    let werk = Werk::start(&mut command, " * Running on");
    let mut clients: Vec<TcpStream> = (0..60)
        .map(|i| {
            let mut stream = TcpStream::connect(werk.addr).expect("connect");
            stream
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            let request = format!("GET /client/{i} HTTP/1.1\r\nHost: t\r\n\r\n");
            stream.write_all(request.as_bytes()).unwrap();
            stream
        })
        .collect();
    werk.wait_for("Cannot accept", 1);
    assert!(
        werk.log().contains("ulimit -n"),
        "the message says what to do:\n{}",
        werk.log()
    );
    // Closing the first 40 frees the descriptors of those accepted.
    let later = clients.split_off(40);
    drop(clients);
    for (i, mut stream) in later.into_iter().enumerate() {
        let text = read_response(&mut stream)
            .unwrap_or_else(|e| panic!("client {}: {e}\n{}", 40 + i, werk.log()));
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert!(text.contains(&format!("/client/{}", 40 + i)), "{text}");
    }
}

/// One response with a Content-Length, as text.
fn read_response(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if response.len() >= end + 4 + length {
                return Ok(String::from_utf8_lossy(&response).into_owned());
            }
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        response.extend_from_slice(&buf[..n]);
    }
}
