//! Every middleware example in `examples/` runs here on a real server,
//! and answers as its header says.

mod support;

use support::{quiet, Response, TestServer};
use werk::{testing, Environ};

#[path = "../examples/debugger.rs"]
#[allow(dead_code)]
mod debugger;
#[path = "../examples/dispatcher.rs"]
#[allow(dead_code)]
mod dispatcher;
#[path = "support/doc_blocks.rs"]
mod doc_blocks;
#[path = "../examples/lint.rs"]
#[allow(dead_code)]
mod lint;
#[path = "../examples/middleware_stack.rs"]
#[allow(dead_code)]
mod middleware_stack;
#[path = "../examples/proxy_fix.rs"]
#[allow(dead_code)]
mod proxy_fix;
#[path = "../examples/static_files.rs"]
#[allow(dead_code)]
mod static_files;
#[path = "../examples/virtual_hosts.rs"]
#[allow(dead_code)]
mod virtual_hosts;

fn with_host(server: &TestServer, host: &str) -> Response {
    let mut client = server.connect();
    client.send(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
    client.read_response()
}

#[test]
fn static_files_example() {
    let server = TestServer::start(static_files::app(), quiet());
    let mut client = server.connect();
    let r = client.get("/examples/static_files.rs");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert!(r.text().contains("StaticFiles::new(site)"));
    let r = client.request("GET", "/readme.md", &[("Range", "bytes=0-5")], b"");
    assert_eq!((r.status, r.text().as_str()), (206, "# werk"));
    assert_eq!(client.get("/examples/../Cargo.toml").status, 404);
    assert!(client.get("/").text().contains("/readme.md"));
}

#[test]
fn debugger_example() {
    let server = TestServer::start(debugger::app, debugger::options().log_requests(false));
    let mut client = server.connect();
    assert_eq!(client.get("/order/4").text(), "4 people pay 30.00 each\n");
    let r = client.get("/order/0");
    assert_eq!(r.status, 500);
    let text = r.text();
    assert!(text.contains("attempt to divide by zero"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with('>') && l.contains("debugger::share")),
        "{text}"
    );
    assert!(text.contains("request: GET /order/0 HTTP/1.1"));
}

#[test]
fn lint_example() {
    let r = testing::call(&lint::app(), Environ::builder().build());
    assert_eq!(r.text(), "hello\n");
    assert!(r.errors.contains("werk lint [etag]"), "{}", r.errors);
    let r = testing::call(&lint::app(), Environ::builder().path("/short").build());
    assert!(
        r.errors
            .contains("Content-Length is 20 but the body has 6 bytes"),
        "{}",
        r.errors
    );
}

#[test]
fn dispatcher_example() {
    let server = TestServer::start(dispatcher::app(), quiet());
    let mut client = server.connect();
    assert_eq!(
        client.get("/blog/2026/hello").text(),
        "blog: SCRIPT_NAME=\"/blog\" PATH_INFO=\"/2026/hello\" home=/blog/\n"
    );
    assert_eq!(
        client.get("/api/v1/users").text(),
        "api: SCRIPT_NAME=\"/api/v1\" PATH_INFO=\"/users\" home=/api/v1/\n"
    );
    assert!(client
        .get("/about")
        .text()
        .starts_with("site: SCRIPT_NAME=\"\""));
}

#[test]
fn proxy_fix_example() {
    let server = TestServer::start(proxy_fix::app(), quiet());
    let r = server.connect().request(
        "GET",
        "/cart",
        &[
            ("X-Forwarded-For", "203.0.113.7"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "shop.example.test"),
        ],
        b"",
    );
    assert_eq!(
        r.text(),
        "client 203.0.113.7 asked for https://shop.example.test/cart\n\
         the server saw 127.0.0.1 asking for http://127.0.0.1\n"
    );
}

#[test]
fn virtual_hosts_example() {
    let server = TestServer::start(virtual_hosts::app(), quiet());
    assert_eq!(with_host(&server, "api.localhost:8080").text(), "the API\n");
    assert_eq!(
        with_host(&server, "acme.localhost:8080").text(),
        "tenant acme\n"
    );
    assert_eq!(
        with_host(&server, "localhost:8080").text(),
        "the site, for localhost:8080\n"
    );
    assert_eq!(with_host(&server, "evil.test").status, 400);
}

#[test]
fn middleware_stack_example() {
    let options = middleware_stack::options().log_requests(false);
    let server = TestServer::start(middleware_stack::app(), options);
    let mut client = server.connect();
    assert_eq!(client.get("/api/hello").text(), "api: /hello\n");
    let r = client.get("/static/middleware_stack.rs");
    assert!(
        r.text().contains("pub fn options()"),
        "static files are served"
    );
    let r = client.request("GET", "/", &[("X-Forwarded-Host", "app.localhost")], b"");
    assert_eq!(r.text(), "the site, at http://app.localhost/\n");
    let r = client.request("GET", "/", &[("X-Forwarded-Host", "evil.test")], b"");
    assert_eq!(r.status, 400, "the forwarded host is the one checked");
    let r = client.get("/panic");
    assert_eq!(r.status, 500);
    assert!(
        r.text().contains("the site fell over"),
        "the debugger's page"
    );
}

/// The Rust blocks of docs/middleware.md are excerpts of the examples, so
/// the two cannot drift.
#[test]
fn every_rust_block_in_the_middleware_guide_is_in_an_example() {
    doc_blocks::assert_rust_blocks_are_examples(&["middleware.md"], 8);
}
