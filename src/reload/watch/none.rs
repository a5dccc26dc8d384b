//! The raw backend of platforms without one: it never starts, so `auto`
//! uses stat.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use super::Watched;
use crate::glob::Exclude;

pub(crate) const NAME: &str = "none";

/// A watcher that cannot exist.
#[derive(Debug)]
pub(crate) enum Watcher {}

impl Watcher {
    pub(crate) fn new(_: &[Watched], _: &Exclude, _: Duration) -> io::Result<Watcher> {
        Err(io::Error::other(
            "this system has no file event interface werk knows",
        ))
    }

    pub(crate) fn wait(&mut self) -> PathBuf {
        match *self {}
    }
}
