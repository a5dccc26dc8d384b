//! The built-in applications `werk serve` runs: `testapp` (the default, a
//! page that shows the environ), `hello` (for benchmarks), `echo` (the
//! request reflected, for debugging clients and for tests) and `files` (a
//! directory, with listings).

mod echo;
mod files;
mod hello;
mod json;
mod testapp;

pub use echo::echo;
pub use files::files;
pub use hello::hello;
pub use testapp::testapp;

use crate::App;

/// The names of the built-in apps.
pub const NAMES: [&str; 4] = ["testapp", "hello", "echo", "files"];

/// A built-in app by name.
pub fn by_name(name: &str) -> Option<Box<dyn App>> {
    match name {
        "testapp" => Some(Box::new(testapp)),
        "hello" => Some(Box::new(hello)),
        "echo" => Some(Box::new(echo)),
        "files" => Some(Box::new(files("."))),
        _ => None,
    }
}
