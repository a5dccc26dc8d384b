//! The responses the server writes itself: error pages for protocol
//! errors and for applications that fail.

use super::{encode_head, reason_phrase, Fields, HeadParts};
use crate::escape::html_escape;

/// Werkzeug's 500 text, so a client (or a test) sees the same words.
const INTERNAL_ERROR: &str = "The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.";

/// Headers and HTML body for an error status.
pub(crate) fn error_page(code: u16, detail: &str) -> (Fields, Vec<u8>) {
    let reason = reason_phrase(code);
    let detail = if code == 500 { INTERNAL_ERROR } else { detail };
    let body = format!(
        "<!doctype html>\n<html lang=en>\n<title>{code} {reason}</title>\n<h1>{reason}</h1>\n<p>{}</p>\n",
        html_escape(detail)
    );
    let headers = vec![("Content-Type".into(), "text/html; charset=utf-8".into())];
    (headers, body.into_bytes())
}

/// A whole HTTP response with the error page for `code`, saying
/// `Connection: close`: for a client the server will not serve.
pub(crate) fn error_response(code: u16, detail: &str) -> Vec<u8> {
    let (headers, body) = error_page(code, detail);
    let status = super::status_of(code);
    let mut out = Vec::with_capacity(256 + body.len());
    encode_head(
        &mut out,
        &HeadParts {
            status: &status,
            headers: &headers,
            add_length: Some(body.len() as u64),
            chunked: false,
            connection_close: Some(true),
            server: crate::SERVER_SOFTWARE,
        },
    );
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_is_escaped_and_typed() {
        let (headers, body) = error_page(400, "bad <input>");
        let body = String::from_utf8(body).unwrap();
        assert!(body.contains("<h1>Bad Request</h1>"));
        assert!(body.contains("bad &lt;input&gt;"));
        assert_eq!(headers[0].1, "text/html; charset=utf-8");
    }

    #[test]
    fn internal_error_matches_werkzeug_wording() {
        let (_, body) = error_page(500, "ignored");
        assert!(String::from_utf8(body)
            .unwrap()
            .contains("Internal Server Error"));
    }
}
