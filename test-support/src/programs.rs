//! The programs a test needs (curl, python3, openssl, ...). Under CI
//! (`CI` set; `.ci/run` installs every one of them) a test that cannot
//! run fails; elsewhere it says on standard error that it skips and why.

use std::io;
use std::process::{Command, Stdio};

/// Why `program` does not run here, or `None` if it does: `program
/// --version` must succeed (`openssl version` for openssl, which has no
/// `--version`; for NSS's certutil, which exits with 1 for every probe,
/// starting at all is enough).
pub fn missing(program: &str) -> Option<String> {
    let probe = match program {
        "openssl" => "version",
        "certutil" => "-H",
        _ => "--version",
    };
    let status = Command::new(program)
        .arg(probe)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match status {
        Ok(_) if program == "certutil" => None,
        Ok(status) if status.success() => None,
        Ok(status) => Some(format!("`{program} {probe}` failed ({status})")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Some(format!("{program} is not installed"))
        }
        Err(e) => Some(format!("{program} cannot be run ({e})")),
    }
}

/// True if `program` runs here (see [`missing`]).
pub fn have(program: &str) -> bool {
    missing(program).is_none()
}

/// True under CI (`CI` set), where `.ci/run` has installed every program
/// the tests use.
pub fn under_ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// For a test (or a named part of one) that cannot run here because of
/// `why`: under CI it fails, naming the reason, since CI must run every
/// test; elsewhere it says on standard error that it skips and why. The
/// caller then returns (or leaves the part out).
pub fn skip(test: &str, why: &str) {
    assert!(!under_ci(), "{test}: CI must run this test, but {why}");
    eprintln!("{test}: skipped, {why}");
}

/// True if `program` runs here. When it does not, `test` (or a named part
/// of it), which needs it, is skipped as [`skip`] says: under CI it fails.
pub fn needs(program: &str, test: &str) -> bool {
    let Some(why) = missing(program) else {
        return true;
    };
    skip(test, &why);
    false
}
