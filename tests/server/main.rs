//! The in-process server over real sockets: application errors, bodies,
//! real clients (curl, Python), hostile and careless clients, slow
//! readers and pool starvation. One executable instead of six, so a
//! change to the library links one test program here, not six.

#[path = "../support/mod.rs"]
mod support;

mod app_errors;
mod bodies;
mod clients;
mod hardening;
mod slow_readers;
mod starvation;
