//! Starting a child process that serves (the reloader's child, or one of
//! `Options::processes`) with descriptors at fixed numbers (the listening
//! sockets at 3, 4, ... as `LISTEN_FDS` wants them, then, for the
//! reloader, the status pipe), and, on Linux, a parent-death signal so
//! that killing the parent never leaves a child serving.
//!
//! The descriptors are moved into place between `fork` and `exec`, in a
//! [`CommandExt::pre_exec`] closure, which may only make async-signal-safe
//! calls (`dup2`, `prctl`, `getppid`) and must not allocate. Two things make
//! the `dup2`s safe there:
//!
//! 1. every source descriptor is a duplicate numbered above the targets, so
//!    no `dup2` overwrites a source another one still needs;
//! 2. every target number is kept open in the parent (by the descriptor
//!    already there, or by a placeholder taken here), so the pipe std opens
//!    to report a failed `exec` can never land on a target and be closed
//!    by our `dup2` in the child.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// The first passed descriptor (`SD_LISTEN_FDS_START`).
pub(crate) const FIRST_FD: RawFd = 3;

/// Descriptors to hand to each child at `FIRST_FD`, `FIRST_FD + 1`, ...,
/// and one more of the child's own after them (its link to the parent).
#[derive(Debug)]
pub(crate) struct Handoff {
    /// Close-on-exec duplicates numbered above every target.
    sources: Vec<OwnedFd>,
    /// Placeholders that keep free target numbers taken (see the module
    /// documentation).
    _reserved: Vec<OwnedFd>,
}

impl Handoff {
    /// Takes the descriptors that every child receives, in order; the
    /// number after them is kept for the one [`prepare`](Handoff::prepare)
    /// gives each child.
    pub(crate) fn new(fds: Vec<OwnedFd>) -> io::Result<Handoff> {
        let first_above = FIRST_FD + fds.len() as RawFd + 1;
        let sources = fds
            .iter()
            .map(|fd| dup_at_least(fd.as_raw_fd(), first_above))
            .collect::<io::Result<Vec<_>>>()?;
        // The originals may sit on target numbers; closing them first lets
        // the placeholders below take those numbers.
        drop(fds);
        let mut reserved = Vec::new();
        for target in FIRST_FD..first_above {
            let Some(any) = sources.first() else { break };
            if is_open(target) {
                continue;
            }
            let placeholder = dup_at_least(any.as_raw_fd(), target)?;
            if placeholder.as_raw_fd() == target {
                reserved.push(placeholder);
            }
        }
        Ok(Handoff {
            sources,
            _reserved: reserved,
        })
    }

    /// The number at which [`prepare`](Handoff::prepare) puts the child's
    /// own descriptor.
    pub(crate) fn own_fd(&self) -> RawFd {
        FIRST_FD + self.sources.len() as RawFd
    }

    /// Makes `command`'s child receive the descriptors at `FIRST_FD`.. (not
    /// close-on-exec), then `own` at [`own_fd`](Handoff::own_fd), and, on
    /// Linux and Android, get SIGTERM when the thread that spawns it ends
    /// (spawn from a thread that lives as long as the parent). A child
    /// whose parent `parent_pid` is already gone by then fails to start.
    /// The parent's copy of `own` lives as long as `command`.
    pub(crate) fn prepare(
        &self,
        command: &mut Command,
        parent_pid: u32,
        own: Option<OwnedFd>,
    ) -> io::Result<()> {
        let own = match own {
            Some(fd) => Some(dup_at_least(fd.as_raw_fd(), self.own_fd() + 1)?),
            None => None,
        };
        let mut sources: Vec<RawFd> = self.sources.iter().map(AsRawFd::as_raw_fd).collect();
        sources.extend(own.as_ref().map(AsRawFd::as_raw_fd));
        let parent_pid = parent_pid as libc::pid_t;
        let child_setup = move || {
            // Kept open in the parent until the command is dropped.
            let _own = &own;
            for (target, &source) in (FIRST_FD..).zip(&sources) {
                // dup2 clears FD_CLOEXEC on `target`; `source` is above
                // every target, so it is never equal to it.
                syscall!(dup2(source, target))?;
            }
            #[cfg(any(target_os = "linux", target_os = "android"))]
            syscall!(prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGTERM as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong
            ))?;
            // SAFETY: getppid cannot fail and is async-signal-safe.
            if unsafe { libc::getppid() } != parent_pid {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        };
        // SAFETY: the closure runs in the child between fork and exec. It
        // only calls dup2, prctl and getppid, which are async-signal-safe,
        // reads a vector allocated before the fork, and allocates nothing
        // (io::Error values for OS errors are plain integers).
        unsafe {
            command.pre_exec(child_setup);
        }
        Ok(())
    }
}

/// A close-on-exec duplicate of `fd` numbered `min` or above.
fn dup_at_least(fd: RawFd, min: RawFd) -> io::Result<OwnedFd> {
    let new = syscall!(fcntl(fd, libc::F_DUPFD_CLOEXEC, min))?;
    // SAFETY: fcntl returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// True if descriptor `fd` is open in this process.
fn is_open(fd: RawFd) -> bool {
    syscall!(fcntl(fd, libc::F_GETFD)).is_ok()
}

/// Takes ownership of descriptor `fd`, passed by the parent process, and
/// marks it close-on-exec so that this process's own children do not
/// inherit it. Fails if `fd` is not open.
pub(crate) fn adopt_fd(fd: RawFd) -> io::Result<OwnedFd> {
    if fd < FIRST_FD {
        return Err(io::Error::other(format!(
            "descriptor {fd} is standard input, output or error"
        )));
    }
    crate::sys::socket::set_cloexec(fd, true)?;
    // SAFETY: the descriptor is open (set_cloexec succeeded), and the
    // protocol that named it hands its ownership to this process.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sends `signal` to process `pid`. Sending to a process that has already
/// exited but not been waited for is harmless.
pub(crate) fn send_signal(pid: u32, signal: Signal) -> io::Result<()> {
    let signo = match signal {
        Signal::Term => libc::SIGTERM,
        Signal::Kill => libc::SIGKILL,
    };
    syscall!(kill(pid as libc::pid_t, signo)).map(drop)
}

/// Blocks until child `pid` has exited, without reaping it: its process
/// id stays reserved (so signalling it cannot reach another process) until
/// `Child::wait` collects it.
pub(crate) fn wait_for_exit(pid: u32) -> io::Result<()> {
    loop {
        // SAFETY: siginfo_t is plain data, valid when zeroed.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        match syscall!(waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT
        )) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The signals a parent sends to its children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Finish what is in progress and exit.
    Term,
    /// Exit now.
    Kill,
}

/// The name of a signal number, for messages: `SIGKILL`, or `signal 42`.
pub(crate) fn signal_name(signo: i32) -> String {
    let name = match signo {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        _ => return format!("signal {signo}"),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handoff_sources_sit_above_the_targets() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let handoff = Handoff::new(vec![OwnedFd::from(a), OwnedFd::from(b)]).unwrap();
        assert_eq!(handoff.sources.len(), 2);
        for source in &handoff.sources {
            assert!(source.as_raw_fd() > FIRST_FD + 2);
        }
        assert_eq!(handoff.own_fd(), FIRST_FD + 2);
        // The target numbers that were free are held by placeholders while
        // the handoff lives. (The others belong to descriptors of tests
        // running alongside, which may close them at any time.)
        let targets = FIRST_FD..FIRST_FD + 3;
        for placeholder in &handoff._reserved {
            let fd = placeholder.as_raw_fd();
            assert!(targets.contains(&fd) && is_open(fd), "placeholder {fd}");
        }
    }

    #[test]
    fn signal_names() {
        assert_eq!(signal_name(libc::SIGKILL), "SIGKILL");
        assert_eq!(signal_name(200), "signal 200");
    }
}
