//! Live reload over real sockets: the script tag in HTML pages and the
//! lengths that real clients (curl, Python's `http.client`) read, the
//! reserved `/__werk/` paths that the server answers itself, 200 open event
//! streams on a pool of 4 workers, and headless Chromium reloading a page
//! when another server answers on its port.

mod support;

use std::fs::File;
use std::io::Read;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::{quiet, Client, TestServer, CHROMIUM, GUARD};
use werk::middleware::StaticFiles;
use werk::{App, Body, Environ, StartResponse};

/// A page with a `Content-Length`.
const PAGE: &str = "<!doctype html><html><body><h1>page</h1></body></html>";

/// The chunks of a page sent without a length.
const STREAMED: [&str; 2] = ["<h1>one</h1>", "<p>two</p>"];

/// `<html><body>zipped</body></html>`, gzip-compressed.
const GZIPPED: &[u8] = &[
    31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 179, 201, 40, 201, 205, 177, 179, 73, 202, 79, 169, 180, 171,
    202, 44, 40, 72, 77, 177, 209, 7, 115, 108, 244, 193, 50, 0, 129, 83, 152, 123, 32, 0, 0, 0,
];
const UNZIPPED: &str = "<html><body>zipped</body></html>";

const TAG_START: &str = "<script src=\"/__werk/live.js?id=";

/// `/page` (HTML with a length), `/stream` (HTML in chunks), `/plain`
/// (the same bytes as `/page`, as text/plain), `/gzip` (compressed HTML);
/// anything else is a 404.
fn site(environ: &Environ, start_response: StartResponse) -> Body {
    let start = |status: &str, headers: &[(&str, &str)]| {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        start_response.start(status, headers).unwrap();
    };
    match environ.path_info() {
        "/page" => {
            let len = PAGE.len().to_string();
            start(
                "200 OK",
                &[
                    ("Content-Type", "text/html; charset=utf-8"),
                    ("Content-Length", &len),
                ],
            );
            Body::from(PAGE)
        }
        "/stream" => {
            start("200 OK", &[("Content-Type", "text/html")]);
            Body::stream(STREAMED)
        }
        "/plain" => {
            let len = PAGE.len().to_string();
            start(
                "200 OK",
                &[("Content-Type", "text/plain"), ("Content-Length", &len)],
            );
            Body::from(PAGE)
        }
        "/gzip" => {
            let len = GZIPPED.len().to_string();
            start(
                "200 OK",
                &[
                    ("Content-Type", "text/html"),
                    ("Content-Encoding", "gzip"),
                    ("Content-Length", &len),
                ],
            );
            Body::from(GZIPPED)
        }
        _ => {
            start("404 Not Found", &[("Content-Type", "text/plain")]);
            Body::from("not here\n")
        }
    }
}

fn live_server() -> TestServer {
    TestServer::start(site, quiet().live_reload(true))
}

/// The tag the server adds for the server `id`.
fn tag(id: &str) -> String {
    format!("{TAG_START}{id}\" defer></script>")
}

/// The server id in a page's tag.
fn tag_id(page: &str) -> String {
    let start = page
        .find(TAG_START)
        .unwrap_or_else(|| panic!("no live-reload tag in {page:?}"))
        + TAG_START.len();
    let end = start + page[start..].find('"').expect("the tag's src ends");
    let id = &page[start..end];
    assert!(
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        "{id:?}"
    );
    id.to_owned()
}

/// `/page` as served with live reload on: the tag before `</body>`.
fn tagged_page(id: &str) -> String {
    PAGE.replace("</body>", &format!("{}</body>", tag(id)))
}

/// `/stream` as served with live reload on: the tag after the last chunk.
fn tagged_stream(id: &str) -> String {
    format!("{}{}", STREAMED.concat(), tag(id))
}

/// The id of `server`, from the tag in its `/page`.
fn server_id(server: &TestServer) -> String {
    tag_id(&server.connect().get("/page").text())
}

/// A fresh directory under the temporary one, removed when the test ends,
/// however it ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn pages_get_the_tag_and_a_length_that_matches_it() {
    let server = live_server();
    let mut client = server.connect();
    let page = client.get("/page");
    let id = tag_id(&page.text());
    assert_eq!(page.status, 200);
    assert_eq!(page.text(), tagged_page(&id));
    let length = page.body.len().to_string();
    assert_eq!(page.header("content-length"), Some(length.as_str()));

    // Same connection throughout: a length that disagreed with the body,
    // or a body after HEAD, would be read as the next response's head.
    let head = client.request("HEAD", "/page", &[], b"");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some(length.as_str()));

    let streamed = client.get("/stream");
    assert!(streamed.chunked(), "{:?}", streamed.headers);
    assert_eq!(streamed.header("content-length"), None);
    assert_eq!(streamed.text(), tagged_stream(&id));

    let plain = client.get("/plain");
    assert_eq!(plain.text(), PAGE, "text/plain is left alone");
    assert_eq!(
        plain.header("content-length"),
        Some(PAGE.len().to_string().as_str())
    );

    let zipped = client.get("/gzip");
    assert_eq!(zipped.body, GZIPPED, "an encoded body is left alone");
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    assert_eq!(
        zipped.header("content-length"),
        Some(GZIPPED.len().to_string().as_str())
    );

    assert_eq!(client.get("/page").text(), tagged_page(&id));
}

#[test]
fn static_html_files_get_the_tag_and_lose_their_validators() {
    let dir = Scratch::new("werk-live-static");
    std::fs::write(dir.0.join("index.html"), PAGE).unwrap();
    std::fs::write(dir.0.join("style.css"), "h1 { color: red }").unwrap();
    let app = StaticFiles::new(site).mount("/static", &dir.0);
    let server = TestServer::start(app, quiet().live_reload(true));
    let mut client = server.connect();

    let page = client.get("/static/index.html");
    let id = tag_id(&page.text());
    assert_eq!(page.status, 200);
    // A file is sent as it is read: the tag goes after its last byte.
    assert_eq!(page.text(), format!("{PAGE}{}", tag(&id)));
    assert_eq!(
        page.header("content-length"),
        Some(page.body.len().to_string().as_str())
    );
    // With a validator, a browser that reloads for the next server would
    // get a 304 and show again the copy that names the old one, and
    // reload again, without end.
    for validator in ["etag", "last-modified", "accept-ranges"] {
        assert_eq!(
            page.header(validator),
            None,
            "{validator}: {:?}",
            page.headers
        );
    }
    let head = client.request("HEAD", "/static/index.html", &[], b"");
    assert_eq!(head.header("content-length"), page.header("content-length"));

    let css = client.get("/static/style.css");
    assert_eq!(css.text(), "h1 { color: red }");
    let etag = css.header("etag").expect("other files keep their ETag");
    let again = client.request("GET", "/static/style.css", &[("If-None-Match", etag)], b"");
    assert_eq!(again.status, 304);
}

fn curl(args: &[&str]) -> Option<support::Ran> {
    support::needs("curl", "curl_reads_pages_to_their_length").then(|| support::curl_ok(args, b""))
}

#[test]
fn curl_reads_pages_to_their_length() {
    let server = live_server();
    let id = server_id(&server);
    let url = |path: &str| format!("http://{}{path}", server.addr);

    let Some(ran) = curl(&["--dump-header", "-", &url("/page")]) else {
        return;
    };
    let out = ran.stdout_text();
    let (head, body) = out.split_once("\r\n\r\n").expect("a head, then the body");
    let length = format!("content-length: {}", body.len());
    assert!(
        head.to_ascii_lowercase().contains(&length),
        "want {length}: {head}"
    );
    assert_eq!(body, tagged_page(&id));

    let Some(ran) = curl(&["--head", &url("/page")]) else {
        return;
    };
    let out = ran.stdout_text().to_ascii_lowercase();
    assert!(out.contains(&length), "HEAD: want {length}: {out}");
    assert!(out.ends_with("\r\n\r\n"), "HEAD: only a head: {out:?}");

    // Three responses on one connection: each read to its length exactly.
    let urls = [url("/page"), url("/stream"), url("/page")];
    let Some(ran) = curl(&["--verbose", &urls[0], &urls[1], &urls[2]]) else {
        return;
    };
    let want = format!(
        "{}{}{}",
        tagged_page(&id),
        tagged_stream(&id),
        tagged_page(&id)
    );
    assert_eq!(ran.stdout_text(), want);
    let err = ran.stderr_text();
    assert_eq!(
        err.matches("Re-using existing connection").count(),
        2,
        "{err}"
    );

    // The compressed page was not touched: it still decompresses.
    let Some(ran) = curl(&["--compressed", &url("/gzip")]) else {
        return;
    };
    assert_eq!(ran.stdout_text(), UNZIPPED);
}

#[test]
fn python_reads_pages_to_their_length() {
    let server = live_server();
    let id = server_id(&server);
    let script = r#"
import http.client, sys
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
sock = None
for method, path in [("GET", "/page"), ("HEAD", "/page"), ("GET", "/stream"),
                     ("GET", "/plain"), ("GET", "/page")]:
    conn.request(method, path)
    r = conn.getresponse()
    body = r.read()
    sock = sock or conn.sock
    assert conn.sock is sock, "http.client had to reconnect before %s %s" % (method, path)
    print("|".join([method, path, str(r.status), str(r.getheader("Content-Length")),
                    str(r.getheader("Transfer-Encoding")), body.decode()]))
"#;
    let test = "python_reads_pages_to_their_length";
    let Some(out) = support::python_ok(test, script, server.addr.port()) else {
        return;
    };
    let page = tagged_page(&id);
    let stream = tagged_stream(&id);
    let want = [
        format!("GET|/page|200|{}|None|{page}", page.len()),
        format!("HEAD|/page|200|{}|None|", page.len()),
        format!("GET|/stream|200|None|chunked|{stream}"),
        format!("GET|/plain|200|{}|None|{PAGE}", PAGE.len()),
        format!("GET|/page|200|{}|None|{page}", page.len()),
    ];
    assert_eq!(out.lines().collect::<Vec<_>>(), want, "{out}");
}

/// Sends a request on a new connection and reads the head of the answer:
/// the status code, and the received bytes as text.
fn status_of(addr: SocketAddr, method: &str, target: &str, body: &[u8]) -> (u16, String) {
    let mut client = Client::connect(addr);
    client.send_request(method, target, &[], body);
    client
        .wait_for_bytes(b"\r\n\r\n")
        .unwrap_or_else(|e| panic!("{method} {target}: {e}"));
    let text = String::from_utf8_lossy(client.buffered()).into_owned();
    let code = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("{method} {target}: no status line in {text:?}"));
    (code, text)
}

#[test]
fn the_server_answers_its_own_paths() {
    let server = live_server();
    let mut client = server.connect();
    let id = tag_id(&client.get("/page").text());

    let script = client.get(&format!("/__werk/live.js?id={id}"));
    assert_eq!(script.status, 200);
    assert!(
        script
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/javascript")),
        "{:?}",
        script.headers
    );
    assert!(script.text().contains("EventSource"), "{}", script.text());
    let head = client.request("HEAD", "/__werk/live.js", &[], b"");
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(script.body.len().to_string().as_str())
    );

    // Each answer on the same connection: one with a body where none was
    // due would be read as the next response.
    for (method, target, status, allow) in [
        ("GET", "/__werk/", 404, None),
        ("GET", "/__werk/nothing", 404, None),
        ("HEAD", "/__werk/nothing", 404, None),
        ("GET", "/__werk/live/more", 404, None),
        ("GET", "/__werk/live.jsx", 404, None),
        ("HEAD", "/__werk/live", 405, Some("GET")),
        ("DELETE", "/__werk/live", 405, Some("GET")),
        ("OPTIONS", "/__werk/live.js", 405, Some("GET, HEAD")),
    ] {
        let r = client.request(method, target, &[], b"");
        assert_eq!(r.status, status, "{method} {target}");
        assert_eq!(r.header("allow"), allow, "{method} {target}");
        assert!(!r.says_close(), "{method} {target}: {:?}", r.headers);
    }
    assert_eq!(client.get("/page").text(), tagged_page(&id));

    // An HTTP/1.0 client keeps its connection only when the answer says so.
    let mut old = server.connect();
    for _ in 0..2 {
        old.send(b"GET /__werk/live.js HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let r = old.read_response();
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("connection"),
            Some("keep-alive"),
            "{:?}",
            r.headers
        );
    }

    // A body sent to the stream is not read: the answer closes.
    let mut posting = server.connect();
    let r = posting.request("POST", "/__werk/live", &[], b"x=1");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET"));
    assert!(r.says_close(), "{:?}", r.headers);
    assert!(posting.closed_by_server());

    let mut events = server.connect();
    events.send_request(
        "GET",
        "/__werk/live",
        &[("Accept", "text/event-stream")],
        b"",
    );
    let first = format!("retry: 250\n\nevent: hello\ndata: {id}\n\nevent: ok\ndata:\n\n");
    events
        .wait_for_bytes(first.as_bytes())
        .unwrap_or_else(|e| panic!("the stream's first events: {e}"));
    let got = String::from_utf8_lossy(events.buffered()).into_owned();
    let (head, body) = got.split_once("\r\n\r\n").expect("a head");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("\r\ncontent-type: text/event-stream\r\n"),
        "{head}"
    );
    assert_eq!(body, first);
}

/// Records each request's method and path, then answers as [`site`].
fn recording(seen: Seen) -> impl werk::App {
    move |environ: &Environ, start_response: StartResponse| {
        seen.push(format!("{} {}", environ.method(), environ.path_info()));
        site(environ, start_response)
    }
}

/// What an app was asked, in order.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn push(&self, what: String) {
        self.0.lock().unwrap().push(what);
    }

    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    fn count(&self, what: &str) -> usize {
        self.0.lock().unwrap().iter().filter(|s| *s == what).count()
    }
}

#[test]
fn the_app_sees_no_reserved_path_while_live_reload_is_on() {
    let asked = [
        ("GET", "/__werk/live.js?id=1", ""),
        ("HEAD", "/__werk/live.js", ""),
        ("GET", "/__werk/nothing", ""),
        ("DELETE", "/__werk/live", ""),
        ("POST", "/__werk/live", "x=1"),
        ("GET", "/__werk/live", ""),
        // The same paths, spelled otherwise: the app would see them as
        // PATH_INFO /__werk/nothing all the same.
        ("GET", "/%5F%5Fwerk/nothing", ""),
        ("GET", "http://127.0.0.1/__werk/nothing", ""),
        ("GET", "//__werk/nothing", ""),
    ];
    let on = Seen::default();
    let server = TestServer::start(recording(on.clone()), quiet().live_reload(true));
    let codes: Vec<u16> = asked
        .iter()
        .map(|(method, target, body)| status_of(server.addr, method, target, body.as_bytes()).0)
        .collect();
    assert_eq!(codes, [200, 200, 404, 405, 405, 200, 404, 404, 404]);
    assert_eq!(server.connect().get("/page").status, 200);
    assert_eq!(on.all(), ["GET /page"]);

    let off = Seen::default();
    let server = TestServer::start(recording(off.clone()), quiet());
    for (method, target, body) in asked {
        let (code, text) = status_of(server.addr, method, target, body.as_bytes());
        assert_eq!(code, 404, "the app's own 404 for {method} {target}: {text}");
    }
    let page = server.connect().get("/page");
    assert_eq!(page.text(), PAGE, "no tag while live reload is off");
    let want: Vec<String> = asked
        .iter()
        .map(|(method, target, _)| {
            let path = target.split('?').next().unwrap();
            let path = match path {
                "/%5F%5Fwerk/nothing" | "http://127.0.0.1/__werk/nothing" | "//__werk/nothing" => {
                    "/__werk/nothing"
                }
                other => other,
            };
            format!("{method} {path}")
        })
        .chain(["GET /page".to_owned()])
        .collect();
    assert_eq!(off.all(), want);
}

#[test]
fn two_hundred_open_streams_leave_the_workers_free() {
    let options = quiet().threads(4).max_threads(4).live_reload(true);
    let server = TestServer::start(site, options);
    let id = server_id(&server);
    let hello = format!("event: hello\ndata: {id}\n\n");
    let mut streams = Vec::with_capacity(200);
    for i in 0..200 {
        let mut stream = server.connect();
        stream.send_request("GET", "/__werk/live", &[], b"");
        stream
            .wait_for_bytes(hello.as_bytes())
            .unwrap_or_else(|e| panic!("stream {i}: no hello: {e}"));
        streams.push(stream);
    }

    let addr = server.addr;
    let page = tagged_page(&id);
    let askers: Vec<JoinHandle<()>> = (0..10)
        .map(|t| {
            let page = page.clone();
            std::thread::spawn(move || {
                for i in 0..10 {
                    let mut client = Client::connect(addr);
                    // A hang guard, not a measure of speed.
                    let guard = Some(Duration::from_secs(5));
                    client.stream.set_read_timeout(guard).unwrap();
                    client.send_request("GET", "/page", &[], b"");
                    let r = client
                        .try_read_response()
                        .unwrap_or_else(|e| panic!("request {t}.{i}: {e}"));
                    assert_eq!(r.status, 200, "request {t}.{i}");
                    assert_eq!(r.text(), page, "request {t}.{i}");
                }
            })
        })
        .collect();
    support::join_all(askers, GUARD, "100 requests beside 200 streams");

    for (i, stream) in streams.iter_mut().enumerate() {
        assert!(is_open(stream), "stream {i} closed before the shutdown");
    }
    match server.stop() {
        Ok(Ok(())) => {}
        other => panic!("serve_forever: {other:?}"),
    }
    for (i, stream) in streams.iter_mut().enumerate() {
        let mut rest = Vec::new();
        if let Err(e) = stream.stream.read_to_end(&mut rest) {
            panic!("stream {i} did not end cleanly at the shutdown: {e}");
        }
    }
}

/// True if nothing says the server closed `client`'s connection: no end
/// of stream or error is waiting (a heartbeat may be).
fn is_open(client: &mut Client) -> bool {
    client.stream.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 256];
    let open = match client.stream.read(&mut buf) {
        Ok(n) => n > 0,
        Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
    };
    client.stream.set_nonblocking(false).unwrap();
    open
}

/// The page for the browser. Its inline script, which runs before the
/// live-reload script, reports each `hello` the page's event stream gets,
/// with the server id in the page's own tag: the test learns when the page
/// listens, and which server's copy of the page the browser shows.
const RELOADING_PAGE: &str = r#"<!doctype html>
<html><head><title>live reload</title><script>
window.EventSource = class extends window.EventSource {
  constructor(url, init) {
    super(url, init);
    this.addEventListener("hello", function (e) {
      var tag = document.querySelector('script[src*="/__werk/live.js"]');
      var page = new URL(tag.src).searchParams.get("id");
      fetch("/heard?id=" + e.data + "&page=" + page);
    });
  }
};
</script></head><body><h1>live reload</h1></body></html>"#;

/// The browser's app: `/` is [`RELOADING_PAGE`], and so is
/// `/static/index.html`, from a file; `/heard` takes the page's reports.
/// Each request is recorded with its query.
fn browser_app(seen: Seen, files: PathBuf) -> impl werk::App {
    let pages = |environ: &Environ, start_response: StartResponse| {
        if environ.path_info() == "/" {
            start_response
                .start("200 OK", [("Content-Type", "text/html")])
                .unwrap();
            Body::from(RELOADING_PAGE)
        } else {
            start_response
                .start("204 No Content", Vec::<(String, String)>::new())
                .unwrap();
            Body::empty()
        }
    };
    let app = StaticFiles::new(pages).mount("/static", files);
    move |environ: &Environ, start_response: StartResponse| {
        let (method, path) = (environ.method(), environ.path_info());
        seen.push(match environ.query_string() {
            "" => format!("{method} {path}"),
            query => format!("{method} {path}?{query}"),
        });
        app.call(environ, start_response)
    }
}

/// A server on a port the test chose, so that another can take its place.
struct OnPort {
    addr: SocketAddr,
    handle: werk::ServerHandle,
    thread: Option<JoinHandle<Result<(), werk::Error>>>,
}

impl OnPort {
    /// Serves the app `make` makes, with live reload, on `port` (0: a
    /// free one). A port just freed may still be held for a moment:
    /// binding is retried.
    fn start<A: werk::App>(port: u16, make: impl Fn() -> A) -> OnPort {
        let deadline = Instant::now() + GUARD;
        let server = loop {
            match werk::make_server("127.0.0.1", port, make(), quiet().live_reload(true)) {
                Ok(server) => break server,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("binding port {port} again: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("cannot bind port {port}: {e}"),
            }
        };
        let addr = server.addresses()[0];
        let handle = server.handle();
        OnPort {
            addr,
            handle,
            thread: Some(std::thread::spawn(move || server.serve_forever())),
        }
    }

    /// The id in the tag of this server's pages.
    fn id(&self) -> String {
        tag_id(&Client::connect(self.addr).get("/?from=test").text())
    }

    /// Shuts the server down and waits for `serve_forever` to return.
    fn stop(mut self) {
        self.handle.shutdown();
        let thread = self.thread.take().unwrap();
        let deadline = Instant::now() + GUARD;
        while !thread.is_finished() {
            assert!(Instant::now() < deadline, "the server did not stop");
            std::thread::sleep(Duration::from_millis(10));
        }
        match thread.join() {
            Ok(Ok(())) => {}
            other => panic!("serve_forever: {other:?}"),
        }
    }
}

impl Drop for OnPort {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(thread) = self.thread.take() {
            let deadline = Instant::now() + GUARD;
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Headless Chromium showing one URL, in a process group of its own that
/// is ended with it, with a fresh profile that is removed.
struct Browser {
    child: Child,
    dir: Scratch,
}

impl Browser {
    fn open(url: &str, name: &str) -> Browser {
        let dir = Scratch::new(&format!("werk-{name}"));
        let stderr = File::create(dir.0.join("stderr")).unwrap();
        let child = Command::new(CHROMIUM)
            .args(support::CHROMIUM_FLAGS)
            .arg(format!(
                "--user-data-dir={}",
                dir.0.join("profile").display()
            ))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMIUM}: {e}"));
        Browser { child, dir }
    }

    /// The end of what the browser wrote to standard error.
    fn said(&self) -> String {
        let text = std::fs::read_to_string(self.dir.0.join("stderr")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = self.child.id() as libc::pid_t;
        // SAFETY: signals the process group this test started.
        unsafe { libc::kill(-group, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            // SAFETY: as above; the group's leader is still ours.
            unsafe { libc::kill(-group, libc::SIGKILL) };
            let _ = self.child.wait();
        }
    }
}

/// Waits for `seen` to hold `what`; panics with what it holds and what the
/// browser said otherwise.
fn wait_for_request(seen: &Seen, what: &str, limit: Duration, browser: &Browser) {
    if !support::wait_until(limit, || seen.count(what) > 0) {
        panic!(
            "no {what:?} within {limit:?}; the server saw {:?}\nchromium said:\n{}",
            seen.all(),
            browser.said()
        );
    }
}

/// A page open in a browser reloads when another server answers on its
/// port, and then shows that server's copy of the page: checked for a page
/// from the app and for a page from a file, which a browser may keep and
/// revalidate.
fn a_page_reloads_when_another_server_answers(path: &str, test: &str) {
    if !support::needs(CHROMIUM, test) {
        return;
    }
    let files = Scratch::new(&format!("werk-{test}-files"));
    std::fs::write(files.0.join("index.html"), RELOADING_PAGE).unwrap();

    let seen_a = Seen::default();
    let a = OnPort::start(0, || browser_app(seen_a.clone(), files.0.clone()));
    let port = a.addr.port();
    let id_a = a.id();
    let browser = Browser::open(&format!("http://127.0.0.1:{port}{path}"), test);
    // Chromium starts slowly on a busy machine: a generous guard.
    let heard_a = format!("GET /heard?id={id_a}&page={id_a}");
    wait_for_request(&seen_a, &heard_a, Duration::from_secs(60), &browser);
    let load = format!("GET {path}");
    assert_eq!(
        seen_a.count(&load),
        1,
        "the page reloaded for its own server: {:?}",
        seen_a.all()
    );
    a.stop();

    let seen_b = Seen::default();
    let b = OnPort::start(port, || browser_app(seen_b.clone(), files.0.clone()));
    let id_b = b.id();
    assert_ne!(id_a, id_b);
    // The page hears another id and reloads: the browser asks B for it,
    // and the page then shown carries B's tag (a copy kept from A would
    // name A, and reload again and again).
    wait_for_request(&seen_b, &load, Duration::from_secs(30), &browser);
    let heard_b = format!("GET /heard?id={id_b}&page={id_b}");
    wait_for_request(&seen_b, &heard_b, Duration::from_secs(30), &browser);
}

#[test]
fn chromium_reloads_a_page_when_another_server_answers() {
    a_page_reloads_when_another_server_answers(
        "/",
        "chromium_reloads_a_page_when_another_server_answers",
    );
}

#[test]
fn chromium_reloads_a_static_page_when_another_server_answers() {
    a_page_reloads_when_another_server_answers(
        "/static/index.html",
        "chromium_reloads_a_static_page_when_another_server_answers",
    );
}
