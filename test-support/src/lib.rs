//! What werk's two test crates (the integration tests in `tests/` and the
//! conformance suite in `vendor-tests/`) share, none of it tied to werk:
//!
//! - [`Client`]: a raw HTTP/1.1 client over one TCP connection whose every
//!   read has a timeout, and the [`Response`]s it parses (Content-Length,
//!   chunked and close-delimited bodies, interim responses, pipelining);
//! - [`EchoEnviron`]: the echo app's JSON answer, read.
//!
//! It does not depend on werk, so werk is built once for each test crate,
//! with that crate's features.

mod client;
mod json;

pub use client::{contains, find, Client, Response, IO_TIMEOUT};
pub use json::{EchoEnviron, Json};
