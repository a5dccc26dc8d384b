//! The default app: an HTML page with everything the server put in the
//! environ, like Werkzeug's `werkzeug.testapp`.

use std::fmt::Write as _;

use crate::escape::html_escape;
use crate::{Body, Environ, StartResponse};

/// A page titled "WSGI Information" with the server, the platform and
/// every environ entry, sorted by name.
pub fn testapp(environ: &Environ, start_response: StartResponse) -> Body {
    let mut vars: Vec<(String, String)> = environ
        .vars()
        .map(|(k, v)| (k.to_owned(), format!("{v:?}")))
        .collect();
    vars.push((
        "wsgi.url_scheme".into(),
        format!("{:?}", environ.url_scheme()),
    ));
    vars.push(("wsgi.multithread".into(), environ.multithread().to_string()));
    vars.push((
        "wsgi.multiprocess".into(),
        environ.multiprocess().to_string(),
    ));
    vars.push(("wsgi.run_once".into(), environ.run_once().to_string()));
    vars.push((
        "wsgi.input_terminated".into(),
        environ.input_terminated().to_string(),
    ));
    vars.push(("wsgi.input".into(), "werk::Input".into()));
    vars.push(("wsgi.errors".into(), "werk::Errors (standard error)".into()));
    vars.sort_by_key(|(k, _)| k.to_ascii_lowercase());

    let mut rows = String::new();
    for (key, value) in &vars {
        let _ = writeln!(
            rows,
            "<tr><th>{}</th><td><code>{}</code></td></tr>",
            html_escape(key),
            html_escape(value)
        );
    }
    let page = format!(
        r#"<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>WSGI Information</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }}
h1 {{ font-weight: normal; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; vertical-align: top; padding: 0.3em 0.6em; border-bottom: 1px solid #ddd; }}
th {{ width: 14em; font-weight: 600; }}
code {{ white-space: pre-wrap; word-break: break-all; }}
</style>
<h1>WSGI Information</h1>
<p>This page displays all available information about the WSGI server and the environment of the request.</p>
<h2>Server</h2>
<table>
<tr><th>Server Software</th><td><code>{software}</code></td></tr>
<tr><th>Platform</th><td><code>{os} {arch}</code></td></tr>
<tr><th>Process</th><td><code>{pid}</code></td></tr>
</table>
<h2>WSGI Environment</h2>
<table>
{rows}</table>
"#,
        software = crate::SERVER_SOFTWARE,
        os = std::env::consts::OS,
        arch = std::env::consts::ARCH,
        pid = std::process::id(),
    );
    let _ = start_response.start("200 OK", [("Content-Type", "text/html; charset=utf-8")]);
    Body::from(page)
}

#[cfg(test)]
mod tests {
    #[test]
    fn page_shows_escaped_environ() {
        let env = crate::Environ::builder().query("foo=bar&baz=blah").build();
        let r = crate::testing::call(&super::testapp, env);
        let text = r.text();
        assert!(text.contains("WSGI Information"));
        assert!(text.contains("foo=bar&amp;baz=blah"));
        assert!(text.contains(crate::SERVER_SOFTWARE));
    }
}
