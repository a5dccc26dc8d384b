//! `Dispatcher`: several applications under URL prefixes in one server
//! (Werkzeug's `DispatcherMiddleware`).
//!
//! The mounted application sees the prefix moved from `PATH_INFO` to the
//! end of `SCRIPT_NAME`, as PEP 3333 ("environ Variables") defines the
//! two: `SCRIPT_NAME` is where the application is mounted, `PATH_INFO` the
//! rest. A request for `/blog/2026/post` with `/blog` mounted reaches the
//! blog with:
//!
//! | key           | before            | after             |
//! |---------------|-------------------|-------------------|
//! | `SCRIPT_NAME` | `""`              | `"/blog"`         |
//! | `PATH_INFO`   | `"/blog/2026/post"` | `"/2026/post"`  |
//!
//! so the application builds its own links from `SCRIPT_NAME` and works
//! unchanged under any prefix.

use std::fmt;

use crate::{App, Body, Environ, StartResponse};

/// Routes each request to the application mounted at the longest prefix
/// of its path, or to the fallback application.
///
/// Prefixes match whole path segments: `/app` matches `/app`, `/app/` and
/// `/app/x`, not `/apple`. For `/app` itself `PATH_INFO` becomes `""`.
///
/// ```
/// use werk::middleware::Dispatcher;
/// use werk::{testing, Body, Environ, StartResponse};
///
/// fn mounted(environ: &Environ, sr: StartResponse) -> Body {
///     sr.start("200 OK", [("Content-Type", "text/plain")]).unwrap();
///     Body::from(format!("{} {}", environ.script_name(), environ.path_info()))
/// }
/// fn not_found(_: &Environ, sr: StartResponse) -> Body {
///     sr.start("404 Not Found", [("Content-Type", "text/plain")]).unwrap();
///     Body::from("not found")
/// }
///
/// let app = Dispatcher::new(not_found).mount("/api", mounted);
/// let response = testing::call(&app, Environ::builder().path("/api/users/1").build());
/// assert_eq!(response.text(), "/api /users/1");
/// ```
pub struct Dispatcher {
    fallback: Box<dyn App>,
    mounts: Vec<(String, Box<dyn App>)>,
}

impl Dispatcher {
    /// Sends every request that matches no mount to `fallback`.
    pub fn new(fallback: impl App) -> Dispatcher {
        Dispatcher {
            fallback: Box::new(fallback),
            mounts: Vec::new(),
        }
    }

    /// Mounts `app` at `prefix` (`/api`; a trailing slash is ignored). A
    /// second mount at the same prefix replaces the first.
    pub fn mount(mut self, prefix: &str, app: impl App) -> Dispatcher {
        let prefix = prefix.trim_end_matches('/').to_owned();
        self.mounts.retain(|(p, _)| *p != prefix);
        self.mounts.push((prefix, Box::new(app)));
        self
    }

    /// The mounted application for `path` and how much of the path is its
    /// prefix: Werkzeug's loop, which drops the last segment until what is
    /// left is a mount, so the longest mounted prefix wins.
    fn route(&self, path: &str) -> (&dyn App, usize) {
        let mut script = path;
        loop {
            if let Some((_, app)) = self.mounts.iter().find(|(p, _)| p == script) {
                return (app.as_ref(), script.len());
            }
            match script.rfind('/') {
                Some(slash) => script = &script[..slash],
                None => return (self.fallback.as_ref(), 0),
            }
        }
    }
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field(
                "mounts",
                &self.mounts.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl App for Dispatcher {
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
        let path = environ.path_info();
        let (app, prefix_len) = self.route(path);
        if prefix_len == 0 {
            return app.call(environ, start_response);
        }
        let mut inner = environ.clone();
        let script_name = format!("{}{}", environ.script_name(), &path[..prefix_len]);
        let path_info = path[prefix_len..].to_owned();
        inner.set("SCRIPT_NAME", script_name);
        inner.set("PATH_INFO", path_info);
        app.call(&inner, start_response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::call;

    fn show(environ: &Environ, sr: StartResponse) -> Body {
        sr.start("200 OK", [("Content-Type", "text/plain")])
            .unwrap();
        Body::from(format!("{}|{}", environ.script_name(), environ.path_info()))
    }

    #[test]
    fn routes_on_segments() {
        let app = Dispatcher::new(|_: &Environ, sr: StartResponse| {
            sr.start("404 Not Found", [("Content-Type", "text/plain")])
                .unwrap();
            Body::from("fallback")
        })
        .mount("/app", show)
        .mount("/app/admin/", show);
        let get = |path: &str| call(&app, Environ::builder().path(path).build()).text();
        assert_eq!(get("/app"), "/app|");
        assert_eq!(get("/app/"), "/app|/");
        assert_eq!(get("/app/x/y"), "/app|/x/y");
        assert_eq!(get("/app/admin"), "/app/admin|");
        assert_eq!(get("/app/admin/users"), "/app/admin|/users");
        assert_eq!(get("/apple"), "fallback");
        assert_eq!(get("/"), "fallback");
    }

    #[test]
    fn keeps_an_outer_script_name() {
        let app = Dispatcher::new(show).mount("/b", show);
        let mut environ = Environ::builder().path("/b/c").build();
        environ.set("SCRIPT_NAME", "/a");
        assert_eq!(call(&app, environ).text(), "/a/b|/c");
    }
}
