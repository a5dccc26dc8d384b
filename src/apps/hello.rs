use crate::{Body, Environ, StartResponse};

/// `Hello, World!` as `text/plain` with a Content-Length: the smallest
/// useful response, for benchmarks.
pub fn hello(_environ: &Environ, start_response: StartResponse) -> Body {
    const TEXT: &str = "Hello, World!";
    let _ = start_response.start(
        "200 OK",
        [("Content-Type", "text/plain"), ("Content-Length", "13")],
    );
    Body::from(TEXT)
}

#[cfg(test)]
mod tests {
    #[test]
    fn says_hello() {
        let r = crate::testing::call(&super::hello, crate::Environ::builder().build());
        assert_eq!(r.status, "200 OK");
        assert_eq!(r.text(), "Hello, World!");
        assert_eq!(r.header("content-length"), Some("13"));
    }
}
