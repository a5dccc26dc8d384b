//! Adds the live-reload script to HTML pages (`Options::live_reload`,
//! on under `werk run`); the server answers the script and its event
//! stream itself (`server/live.rs`).
//!
//! A response gets the tag when it is `text/html`, has a body
//! (not 1xx, 204, 304 or a 206 range) and no `Content-Encoding` (a
//! compressed body cannot take plain bytes). The tag goes before the last
//! `</body>` of a body held in memory, else after the last byte, which
//! browsers still run; `Content-Length`, when the app gives one, grows by
//! the tag's length, so both agree for GET and HEAD alike.
//!
//! Only a request for a whole page gets it: one whose `Sec-Fetch-Dest`
//! (W3C Fetch Metadata) is absent, `document`, `iframe` or `frame`, and
//! that is not a fragment fetched by script (`HX-Request`, htmx;
//! `Turbo-Frame`, Hotwire; `X-Requested-With: XMLHttpRequest`). A fragment
//! swapped into a page already holding the script would open a second
//! stream.
//!
//! A page that takes the tag loses its `ETag`, `Last-Modified` and
//! `Accept-Ranges`: they describe the bytes without the tag, which stay
//! the same from one server to the next. A browser that reloads the page
//! for the next server would revalidate it, get a `304`, show again the
//! copy whose tag names the old server, and reload again without end.

use std::borrow::Cow;
use std::io::Read;
use std::sync::{Arc, Mutex};

use crate::model::body::Source;
use crate::{App, Body, Chunk, Environ, StartResponse};

/// The live-reload middleware.
#[derive(Debug)]
pub(crate) struct LiveReload<A> {
    app: A,
    /// The `<script>` tag.
    tag: Arc<str>,
}

impl<A: App> LiveReload<A> {
    pub(crate) fn new(app: A, tag: String) -> LiveReload<A> {
        LiveReload {
            app,
            tag: tag.into(),
        }
    }
}

impl<A: App> App for LiveReload<A> {
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
        if !asks_for_a_page(environ) {
            return self.app.call(environ, start_response);
        }
        // None until the app starts its response (it may do so lazily,
        // while its body is produced); then whether the tag goes in.
        let decided: Arc<Mutex<Option<bool>>> = Arc::default();
        let tag_len = self.tag.len() as u64;
        let decision = decided.clone();
        let start_response = start_response.map(move |status, mut headers| {
            let inject = takes_the_tag(&status, &headers);
            if inject {
                grow_content_length(&mut headers, tag_len);
                headers.retain(|(name, _)| !describes_the_untagged_bytes(name));
            }
            *decision.lock().unwrap_or_else(|e| e.into_inner()) = Some(inject);
            (status, headers)
        });
        let body = self.app.call(environ, start_response);
        let known = *decided.lock().unwrap_or_else(|e| e.into_inner());
        match known {
            Some(false) => body,
            Some(true) => body.map_source(|source| with_tag(source, &self.tag)),
            None => {
                let tag = self.tag.clone();
                body.map_source(move |source| append_if_decided(source, tag, decided))
            }
        }
    }
}

/// Whether the request is for a page the browser shows, not a part of
/// one, a script, a style or an image.
fn asks_for_a_page(environ: &Environ) -> bool {
    let dest = environ.header("Sec-Fetch-Dest").map(str::trim);
    let shown = dest.is_none_or(|d| {
        ["document", "iframe", "frame"]
            .iter()
            .any(|page| d.eq_ignore_ascii_case(page))
    });
    let fragment = environ.header("HX-Request").is_some()
        || environ.header("Turbo-Frame").is_some()
        || environ
            .header("X-Requested-With")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("XMLHttpRequest"));
    shown && !fragment
}

/// Whether a response with this status and these headers gets the tag.
fn takes_the_tag(status: &str, headers: &[(String, String)]) -> bool {
    let code = status.get(..3).and_then(|c| c.parse::<u16>().ok());
    if !matches!(code, Some(200..=299 | 400..=599)) || code == Some(204) || code == Some(206) {
        return false;
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    let html = header("content-type").is_some_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/html"))
    });
    let encoded = header("content-encoding").is_some_and(|e| !e.eq_ignore_ascii_case("identity"));
    html && !encoded
}

/// Whether a header speaks of the app's bytes as they were, which the tag
/// changed: a validator for them, or the ranges of them the app serves.
fn describes_the_untagged_bytes(name: &str) -> bool {
    ["etag", "last-modified", "accept-ranges"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

/// Adds `by` to a Content-Length the app gave; one that is not a number
/// is left for the server to refuse.
fn grow_content_length(headers: &mut [(String, String)], by: u64) {
    for (name, value) in headers.iter_mut() {
        if name.eq_ignore_ascii_case("content-length") {
            if let Some(len) = crate::http::content_length(value.trim().as_bytes()) {
                *value = (len + by).to_string();
            }
        }
    }
}

/// The source with the tag in it: before the last `</body>` of bytes in
/// memory, else at the end.
fn with_tag(source: Source, tag: &str) -> Source {
    match source {
        Source::Empty => Source::Bytes(Cow::Owned(tag.as_bytes().to_vec())),
        Source::Bytes(bytes) => {
            let at = last_body_close(&bytes).unwrap_or(bytes.len());
            let mut out = Vec::with_capacity(bytes.len() + tag.len());
            out.extend_from_slice(&bytes[..at]);
            out.extend_from_slice(tag.as_bytes());
            out.extend_from_slice(&bytes[at..]);
            Source::Bytes(Cow::Owned(out))
        }
        Source::File { file, len } => Source::Reader(Box::new(
            file.take(len).chain(std::io::Cursor::new(tag.to_owned())),
        )),
        Source::Reader(reader) => {
            Source::Reader(Box::new(reader.chain(std::io::Cursor::new(tag.to_owned()))))
        }
        Source::Chunks(chunks) => {
            let tail = std::iter::once(Ok(Chunk::from(tag.as_bytes().to_vec())));
            Source::Chunks(Box::new(chunks.chain(tail)))
        }
    }
}

/// For an app that starts its response while its body is produced: the
/// tag after the last chunk, if the response turned out to take it.
fn append_if_decided(source: Source, tag: Arc<str>, decided: Arc<Mutex<Option<bool>>>) -> Source {
    let mut source = source;
    let mut done = false;
    Source::Chunks(Box::new(std::iter::from_fn(move || {
        if done {
            return None;
        }
        match crate::model::body::next_chunk(&mut source) {
            Some(chunk) => Some(chunk),
            None => {
                done = true;
                let inject = *decided.lock().unwrap_or_else(|e| e.into_inner()) == Some(true);
                inject.then(|| Ok(Chunk::from(tag.as_bytes().to_vec())))
            }
        }
    })))
}

/// Where the last `</body>` starts, in any case.
fn last_body_close(html: &[u8]) -> Option<usize> {
    const CLOSE: &[u8] = b"</body";
    html.windows(CLOSE.len())
        .rposition(|w| w.eq_ignore_ascii_case(CLOSE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::call;

    const TAG: &str = "<script src=\"/__werk/live.js?id=1\" defer></script>";

    fn page(content_type: &'static str, body: &'static str) -> impl App {
        move |_: &Environ, sr: StartResponse| {
            sr.start(
                "200 OK",
                [
                    ("Content-Type", content_type.to_owned()),
                    ("Content-Length", body.len().to_string()),
                ],
            )
            .unwrap();
            Body::from(body)
        }
    }

    fn get() -> Environ {
        Environ::builder().build()
    }

    #[test]
    fn the_tag_goes_before_the_body_close_and_the_length_follows() {
        let app = LiveReload::new(
            page("text/html; charset=utf-8", "<p>hi</p></BODY></html>"),
            TAG.into(),
        );
        let response = call(&app, get());
        let text = String::from_utf8(response.body.clone()).unwrap();
        assert_eq!(text, format!("<p>hi</p>{TAG}</BODY></html>"));
        assert_eq!(
            response.header("content-length"),
            Some(text.len().to_string().as_str())
        );
    }

    #[test]
    fn a_page_with_the_tag_loses_its_validators() {
        let app = LiveReload::new(
            |_: &Environ, sr: StartResponse| {
                sr.start(
                    "200 OK",
                    [
                        ("Content-Type", "text/html"),
                        ("ETag", "\"1\""),
                        ("last-modified", "Thu, 01 Jan 2026 00:00:00 GMT"),
                        ("Accept-Ranges", "bytes"),
                        ("Cache-Control", "no-cache"),
                    ],
                )
                .unwrap();
                Body::from("<body></body>")
            },
            TAG.into(),
        );
        let response = call(&app, get());
        for name in ["etag", "last-modified", "accept-ranges"] {
            assert_eq!(response.header(name), None, "{name}");
        }
        assert_eq!(response.header("cache-control"), Some("no-cache"));
        let css = LiveReload::new(
            |_: &Environ, sr: StartResponse| {
                sr.start("200 OK", [("Content-Type", "text/css"), ("ETag", "\"1\"")])
                    .unwrap();
                Body::from("p {}")
            },
            TAG.into(),
        );
        assert_eq!(call(&css, get()).header("etag"), Some("\"1\""));
    }

    #[test]
    fn a_page_without_a_body_close_gets_it_at_the_end() {
        let app = LiveReload::new(page("text/html", "<h1>x</h1>"), TAG.into());
        let response = call(&app, get());
        assert_eq!(response.body, format!("<h1>x</h1>{TAG}").as_bytes());
    }

    #[test]
    fn other_types_and_encodings_are_left_alone() {
        for content_type in ["text/plain", "application/json", "text/htmlx"] {
            let app = LiveReload::new(page(content_type, "<body></body>"), TAG.into());
            assert_eq!(call(&app, get()).body, b"<body></body>");
        }
        let gzip = LiveReload::new(
            |_: &Environ, sr: StartResponse| {
                sr.start(
                    "200 OK",
                    [("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
                )
                .unwrap();
                Body::from(&b"\x1f\x8b"[..])
            },
            TAG.into(),
        );
        assert_eq!(call(&gzip, get()).body, b"\x1f\x8b");
    }

    #[test]
    fn fragments_and_subresources_are_left_alone() {
        let app = LiveReload::new(page("text/html", "<p>part</p>"), TAG.into());
        let with = |name: &str, value: &str| {
            let mut environ = get();
            environ.set(format!("HTTP_{name}"), value);
            call(&app, environ).body
        };
        for (name, value) in [
            ("HX_REQUEST", "true"),
            ("TURBO_FRAME", "list"),
            ("X_REQUESTED_WITH", "XMLHttpRequest"),
            ("SEC_FETCH_DEST", "empty"),
            ("SEC_FETCH_DEST", "script"),
        ] {
            assert_eq!(with(name, value), b"<p>part</p>", "{name}: {value}");
        }
        for dest in ["document", "iframe", "frame"] {
            let tagged = format!("<p>part</p>{TAG}");
            assert_eq!(with("SEC_FETCH_DEST", dest), tagged.as_bytes(), "{dest}");
        }
    }

    #[test]
    fn statuses_without_a_page_are_left_alone() {
        for status in ["204 No Content", "304 Not Modified", "206 Partial Content"] {
            let app = LiveReload::new(
                move |_: &Environ, sr: StartResponse| {
                    sr.start(status, [("Content-Type", "text/html")]).unwrap();
                    Body::empty()
                },
                TAG.into(),
            );
            assert_eq!(call(&app, get()).body, b"", "{status}");
        }
    }

    #[test]
    fn streamed_pages_get_the_tag_last() {
        let app = LiveReload::new(
            |_: &Environ, sr: StartResponse| {
                sr.start("200 OK", [("Content-Type", "text/html")]).unwrap();
                Body::stream(["<p>a</p>", "<p>b</p>"])
            },
            TAG.into(),
        );
        let response = call(&app, get());
        assert_eq!(response.body, format!("<p>a</p><p>b</p>{TAG}").as_bytes());
    }

    #[test]
    fn a_response_started_lazily_is_decided_at_the_end() {
        let lazy = |html: bool| {
            LiveReload::new(
                move |_: &Environ, sr: StartResponse| {
                    let mut started = false;
                    Body::stream(std::iter::from_fn(move || {
                        if started {
                            return None;
                        }
                        started = true;
                        let kind = if html { "text/html" } else { "text/plain" };
                        sr.start("200 OK", [("Content-Type", kind)]).unwrap();
                        Some("<p>late</p>")
                    }))
                },
                TAG.into(),
            )
        };
        assert_eq!(
            call(&lazy(true), get()).body,
            format!("<p>late</p>{TAG}").as_bytes()
        );
        assert_eq!(call(&lazy(false), get()).body, b"<p>late</p>");
    }

    #[test]
    fn close_callbacks_still_run() {
        let closed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = closed.clone();
        let app = LiveReload::new(
            move |_: &Environ, sr: StartResponse| {
                sr.start("200 OK", [("Content-Type", "text/html")]).unwrap();
                let flag = flag.clone();
                Body::from("<body></body>")
                    .on_close(move || flag.store(true, std::sync::atomic::Ordering::SeqCst))
            },
            TAG.into(),
        );
        call(&app, get());
        assert!(closed.load(std::sync::atomic::Ordering::SeqCst));
    }
}
