//! The server in child processes: a parent binds the listening sockets,
//! prints the banner, and runs this same program again as children that
//! serve on those sockets. Two features work this way, and share this
//! module:
//!
//! - the reloader (`reload/`): one child at a time, replaced on a change;
//! - [`Options::processes`](crate::Options::processes) (`prefork.rs`): N
//!   children at once, each with its own worker pool, a dead one replaced.
//!
//! ```text
//!  parent                                   child (one of N)
//!  ──────                                   ────────────────
//!  bind the sockets, print the banner
//!  spawn: the same executable and ───────►  adopt fds 3.. (LISTEN_FDS),
//!         arguments, fds 3.. (LISTEN_FDS),  serve with its own pool
//!         WERK_SUPERVISOR_PID, PDEATHSIG
//!  SIGINT/SIGTERM ──── SIGTERM ──────────►  finish requests, exit 0
//!  second signal ───── SIGKILL ──────────►  (gone)
//!  (parent gone) ───── PDEATHSIG, or ────►  stop
//!                      getppid() changed
//! ```
//!
//! A child is started with `exec` of the running executable, never a bare
//! `fork`: the parent has threads (signals, waiters), and a forked copy of
//! a multithreaded process may only call async-signal-safe functions.
//!
//! `parent.rs` is the parent's side (starting, tracking, signalling and
//! reaping children), `child.rs` the child's (who its parent is, noticing
//! that it is gone). What SIGINT and SIGTERM do is the same in every
//! process, here: [`handle_signals`] over whatever the process runs
//! ([`Stoppable`]).

mod child;
pub(crate) mod link;
mod parent;
pub(crate) mod prefork;
#[cfg(feature = "reload")]
mod tail;

pub(crate) use child::{connect_to_parent, take_supervisor, watch_parent, with_parent_settings};
pub(crate) use parent::{describe, running_exe, Children, Program};
#[cfg(feature = "reload")]
pub(crate) use tail::Tail;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{App, Error, Options, Server, ServerHandle};

/// Set to `true` in the reloader's child's environment, as Werkzeug's
/// `WERKZEUG_RUN_MAIN`.
pub(crate) const RUN_MAIN: &str = "WERK_RUN_MAIN";

/// The parent's process id, in a child's environment: the child checks
/// that its parent is still that process.
pub(crate) const SUPERVISOR_PID: &str = "WERK_SUPERVISOR_PID";

/// Set in the environment of each of the `processes` children, to its
/// number (1 to N), as `WERK_RUN_MAIN` marks the reloader's child.
pub(crate) const PROCESS: &str = "WERK_PROCESS";

/// Set by `werk run` in the environment of the processes it starts.
pub(crate) const DEV_LOOP: &str = "WERK_RUN";

/// The generation of the build (or the reloader's restart) a child
/// serves, from 1: its server's id for live reload.
pub(crate) const GENERATION: &str = "WERK_GENERATION";

/// `1` or `0`: live reload on or off, as `werk run` was told.
pub(crate) const LIVE_RELOAD: &str = "WERK_LIVE_RELOAD";

/// `werk run -q`: no request log.
pub(crate) const QUIET: &str = "WERK_QUIET";

/// The certificate and key files `werk run --cert FILE --key FILE` serves
/// with (an adhoc certificate travels in `WERK_ADHOC_TLS`).
pub(crate) const TLS_CERT: &str = "WERK_TLS_CERT";
pub(crate) const TLS_KEY: &str = "WERK_TLS_KEY";

/// True in the process the reloader started to serve (the child), as
/// Werkzeug's `is_running_from_reloader`: the place to do once-per-serve
/// work, such as printing a debugger PIN.
pub fn is_running_from_reloader() -> bool {
    std::env::var(RUN_MAIN).is_ok_and(|v| v == "true")
}

/// True in a process started by [`prefork`] to be one of the `processes`.
pub(crate) fn is_prefork_child() -> bool {
    std::env::var_os(PROCESS).is_some()
}

/// True in a process that a werk parent started to serve on the parent's
/// sockets: the reloader's child, one of the `processes`, or a build
/// under `werk run`.
pub(crate) fn started_by_werk() -> bool {
    is_running_from_reloader() || is_prefork_child()
}

/// True if `options` need more than this one process, or if this process
/// is a child that a werk parent started:
/// [`run_in_processes`](crate::run_in_processes) then takes over.
pub(crate) fn wanted(options: &Options) -> bool {
    options.use_reloader || options.processes > 1 || is_prefork_child()
}

/// [`make_server`](crate::make_server) for a process that a werk parent
/// may have started, whatever `use_reloader` and `processes` say (the
/// reloader's child and the processes serve here).
pub(crate) fn make_server_here(
    host: &str,
    port: u16,
    app: impl App,
    options: Options,
) -> Result<Server, Error> {
    let options = with_parent_settings(options)?;
    let config = options.config()?;
    let app = crate::options::wrap_for_options(Box::new(app), &options, host);
    let mut server = crate::server::make_server(host, port, app, config)?;
    connect_to_parent(&mut server)?;
    Ok(server)
}

/// [`make_server`](crate::make_server), or `None` after printing why it
/// failed (the caller exits with status 1).
pub(crate) fn make_server_or_say(
    host: &str,
    port: u16,
    app: impl App,
    options: Options,
) -> Option<Server> {
    make_server_here(host, port, app, options)
        .inspect_err(|e| say!("{e}"))
        .ok()
}

/// What a stop request stops: the server in this process, or the child
/// processes that serve.
pub(crate) trait Stoppable: Send + 'static {
    /// Begins an orderly stop: no new connection is accepted, and requests
    /// in progress finish. With `announce`, says so first (when there is
    /// something to wait for). False if nothing was running, so there is
    /// nothing to wait for.
    fn stop(&self, announce: bool) -> bool;

    /// Ends what runs at once (a second signal), before the process exits.
    fn kill(&self) {}

    /// Removes what the process leaves behind (Unix socket files) when it
    /// exits from the signal thread.
    fn cleanup(&self) {}
}

impl Stoppable for ServerHandle {
    fn stop(&self, announce: bool) -> bool {
        if announce {
            announce_shutdown();
        }
        self.shutdown();
        true
    }
}

/// The line the first Ctrl-C prints.
fn announce_shutdown() {
    say!(" * Shutting down: waiting for requests in progress (Ctrl-C again to quit now)");
}

/// SIGINT and SIGTERM, read on a thread of their own (`werk-signals`).
/// The first stops `target` in order, and exits 0 at once if nothing was
/// running; a second one kills it and exits with status 130.
///
/// A process with a werk parent (`supervised`) ignores SIGINT and prints
/// nothing: Ctrl-C reaches every process of the terminal's process group,
/// and the parent answers it by sending each child SIGTERM, so the
/// decision is made in one place.
pub(crate) fn handle_signals(supervised: bool, target: impl Stoppable) -> std::io::Result<()> {
    let mut signals = crate::sys::signals::install()?;
    std::thread::Builder::new()
        .name("werk-signals".into())
        .spawn(move || {
            let mut stopping = false;
            while let Ok(signo) = signals.wait() {
                if supervised && signo == libc::SIGINT {
                    continue;
                }
                if stopping {
                    target.kill();
                    target.cleanup();
                    std::process::exit(130);
                }
                stopping = true;
                if !target.stop(!supervised) {
                    target.cleanup();
                    std::process::exit(0);
                }
            }
        })?;
    Ok(())
}

/// A time as werk's processes pass it to each other (in the environment,
/// over the link): microseconds since the Unix epoch.
pub(crate) fn to_micros(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros())
}

pub(crate) fn from_micros(micros: u128) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(micros.min(u64::MAX as u128) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_times_round_trip() {
        let t = UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        assert_eq!(from_micros(to_micros(t)), t);
    }
}
