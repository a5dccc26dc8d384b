//! `werk serve files [DIR]`: a directory served as it is, with listings,
//! as `python -m http.server` serves one.

use std::path::PathBuf;

use crate::middleware::StaticFiles;
use crate::{App, Body, Environ, StartResponse};

/// Serves the files under `dir` at `/`, with a listing for a directory
/// that has no `index.html`. Files and directories whose name starts with
/// a dot (`.env`, `.git/`) are not served nor listed; anything else that
/// is not found gets 404.
pub fn files(dir: impl Into<PathBuf>) -> impl App {
    StaticFiles::new(not_found).mount("/", dir).listings(true)
}

fn not_found(environ: &Environ, start_response: StartResponse) -> Body {
    let text = format!("Not Found: {}\n", environ.path_info());
    let _ = start_response.start(
        "404 Not Found",
        [
            ("Content-Type", "text/plain; charset=utf-8".to_owned()),
            ("Content-Length", text.len().to_string()),
        ],
    );
    Body::from(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::call;

    #[test]
    fn lists_serves_and_hides_dot_files() {
        let dir = std::env::temp_dir().join(format!("werk-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub dir")).unwrap();
        std::fs::write(dir.join("a <b>.txt"), "hello").unwrap();
        std::fs::write(dir.join(".env"), "SECRET=1").unwrap();
        std::fs::write(dir.join("javascript:alert(1)"), "x").unwrap();
        std::fs::write(dir.join("a&b\"c"), "x").unwrap();
        let app = files(&dir);
        let get = |path: &str| call(&app, Environ::builder().path(path).build());

        let page = get("/");
        assert_eq!(page.status, "200 OK");
        let html = page.text();
        assert!(
            html.contains("<a href=\"./sub%20dir/\">sub dir/</a>"),
            "{html}"
        );
        assert!(
            html.contains("a &lt;b&gt;.txt</a> <small>5 bytes</small>"),
            "{html}"
        );
        assert!(!html.contains(".env"), "{html}");
        assert!(html.contains("href=\"./javascript:alert(1)\""), "{html}");
        assert!(!html.contains("href=\"javascript:"), "{html}");
        assert!(html.contains("a&amp;b&quot;c"), "{html}");
        assert!(html.find("sub dir/").unwrap() < html.find("a &lt;b&gt;").unwrap());

        assert_eq!(get("/a <b>.txt").text(), "hello");
        assert_eq!(get("/.env").status, "404 Not Found");
        assert_eq!(get("/sub dir").status, "301 Moved Permanently");
        assert!(get("/sub dir/").text().contains("<a href=\"../\">../</a>"));
        assert_eq!(get("/nothing").status, "404 Not Found");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
