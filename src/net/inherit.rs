//! Listening sockets handed down by a parent process, with the protocol
//! of systemd socket activation (sd_listen_fds(3)), which systemfd and
//! werk's reloader and `processes` speak too: `LISTEN_PID` is our process
//! id, `LISTEN_FDS` the count of descriptors starting at 3. A child that
//! werk starts gets no `LISTEN_PID` (see [`listen_fds_for`]).

use super::{Bound, ListenAddr, Listener};
use crate::sys::socket::{adopt_listener, Inherited};
use crate::Error;

/// The first inherited descriptor (`SD_LISTEN_FDS_START`).
const FIRST_FD: i32 = 3;

/// The listeners passed by a parent, if the environment says there are
/// some for this process. The variables are removed so that children
/// this process starts do not take them for their own.
pub(crate) fn inherited_listeners() -> Result<Option<Vec<Bound>>, Error> {
    let Some(count) = listen_fds_for(std::process::id()) else {
        return Ok(None);
    };
    std::env::remove_var("LISTEN_PID");
    std::env::remove_var("LISTEN_FDS");
    std::env::remove_var("LISTEN_FDNAMES");
    let mut bound = Vec::with_capacity(count);
    for fd in FIRST_FD..FIRST_FD + count as i32 {
        let inherited = adopt_listener(fd)
            .map_err(|e| Error::Config(format!("inherited socket (LISTEN_FDS): {e}")))?;
        bound.push(describe(
            inherited,
            Some(format!("inherited socket (descriptor {fd})")),
        )?);
    }
    Ok(Some(bound))
}

/// Listening sockets this process holds already (a supervisor's, for the
/// server it runs while no child serves), without a reason for the banner.
#[cfg(feature = "reload")]
pub(crate) fn held_listeners(fds: Vec<std::os::fd::OwnedFd>) -> Result<Vec<Bound>, Error> {
    fds.into_iter()
        .map(|fd| {
            // A TCP listener has an IP address; any other is a Unix one.
            let tcp = std::net::TcpListener::from(fd);
            let held = match tcp.local_addr() {
                Ok(_) => Inherited::Tcp(tcp),
                Err(_) => Inherited::Unix(std::os::unix::net::UnixListener::from(
                    std::os::fd::OwnedFd::from(tcp),
                )),
            };
            describe(held, None)
        })
        .collect()
}

/// A listener with its address.
fn describe(inherited: Inherited, why: Option<String>) -> Result<Bound, Error> {
    Ok(match inherited {
        Inherited::Tcp(l) => {
            let addr = l.local_addr()?;
            Bound {
                listener: Listener::Tcp(l),
                addr: ListenAddr::Tcp(addr),
                why,
                created_file: None,
            }
        }
        Inherited::Unix(l) => {
            let path = l
                .local_addr()?
                .as_pathname()
                .map(|p| p.to_path_buf())
                .unwrap_or_default();
            Bound {
                listener: Listener::Unix(l),
                addr: ListenAddr::Unix(path),
                why,
                created_file: None,
            }
        }
    })
}

/// LISTEN_FDS when the count is positive and LISTEN_PID, if present,
/// names `pid`.
///
/// LISTEN_PID may be missing: a parent cannot always know its child's
/// process id. werk's own parents (the reloader, the `processes`, `werk
/// run`) cannot set it between fork and exec, which allows only
/// async-signal-safe calls; `systemfd --no-pid` leaves it out because
/// `cargo watch` and `cargo run` stand between it and the server. A
/// LISTEN_PID that is present must match, as sd_listen_fds(3) asks, so
/// sockets meant for a parent are never taken by its child.
fn listen_fds_for(pid: u32) -> Option<usize> {
    if let Ok(listen_pid) = std::env::var("LISTEN_PID") {
        if listen_pid.trim().parse::<u32>().ok()? != pid {
            return None;
        }
    }
    let count: usize = std::env::var("LISTEN_FDS").ok()?.trim().parse().ok()?;
    (count > 0).then_some(count)
}
