//! The middleware over real sockets: the debugger, the dispatchers, the
//! lint and static files, in one executable (the examples of
//! docs/middleware.md are `tests/middleware_examples.rs`).

#[path = "../support/mod.rs"]
mod support;

mod debugger;
mod dispatch;
mod lint;
mod r#static;
