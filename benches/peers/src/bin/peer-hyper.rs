//! hyper 1.x peer: tokio's multi-thread runtime, one task per connection,
//! HTTP/1.1 only. `peer-hyper PORT`; `WORKERS=N` sets the runtime's worker
//! threads (default: tokio's, one per CPU the process may run on).
//!
//! `/files/NAME` reads the file with plain blocking `read`s of 256 KiB on
//! the runtime's thread (from the page cache in the benchmark), one frame
//! each: the simplest file body, not tokio's `fs` (a thread hop per read).

use std::convert::Infallible;
use std::io::Read;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use werk_bench_peers::{env_count, file_path, listen_addr, piece, Route, HELLO};

type Reply = Response<BoxBody<Bytes, std::io::Error>>;

/// The download: bytes `at..end` of the pattern with an exact size (hyper
/// then sends Content-Length), produced as frames that borrow the
/// precomputed block.
struct PatternBody {
    at: u64,
    end: u64,
    piece: u64,
}

impl hyper::body::Body for PatternBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.at == self.end {
            return Poll::Ready(None);
        }
        let data = piece(self.at, self.end, self.piece);
        self.at += data.len() as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(data)))))
    }

    fn is_end_stream(&self) -> bool {
        self.at == self.end
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.end - self.at)
    }
}

/// The rest of a file, `left` bytes, read in frames of [`FILE_FRAME`].
struct FileBody {
    file: std::fs::File,
    left: u64,
}

const FILE_FRAME: u64 = 256 * 1024;

impl hyper::body::Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let take = self.left.min(FILE_FRAME) as usize;
        let mut buf = vec![0u8; take];
        if let Err(e) = self.file.read_exact(&mut buf) {
            return Poll::Ready(Some(Err(e)));
        }
        self.left -= take as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(buf)))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

fn plain(body: Bytes) -> Reply {
    Response::builder()
        .header("content-type", "text/plain")
        .body(Full::new(body).map_err(|e: Infallible| match e {}).boxed())
        .expect("static response parts are valid")
}

fn file(name: &str) -> Reply {
    let opened = file_path(name).and_then(|p| {
        let file = std::fs::File::open(p).ok()?;
        let len = file.metadata().ok()?.len();
        Some((file, len))
    });
    match opened {
        Some((file, left)) => Response::builder()
            .header("content-type", "application/octet-stream")
            .body(FileBody { file, left }.boxed())
            .expect("static response parts are valid"),
        None => {
            let mut reply = plain(Bytes::from_static(b"not found"));
            *reply.status_mut() = hyper::StatusCode::NOT_FOUND;
            reply
        }
    }
}

async fn route(req: Request<Incoming>) -> Result<Reply, hyper::Error> {
    let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    match Route::of(req.method().as_str(), target) {
        Route::Hello => Ok(plain(Bytes::from_static(HELLO))),
        Route::Upload => {
            let mut body = req.into_body();
            let mut total = 0u64;
            while let Some(frame) = body.frame().await {
                if let Some(data) = frame?.data_ref() {
                    total += data.len() as u64;
                }
            }
            Ok(plain(Bytes::from(total.to_string())))
        }
        Route::Download(n, size) => Ok(Response::builder()
            .header("content-type", "application/octet-stream")
            .body(
                PatternBody {
                    at: 0,
                    end: n,
                    piece: size,
                }
                .map_err(|e: Infallible| match e {})
                .boxed(),
            )
            .expect("static response parts are valid")),
        Route::File(name) => Ok(file(name)),
    }
}

fn main() -> std::io::Result<()> {
    let addr = listen_addr();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_io();
    if let Some(n) = env_count("WORKERS") {
        builder.worker_threads(n);
    }
    let runtime = builder.build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        eprintln!("peer-hyper: http://{addr}/");
        loop {
            let (socket, _) = match listener.accept().await {
                Ok(pair) => pair,
                Err(e) => {
                    eprintln!("peer-hyper: accept: {e}");
                    continue;
                }
            };
            let _ = socket.set_nodelay(true);
            tokio::spawn(async move {
                let conn =
                    http1::Builder::new().serve_connection(TokioIo::new(socket), service_fn(route));
                let _ = conn.await;
            });
        }
    })
}
