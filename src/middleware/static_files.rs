//! `StaticFiles`: files under URL prefixes, served from directories or
//! single files before the request reaches the application (Werkzeug's
//! `SharedDataMiddleware`, what `run_simple(static_files=...)` adds).
//!
//! What it answers, for `GET` and `HEAD` only:
//!
//! | request                                   | answer                             |
//! |-------------------------------------------|------------------------------------|
//! | a file under an exported directory        | `200` with the file                |
//! | `If-None-Match` / `If-Modified-Since` hit | `304 Not Modified`                 |
//! | `If-Match` / `If-Unmodified-Since` miss   | `412 Precondition Failed`          |
//! | `Range: bytes=a-b` (one range)            | `206` with `Content-Range`         |
//! | a range past the end of the file          | `416` with `Content-Range: bytes */size` |
//! | a directory with `index.html`, slash-ended | `200` with the index              |
//! | the same directory without the slash      | `301` to the slash-ended URL       |
//! | anything else                             | the wrapped application            |
//!
//! Conditional requests follow RFC 9110 section 13.2.2 (the order in which
//! preconditions are evaluated); ranges follow RFC 9110 section 14.
//!
//! # What is never served
//!
//! A request path is split on `/` after the export's prefix, and the
//! request falls through to the application (usually a 404) if any
//! segment is `..` or `.`, contains a backslash or a NUL byte, or is empty
//! anywhere but at the end (`/static//etc/passwd` names an absolute path).
//! A segment that starts with a dot (`.env`, `.git/config`, `.ssh/`) falls
//! through too, unless [`StaticFiles::dot_files`] allows them: exporting a
//! project's directory must not publish its secrets.
//! The server percent-decodes `PATH_INFO` before the application sees it,
//! so `%2e%2e`, `%2f`, `%5c` and `%00` arrive here as `..`, `/`, `\` and
//! NUL and meet the same checks.
//!
//! Symlinks: the joined path is resolved with `std::fs::canonicalize`
//! (every symlink followed, `..` removed) and served only if the result is
//! still under the canonicalized export directory. A symlink inside the
//! directory that points to another place inside it is served; one that
//! points outside is not, wherever it sits. Only regular files are served
//! (no devices, FIFOs or sockets). The check and the `open` are two steps,
//! so a process that can change the tree between them could race it: this
//! is a development server, and the tree is the developer's own.

use std::fmt;
use std::fs::{self, File, Metadata};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::http::date::{http_date, parse_http_date};
use crate::model::percent_encode_path;
use crate::{App, Body, Chunk, Environ, StartResponse};

/// Serves files under URL prefixes, and passes every other request to the
/// wrapped application.
///
/// ```no_run
/// use werk::middleware::StaticFiles;
/// # fn app(_: &werk::Environ, sr: werk::StartResponse) -> werk::Body {
/// #     sr.start("404 Not Found", [("Content-Type", "text/plain")]).unwrap();
/// #     werk::Body::from("not found")
/// # }
///
/// let app = StaticFiles::new(app)
///     .mount("/static", "assets")            // a directory
///     .mount("/favicon.ico", "assets/icon.ico"); // a single file
/// werk::run_simple("localhost", 5000, app, werk::Options::default());
/// ```
///
/// Each response carries `Content-Type` (from the file's extension;
/// `text/*` types get `; charset=utf-8`), `Content-Length`,
/// `Last-Modified`, a strong `ETag` built from the modification time and
/// size, `Accept-Ranges: bytes`, and `Cache-Control: no-cache`: a browser
/// may keep the file but asks again each time, and gets a cheap `304` while
/// the file is unchanged, so an edited file shows on the next reload
/// (Werkzeug sends `max-age=43200`, which keeps a stale copy for 12 hours).
/// The body is a [`Body::file`] (or [`Body::file_range`] for a range), so
/// the server sends it with the kernel's copy path and no file is read into
/// memory.
pub struct StaticFiles<A> {
    app: A,
    exports: Vec<Export>,
    /// What it serves beyond regular files.
    look: Look,
}

/// What a lookup may find besides regular files.
#[derive(Debug, Clone, Copy, Default)]
struct Look {
    /// Files and directories whose name starts with a dot.
    dot_files: bool,
    /// A listing of a directory without `index.html`.
    listings: bool,
}

/// One URL prefix and what it serves.
#[derive(Debug, Clone)]
struct Export {
    /// The prefix without a trailing slash: `/static`, or `""` for `/`.
    prefix: String,
    target: PathBuf,
}

impl<A: App> StaticFiles<A> {
    /// Wraps `app`; add exports with [`StaticFiles::mount`].
    pub fn new(app: A) -> StaticFiles<A> {
        StaticFiles {
            app,
            exports: Vec::new(),
            look: Look::default(),
        }
    }

    /// Serves files and directories whose name starts with a dot, such as
    /// `.well-known/` (default off: `.env`, `.git/` and their like are
    /// not found).
    pub fn dot_files(mut self, on: bool) -> StaticFiles<A> {
        self.look.dot_files = on;
        self
    }

    /// Answers a directory without `index.html` with a page that lists
    /// its entries, as `python -m http.server` does (default off: such a
    /// request reaches the application). Dot files are not listed unless
    /// [`StaticFiles::dot_files`] serves them.
    pub fn listings(mut self, on: bool) -> StaticFiles<A> {
        self.look.listings = on;
        self
    }

    /// Serves `path` under the URL `prefix`. A directory serves the files
    /// below it (`/static/css/site.css` is `path/css/site.css`); a single
    /// file is served at exactly `prefix`. Exports are tried in the order
    /// they were added, and the first that has the file answers.
    ///
    /// The path is looked up at each request, so a directory may be
    /// created after the server starts; `Options::static_files` checks
    /// that it exists before serving.
    pub fn mount(mut self, prefix: &str, path: impl Into<PathBuf>) -> StaticFiles<A> {
        self.exports.push(Export {
            prefix: prefix.trim_end_matches('/').to_owned(),
            target: path.into(),
        });
        self
    }
}

impl<A> fmt::Debug for StaticFiles<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticFiles")
            .field(
                "exports",
                &self
                    .exports
                    .iter()
                    .map(|e| (e.prefix.as_str(), e.target.as_path()))
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl<A: App> App for StaticFiles<A> {
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
        let method = environ.method();
        if method == "GET" || method == "HEAD" {
            match self.find(environ.path_info()) {
                Some(Found::File(path)) => return serve(&path, environ, start_response),
                Some(Found::AddSlash) => return add_slash(environ, start_response),
                Some(Found::Listing(dir)) => {
                    return listing(&dir, environ, start_response, self.look)
                }
                None => {}
            }
        }
        self.app.call(environ, start_response)
    }
}

/// What a request path names.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    /// A regular file (canonical path).
    File(PathBuf),
    /// A directory with an index, asked for without the trailing slash.
    AddSlash,
    /// A directory to list (canonical path).
    Listing(PathBuf),
}

impl<A> StaticFiles<A> {
    fn find(&self, path: &str) -> Option<Found> {
        self.exports
            .iter()
            .find_map(|export| export.find(path, self.look))
    }
}

impl Export {
    fn find(&self, path: &str, look: Look) -> Option<Found> {
        let rest = if path == self.prefix {
            None
        } else {
            let rest = path.strip_prefix(&self.prefix)?.strip_prefix('/')?;
            Some(rest)
        };
        let meta = fs::metadata(&self.target).ok()?;
        if meta.is_file() {
            return match rest {
                None => Some(Found::File(self.target.canonicalize().ok()?)),
                Some("") if self.prefix.is_empty() => {
                    Some(Found::File(self.target.canonicalize().ok()?))
                }
                Some(_) => None,
            };
        }
        if !meta.is_dir() {
            return None;
        }
        match rest {
            None => {
                let index = index_of(&self.target.canonicalize().ok()?, &self.target);
                (index.is_some() || look.listings).then_some(Found::AddSlash)
            }
            Some(rest) => resolve(&self.target, rest, look),
        }
    }
}

/// Resolves `rest` (the decoded path after the prefix) under `root`, by
/// the rules in the module documentation.
fn resolve(root: &Path, rest: &str, look: Look) -> Option<Found> {
    let (rest, dir_request) = match rest.strip_suffix('/') {
        Some(r) => (r, true),
        None => (rest, rest.is_empty()),
    };
    let mut candidate = root.to_path_buf();
    if !rest.is_empty() {
        for segment in rest.split('/') {
            if !safe_segment(segment) || (segment.starts_with('.') && !look.dot_files) {
                return None;
            }
            candidate.push(segment);
        }
    }
    let canonical_root = root.canonicalize().ok()?;
    let resolved = candidate.canonicalize().ok()?;
    if !resolved.starts_with(&canonical_root) {
        return None;
    }
    let meta = fs::metadata(&resolved).ok()?;
    if meta.is_dir() {
        return match (index_of(&resolved, &canonical_root), dir_request) {
            (Some(index), true) => Some(Found::File(index)),
            (None, true) if look.listings => Some(Found::Listing(resolved)),
            (Some(_), false) => Some(Found::AddSlash),
            (None, false) if look.listings => Some(Found::AddSlash),
            (None, _) => None,
        };
    }
    (meta.is_file() && !dir_request).then_some(Found::File(resolved))
}

/// A path segment that names an entry of its directory and nothing else.
fn safe_segment(segment: &str) -> bool {
    !(segment.is_empty() || segment == "." || segment == ".." || segment.contains(['\\', '\0']))
}

/// `dir/index.html`, canonical, if it is a regular file under `root`.
fn index_of(dir: &Path, root: &Path) -> Option<PathBuf> {
    let root = root.canonicalize().ok()?;
    let index = dir.join("index.html").canonicalize().ok()?;
    let is_file = fs::metadata(&index).ok()?.is_file();
    (is_file && index.starts_with(&root)).then_some(index)
}

/// The page that lists directory `dir`: its subdirectories, then its
/// files, each sorted by name, with sizes; entries starting with a dot
/// only when they are served.
fn listing(dir: &Path, environ: &Environ, start_response: StartResponse, look: Look) -> Body {
    let mut entries: Vec<(bool, String, u64)> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            if name.starts_with('.') && !look.dot_files {
                return None;
            }
            // Following symbolic links, as serving them does.
            let meta = fs::metadata(entry.path()).ok()?;
            (meta.is_dir() || meta.is_file()).then(|| (meta.is_dir(), name, meta.len()))
        })
        .collect();
    entries.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then_with(|| a.1.to_lowercase().cmp(&b.1.to_lowercase()))
    });
    let shown = format!("{}{}", environ.script_name(), environ.path_info());
    let title = crate::escape::html_escape(&format!("Directory listing for {shown}"));
    let mut page = format!(
        "<!doctype html>\n<html lang=en>\n<meta charset=utf-8>\n<title>{title}</title>\n\
         <h1>{title}</h1>\n<hr>\n<ul>\n"
    );
    if environ.path_info().trim_end_matches('/').contains('/') {
        page.push_str("<li><a href=\"../\">../</a>\n");
    }
    for (is_dir, name, size) in &entries {
        let slash = if *is_dir { "/" } else { "" };
        // `./` first: a name such as `javascript:alert(1)` stays a path.
        let href = crate::escape::html_escape(&format!(
            "./{}",
            percent_encode_path(&format!("{name}{slash}"))
        ));
        let shown = crate::escape::html_escape(&format!("{name}{slash}"));
        let size = if *is_dir {
            String::new()
        } else {
            format!(" <small>{size} bytes</small>")
        };
        page.push_str(&format!("<li><a href=\"{href}\">{shown}</a>{size}\n"));
    }
    page.push_str("</ul>\n<hr>\n</html>\n");
    let _ = start_response.start(
        "200 OK",
        [
            ("Content-Type", "text/html; charset=utf-8".to_owned()),
            ("Content-Length", page.len().to_string()),
            ("Cache-Control", "no-cache".to_owned()),
        ],
    );
    Body::from(page)
}

/// `301` to the same URL with a slash after the path.
fn add_slash(environ: &Environ, start_response: StartResponse) -> Body {
    let mut location = percent_encode_path(&format!(
        "{}{}/",
        environ.script_name(),
        environ.path_info()
    ));
    if !environ.query_string().is_empty() {
        location.push('?');
        location.push_str(environ.query_string());
    }
    let text = format!("Moved to {location}\n");
    let _ = start_response.start(
        "301 Moved Permanently",
        [
            ("Location", location),
            ("Content-Type", "text/plain; charset=utf-8".to_owned()),
            ("Content-Length", text.len().to_string()),
        ],
    );
    Body::from(text)
}

/// What identifies one version of a file (RFC 9110 section 8.8).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Validators {
    etag: String,
    /// Modification time in whole seconds, as `Last-Modified` carries it.
    modified: i64,
    size: u64,
}

impl Validators {
    fn of(meta: &Metadata) -> Validators {
        let (secs, nanos) = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or((0, 0), |d| (d.as_secs(), d.subsec_nanos()));
        Validators {
            etag: format!("\"{secs:x}.{nanos:x}-{:x}\"", meta.len()),
            modified: secs as i64,
            size: meta.len(),
        }
    }
}

/// The answer the request's preconditions and range call for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Full,
    NotModified,
    PreconditionFailed,
    /// First byte and length.
    Partial(u64, u64),
    Unsatisfiable,
}

/// Evaluates preconditions in the order of RFC 9110 section 13.2.2, then
/// the range (section 14.2: only for GET).
fn evaluate(environ: &Environ, v: &Validators) -> Outcome {
    let get_or_head = matches!(environ.method(), "GET" | "HEAD");
    if let Some(if_match) = environ.header("If-Match") {
        if !etag_list_matches(if_match, &v.etag, true) {
            return Outcome::PreconditionFailed;
        }
    } else if let Some(date) = environ
        .header("If-Unmodified-Since")
        .and_then(parse_http_date)
    {
        if v.modified > date {
            return Outcome::PreconditionFailed;
        }
    }
    if let Some(if_none_match) = environ.header("If-None-Match") {
        if etag_list_matches(if_none_match, &v.etag, false) {
            return if get_or_head {
                Outcome::NotModified
            } else {
                Outcome::PreconditionFailed
            };
        }
    } else if let Some(date) = environ
        .header("If-Modified-Since")
        .and_then(parse_http_date)
    {
        if get_or_head && v.modified <= date {
            return Outcome::NotModified;
        }
    }
    if environ.method() != "GET" {
        return Outcome::Full;
    }
    let Some(range) = environ.header("Range") else {
        return Outcome::Full;
    };
    if let Some(if_range) = environ.header("If-Range") {
        let still_valid = if if_range.trim_start().starts_with(['"', 'W']) {
            etag_list_matches(if_range, &v.etag, true)
        } else {
            parse_http_date(if_range) == Some(v.modified)
        };
        if !still_valid {
            return Outcome::Full;
        }
    }
    match parse_range(range, v.size) {
        RangeSpec::Ignored => Outcome::Full,
        RangeSpec::Unsatisfiable => Outcome::Unsatisfiable,
        RangeSpec::Bytes(first, len) => Outcome::Partial(first, len),
    }
}

/// Whether a list of entity tags (`If-Match`, `If-None-Match`, `If-Range`)
/// holds `etag` or `*`. `strong` selects the strong comparison (RFC 9110
/// section 8.8.3.2: neither tag may be weak); otherwise the weak one.
fn etag_list_matches(list: &str, etag: &str, strong: bool) -> bool {
    if list.trim() == "*" {
        return true;
    }
    let mut rest = list;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return false;
        }
        let weak = rest.starts_with("W/");
        if weak {
            rest = &rest[2..];
        }
        let Some(body) = rest.strip_prefix('"') else {
            return false;
        };
        let Some(end) = body.find('"') else {
            return false;
        };
        let tag = &rest[..end + 2];
        if tag == etag && !(strong && weak) {
            return true;
        }
        rest = &body[end + 1..];
    }
}

/// A `Range` header, read for a representation of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeSpec {
    /// Not a single byte range, or not valid: serve the whole file (RFC
    /// 9110 section 14.2 lets a server ignore a Range it does not support;
    /// several ranges would need `multipart/byteranges`).
    Ignored,
    /// Valid, but starts past the end (RFC 9110 section 15.5.17).
    Unsatisfiable,
    /// First byte and length, clamped to the file.
    Bytes(u64, u64),
}

/// Parses `bytes=first-last`, `bytes=first-` or `bytes=-suffix` (RFC 9110
/// section 14.1.2).
fn parse_range(header: &str, size: u64) -> RangeSpec {
    let Some((unit, spec)) = header.split_once('=') else {
        return RangeSpec::Ignored;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return RangeSpec::Ignored;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeSpec::Ignored;
    };
    // A position too large for u64 is past the end of any file: it is
    // clamped (`bytes=0-99999999999999999999999` is the whole file, 206),
    // not taken for a malformed range.
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().unwrap_or(u64::MAX))
    };
    match (first, last) {
        ("", suffix) => match number(suffix) {
            Some(0) => RangeSpec::Unsatisfiable,
            Some(_) if size == 0 => RangeSpec::Unsatisfiable,
            Some(n) => {
                let len = n.min(size);
                RangeSpec::Bytes(size - len, len)
            }
            None => RangeSpec::Ignored,
        },
        (first, "") => match number(first) {
            Some(f) if f >= size => RangeSpec::Unsatisfiable,
            Some(f) => RangeSpec::Bytes(f, size - f),
            None => RangeSpec::Ignored,
        },
        (first, last) => match (number(first), number(last)) {
            (Some(f), Some(l)) if l < f => RangeSpec::Ignored,
            (Some(f), Some(_)) if f >= size => RangeSpec::Unsatisfiable,
            (Some(f), Some(l)) => RangeSpec::Bytes(f, l.min(size - 1) - f + 1),
            _ => RangeSpec::Ignored,
        },
    }
}

/// Answers a GET or HEAD for the file at `path`.
fn serve(path: &Path, environ: &Environ, start_response: StartResponse) -> Body {
    let opened = File::open(path).and_then(|f| f.metadata().map(|m| (f, m)));
    let (file, meta) = match opened {
        Ok(pair) => pair,
        Err(e) => {
            let text = format!("Cannot read this file: {e}\n");
            return small("403 Forbidden", &[], text, start_response);
        }
    };
    let v = Validators::of(&meta);
    let mut headers: Vec<(&str, String)> = vec![
        ("ETag", v.etag.clone()),
        ("Last-Modified", http_date(v.modified)),
        ("Cache-Control", "no-cache".to_owned()),
    ];
    let head = environ.method() == "HEAD";
    match evaluate(environ, &v) {
        Outcome::NotModified => {
            let _ = start_response.start("304 Not Modified", headers);
            Body::empty()
        }
        Outcome::PreconditionFailed => small(
            "412 Precondition Failed",
            &[],
            "The file has changed.\n".to_owned(),
            start_response,
        ),
        Outcome::Unsatisfiable => small(
            "416 Range Not Satisfiable",
            &[("Content-Range", format!("bytes */{}", v.size))],
            format!("The file has {} bytes.\n", v.size),
            start_response,
        ),
        Outcome::Full => {
            headers.push(("Content-Type", content_type(path).to_owned()));
            headers.push(("Content-Length", v.size.to_string()));
            headers.push(("Accept-Ranges", "bytes".to_owned()));
            let _ = start_response.start("200 OK", headers);
            if head {
                Body::empty()
            } else {
                body_or_error(Body::file(file))
            }
        }
        Outcome::Partial(first, len) => {
            headers.push(("Content-Type", content_type(path).to_owned()));
            headers.push(("Content-Length", len.to_string()));
            headers.push((
                "Content-Range",
                format!("bytes {first}-{}/{}", first + len - 1, v.size),
            ));
            headers.push(("Accept-Ranges", "bytes".to_owned()));
            let _ = start_response.start("206 Partial Content", headers);
            body_or_error(Body::file_range(file, first, len))
        }
    }
}

/// A file body, or one that fails at once (the server then cuts the
/// response short, so the client does not take it for complete).
fn body_or_error(body: std::io::Result<Body>) -> Body {
    body.unwrap_or_else(|e| Body::try_stream([Err::<Chunk, _>(e)]))
}

/// A short plain-text answer.
fn small(
    status: &str,
    extra: &[(&'static str, String)],
    text: String,
    start_response: StartResponse,
) -> Body {
    let mut headers: Vec<(&str, String)> = extra.to_vec();
    headers.push(("Content-Type", "text/plain; charset=utf-8".to_owned()));
    headers.push(("Content-Length", text.len().to_string()));
    let _ = start_response.start(status, headers);
    Body::from(text)
}

/// The media type for a file name, from its extension; `text/*` types get
/// `; charset=utf-8`. Unknown extensions are `application/octet-stream`.
pub(crate) fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "txt" | "text" | "log" | "rs" | "toml" | "py" | "sh" | "ini" | "cfg" | "conf" | "yaml"
        | "yml" => "text/plain; charset=utf-8",
        "md" | "markdown" => "text/markdown; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "xml" => "text/xml; charset=utf-8",
        "json" | "map" => "application/json",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/vnd.microsoft.icon",
        "bmp" => "image/bmp",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "mp3" => "audio/mpeg",
        "ogg" | "oga" => "audio/ogg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeSpec::*;
        assert_eq!(parse_range("bytes=0-4", 10), Bytes(0, 5));
        assert_eq!(parse_range("bytes=5-", 10), Bytes(5, 5));
        assert_eq!(parse_range("bytes=-3", 10), Bytes(7, 3));
        assert_eq!(parse_range("bytes=-30", 10), Bytes(0, 10));
        assert_eq!(parse_range("bytes=8-100", 10), Bytes(8, 2));
        assert_eq!(parse_range("bytes=10-", 10), Unsatisfiable);
        assert_eq!(parse_range("bytes=10-12", 10), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 10), Unsatisfiable);
        assert_eq!(parse_range("bytes=-5", 0), Unsatisfiable);
        let huge = "99999999999999999999999";
        assert_eq!(parse_range(&format!("bytes=0-{huge}"), 10), Bytes(0, 10));
        assert_eq!(parse_range(&format!("bytes=-{huge}"), 10), Bytes(0, 10));
        assert_eq!(parse_range(&format!("bytes={huge}-"), 10), Unsatisfiable);
        for ignored in [
            "bytes=5-2",
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=+1-2",
            "bytes",
        ] {
            assert_eq!(parse_range(ignored, 10), Ignored, "{ignored}");
        }
    }

    #[test]
    fn etag_comparison() {
        let tag = "\"abc\"";
        assert!(etag_list_matches("\"abc\"", tag, true));
        assert!(etag_list_matches("\"x\", \"abc\"", tag, true));
        assert!(etag_list_matches("W/\"abc\"", tag, false));
        assert!(!etag_list_matches("W/\"abc\"", tag, true));
        assert!(etag_list_matches("*", tag, true));
        assert!(!etag_list_matches("\"abcd\"", tag, false));
        assert!(!etag_list_matches("abc", tag, false));
        assert!(!etag_list_matches("\"abc", tag, false));
    }

    #[test]
    fn segments() {
        for bad in ["", ".", "..", "a\\b", "a\0b", "\\"] {
            assert!(!safe_segment(bad), "{bad:?}");
        }
        for good in ["a", "...", "a..b", ".hidden", "äöü"] {
            assert!(safe_segment(good), "{good:?}");
        }
    }

    #[test]
    fn types() {
        assert_eq!(
            content_type(Path::new("a/b.TXT")),
            "text/plain; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("x.png")), "image/png");
        assert_eq!(content_type(Path::new("noext")), "application/octet-stream");
    }
}
