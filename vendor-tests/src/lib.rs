//! Helpers for the conformance suite live in tests/support.
