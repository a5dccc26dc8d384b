//! What werk's two test crates (the integration tests in `tests/` and the
//! conformance suite in `vendor-tests/`) share, none of it tied to werk:
//!
//! - [`Client`]: a raw HTTP/1.1 client over one TCP connection whose every
//!   read has a timeout, and the [`Response`]s it parses (Content-Length,
//!   chunked and close-delimited bodies, interim responses, pipelining);
//! - [`Json`]: a JSON reader, and [`EchoEnviron`] on it for the echo
//!   app's answer;
//! - [`needs`], [`skip`] and [`run`]: the programs a test needs (curl,
//!   python3, openssl, ...). Under CI (`CI` set; `.ci/run` installs them)
//!   a missing program fails the test, elsewhere the test says on
//!   standard error that it skips and why.
//!
//! It does not depend on werk, so werk is built once for each test crate,
//! with that crate's features.

mod client;
mod json;
mod programs;

pub use client::{contains, find, Client, Response, IO_TIMEOUT};
pub use json::{EchoEnviron, Json};
pub use programs::{have, needs, run, skip, under_ci, Ran};
