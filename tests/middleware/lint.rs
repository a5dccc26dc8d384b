//! `Lint`: deliberately broken applications, each checked for the warning
//! that names the rule it breaks; a clean application gets none; and over
//! real sockets, responses pass unchanged while a body cut short by the
//! client is reported.

use crate::support;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{quiet, wait_until, TestServer};
use werk::middleware::Lint;
use werk::{testing, App, Body, Environ, Errors, StartResponse};

/// The warnings `Lint` writes for `app` on a GET of `/`.
fn warnings(app: impl App) -> String {
    warnings_for(app, Environ::builder().build())
}

fn warnings_for(app: impl App, environ: Environ) -> String {
    testing::call(&Lint::new(app), environ).errors
}

fn ok(sr: &StartResponse, headers: &[(&'static str, &'static str)]) {
    let _ = sr.start("200 OK", headers.iter().copied());
}

/// Each warning line has the rule and its source.
fn assert_rule(errors: &str, rule: &str, source: &str) {
    let line = errors
        .lines()
        .find(|l| l.contains(&format!("[{rule}]")))
        .unwrap_or_else(|| panic!("no [{rule}] warning in:\n{errors}"));
    assert!(line.starts_with("werk lint ["), "{line}");
    assert!(
        line.contains(source),
        "[{rule}] should cite {source}: {line}"
    );
}

#[test]
fn a_clean_app_has_no_warnings() {
    let apps: Vec<Box<dyn App>> = vec![
        Box::new(|_: &Environ, sr: StartResponse| {
            ok(
                &sr,
                &[("Content-Type", "text/plain"), ("Content-Length", "5")],
            );
            Body::from("hello")
        }),
        Box::new(|_: &Environ, sr: StartResponse| {
            ok(&sr, &[("Content-Type", "text/plain"), ("ETag", "W/\"v1\"")]);
            Body::stream(["a", "b", "c"])
        }),
        Box::new(|_: &Environ, sr: StartResponse| {
            let mut write = sr.start("200 OK", [("Content-Length", "6")]).unwrap();
            write.write_all(b"abc").unwrap();
            Body::stream(["def"])
        }),
        Box::new(|environ: &Environ, sr: StartResponse| {
            let body = environ.input().read_all().unwrap();
            let _ = sr.start("200 OK", [("Content-Length", body.len().to_string())]);
            Body::from(body)
        }),
        Box::new(|_: &Environ, sr: StartResponse| {
            let _ = sr.start("304 Not Modified", [("ETag", "\"x\"")]);
            Body::empty()
        }),
    ];
    for app in apps {
        let environ = Environ::builder().method("POST").body("payload").build();
        assert_eq!(warnings_for(app, environ), "");
    }
}

#[test]
fn environ_rules() {
    let app = |_: &Environ, sr: StartResponse| {
        ok(&sr, &[]);
        Body::empty()
    };
    let mut environ = Environ::builder().build();
    environ.set("SCRIPT_NAME", "app");
    environ.set("PATH_INFO", "x/y");
    environ.remove("SERVER_NAME");
    let errors = warnings_for(app, environ);
    assert_rule(&errors, "environ-key", "PEP 3333, \"environ Variables\"");
    assert!(errors.contains("SERVER_NAME"));
    assert_eq!(errors.matches("[environ-slash]").count(), 2, "{errors}");
}

#[test]
fn start_response_twice() {
    let errors = warnings(|_: &Environ, sr: StartResponse| {
        ok(&sr, &[]);
        ok(&sr, &[]);
        Body::empty()
    });
    assert_rule(
        &errors,
        "start-twice",
        "PEP 3333, \"The start_response() Callable\"",
    );

    // Again with an error, before anything was sent: allowed.
    let errors = warnings(|_: &Environ, sr: StartResponse| {
        ok(&sr, &[]);
        let _ = sr.start_with_error("500 Internal Server Error", [("A", "b")], "oops");
        Body::empty()
    });
    assert_eq!(errors, "");
}

#[test]
fn start_response_with_an_error_after_sending() {
    let errors = warnings(|_: &Environ, sr: StartResponse| {
        let mut write = sr.start("200 OK", [("A", "b")]).unwrap();
        write.write_all(b"sent").unwrap();
        let _ = sr.start_with_error("500 Internal Server Error", [("A", "b")], "late");
        Body::empty()
    });
    assert_rule(
        &errors,
        "start-after-send",
        "PEP 3333, \"The start_response() Callable\"",
    );
}

#[test]
fn no_start_response_at_all() {
    let errors = warnings(|_: &Environ, _: StartResponse| Body::from("body"));
    assert_rule(&errors, "no-start", "The start_response() Callable");
}

#[test]
fn body_before_start_response() {
    let errors = warnings(|_: &Environ, sr: StartResponse| {
        let mut started = false;
        Body::stream(std::iter::from_fn(move || {
            if started {
                return None;
            }
            started = true;
            Some(b"too early".to_vec())
        }))
        .on_close(move || ok(&sr, &[]))
    });
    assert_rule(
        &errors,
        "body-before-start",
        "The start_response() Callable",
    );
}

#[test]
fn status_lines() {
    let status = |s: &'static str| {
        warnings(move |_: &Environ, sr: StartResponse| {
            let _ = sr.start(s, [("A", "b")]);
            Body::empty()
        })
    };
    // Werkzeug's test: "20 OK" breaks three rules.
    let errors = status("20 OK");
    assert_eq!(errors.matches("[status]").count(), 3, "{errors}");
    assert_rule(
        &errors,
        "status",
        "PEP 3333, \"The start_response() Callable\"",
    );
    assert!(
        errors.contains("is below 100 (RFC 9110, section 15)"),
        "{errors}"
    );
    assert!(status("200OK").contains("[status]"));
    assert!(status("999 Too Big").contains("above 599"));
    assert!(status("200 O\rK").contains("control character"));
    assert_eq!(status("200 OK"), "");
}

#[test]
fn header_rules() {
    let with = |name: &'static str, value: &'static str| {
        warnings(move |_: &Environ, sr: StartResponse| {
            let _ = sr.start("200 OK", [(name, value)]);
            Body::empty()
        })
    };
    assert_rule(
        &with("Bad Header", "x"),
        "header-name",
        "RFC 9110, section 5.1",
    );
    assert_rule(
        &with("X-Split", "a\r\nb"),
        "header-value",
        "start_response()",
    );
    assert_rule(&with("Status", "200 OK"), "header-status", "RFC 3875");
    for hop in ["Connection", "Transfer-Encoding", "Keep-Alive", "Upgrade"] {
        assert_rule(
            &with(hop, "x"),
            "hop-by-hop",
            "PEP 3333, \"Other HTTP Features\"",
        );
    }
    assert_rule(&with("ETag", "abc"), "etag", "RFC 9110, section 8.8.3");
    assert!(with("ETag", "w/\"abc\"").contains("upper-case W/"));
    assert_eq!(with("ETag", "\"abc\""), "");
}

#[test]
fn content_length_against_the_body() {
    let errors = warnings(|_: &Environ, sr: StartResponse| {
        ok(&sr, &[("Content-Length", "10")]);
        Body::from("short")
    });
    assert_rule(
        &errors,
        "content-length",
        "PEP 3333, \"Handling the Content-Length Header\"",
    );
    let errors = warnings(|_: &Environ, sr: StartResponse| {
        ok(&sr, &[("Content-Length", "3")]);
        Body::stream(["abc", "def"])
    });
    assert!(
        errors.contains("Content-Length is 3 but the body has 6 bytes"),
        "{errors}"
    );
}

#[test]
fn statuses_without_a_body() {
    let errors = warnings(|_: &Environ, sr: StartResponse| {
        let _ = sr.start("204 No Content", [("Content-Length", "4")]);
        Body::from("body")
    });
    assert_rule(&errors, "no-body-status", "RFC 9110");
    let errors = warnings(|_: &Environ, sr: StartResponse| {
        let _ = sr.start("304 Not Modified", [("Content-Type", "text/html")]);
        Body::empty()
    });
    assert_rule(&errors, "no-body-status", "RFC 9110, section 15.4.5");
    assert!(errors.contains("Content-Type"));
}

#[test]
fn head_with_a_body() {
    let app = |_: &Environ, sr: StartResponse| {
        ok(&sr, &[("Content-Length", "4")]);
        Body::from("body")
    };
    let head = Environ::builder().method("HEAD").build();
    assert_rule(
        &warnings_for(app, head),
        "head-body",
        "RFC 9110, section 9.3.2",
    );
    // A HEAD answer with the length and no body is right.
    let app = |_: &Environ, sr: StartResponse| {
        ok(&sr, &[("Content-Length", "4")]);
        Body::empty()
    };
    assert_eq!(
        warnings_for(app, Environ::builder().method("HEAD").build()),
        ""
    );
}

#[test]
fn input_read_past_content_length() {
    let app = |environ: &Environ, sr: StartResponse| {
        let body = environ.input().read_all().unwrap();
        ok(&sr, &[]);
        Body::from(body)
    };
    // CONTENT_LENGTH says 2, the input holds 5: a middleware changed one
    // and not the other.
    let environ = Environ::builder()
        .method("POST")
        .body("hello")
        .header("Content-Length", "2")
        .build();
    assert_rule(
        &warnings_for(app, environ),
        "input-past-length",
        "PEP 3333, \"Input and Error Streams\"",
    );
}

/// Stops reading the wrapped body after its first chunk, as a server does
/// when the client goes away.
struct FirstChunkOnly<A>(A);

impl<A: App> App for FirstChunkOnly<A> {
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
        let chunks = self.0.call(environ, start_response).into_chunks();
        Body::try_stream(chunks.take(1))
    }
}

#[test]
fn a_body_closed_before_its_end() {
    let app = FirstChunkOnly(Lint::new(|_: &Environ, sr: StartResponse| {
        ok(&sr, &[]);
        Body::stream(["one", "two", "three"])
    }));
    let errors = testing::call(&app, Environ::builder().build()).errors;
    assert_rule(
        &errors,
        "body-unfinished",
        "PEP 3333, \"Specification Details\"",
    );
}

/// Sends `wsgi.errors` of every request to one shared capture.
struct CaptureErrors<A> {
    app: A,
    errors: Errors,
}

impl<A: App> App for CaptureErrors<A> {
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
        let mut environ = environ.clone();
        environ.set_errors(self.errors.clone());
        self.app.call(&environ, start_response)
    }
}

#[test]
fn over_sockets_responses_pass_unchanged() {
    let errors = Errors::capture();
    let app = CaptureErrors {
        app: Lint::new(|environ: &Environ, sr: StartResponse| {
            ok(&sr, &[("Content-Type", "text/plain")]);
            match environ.path_info() {
                "/file" => Body::file(std::fs::File::open(file!()).unwrap()).unwrap(),
                _ => Body::stream(["a", "b", "c"]),
            }
        }),
        errors: errors.clone(),
    };
    let server = TestServer::start(app, quiet());
    let mut client = server.connect();
    let r = client.get("/stream");
    assert_eq!((r.text().as_str(), r.chunked()), ("abc", true));
    let r = client.get("/file");
    let size = std::fs::metadata(file!()).unwrap().len();
    assert_eq!(r.header("content-length"), Some(size.to_string().as_str()));
    assert_eq!(r.body.len() as u64, size);
    drop(server);
    assert_eq!(errors.captured(), "");
}

#[test]
fn over_sockets_a_response_cut_short_is_reported() {
    let errors = Errors::capture();
    let produced = Arc::new(Mutex::new(0usize));
    let count = produced.clone();
    let app = CaptureErrors {
        app: Lint::new(move |_: &Environ, sr: StartResponse| {
            ok(&sr, &[("Content-Type", "text/plain")]);
            let count = count.clone();
            // Endless, slow enough that the client leaves first.
            Body::stream(std::iter::repeat_with(move || {
                *count.lock().unwrap() += 1;
                std::thread::sleep(Duration::from_millis(5));
                vec![b'x'; 16 * 1024]
            }))
        }),
        errors: errors.clone(),
    };
    let server = TestServer::start(app, quiet());
    let mut client = server.connect();
    client.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let mut first = [0u8; 1024];
    let _ = client.stream.read(&mut first).unwrap();
    drop(client);
    assert!(
        wait_until(Duration::from_secs(20), || errors
            .captured()
            .contains("[body-unfinished]")),
        "no body-unfinished warning: {:?} (chunks produced: {})",
        errors.captured(),
        produced.lock().unwrap()
    );
}
