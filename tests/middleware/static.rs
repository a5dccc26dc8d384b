//! `StaticFiles` over real sockets: files, conditional requests (RFC 9110
//! section 13), ranges (section 14), directory indexes, `Options::
//! static_files`, and every way out of the exported directory a request
//! path can try.

use crate::support;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use support::{quiet, Response, TestServer};
use werk::middleware::StaticFiles;
use werk::{Body, Environ, Options, StartResponse};

/// A directory tree for one test, removed on drop:
///
/// ```text
/// root/public/hello.txt        "Hello, static!\n"
/// root/public/data.bin         1000 bytes, byte i = i % 251
/// root/public/big.bin          3 MiB
/// root/public/äöü.txt          "FOUND"
/// root/public/docs/index.html
/// root/public/empty-dir/
/// root/public/inside-link    -> hello.txt           (stays inside)
/// root/public/link-out       -> ../secret           (leads outside)
/// root/public/link-file-out  -> ../secret/secret.txt
/// root/secret/secret.txt       "TOP SECRET"
/// root/icon.ico
/// ```
struct Tree {
    root: PathBuf,
}

impl Tree {
    fn new() -> Tree {
        static N: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "werk-static-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let public = root.join("public");
        fs::create_dir_all(public.join("docs")).unwrap();
        fs::create_dir_all(public.join("empty-dir")).unwrap();
        fs::create_dir_all(root.join("secret")).unwrap();
        fs::write(public.join("hello.txt"), "Hello, static!\n").unwrap();
        fs::write(public.join("data.bin"), data(1000)).unwrap();
        fs::write(public.join("big.bin"), data(3 * 1024 * 1024)).unwrap();
        fs::write(public.join("äöü.txt"), "FOUND").unwrap();
        fs::write(public.join("docs/index.html"), "<h1>docs</h1>").unwrap();
        fs::write(root.join("secret/secret.txt"), "TOP SECRET").unwrap();
        fs::write(root.join("icon.ico"), [0u8, 0, 1, 0]).unwrap();
        symlink("hello.txt", public.join("inside-link")).unwrap();
        symlink("../secret", public.join("link-out")).unwrap();
        symlink("../secret/secret.txt", public.join("link-file-out")).unwrap();
        Tree { root }
    }

    fn public(&self) -> PathBuf {
        self.root.join("public")
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn fallback(environ: &Environ, start_response: StartResponse) -> Body {
    start_response
        .start("404 Not Found", [("Content-Type", "text/plain")])
        .unwrap();
    Body::from(format!(
        "fallback 404 {} {}",
        environ.method(),
        environ.path_info()
    ))
}

fn server(tree: &Tree) -> TestServer {
    let app = StaticFiles::new(fallback)
        .mount("/static", tree.public())
        .mount("/favicon.ico", tree.root.join("icon.ico"));
    TestServer::start(app, quiet())
}

fn get(server: &TestServer, target: &str, headers: &[(&str, &str)]) -> Response {
    server.connect().request("GET", target, headers, b"")
}

#[test]
fn serves_a_file_with_its_metadata() {
    let tree = Tree::new();
    let server = server(&tree);
    let r = get(&server, "/static/hello.txt", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Hello, static!\n");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("content-length"), Some("15"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    let etag = r.header("etag").unwrap();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert!(r.header("last-modified").unwrap().ends_with(" GMT"));

    let bin = get(&server, "/static/data.bin", &[]);
    assert_eq!(bin.header("content-type"), Some("application/octet-stream"));
    assert_eq!(bin.body, data(1000));

    // Werkzeug's test: a non-ASCII file name, percent-encoded on the wire.
    let found = get(&server, "/static/%C3%A4%C3%B6%C3%BC.txt", &[]);
    assert_eq!((found.status, found.text().as_str()), (200, "FOUND"));
}

#[test]
fn a_large_file_arrives_whole() {
    let tree = Tree::new();
    let server = server(&tree);
    let r = get(&server, "/static/big.bin", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("3145728"));
    assert!(r.body == data(3 * 1024 * 1024), "the body differs");
}

#[test]
fn head_has_the_length_and_no_body_and_keeps_the_connection() {
    let tree = Tree::new();
    let server = server(&tree);
    let mut client = server.connect();
    let head = client.request("HEAD", "/static/data.bin", &[], b"");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("1000"));
    assert!(head.body.is_empty());
    let next = client.get("/static/hello.txt");
    assert_eq!(next.text(), "Hello, static!\n");
}

#[test]
fn conditional_requests() {
    let tree = Tree::new();
    let server = server(&tree);
    let first = get(&server, "/static/hello.txt", &[]);
    let etag = first.header("etag").unwrap().to_owned();
    let modified = first.header("last-modified").unwrap().to_owned();

    let mut client = server.connect();
    let r = client.request("GET", "/static/hello.txt", &[("If-None-Match", &etag)], b"");
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(r.header("content-type"), None);

    // The connection still carries requests after a 304.
    let weak = format!("\"other\", W/{etag}");
    let r = client.request("GET", "/static/hello.txt", &[("If-None-Match", &weak)], b"");
    assert_eq!(r.status, 304, "If-None-Match uses the weak comparison");

    let r = get(
        &server,
        "/static/hello.txt",
        &[("If-None-Match", "\"nope\"")],
    );
    assert_eq!(r.status, 200);

    let r = get(
        &server,
        "/static/hello.txt",
        &[("If-Modified-Since", &modified)],
    );
    assert_eq!(r.status, 304);
    let old = "Sun, 06 Nov 1994 08:49:37 GMT";
    let r = get(&server, "/static/hello.txt", &[("If-Modified-Since", old)]);
    assert_eq!(r.status, 200);
    // If-None-Match wins over If-Modified-Since (RFC 9110 section 13.2.2).
    let r = get(
        &server,
        "/static/hello.txt",
        &[
            ("If-None-Match", "\"nope\""),
            ("If-Modified-Since", &modified),
        ],
    );
    assert_eq!(r.status, 200);

    let r = get(&server, "/static/hello.txt", &[("If-Match", "\"nope\"")]);
    assert_eq!(r.status, 412);
    let r = get(&server, "/static/hello.txt", &[("If-Match", &etag)]);
    assert_eq!(r.status, 200);
    let r = get(
        &server,
        "/static/hello.txt",
        &[("If-Unmodified-Since", old)],
    );
    assert_eq!(r.status, 412);
}

#[test]
fn ranges() {
    let tree = Tree::new();
    let server = server(&tree);
    let all = data(1000);
    let cases: [(&str, u64, u64); 4] = [
        ("bytes=0-4", 0, 5),
        ("bytes=990-", 990, 10),
        ("bytes=-10", 990, 10),
        ("bytes=500-5000", 500, 500),
    ];
    for (range, first, len) in cases {
        let r = get(&server, "/static/data.bin", &[("Range", range)]);
        assert_eq!(r.status, 206, "{range}");
        let last = first + len - 1;
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {first}-{last}/1000").as_str())
        );
        assert_eq!(r.header("content-length"), Some(len.to_string().as_str()));
        assert_eq!(r.body, &all[first as usize..=last as usize], "{range}");
    }

    let r = get(&server, "/static/data.bin", &[("Range", "bytes=1000-")]);
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */1000"));

    // Several ranges, or a range that is not valid: the whole file.
    for range in ["bytes=0-1,5-6", "bytes=9-3", "lines=1-2"] {
        let r = get(&server, "/static/data.bin", &[("Range", range)]);
        assert_eq!((r.status, r.body.len()), (200, 1000), "{range}");
    }

    // If-Range with an old validator: the whole, current file.
    let r = get(
        &server,
        "/static/data.bin",
        &[("Range", "bytes=0-4"), ("If-Range", "\"old\"")],
    );
    assert_eq!((r.status, r.body.len()), (200, 1000));
    let etag = r.header("etag").unwrap().to_owned();
    let r = get(
        &server,
        "/static/data.bin",
        &[("Range", "bytes=0-4"), ("If-Range", &etag)],
    );
    assert_eq!(r.status, 206);

    // A range in the middle of a large file goes through the file path.
    let r = get(
        &server,
        "/static/big.bin",
        &[("Range", "bytes=1048576-2097151")],
    );
    assert_eq!(r.status, 206);
    assert!(r.body == data(3 * 1024 * 1024)[1_048_576..2_097_152]);

    // HEAD ignores Range (RFC 9110 section 14.2: only GET).
    let head = server
        .connect()
        .request("HEAD", "/static/data.bin", &[("Range", "bytes=0-4")], b"");
    assert_eq!(head.status, 200);
}

#[test]
fn directories_and_single_files() {
    let tree = Tree::new();
    let server = server(&tree);
    let r = get(&server, "/static/docs/", &[]);
    assert_eq!((r.status, r.text().as_str()), (200, "<h1>docs</h1>"));
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));

    let r = get(&server, "/static/docs?x=1", &[]);
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/static/docs/?x=1"));

    for no_index in ["/static/empty-dir/", "/static/", "/static"] {
        let r = get(&server, no_index, &[]);
        assert_eq!(r.status, 404, "{no_index}");
        assert!(r.text().starts_with("fallback 404"), "{no_index}");
    }

    let r = get(&server, "/favicon.ico", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/vnd.microsoft.icon"));
    assert_eq!(get(&server, "/favicon.ico/x", &[]).status, 404);

    let r = get(&server, "/static/inside-link", &[]);
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "Hello, static!\n"),
        "a symlink that stays inside is served"
    );
}

#[test]
fn everything_else_reaches_the_app() {
    let tree = Tree::new();
    let server = server(&tree);
    for target in ["/static/missing.txt", "/other", "/static/hello.txt/"] {
        let r = get(&server, target, &[]);
        assert!(
            r.text().starts_with("fallback 404 GET"),
            "{target}: {}",
            r.text()
        );
    }
    let r = server
        .connect()
        .request("POST", "/static/hello.txt", &[], b"x=1");
    assert_eq!(r.text(), "fallback 404 POST /static/hello.txt");
}

/// Every escape attempt falls through to the app (or the server refuses
/// the target with 400), and nothing outside the exported directory comes
/// back. The server percent-decodes PATH_INFO, so the encoded forms arrive
/// as `..`, `/`, `\` and NUL.
#[test]
fn no_way_out_of_the_directory() {
    let tree = Tree::new();
    let server = server(&tree);
    let attempts = [
        "/static/../secret/secret.txt",
        "/static/docs/../../secret/secret.txt",
        "/static/%2e%2e/secret/secret.txt",
        "/static/%2E%2E/secret/secret.txt",
        "/static/.%2e/secret/secret.txt",
        "/static/%2e%2e%2fsecret%2fsecret.txt",
        "/static/..%2fsecret%2fsecret.txt",
        "/static/..%5csecret%5csecret.txt",
        "/static/..\\secret\\secret.txt",
        "/static/hello.txt%00.png",
        "/static/%00",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/./hello.txt",
        "/static/link-out/secret.txt",
        "/static/link-file-out",
        "/static/link-out/",
    ];
    for target in attempts {
        let mut client = server.connect();
        client.send(format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes());
        let r = client.read_response();
        let text = r.text();
        assert!(
            !text.contains("TOP SECRET") && !text.contains("root:"),
            "{target} escaped: {text}"
        );
        assert!(
            r.status == 400 || text.starts_with("fallback 404"),
            "{target}: {} {text}",
            r.status
        );
    }
}

#[test]
fn options_static_files_serves_through_make_server() {
    let tree = Tree::new();
    let options = quiet()
        .static_files("/assets", tree.public())
        .static_files("/robots.txt", tree.public().join("hello.txt"));
    let server = TestServer::start(fallback, options);
    assert_eq!(get(&server, "/assets/hello.txt", &[]).status, 200);
    assert_eq!(get(&server, "/robots.txt", &[]).status, 200);
    assert_eq!(get(&server, "/", &[]).status, 404);
}

#[test]
fn options_static_files_checks_the_path() {
    let missing = Path::new("/nonexistent/werk/static");
    let err = werk::make_server(
        "127.0.0.1",
        0,
        fallback,
        Options::default().static_files("/s", missing),
    )
    .expect_err("a missing directory is a configuration error");
    assert!(err.to_string().contains("does not exist"), "{err}");
    let err = werk::make_server(
        "127.0.0.1",
        0,
        fallback,
        Options::default().static_files("s", "."),
    )
    .expect_err("a prefix without a slash is a configuration error");
    assert!(err.to_string().contains("must start with /"), "{err}");
}

/// `werk serve --static /URL=DIR --debugger`: the binary serves the files
/// in front of its built-in app, and refuses a directory that is missing.
#[test]
fn werk_serve_with_static_and_debugger_flags() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let tree = Tree::new();
    let public = tree.public();
    let mut child = Command::new(env!("CARGO_BIN_EXE_werk"))
        .args(["serve", "hello", "--host", "127.0.0.1", "--port", "0", "-q"])
        .arg("--static")
        .arg(format!("/files={}", public.display()))
        .arg("--debugger")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start werk");
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let port = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).expect("the banner names the address");
        if let Some(rest) = line.split("http://127.0.0.1:").nth(1) {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            break digits.parse::<u16>().unwrap();
        }
    };
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut client = support::Client::connect(addr);
    let file = client.get("/files/hello.txt");
    let other = client.get("/");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        (file.status, file.text().as_str()),
        (200, "Hello, static!\n")
    );
    assert_eq!(other.text(), "Hello, World!");

    let ran = support::run(
        Command::new(env!("CARGO_BIN_EXE_werk")).args([
            "serve",
            "--port",
            "0",
            "--static",
            "/files=/nonexistent/werk/dir",
        ]),
        b"",
        Duration::from_secs(20),
    );
    assert_eq!(ran.status.code(), Some(1), "{}", ran.stderr_text());
    assert!(
        ran.stderr_text().contains("does not exist"),
        "{}",
        ran.stderr_text()
    );
}
