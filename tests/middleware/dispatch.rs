//! The routing middleware: `Dispatcher` (Werkzeug's `test_dispatcher`),
//! `ProxyFix` (every case of Werkzeug's `test_proxy_fix`, by its id),
//! `HostDispatch` and `TrustedHosts`; each also over a real socket.

use crate::support;

use support::{quiet, Response, TestServer};
use werk::middleware::{
    Dispatcher, HostDispatch, HostMatch, ProxyFix, ProxyFixOriginal, TrustedHosts,
};
use werk::{testing, Body, Environ, StartResponse};

fn null_application(_: &Environ, start_response: StartResponse) -> Body {
    start_response
        .start("404 NOT FOUND", [("Content-Type", "text/plain")])
        .unwrap();
    Body::from("NOT FOUND")
}

fn dummy_application(environ: &Environ, start_response: StartResponse) -> Body {
    start_response
        .start("200 OK", [("Content-Type", "text/plain")])
        .unwrap();
    Body::from(format!("{}|{}", environ.script_name(), environ.path_info()))
}

/// Werkzeug's `test_dispatcher`, over a socket.
#[test]
fn test_dispatcher() {
    let app = Dispatcher::new(null_application)
        .mount("/test1", dummy_application)
        .mount("/test2/very", dummy_application);
    let server = TestServer::start(app, quiet());
    let mut client = server.connect();
    let cases = [
        ("/test1", "/test1|"),
        ("/test1/asfd", "/test1|/asfd"),
        ("/test1/very", "/test1|/very"),
        ("/test2/very", "/test2/very|"),
        (
            "/test2/very/long/path/after/script/name",
            "/test2/very|/long/path/after/script/name",
        ),
    ];
    for (path, expected) in cases {
        let r = client.get(path);
        assert_eq!((r.status, r.text().as_str()), (200, expected), "{path}");
    }
    let r = client.get("/missing");
    assert_eq!((r.status, r.text().as_str()), (404, "NOT FOUND"));
    // Whole segments only.
    assert_eq!(client.get("/test1x").status, 404);
    assert_eq!(client.get("/test2").status, 404);
}

/// What Werkzeug's `request.url_root` gives: scheme, host without the
/// scheme's default port, SCRIPT_NAME, and a slash.
fn url_root(environ: &Environ) -> String {
    let scheme = environ.url_scheme();
    let host = environ.host();
    let default = if scheme == "https" { ":443" } else { ":80" };
    let host = host.strip_suffix(default).unwrap_or(&host);
    format!("{scheme}://{host}{}/", environ.script_name())
}

fn report(environ: &Environ, start_response: StartResponse) -> Body {
    start_response
        .start("200 OK", [("Content-Type", "text/plain")])
        .unwrap();
    Body::from(format!("{} {}", environ.remote_addr(), url_root(environ)))
}

struct Case {
    id: &'static str,
    /// x_for, x_proto, x_host, x_port, x_prefix
    trust: [usize; 5],
    base: &'static [(&'static str, &'static str)],
    url_root: &'static str,
}

const DEFAULT: [usize; 5] = [1, 1, 0, 0, 0];

/// Werkzeug's `test_proxy_fix` parameters. `base` is the environ (CGI
/// keys); a case without HTTP_HOST has none.
const CASES: &[Case] = &[
    Case {
        id: "for",
        trust: DEFAULT,
        base: &[
            ("REMOTE_ADDR", "192.168.0.2"),
            ("HTTP_HOST", "spam"),
            ("HTTP_X_FORWARDED_FOR", "192.168.0.1"),
            ("HTTP_X_FORWARDED_PROTO", "https"),
        ],
        url_root: "https://spam/",
    },
    Case {
        id: "proto",
        trust: [0, 1, 0, 0, 0],
        base: &[("HTTP_HOST", "spam"), ("HTTP_X_FORWARDED_PROTO", "https")],
        url_root: "https://spam/",
    },
    Case {
        id: "host",
        trust: [0, 0, 1, 0, 0],
        base: &[("HTTP_HOST", "spam"), ("HTTP_X_FORWARDED_HOST", "eggs")],
        url_root: "http://eggs/",
    },
    Case {
        id: "port, host without port",
        trust: [0, 0, 0, 1, 0],
        base: &[("HTTP_HOST", "spam"), ("HTTP_X_FORWARDED_PORT", "8080")],
        url_root: "http://spam:8080/",
    },
    Case {
        id: "port, host with port",
        trust: [0, 0, 0, 1, 0],
        base: &[
            ("HTTP_HOST", "spam:9000"),
            ("HTTP_X_FORWARDED_PORT", "8080"),
        ],
        url_root: "http://spam:8080/",
    },
    Case {
        id: "port, name",
        trust: [0, 0, 0, 1, 0],
        base: &[
            ("SERVER_NAME", "spam"),
            ("SERVER_PORT", "9000"),
            ("HTTP_X_FORWARDED_PORT", "8080"),
        ],
        url_root: "http://spam:8080/",
    },
    Case {
        id: "prefix",
        trust: [0, 0, 0, 0, 1],
        base: &[("HTTP_HOST", "spam"), ("HTTP_X_FORWARDED_PREFIX", "/eggs")],
        url_root: "http://spam/eggs/",
    },
    Case {
        id: "all",
        trust: [1, 1, 1, 1, 1],
        base: &[
            ("REMOTE_ADDR", "192.168.0.2"),
            ("HTTP_HOST", "spam:9000"),
            ("HTTP_X_FORWARDED_FOR", "192.168.0.1"),
            ("HTTP_X_FORWARDED_PROTO", "https"),
            ("HTTP_X_FORWARDED_HOST", "eggs"),
            ("HTTP_X_FORWARDED_PORT", "443"),
            ("HTTP_X_FORWARDED_PREFIX", "/ham"),
        ],
        url_root: "https://eggs/ham/",
    },
    Case {
        id: "multiple for",
        trust: [2, 1, 0, 0, 0],
        base: &[
            ("REMOTE_ADDR", "192.168.0.3"),
            ("HTTP_HOST", "spam"),
            ("HTTP_X_FORWARDED_FOR", "192.168.0.1, 192.168.0.2"),
        ],
        url_root: "http://spam/",
    },
    Case {
        id: "ignore 0",
        trust: [0, 1, 0, 0, 0],
        base: &[
            ("REMOTE_ADDR", "192.168.0.1"),
            ("HTTP_HOST", "spam"),
            ("HTTP_X_FORWARDED_FOR", "192.168.0.2"),
        ],
        url_root: "http://spam/",
    },
    Case {
        id: "ignore len < trusted",
        trust: [3, 1, 0, 0, 0],
        base: &[
            ("REMOTE_ADDR", "192.168.0.1"),
            ("HTTP_HOST", "spam"),
            ("HTTP_X_FORWARDED_FOR", "192.168.0.3, 192.168.0.2"),
        ],
        url_root: "http://spam/",
    },
    Case {
        id: "ignore untrusted",
        trust: DEFAULT,
        base: &[
            ("REMOTE_ADDR", "192.168.0.2"),
            ("HTTP_HOST", "spam"),
            ("HTTP_X_FORWARDED_FOR", "192.168.0.3, 192.168.0.1"),
        ],
        url_root: "http://spam/",
    },
    Case {
        id: "ignore empty",
        trust: [2, 1, 0, 0, 0],
        base: &[
            ("REMOTE_ADDR", "192.168.0.1"),
            ("HTTP_HOST", "spam"),
            ("HTTP_X_FORWARDED_FOR", ", 192.168.0.3"),
        ],
        url_root: "http://spam/",
    },
    Case {
        id: "prefix < for",
        trust: [2, 1, 0, 0, 1],
        base: &[
            ("REMOTE_ADDR", "192.168.0.2"),
            ("HTTP_HOST", "spam"),
            ("HTTP_X_FORWARDED_FOR", "192.168.0.1, 192.168.0.3"),
            ("HTTP_X_FORWARDED_PREFIX", "/ham, /eggs"),
        ],
        url_root: "http://spam/eggs/",
    },
    Case {
        id: "ipv6 host",
        trust: [0, 0, 1, 0, 0],
        base: &[
            ("HTTP_HOST", "spam"),
            ("HTTP_X_FORWARDED_HOST", "[2001:db8::a]"),
        ],
        url_root: "http://[2001:db8::a]/",
    },
    Case {
        id: "ipv6 port, host without port",
        trust: [0, 0, 0, 1, 0],
        base: &[
            ("HTTP_HOST", "[2001:db8::a]"),
            ("HTTP_X_FORWARDED_PORT", "8080"),
        ],
        url_root: "http://[2001:db8::a]:8080/",
    },
    Case {
        id: "ipv6 - port, host with port",
        trust: [0, 0, 0, 1, 0],
        base: &[
            ("HTTP_HOST", "[2001:db8::a]:9000"),
            ("HTTP_X_FORWARDED_PORT", "8080"),
        ],
        url_root: "http://[2001:db8::a]:8080/",
    },
];

/// Werkzeug's `test_proxy_fix`, case by case: the client address is
/// 192.168.0.1 and the URL root is the one the proxies saw.
#[test]
fn test_proxy_fix() {
    for case in CASES {
        let [x_for, x_proto, x_host, x_port, x_prefix] = case.trust;
        let app = ProxyFix::new(report)
            .x_for(x_for)
            .x_proto(x_proto)
            .x_host(x_host)
            .x_port(x_port)
            .x_prefix(x_prefix);
        let mut environ = Environ::builder().build();
        environ.remove("HTTP_HOST");
        environ.set("REMOTE_ADDR", "192.168.0.1");
        for (key, value) in case.base {
            environ.set(*key, *value);
        }
        let response = testing::call(&app, environ);
        assert_eq!(
            response.text(),
            format!("192.168.0.1 {}", case.url_root),
            "case {:?}",
            case.id
        );
    }
}

#[test]
fn proxy_fix_keeps_the_originals() {
    let app = ProxyFix::new(|environ: &Environ, sr: StartResponse| {
        let orig = environ.extensions().get::<ProxyFixOriginal>().unwrap();
        sr.start("200 OK", [("Content-Type", "text/plain")])
            .unwrap();
        Body::from(format!(
            "{} {} {:?} {}",
            orig.remote_addr, orig.url_scheme, orig.http_host, orig.script_name
        ))
    })
    .x_host(1)
    .x_prefix(1);
    let environ = Environ::builder()
        .header("X-Forwarded-For", "203.0.113.9")
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "example.test")
        .header("X-Forwarded-Prefix", "/app")
        .build();
    let response = testing::call(&app, environ);
    assert_eq!(response.text(), "127.0.0.1 http Some(\"localhost:5000\") ");
}

#[test]
fn proxy_fix_over_a_socket() {
    let app = ProxyFix::new(|environ: &Environ, sr: StartResponse| {
        sr.start("200 OK", [("Content-Type", "text/plain")])
            .unwrap();
        Body::from(format!("{} {}", environ.remote_addr(), environ.url()))
    })
    .x_host(1);
    let server = TestServer::start(app, quiet());
    let r = server.connect().request(
        "GET",
        "/page?q=1",
        &[
            ("X-Forwarded-For", "10.0.0.1, 198.51.100.4"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "www.example.test"),
        ],
        b"",
    );
    assert_eq!(r.text(), "198.51.100.4 https://www.example.test/page?q=1");
}

/// A request with this Host header.
fn with_host(server: &TestServer, host: &str, path: &str) -> Response {
    let mut client = server.connect();
    client.send(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
    client.read_response()
}

fn named(name: &'static str) -> impl Fn(&Environ, StartResponse) -> Body {
    move |environ, sr| {
        let wildcard = environ
            .extensions()
            .get::<HostMatch>()
            .map_or(String::new(), |m| m.wildcard.clone());
        sr.start("200 OK", [("Content-Type", "text/plain")])
            .unwrap();
        Body::from(format!("{name} {wildcard}"))
    }
}

#[test]
fn host_dispatch_over_a_socket() {
    let app = HostDispatch::new(named("default"))
        .host("api.localhost", named("api"))
        .host("*.example.test", named("tenant"))
        .host("*.eu.example.test", named("eu"))
        .host("example.test", named("apex"));
    let server = TestServer::start(app, quiet());
    let cases = [
        ("api.localhost:5000", "api "),
        ("API.LOCALHOST", "api "),
        ("acme.example.test", "tenant acme"),
        ("a.b.example.test.", "tenant a.b"),
        ("paris.eu.example.test", "eu paris"),
        ("example.test:8080", "apex "),
        ("localhost", "default "),
        ("127.0.0.1", "default "),
    ];
    for (host, expected) in cases {
        assert_eq!(with_host(&server, host, "/").text(), expected, "{host}");
    }
}

#[test]
fn trusted_hosts_over_a_socket() {
    let app = TrustedHosts::new(
        named("ok"),
        [".localhost", "127.0.0.1", "::1", ".example.test"],
    );
    let server = TestServer::start(app, quiet());
    for host in [
        "localhost:5000",
        "api.localhost",
        "127.0.0.1",
        "[::1]:5000",
        "example.test",
        "deep.sub.example.test",
    ] {
        assert_eq!(with_host(&server, host, "/").status, 200, "{host}");
    }
    for host in [
        "evil.test",
        "example.test.evil.test",
        "notexample.test",
        "10.0.0.1",
    ] {
        let r = with_host(&server, host, "/");
        assert_eq!(r.status, 400, "{host}");
        assert!(r.text().contains("not trusted"), "{}", r.text());
    }
}
