//! Feeds arbitrary bytes to the request-head parser with the default
//! limits. It must never panic, and a complete head must lie within the
//! input.
//!
//!     cargo +nightly fuzz run parse_head

#![no_main]

use libfuzzer_sys::fuzz_target;
use werk::http::{parse_head, Limits, Parsed};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(Parsed::Complete(head)) = parse_head(data, &limits) {
        assert!(head.head_len <= data.len());
        assert!(head.head_len <= limits.max_head);
        assert!(head.target().is_ascii(), "the target is kept ASCII");
        // Parsing only the head's own bytes gives the same head: what
        // follows a head (a body, the next request) never changes it.
        let again = parse_head(&data[..head.head_len], &limits);
        assert_eq!(again, Ok(Parsed::Complete(head)));
    }
});
