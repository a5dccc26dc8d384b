//! What the two peer servers share: the command line and the routes.
//!
//! Both serve, on `127.0.0.1:PORT`:
//!
//! | route | response |
//! |---|---|
//! | `GET /` (and any other path) | 200 `text/plain` `Hello, World!` with Content-Length |
//! | `POST /upload` | reads the body to the end, discards it, answers the byte count |
//! | `GET /download?bytes=N&piece=K` | N bytes of [`pattern`] (default 100 MiB) with Content-Length, in pieces of K bytes (default 64 KiB, at most 1 MiB), as werk's `/bytes/N?piece=K` sends them |
//! | `GET /files/NAME` | the file NAME in the directory `FILES_DIR` (environment) with Content-Length; 404 if there is none |
//!
//! `peer-copy` (the static-file ceiling) and `werk-alloc` (werk under a
//! counting allocator) are described in their own files.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The body of `GET /`.
pub const HELLO: &[u8] = b"Hello, World!";

/// `/download` without `bytes=`.
pub const DEFAULT_DOWNLOAD: u64 = 100 * 1024 * 1024;

/// How many bytes of the download each frame or write carries, as in
/// werk's `/bytes/N`, unless `piece=K` says.
pub const PIECE: u64 = 64 * 1024;

/// The largest `piece=K`.
pub const MAX_PIECE: u64 = 1024 * 1024;

/// The precomputed block every download is sent from: the alphabet
/// repeated (byte i of a download is `b'a' + i % 26`), the largest piece
/// and 26 bytes long so that any piece is a slice of it. werk's echo app
/// builds the same block.
pub fn pattern() -> &'static [u8] {
    static PATTERN: OnceLock<Vec<u8>> = OnceLock::new();
    PATTERN.get_or_init(|| {
        (0..MAX_PIECE as usize + 26)
            .map(|i| b'a' + (i % 26) as u8)
            .collect()
    })
}

/// The download's bytes from `start`, at most one piece of `size` and no
/// further than `end`, borrowed from [`pattern`].
pub fn piece(start: u64, end: u64, size: u64) -> &'static [u8] {
    let len = (end - start).min(size) as usize;
    let offset = (start % 26) as usize;
    &pattern()[offset..offset + len]
}

/// The routes, decided from the method and the request target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    Hello,
    Upload,
    /// The size and the piece size.
    Download(u64, u64),
    /// `GET /files/NAME`: the name, not yet checked (see [`file_path`]).
    File(&'a str),
}

impl Route<'_> {
    /// `method` as sent, `target` the request target (path and query).
    pub fn of<'a>(method: &str, target: &'a str) -> Route<'a> {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        match (method, path) {
            ("POST", "/upload") => Route::Upload,
            ("GET" | "HEAD", "/download") => Route::Download(
                param(query, "bytes").unwrap_or(DEFAULT_DOWNLOAD),
                param(query, "piece").map_or(PIECE, |k| k.clamp(1, MAX_PIECE)),
            ),
            ("GET" | "HEAD", p) if p.starts_with("/files/") => Route::File(&p["/files/".len()..]),
            _ => Route::Hello,
        }
    }
}

/// The file `/files/NAME` names: `NAME` in the directory `FILES_DIR`. None
/// when `FILES_DIR` is not set or the name is empty, has a `/` or `\`, or
/// starts with a dot.
pub fn file_path(name: &str) -> Option<PathBuf> {
    if name.is_empty() || name.starts_with('.') || name.contains(['/', '\\']) {
        return None;
    }
    let dir = std::env::var_os("FILES_DIR")?;
    Some(PathBuf::from(dir).join(name))
}

/// `name=N` from a query string.
fn param(query: &str, name: &str) -> Option<u64> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| v.parse().ok())
}

/// The address to bind: `127.0.0.1:PORT`, PORT the first argument
/// (default 8080). Anything but loopback is refused.
pub fn listen_addr() -> SocketAddr {
    let port: u16 = std::env::args()
        .nth(1)
        .map(|p| p.parse().expect("PORT must be a number"))
        .unwrap_or(8080);
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A positive integer from the environment, if set.
pub fn env_count(name: &str) -> Option<usize> {
    std::env::var(name).ok()?.parse().ok().filter(|&n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Route::of("GET", "/"), Route::Hello);
        assert_eq!(Route::of("POST", "/upload"), Route::Upload);
        assert_eq!(
            Route::of("GET", "/download?bytes=7"),
            Route::Download(7, PIECE)
        );
        assert_eq!(
            Route::of("GET", "/download?x=1&bytes=9&piece=5"),
            Route::Download(9, 5)
        );
        assert_eq!(
            Route::of("GET", "/download?piece=99999999"),
            Route::Download(DEFAULT_DOWNLOAD, MAX_PIECE)
        );
        assert_eq!(Route::of("GET", "/upload"), Route::Hello);
        assert_eq!(Route::of("GET", "/files/a.bin"), Route::File("a.bin"));
        assert_eq!(file_path("../x"), None);
        assert_eq!(file_path("a/b"), None);
        assert_eq!(file_path(""), None);
    }
}
