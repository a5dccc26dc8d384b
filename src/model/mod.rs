//! The WSGI model (PEP 3333) in Rust types.
//!
//! | PEP 3333                         | werk                                   |
//! |----------------------------------|----------------------------------------|
//! | `application(environ, start_response)` | any [`App`]: `Fn(&Environ, StartResponse) -> Body` |
//! | `environ` dict                   | [`Environ`]: CGI variables as strings, `wsgi.*` as typed fields |
//! | `wsgi.input`                     | [`Input`], an `io::Read`                |
//! | `wsgi.errors`                    | [`Errors`], an `io::Write`              |
//! | `start_response(status, headers, exc_info)` | [`StartResponse::start`], [`StartResponse::start_with_error`] |
//! | the `write` callable             | [`WriteHandle`], an `io::Write`         |
//! | the returned iterable and `close()` | [`Body`], whose close runs on drop  |
//! | `wsgi.file_wrapper`              | [`Body::file`]                          |

use std::any::Any;

pub(crate) mod body;
mod chunk;
mod environ;
pub(crate) mod reply;
mod start_response;

pub(crate) use crate::http::{Field, Fields};
pub use body::{Body, BodyChunks};
pub use chunk::Chunk;
pub(crate) use environ::{
    decode_path, header_key, percent_encode_path, SharedRead, SharedTexts, Text,
};
pub use environ::{Environ, EnvironBuilder, Errors, Extensions, Input};
pub(crate) use start_response::{LockedResponse, Responder, ResponseWriter, StartState};
pub use start_response::{StartError, StartResponse, WriteHandle};

/// A web application: called once per request with the environ and the
/// `start_response` callable, it returns the response body.
///
/// Every `Fn(&Environ, StartResponse) -> Body + Send + Sync + 'static` is
/// an `App`, so a plain function is one:
///
/// ```
/// use werk::{Body, Environ, StartResponse};
///
/// fn hello(_environ: &Environ, start_response: StartResponse) -> Body {
///     start_response
///         .start("200 OK", [("Content-Type", "text/plain")])
///         .expect("first call");
///     Body::from("Hello, World!")
/// }
/// # fn takes_app(_: impl werk::App) {}
/// # takes_app(hello);
/// ```
///
/// Middleware is an `App` that holds another `App` and calls it.
pub trait App: Send + Sync + 'static {
    /// Handles one request (PEP 3333 "The Application/Framework Side").
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body;
}

impl App for Box<dyn App> {
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
        (**self).call(environ, start_response)
    }
}

impl<F> App for F
where
    F: Fn(&Environ, StartResponse) -> Body + Send + Sync + 'static,
{
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
        self(environ, start_response)
    }
}

/// The text of a panic payload (`&str` or `String`), as the default hook
/// prints it.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}
