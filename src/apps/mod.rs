//! The built-in applications `werk serve` runs: `testapp` (the default, a
//! page that shows the environ), `hello` (for benchmarks) and `echo` (the
//! request reflected, for debugging clients and for tests).

mod echo;
mod hello;
pub(crate) mod json;
mod testapp;

pub use echo::echo;
pub use hello::hello;
pub use testapp::testapp;

use crate::App;

/// The names of the built-in apps.
pub const NAMES: [&str; 3] = ["testapp", "hello", "echo"];

/// A built-in app by name.
pub fn by_name(name: &str) -> Option<Box<dyn App>> {
    match name {
        "testapp" => Some(Box::new(testapp)),
        "hello" => Some(Box::new(hello)),
        "echo" => Some(Box::new(echo)),
        _ => None,
    }
}
