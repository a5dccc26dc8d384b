//! Feeds a chunked body to the decoder in pieces whose sizes the fuzzer
//! chooses, as bytes arrive from a socket, and checks every call: it never
//! uses more input than it was given, and the data it reports lies inside
//! what it used. Then checks that the pieces do not matter: the body, the
//! end and any error are the same as when the bytes come all at once.
//!
//!     cargo +nightly fuzz run chunked

#![no_main]

use libfuzzer_sys::fuzz_target;
use werk::http::{ChunkedDecoder, HttpError};

/// What decoding produced: the body bytes, and whether the body ended
/// (or the error that stopped it).
type Outcome = (Vec<u8>, Result<bool, HttpError>);

/// Decodes `wire` arriving in pieces of the given sizes (the last piece
/// takes what is left), as the server's buffer would hold it.
fn decode(wire: &[u8], sizes: impl IntoIterator<Item = usize>, max_data: usize) -> Outcome {
    let mut decoder = ChunkedDecoder::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut body = Vec::new();
    let mut rest = wire;
    let mut sizes = sizes.into_iter();
    while !rest.is_empty() && !decoder.is_done() {
        let n = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
        pending.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            let decoded = match decoder.decode(&pending, max_data) {
                Ok(decoded) => decoded,
                Err(e) => return (body, Err(e)),
            };
            assert!(decoded.consumed <= pending.len());
            assert!(decoded.data.start <= decoded.data.end);
            assert!(decoded.data.end <= decoded.consumed);
            assert!(decoded.data.len() <= max_data);
            body.extend_from_slice(&pending[decoded.data.clone()]);
            pending.drain(..decoded.consumed);
            if decoded.consumed == 0 || pending.is_empty() || decoder.is_done() {
                break;
            }
        }
    }
    (body, Ok(decoder.is_done()))
}

fuzz_target!(|input: (Vec<u8>, Vec<u8>, u16)| {
    let (splits, wire, max_data) = input;
    let max_data = usize::from(max_data).max(1);
    let sizes = splits.iter().map(|&s| usize::from(s));
    let split = decode(&wire, sizes, max_data);
    assert!(split.0.len() <= wire.len());
    let whole = decode(&wire, [wire.len()], max_data);
    assert_eq!(split, whole);
});
