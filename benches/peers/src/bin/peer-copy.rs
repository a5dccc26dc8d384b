//! The ceiling for serving a static file: `peer-copy PORT FILE`.
//!
//! A thread per connection reads a request head, answers `GET /` with
//! `Hello, World!` (so the runner can see it is up) and any other target
//! with FILE: a minimal `HTTP/1.1 200` head with Content-Length, then
//! `std::io::copy(&mut File, &mut TcpStream)`, which on Linux moves the
//! bytes with `sendfile` in the kernel. Nothing else: no headers parsed,
//! no conditional requests, no ranges. Keep-alive until the client closes
//! (or sends `Connection: close`). `NODELAY=1` sets `TCP_NODELAY` on each
//! connection, as werk does (off by default).
//!
//! The std of Rust 1.95 does not turn `io::copy` from a regular file to a
//! socket into `sendfile` (its `safe_kernel_copy` refuses: a later change
//! to the file could show in bytes already queued), so this is a `read` /
//! `send` loop with std's 8 KiB buffer: the ceiling for code that uses
//! `io::copy`, not for `sendfile`.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use werk_bench_peers::{listen_addr, HELLO};

/// The largest request head read.
const MAX_HEAD: usize = 16 * 1024;

fn main() -> io::Result<()> {
    let addr = listen_addr();
    let file: PathBuf = std::env::args_os()
        .nth(2)
        .expect("usage: peer-copy PORT FILE")
        .into();
    File::open(&file)?;
    let nodelay = std::env::var("NODELAY").is_ok_and(|v| v == "1");
    let listener = TcpListener::bind(addr)?;
    eprintln!("peer-copy: http://{addr}/ serves {}", file.display());
    for conn in listener.incoming() {
        let stream = match conn {
            Ok(stream) => stream,
            Err(e) => {
                eprintln!("peer-copy: accept: {e}");
                continue;
            }
        };
        let file = file.clone();
        if nodelay {
            let _ = stream.set_nodelay(true);
        }
        std::thread::spawn(move || {
            if let Err(e) = serve(stream, &file) {
                eprintln!("peer-copy: {e}");
            }
        });
    }
    Ok(())
}

fn serve(mut stream: TcpStream, path: &Path) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(15)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut buf = Vec::with_capacity(4096);
    loop {
        // one request head; whatever follows it stays in `buf`
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > MAX_HEAD {
                return Ok(());
            }
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let close = head.contains("\r\nconnection: close");
        let target = head.split(' ').nth(1).unwrap_or("/").to_owned();
        buf.drain(..end);
        if target == "/" {
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
                HELLO.len()
            );
            stream.write_all(reply.as_bytes())?;
            stream.write_all(HELLO)?;
        } else {
            let mut file = File::open(path)?;
            let len = file.metadata()?.len();
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\n\r\n"
            );
            stream.write_all(reply.as_bytes())?;
            let sent = io::copy(&mut file, &mut stream)?;
            if sent != len {
                return Err(io::Error::other(format!("sent {sent} of {len} bytes")));
            }
        }
        if close {
            return Ok(());
        }
    }
}
