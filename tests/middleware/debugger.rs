//! `Debugger` over real sockets: the page for a panic in the call and in
//! the body, HTML for browsers and text for curl, `passthrough_errors`,
//! `Options::use_debugger`, the banner's warning, and the page as headless
//! Chromium renders it.

use crate::support;

use std::process::Command;

use support::{contains, quiet, TestServer, GUARD};
use werk::middleware::Debugger;
use werk::{testing, Body, Environ, Options, StartResponse};

/// `/panic` panics in the call; `/panic-body` in the first chunk;
/// `/panic-late` after one chunk went out; `/file` answers a file body;
/// anything else is 200.
fn crashing_app(environ: &Environ, start_response: StartResponse) -> Body {
    match environ.path_info() {
        "/panic" => explode("the widget count went negative: -3"),
        "/panic-body" => {
            start_response
                .start("200 OK", [("Content-Type", "text/plain")])
                .unwrap();
            Body::stream((0..3).map(|i| -> String {
                if i == 0 {
                    panic!("no chunk for you");
                }
                format!("chunk {i}\n")
            }))
        }
        "/panic-late" => {
            start_response
                .start("200 OK", [("Content-Type", "text/plain")])
                .unwrap();
            Body::stream((0..3).map(|i| -> String {
                if i == 1 {
                    panic!("second chunk failed");
                }
                format!("chunk {i}\n")
            }))
        }
        "/file" => {
            start_response
                .start("200 OK", [("Content-Type", "text/plain")])
                .unwrap();
            Body::file(std::fs::File::open(file!()).unwrap()).unwrap()
        }
        _ => {
            start_response
                .start("200 OK", [("Content-Type", "text/plain")])
                .unwrap();
            Body::from("fine")
        }
    }
}

#[inline(never)]
fn explode(message: &str) -> Body {
    panic!("{message}");
}

fn debugger_server() -> TestServer {
    TestServer::start(Debugger::new(crashing_app), quiet())
}

#[test]
fn a_panic_becomes_an_html_page_for_browsers() {
    let server = debugger_server();
    let r = server.connect().request(
        "GET",
        "/panic?x=1",
        &[("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")],
        b"",
    );
    assert_eq!(r.status, 500);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let page = r.text();
    assert!(
        page.contains("the widget count went negative: -3"),
        "{page}"
    );
    assert!(page.contains("<title>the widget count went negative: -3 // werk debugger</title>"));
    assert!(page.contains("The debugger caught a panic in your application"));
    assert!(
        page.contains("GET /panic?x=1 HTTP/1.1"),
        "the request line: {page}"
    );
    // The app's own frames are marked, with file:line and their source.
    assert!(
        page.contains("<li class=app><div class=fn>middleware::debugger::explode</div>"),
        "{page}"
    );
    assert!(page.contains("tests/middleware/debugger.rs:"), "{page}");
    assert!(
        page.contains("<span class=here>"),
        "the panicking line is shown: {page}"
    );
    assert!(page.contains("panic!(&quot;{message}&quot;);"), "{page}");
    assert!(
        page.contains("no console"),
        "the page says there is no console"
    );
    // Standard library frames are there, and not marked as the app's.
    assert!(page.contains("<li class=lib>"), "{page}");
}

#[test]
fn curl_gets_plain_text() {
    let server = debugger_server();
    for accept in [None, Some("*/*"), Some("text/plain")] {
        let headers: Vec<(&str, &str)> = accept.iter().map(|a| ("Accept", *a)).collect();
        let r = server.connect().request("GET", "/panic", &headers, b"");
        assert_eq!(r.status, 500);
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        let text = r.text();
        assert!(
            text.contains("the widget count went negative: -3"),
            "{text}"
        );
        assert!(text.contains("request: GET /panic HTTP/1.1"), "{text}");
        let marked = text
            .lines()
            .find(|l| l.contains("middleware::debugger::explode"))
            .unwrap_or_else(|| panic!("no frame of explode: {text}"));
        assert!(marked.starts_with('>'), "app frames are marked: {marked}");
        assert!(text.contains("at ") && text.contains("middleware/debugger.rs:"));
        assert!(!text.contains("<html"));
    }
}

#[test]
fn a_panic_in_the_body_before_any_byte_is_a_page_too() {
    let server = debugger_server();
    let mut client = server.connect();
    let r = client.request("GET", "/panic-body", &[], b"");
    assert_eq!(r.status, 500);
    assert!(r.text().contains("no chunk for you"), "{}", r.text());
    // The connection still works.
    assert_eq!(client.get("/").text(), "fine");
}

#[test]
fn a_panic_after_bytes_went_out_cuts_the_response_short() {
    let server = debugger_server();
    let mut client = server.connect();
    client.send(b"GET /panic-late HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let r = client.try_read_response().expect("a head");
    assert_eq!(r.status, 200);
    assert!(
        !r.complete,
        "the client must see the failure: {:?}",
        r.text()
    );
    assert!(r.text().starts_with("chunk 0"));
}

#[test]
fn other_responses_pass_unchanged() {
    let server = debugger_server();
    let mut client = server.connect();
    assert_eq!(client.get("/").text(), "fine");
    let r = client.get("/file");
    assert_eq!(r.status, 200);
    let size = std::fs::metadata(file!()).unwrap().len().to_string();
    assert_eq!(
        r.header("content-length"),
        Some(size.as_str()),
        "a file body keeps its length (and the kernel's copy path)"
    );
}

#[test]
fn the_report_goes_to_wsgi_errors() {
    let response = testing::call(
        &Debugger::new(crashing_app),
        Environ::builder().path("/panic").build(),
    );
    assert_eq!(response.status, "500 Internal Server Error");
    assert!(
        response.errors.contains("werk debugger: thread"),
        "{}",
        response.errors
    );
    assert!(response.errors.contains("the widget count went negative"));
    assert!(response.errors.contains("request: GET /panic HTTP/1.1"));
}

#[test]
fn options_use_debugger_wraps_the_app() {
    let server = TestServer::start(crashing_app, quiet().use_debugger(true));
    let r = server.connect().get("/panic");
    assert_eq!(r.status, 500);
    assert!(
        r.text().contains("the widget count went negative"),
        "{}",
        r.text()
    );

    let plain = TestServer::start(crashing_app, quiet());
    let r = plain.connect().get("/panic");
    assert_eq!(r.status, 500);
    assert!(
        !r.text().contains("widget"),
        "off by default: the server's own 500 page"
    );
}

#[test]
fn passthrough_errors_still_propagates_the_panic() {
    let options = quiet().use_debugger(true).passthrough_errors(true);
    let mut server = TestServer::start(crashing_app, options);
    let mut client = server.connect();
    client.send(b"GET /panic HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let got = client.read_to_end().unwrap_or_default();
    assert!(
        !contains(&got, b"widget count"),
        "no debugger page with passthrough_errors"
    );
    let ended = server
        .wait_for_exit(GUARD)
        .expect("serve_forever stops after the panic");
    let payload = ended.expect_err("serve_forever re-raises the panic");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains("the widget count went negative"),
        "{message}"
    );
}

#[test]
fn the_banner_says_who_gets_the_page_when_the_debugger_listens_beyond_loopback() {
    let on_all = werk::make_server(
        "0.0.0.0",
        0,
        crashing_app,
        Options::default().use_debugger(true),
    )
    .unwrap();
    let banner = on_all.banner().join("\n");
    assert!(
        banner.contains("The debugger's page goes to clients on this machine only"),
        "{banner}"
    );

    let local = werk::make_server(
        "127.0.0.1",
        0,
        crashing_app,
        Options::default().use_debugger(true),
    )
    .unwrap();
    assert!(!local.banner().join("\n").contains("debugger"));
}

/// The page as a browser renders it: headless Chromium's DOM holds the
/// panic message and the marked frame. Without Chromium the test fails
/// under CI, which installs it, and skips elsewhere (`support::needs`).
#[test]
fn chromium_renders_the_page() {
    if !support::needs(support::CHROMIUM, "chromium_renders_the_page") {
        return;
    }
    let server = debugger_server();
    let profile = std::env::temp_dir().join(format!("werk-chromium-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile).unwrap();
    let url = format!("http://127.0.0.1:{}/panic", server.addr.port());
    let ran = support::chromium_dom(&mut Command::new(support::CHROMIUM), &profile, &url);
    let _ = std::fs::remove_dir_all(&profile);
    let dom = ran.stdout_text();
    assert!(
        dom.contains("the widget count went negative: -3"),
        "chromium's DOM lacks the panic message; stdout: {dom}\nstderr: {}",
        ran.stderr_text()
    );
    assert!(dom.contains("class=\"app\""), "{dom}");
    assert!(dom.contains("middleware::debugger::explode"), "{dom}");
}
