//! Writing a middleware: an [`werk::App`] that holds another app and calls
//! it, changing what goes in and what comes out (PEP 3333 "Middleware:
//! Components that Play Both Sides"). This one numbers the requests: the
//! number goes inward through the environ's typed extensions (werk's form
//! of a custom environ key) and outward as an `X-Request-Id` header, added
//! by wrapping `start_response` with [`werk::StartResponse::map`].
//!
//! Run it with:
//!
//!     cargo run --example middleware
//!     PORT=8081 cargo run --example middleware   # on port 8081, so two can run at once
//!
//! then `curl -i http://localhost:8080/`.

use std::sync::atomic::{AtomicU64, Ordering};

use werk::{App, Body, Environ, Options, StartResponse};

/// What the middleware hands inward: the request's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId(pub u64);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Numbers each request for the app it wraps.
pub struct Numbered<A>(pub A);

impl<A: App> App for Numbered<A> {
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        // The environ belongs to the server: pass on a changed copy. The
        // copy reads the same request body.
        let mut inner = environ.clone();
        inner.extensions_mut().insert(RequestId(id));
        // Every start_response call of the app goes through this closure.
        let start_response = start_response.map(move |status, mut headers| {
            headers.push(("X-Request-Id".to_owned(), id.to_string()));
            (status, headers)
        });
        self.0.call(&inner, start_response)
    }
}

/// The wrapped app: finds its number in the environ.
fn numbered_page(environ: &Environ, start_response: StartResponse) -> Body {
    let id = environ.extensions().get::<RequestId>().map_or(0, |id| id.0);
    start_response
        .start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        .expect("first call");
    Body::from(format!("this is request {id}\n"))
}

/// `numbered_page` inside the middleware.
pub fn app(environ: &Environ, start_response: StartResponse) -> Body {
    Numbered(numbered_page).call(environ, start_response)
}

fn main() {
    werk::run_simple(
        "localhost",
        werk::port_from_env(8080),
        app,
        Options::default(),
    );
}
