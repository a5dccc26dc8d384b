//! Every call into the C library lives here, so that the rest of the crate
//! can stay free of `unsafe` (the crate root denies it).
//!
//! What this module provides, per Unix platform:
//! - [`Poller`]: readiness notification for parked connections (epoll on
//!   Linux and Android, `poll(2)` elsewhere), with the same methods on both;
//! - [`recv_now`] and [`send_now`]: a read and a write that never block,
//!   whatever the socket's mode; [`wait_writable`]: a short wait for room;
//! - [`signals`]: SIGINT/SIGTERM delivered as bytes on a socket pair;
//! - [`process`]: a serving child (the reloader's, or one of
//!   `Options::processes`), started with its descriptors at fixed numbers
//!   and a parent-death signal;
//! - [`sched`]: a thread's CPU time and whether it is runnable or asleep
//!   (Linux), which the pool asks before it grows or shrinks;
//! - [`local_time`]: the broken-down local time for log lines;
//! - [`hostname`]: the machine's name, for the local certificate
//!   authority's subject.
//!
//! The C calls, where they are, and why std's safe API does not serve:
//!
//! | calls | where | why |
//! |---|---|---|
//! | `epoll_create1`, `epoll_ctl`, `epoll_wait`, `eventfd` | `sys/epoll.rs` | readiness for many sockets |
//! | `poll` (`POLLIN`, `POLLOUT`) | `sys/mod.rs` (`wait_readable`, `wait_writable`, `wait_any`), `sys/poll.rs` | short waits; the backend off Linux |
//! | `recv(MSG_DONTWAIT)` | `sys/mod.rs` (`recv_now`) | read without waiting, leaving the blocking mode to body reads |
//! | `send`, `sendmsg` (`MSG_DONTWAIT \| MSG_NOSIGNAL`) | `sys/mod.rs` (`send_now`) | buffer and body piece in one call, without waiting (`send` for one) |
//! | `sigaction`, `write` in the handler (errno kept) | `sys/signals.rs` | SIGINT and SIGTERM |
//! | `pthread_getcpuclockid`, `clock_gettime`, `syscall(SYS_gettid)` | `sys/sched.rs` (`Watch`) | another thread's CPU time, and its id in `/proc/self/task` |
//! | `localtime_r` | `sys/mod.rs` (`local_time`) | local time in the log, as Werkzeug |
//! | `gethostname` | `sys/mod.rs` (`hostname`) | the local authority's subject (`user@host`) |
//! | `socket`, `setsockopt`, `bind`, `listen` | `sys/socket.rs` (`listen_tcp`) | `IPV6_V6ONLY` before `bind`; a backlog of 1024 |
//! | `fstat`, `getsockopt`, `getsockname`, `fcntl` | `sys/socket.rs` (`adopt_listener`, `set_cloexec`) | adopting `LISTEN_FDS` descriptors |
//! | `setsockopt` (`TCP_NODELAY`, `SO_RCVTIMEO`, `SO_SNDTIMEO`, `TCP_DEFER_ACCEPT`) | `sys/socket.rs` (`set_inherited_options`) | once on the listener; std has no `TCP_DEFER_ACCEPT` |
//! | `sendfile` | `sys/socket.rs` (`send_file`) | file bodies without a copy |
//! | `getsockopt(TCP_MAXSEG)` | `sys/socket.rs` (`segment_size`) | where a streamed chunk's last partial segment begins |
//! | `getifaddrs` | `sys/socket.rs` (`interface_addrs`) | addresses for the banner and `werk doctor` |
//! | `dup2`, `prctl(PR_SET_PDEATHSIG)`, `getppid` in `pre_exec`; `waitid(WNOWAIT)`, `kill` | `sys/process.rs` | fixed descriptor numbers, children that die with their parent, waiting without reaping |

use std::io;
use std::os::fd::RawFd;

/// Turns a libc call's `-1` into the `io::Error` for `errno`.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        // SAFETY: each caller passes arguments valid for the named call, and
        // documents any pointer it hands over.
        let res = unsafe { libc::$fn($($arg),*) };
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}

// `--cfg werk_force_poll` (in RUSTFLAGS) selects poll(2) on Linux too, so
// that the backend of macOS and the BSDs runs under the test suite here.
#[cfg(all(any(target_os = "linux", target_os = "android"), not(werk_force_poll)))]
#[path = "epoll.rs"]
mod poller;
#[cfg(any(not(any(target_os = "linux", target_os = "android")), werk_force_poll))]
#[path = "poll.rs"]
mod poller;

pub(crate) use poller::Poller;

/// What a watched descriptor is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interest {
    /// Bytes to read (or the peer hanging up).
    Read,
    /// Room to write (or an error).
    Write,
}

pub(crate) mod process;
pub(crate) mod sched;
pub(crate) mod signals;

/// Reads what the kernel already holds for `fd`, without waiting.
///
/// Returns `Ok(None)` when nothing is there yet, `Ok(Some(0))` at end of
/// stream. The socket's own blocking mode and read timeout are left alone,
/// which lets a worker test a kept-alive connection without a `fcntl` pair.
pub(crate) fn recv_now(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    // SAFETY: `buf` is a valid, writable region of `buf.len()` bytes.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    if n >= 0 {
        return Ok(Some(n as usize));
    }
    let err = io::Error::last_os_error();
    match err.kind() {
        io::ErrorKind::WouldBlock => Ok(None),
        io::ErrorKind::Interrupted => Ok(None),
        _ => Err(err),
    }
}

/// Writes what the socket has room for now of `bufs`, in order, without
/// waiting: `sendmsg` with `MSG_DONTWAIT` (and `MSG_NOSIGNAL` where it
/// exists: a client that went away is an error, not a signal), or `send`
/// for one buffer.
///
/// Returns `Ok(None)` when there is no room at all. As with [`recv_now`],
/// the socket's blocking mode and write timeout are left alone, for the
/// writes that may wait (the application's legacy `write`).
pub(crate) fn send_now(fd: RawFd, bufs: &[io::IoSlice<'_>]) -> io::Result<Option<usize>> {
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    const FLAGS: libc::c_int = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    const FLAGS: libc::c_int = libc::MSG_DONTWAIT;
    // SAFETY: msghdr is plain data, valid when zeroed (no address, no
    // control data).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // IoSlice is ABI-compatible with iovec on Unix (std documents it), and
    // sendmsg only reads the buffers, whatever the pointer's mutability.
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len() as _;
    loop {
        let n = match bufs {
            // One buffer: `send` spares the kernel the iovec array.
            // SAFETY: the buffer is readable for its length.
            [one] => unsafe { libc::send(fd, one.as_ptr().cast(), one.len(), FLAGS) },
            // SAFETY: `msg` points to `bufs.len()` valid iovecs, each over
            // a readable region that outlives the call.
            _ => unsafe { libc::sendmsg(fd, &msg, FLAGS) },
        };
        if n >= 0 {
            return Ok(Some(n as usize));
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::WouldBlock => return Ok(None),
            io::ErrorKind::Interrupted => {}
            _ => return Err(err),
        }
    }
}

/// Waits until `fd` is readable or `timeout_ms` passes; true when readable
/// (or closed, or in error: the next read says which).
pub(crate) fn wait_readable(fd: RawFd, timeout_ms: i32) -> io::Result<bool> {
    wait_for(fd, libc::POLLIN, timeout_ms)
}

/// Waits until `fd` has room to write or `timeout_ms` passes; true when it
/// has (or is closed, or in error: the next write says which).
pub(crate) fn wait_writable(fd: RawFd, timeout_ms: i32) -> io::Result<bool> {
    wait_for(fd, libc::POLLOUT, timeout_ms)
}

fn wait_for(fd: RawFd, events: libc::c_short, timeout_ms: i32) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd, count 1.
    let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    if n < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(err);
    }
    Ok(n > 0)
}

/// Broken-down local time, as the request log prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LocalTime {
    pub year: i32,
    /// 1..=12
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

/// The local time for `unix_seconds`, through `localtime_r` so that the
/// machine's time zone applies, as in CPython's `log_date_time_string`.
pub(crate) fn local_time(unix_seconds: i64) -> LocalTime {
    let t: libc::time_t = unix_seconds as libc::time_t;
    // SAFETY: `tm` is plain data; localtime_r writes it and returns null on
    // failure, in which case the zeroed value is replaced below.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r is reentrant.
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok {
        return LocalTime {
            year: 1970,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
        };
    }
    LocalTime {
        year: tm.tm_year + 1900,
        month: (tm.tm_mon + 1) as u32,
        day: tm.tm_mday as u32,
        hour: tm.tm_hour as u32,
        minute: tm.tm_min as u32,
        second: tm.tm_sec as u32,
    }
}

/// The machine's name (`gethostname`), or `None` if it cannot be read.
#[cfg(feature = "tls")]
pub(crate) fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is valid and writable for `buf.len()` bytes; the name
    // is cut at that length and read up to its first NUL below.
    syscall!(gethostname(buf.as_mut_ptr().cast(), buf.len())).ok()?;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).into_owned();
    (!name.is_empty()).then_some(name)
}

/// Waits until one of `fds` is readable or `timeout_ms` passes (-1: no
/// limit), and returns which are. The accept loop uses it to watch its
/// listeners and its wake-up pipe together.
pub(crate) fn wait_any_readable(fds: &[RawFd], timeout_ms: i32) -> io::Result<Vec<bool>> {
    let watched: Vec<(RawFd, Interest)> = fds.iter().map(|&fd| (fd, Interest::Read)).collect();
    wait_any(&watched, timeout_ms)
}

/// Waits until one of `fds` is ready for what it waits for, or
/// `timeout_ms` passes (-1: no limit), and returns which are (an error or
/// a hang-up counts as ready).
pub(crate) fn wait_any(fds: &[(RawFd, Interest)], timeout_ms: i32) -> io::Result<Vec<bool>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&(fd, interest)| libc::pollfd {
            fd,
            events: match interest {
                Interest::Read => libc::POLLIN,
                Interest::Write => libc::POLLOUT,
            },
            revents: 0,
        })
        .collect();
    // SAFETY: `pfds` holds `pfds.len()` valid pollfd entries.
    let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
    if n < 0 {
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok(pfds.iter().map(|p| p.revents != 0).collect())
}

pub(crate) mod socket;
