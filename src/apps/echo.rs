//! The echo app: the request reflected back, for debugging clients and for
//! werk's own tests. Its routes are a contract the test suites rely on:
//!
//! | route | response |
//! |---|---|
//! | any other path | 200 JSON: every string environ variable, `wsgi.url_scheme`, the `wsgi.*` booleans, `body_length`, `pid` (the serving process, which tells the reloader's children apart) |
//! | `/echo` | the request body, streamed back; Content-Type copied (else `application/octet-stream`); Content-Length as the request's, if it had one |
//! | `/discard` | the request body read to its end and dropped; 200 `text/plain`, the byte count as decimal text (400 with the count so far if reading fails) |
//! | `/status/<code>` | that status with the JSON body (none for 204 and 304) |
//! | `/bytes/<n>` | n bytes, byte i = `b'a' + i % 26`, with Content-Length, streamed in chunks of 64 KiB (`?piece=K` bytes, up to 1 MiB) borrowed from one precomputed block |
//! | `/stream/<n>` | n lines `{"chunk": i}`, no Content-Length, each flushed; `?delay_ms=D` sleeps before each; `?panic_at=K` panics after K |
//! | `/sleep/<ms>` | sleeps, then the JSON body |
//! | `/panic` | panics before `start_response` |
//! | `/write` | the JSON body through the legacy `write` handle |

use std::io::{Read, Write};
use std::time::Duration;

use super::json::{object, Value};
use crate::{Body, Chunk, Environ, StartResponse};

/// The echo app; see the module documentation for its routes.
pub fn echo(environ: &Environ, start_response: StartResponse) -> Body {
    let path = environ.path_info().to_owned();
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let route = parts.next().unwrap_or("");
    let arg = parts.next().unwrap_or("");
    match (route, arg.parse::<u64>()) {
        ("echo", _) if arg.is_empty() => echo_body(environ, start_response),
        ("discard", _) if arg.is_empty() => discard(environ, start_response),
        ("status", Ok(code)) if (100..=599).contains(&code) => {
            status(environ, start_response, code as u16)
        }
        ("bytes", Ok(n)) => bytes(environ, start_response, n),
        ("stream", Ok(n)) => stream(environ, start_response, n),
        ("sleep", Ok(ms)) => {
            std::thread::sleep(Duration::from_millis(ms));
            json_response(environ, start_response, "200 OK")
        }
        ("panic", _) if arg.is_empty() => panic!("panic requested by /panic"),
        ("write", _) if arg.is_empty() => legacy_write(environ, start_response),
        _ => json_response(environ, start_response, "200 OK"),
    }
}

/// The environ as one JSON object, reading the body to count it.
fn environ_json(environ: &Environ) -> String {
    let mut input = environ.input();
    let mut body_length = 0u64;
    let mut buf = [0u8; 64 * 1024];
    while let Ok(n) = input.read(&mut buf) {
        if n == 0 {
            break;
        }
        body_length += n as u64;
    }
    let mut entries: Vec<(String, Value)> = environ
        .vars()
        .map(|(k, v)| (k.to_owned(), Value::Str(v.to_owned())))
        .collect();
    entries.push((
        "wsgi.url_scheme".into(),
        Value::Str(environ.url_scheme().into()),
    ));
    entries.push((
        "wsgi.multithread".into(),
        Value::Bool(environ.multithread()),
    ));
    entries.push((
        "wsgi.multiprocess".into(),
        Value::Bool(environ.multiprocess()),
    ));
    entries.push(("wsgi.run_once".into(), Value::Bool(environ.run_once())));
    entries.push((
        "wsgi.input_terminated".into(),
        Value::Bool(environ.input_terminated()),
    ));
    entries.push(("body_length".into(), Value::Num(body_length)));
    entries.push(("pid".into(), Value::Num(u64::from(std::process::id()))));
    let mut json = object(&entries);
    json.push('\n');
    json
}

fn json_response(environ: &Environ, start_response: StartResponse, status: &str) -> Body {
    let json = environ_json(environ);
    let _ = start_response.start(status, [("Content-Type", "application/json")]);
    Body::from(json)
}

fn status(environ: &Environ, start_response: StartResponse, code: u16) -> Body {
    let status = format!("{code} {}", crate::http::reason_phrase(code));
    if code == 204 || code == 304 || code < 200 {
        let _ = start_response.start(&status, Vec::<(String, String)>::new());
        return Body::empty();
    }
    json_response(environ, start_response, &status)
}

fn echo_body(environ: &Environ, start_response: StartResponse) -> Body {
    let content_type = environ
        .get("CONTENT_TYPE")
        .unwrap_or("application/octet-stream")
        .to_owned();
    let mut headers = vec![("Content-Type".to_owned(), content_type)];
    if let (Some(len), false) = (
        environ.content_length(),
        environ.get("HTTP_TRANSFER_ENCODING").is_some(),
    ) {
        headers.push(("Content-Length".to_owned(), len.to_string()));
    }
    let _ = start_response.start("200 OK", headers);
    Body::from_reader(environ.input())
}

/// Reads the body to its end, keeps nothing, and answers the byte count.
fn discard(environ: &Environ, start_response: StartResponse) -> Body {
    let mut input = environ.input();
    // Large reads: fewer system calls for a large body.
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    let (status, text) = loop {
        match input.read(&mut buf) {
            Ok(0) => break ("200 OK", total.to_string()),
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break ("400 Bad Request", format!("{total} (then: {e})")),
        }
    };
    let _ = start_response.start(
        status,
        [
            ("Content-Type".to_owned(), "text/plain".to_owned()),
            ("Content-Length".to_owned(), text.len().to_string()),
        ],
    );
    Body::from(text)
}

fn bytes(environ: &Environ, start_response: StartResponse, n: u64) -> Body {
    let _ = start_response.start(
        "200 OK",
        [
            (
                "Content-Type".to_owned(),
                "application/octet-stream".to_owned(),
            ),
            ("Content-Length".to_owned(), n.to_string()),
        ],
    );
    let piece = query_param(environ, "piece").map_or(64 * 1024, |k| k.clamp(1, MAX_PIECE));
    Body::stream((0..n.div_ceil(piece)).map(move |p| {
        let start = p * piece;
        let len = ((start + piece).min(n) - start) as usize;
        let offset = (start % 26) as usize;
        Chunk::from(&pattern()[offset..offset + len])
    }))
}

/// The largest chunk `/bytes/<n>?piece=K` sends.
const MAX_PIECE: u64 = 1024 * 1024;

/// The alphabet repeated over the largest piece and a little more, so any
/// piece of `/bytes/<n>` is a slice of it, sent without a copy.
fn pattern() -> &'static [u8] {
    static PATTERN: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    PATTERN.get_or_init(|| {
        (0..MAX_PIECE as usize + 26)
            .map(|i| b'a' + (i % 26) as u8)
            .collect()
    })
}

/// The number `name=N` of the query string, if there is one.
fn query_param(environ: &Environ, name: &str) -> Option<u64> {
    environ
        .query_string()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| v.parse().ok())
}

fn stream(environ: &Environ, start_response: StartResponse, n: u64) -> Body {
    let delay = query_param(environ, "delay_ms").map(Duration::from_millis);
    let panic_at = query_param(environ, "panic_at");
    let _ = start_response.start("200 OK", [("Content-Type", "application/x-ndjson")]);
    Body::stream((0..n).map(move |i| {
        if panic_at == Some(i) {
            panic!("panic requested by panic_at={i}");
        }
        if let Some(d) = delay {
            std::thread::sleep(d);
        }
        format!("{{\"chunk\": {i}}}\n")
    }))
}

fn legacy_write(environ: &Environ, start_response: StartResponse) -> Body {
    let json = environ_json(environ);
    if let Ok(mut write) = start_response.start("200 OK", [("Content-Type", "application/json")]) {
        let _ = write.write_all(json.as_bytes());
    }
    Body::empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::call;

    #[test]
    fn reflects_environ_and_counts_body() {
        let env = Environ::builder()
            .method("POST")
            .path("/x")
            .body("abc")
            .build();
        let r = call(&echo, env);
        assert_eq!(r.header("content-type"), Some("application/json"));
        let text = r.text();
        assert!(text.contains("\"REQUEST_METHOD\": \"POST\""), "{text}");
        assert!(text.contains("\"body_length\": 3"), "{text}");
        assert!(text.contains("\"wsgi.multithread\": true"), "{text}");
    }

    #[test]
    fn bytes_pattern() {
        let r = call(&echo, Environ::builder().path("/bytes/30").build());
        assert_eq!(r.body, b"abcdefghijklmnopqrstuvwxyzabcd");
        assert_eq!(r.header("content-length"), Some("30"));
        let r = call(&echo, Environ::builder().path("/bytes/200000").build());
        assert_eq!(r.body.len(), 200_000);
        assert!(r
            .body
            .iter()
            .enumerate()
            .all(|(i, &b)| b == b'a' + (i % 26) as u8));
    }

    /// `?piece=K` changes how the bytes are cut into chunks, not the bytes.
    #[test]
    fn bytes_in_pieces_of_any_size() {
        let whole = call(&echo, Environ::builder().path("/bytes/3000000").build()).body;
        for (piece, want) in [("7", 7), ("1048576", 1 << 20), ("99999999", 1 << 20)] {
            let sizes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let seen = sizes.clone();
            let measured = move |environ: &Environ, start_response: StartResponse| {
                let seen = seen.clone();
                let chunks = echo(environ, start_response).into_chunks();
                Body::try_stream(chunks.inspect(move |c| {
                    seen.lock().unwrap().push(c.as_ref().map_or(0, |c| c.len()));
                }))
            };
            let environ = Environ::builder()
                .path("/bytes/3000000")
                .query(&format!("piece={piece}"))
                .build();
            let body = call(&measured, environ).body;
            assert!(body == whole, "piece={piece}");
            assert_eq!(sizes.lock().unwrap()[0], want, "piece={piece}");
        }
    }

    #[test]
    fn stream_lines() {
        let r = call(&echo, Environ::builder().path("/stream/3").build());
        assert_eq!(r.text(), "{\"chunk\": 0}\n{\"chunk\": 1}\n{\"chunk\": 2}\n");
        assert_eq!(r.header("content-length"), None);
    }

    #[test]
    fn echo_returns_the_body() {
        let env = Environ::builder()
            .method("PUT")
            .path("/echo")
            .header("Content-Type", "text/plain")
            .body("payload")
            .build();
        let r = call(&echo, env);
        assert_eq!(r.text(), "payload");
        assert_eq!(r.header("content-type"), Some("text/plain"));
        assert_eq!(r.header("content-length"), Some("7"));
    }

    #[test]
    fn discard_counts_the_body() {
        let env = Environ::builder()
            .method("POST")
            .path("/discard")
            .body(vec![7u8; 200_000])
            .build();
        let r = call(&echo, env);
        assert_eq!(r.status, "200 OK");
        assert_eq!(r.text(), "200000");
        assert_eq!(r.header("content-type"), Some("text/plain"));
        assert_eq!(r.header("content-length"), Some("6"));
        let r = call(&echo, Environ::builder().path("/discard").build());
        assert_eq!(r.text(), "0");
        // only the exact route: a longer path is the JSON page
        let r = call(&echo, Environ::builder().path("/discard/x").build());
        assert_eq!(r.header("content-type"), Some("application/json"));
    }

    #[test]
    fn status_route() {
        let r = call(&echo, Environ::builder().path("/status/418").build());
        assert_eq!(r.status, "418 I'm a teapot");
        let r = call(&echo, Environ::builder().path("/status/204").build());
        assert_eq!(r.status, "204 No Content");
        assert!(r.body.is_empty());
    }

    #[test]
    fn write_route_uses_the_write_handle() {
        let r = call(&echo, Environ::builder().path("/write").build());
        assert!(r.text().contains("\"PATH_INFO\": \"/write\""));
    }
}
