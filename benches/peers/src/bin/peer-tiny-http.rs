//! tiny_http 0.12 peer: a fixed set of threads that each loop on
//! `Server::recv` (tiny_http reads every connection on a thread of its
//! own and queues the requests). `peer-tiny-http PORT`; `THREADS=N`
//! (default 4) sets how many threads answer requests.

use std::io::{self, Read};
use std::sync::Arc;

use tiny_http::{Header, Response, Server, StatusCode};
use werk_bench_peers::{env_count, file_path, listen_addr, piece, Route, HELLO};

fn header(text: &str) -> Header {
    text.parse().expect("static header is valid")
}

/// The download: bytes `at..end` of the pattern, copied into whatever
/// buffer tiny_http reads with (it takes a `Read`, not borrowed chunks).
struct PatternReader {
    at: u64,
    end: u64,
    piece: u64,
}

impl Read for PatternReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let data = piece(self.at, self.end, self.piece);
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        self.at += n as u64;
        Ok(n)
    }
}

fn answer(mut request: tiny_http::Request) -> io::Result<()> {
    let route = Route::of(request.method().as_str(), request.url());
    match route {
        Route::Hello => request
            .respond(Response::from_data(HELLO).with_header(header("Content-Type: text/plain"))),
        Route::Upload => {
            let total = io::copy(request.as_reader(), &mut io::sink())?;
            request.respond(
                Response::from_string(total.to_string())
                    .with_header(header("Content-Type: text/plain")),
            )
        }
        Route::Download(n, piece) => {
            let size = usize::try_from(n).ok();
            request.respond(Response::new(
                StatusCode(200),
                vec![header("Content-Type: application/octet-stream")],
                PatternReader {
                    at: 0,
                    end: n,
                    piece,
                },
                size,
                None,
            ))
        }
        Route::File(name) => match file_path(name).and_then(|p| std::fs::File::open(p).ok()) {
            // from_file sends the file's length as Content-Length
            Some(file) => request.respond(
                Response::from_file(file)
                    .with_header(header("Content-Type: application/octet-stream")),
            ),
            None => request.respond(Response::from_string("not found").with_status_code(404)),
        },
    }
}

fn main() {
    let addr = listen_addr();
    let threads = env_count("THREADS").unwrap_or(4);
    let server = Arc::new(Server::http(addr).expect("cannot bind"));
    eprintln!("peer-tiny-http: http://{addr}/ ({threads} request threads)");
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let server = Arc::clone(&server);
            std::thread::spawn(move || loop {
                match server.recv() {
                    Ok(request) => {
                        let _ = answer(request);
                    }
                    Err(e) => eprintln!("peer-tiny-http: recv: {e}"),
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
}
