//! The HTTP/1.1 wire protocol, without sockets: parsing a request head,
//! decoding request bodies, encoding response heads and chunks, and the
//! protocol errors with their status codes (RFC 9110, RFC 9112).
//!
//! Everything here works on byte slices so that it can be unit-tested and
//! fuzzed without a network; `crate::server` owns the sockets. `pages.rs`
//! has the HTML pages the server (and a CGI script) answers an error with.

mod chunked;
pub(crate) mod date;
mod error;
mod pages;
mod request;
mod response;

pub use chunked::{ChunkedDecoder, Decoded};
pub use error::HttpError;
pub(crate) use pages::{error_page, error_response};
#[cfg(feature = "tls")]
pub(crate) use request::valid_host;
pub(crate) use request::{content_length, is_tls_client_hello, split_absolute};
pub use request::{parse_head, Framing, Limits, Parsed, RequestHead, Version};
pub(crate) use response::{
    encode_cgi_head, encode_chunk_size, encode_head, is_hop_by_hop, is_token, reason_phrase,
    standard_status, status_of, validate_header, validate_status, Field, Fields, HeadParts,
    ResponseFraming, LAST_CHUNK,
};

/// A byte table for a character class: ASCII letters and digits, plus
/// `others`. The parser checks every byte of some fields of each
/// request and response, and a lookup per byte is the cheap way.
const fn alphanumeric_and(others: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < others.len() {
        table[others[i] as usize] = true;
        i += 1;
    }
    table
}
