//! werk's `hello` app under a counting global allocator, for run.sh's
//! `allocs` scenario: `werk-alloc PORT` (built with `--features alloc`).
//!
//! The server is `werk::make_server` + `serve_forever` with the options of
//! `werk serve hello -q` (request log off, the default pool; `THREADS=N`
//! sets `--threads`). Every path answers `Hello, World!`, except
//! `GET /__allocs`, which answers the allocator's counters as they were
//! when the app was called for it, one line of `key=value`:
//!
//! - `allocs`: calls of `alloc` and `alloc_zeroed`
//! - `reallocs`: calls of `realloc`
//! - `frees`: calls of `dealloc`
//! - `bytes`: bytes asked for by `alloc`, `alloc_zeroed` and `realloc`
//!   (the new size)
//!
//! The counters cover every thread of the process. The counter request's
//! own work (its parsing and environ before the snapshot, its response
//! after) falls in the intervals around it; the runner measures that with
//! two counter requests back to back and subtracts it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use werk::{Body, Environ, Options, StartResponse};
use werk_bench_peers::{env_count, listen_addr};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static REALLOCS: AtomicU64 = AtomicU64::new(0);
static FREES: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed on to `System` unchanged; only counters are
// added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        REALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(new_size as u64, Relaxed);
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        FREES.fetch_add(1, Relaxed);
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn app(environ: &Environ, start_response: StartResponse) -> Body {
    if environ.path_info() != "/__allocs" {
        return werk::apps::hello(environ, start_response);
    }
    // read first: what follows belongs to the next interval
    let (allocs, reallocs, frees, bytes) = (
        ALLOCS.load(Relaxed),
        REALLOCS.load(Relaxed),
        FREES.load(Relaxed),
        BYTES.load(Relaxed),
    );
    let text = format!("allocs={allocs} reallocs={reallocs} frees={frees} bytes={bytes}\n");
    let _ = start_response.start(
        "200 OK",
        [
            ("Content-Type".to_owned(), "text/plain".to_owned()),
            ("Content-Length".to_owned(), text.len().to_string()),
        ],
    );
    Body::from(text)
}

fn main() {
    let addr = listen_addr();
    let mut options = Options::default().log_requests(false);
    if let Some(n) = env_count("THREADS") {
        options = options.threads(n);
    }
    let server = match werk::make_server(&addr.ip().to_string(), addr.port(), app, options) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("werk-alloc: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("werk-alloc: http://{addr}/ (counters at /__allocs)");
    if let Err(e) = server.serve_forever() {
        eprintln!("werk-alloc: {e}");
        std::process::exit(1);
    }
}
