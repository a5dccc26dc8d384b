//! SIGINT and SIGTERM as bytes on a socket pair (the self-pipe trick), so that an
//! ordinary thread, not a signal handler, decides what Ctrl-C does.

use std::io::{self, Read};
use std::os::fd::IntoRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicI32, Ordering};

/// The write end of the pipe; -1 until [`install`] runs.
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signo: libc::c_int) {
    // The handler may interrupt code between a failed call and its read of
    // errno: put back what `write` may change.
    let saved = errno();
    let fd = PIPE_WRITE.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = signo as u8;
        // SAFETY: write(2) is async-signal-safe; one byte from a local.
        unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }
    set_errno(saved);
}

/// The calling thread's errno.
fn errno() -> libc::c_int {
    // SAFETY: the location is the calling thread's own errno, always valid.
    unsafe { *errno_location() }
}

fn set_errno(value: libc::c_int) {
    // SAFETY: as in `errno`.
    unsafe { *errno_location() = value };
}

#[cfg(any(target_os = "linux", target_os = "android"))]
unsafe fn errno_location() -> *mut libc::c_int {
    libc::__errno_location()
}

#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "dragonfly"
))]
unsafe fn errno_location() -> *mut libc::c_int {
    libc::__error()
}

#[cfg(any(target_os = "openbsd", target_os = "netbsd"))]
unsafe fn errno_location() -> *mut libc::c_int {
    libc::__errno()
}

/// A stream of received termination signals.
#[derive(Debug)]
pub(crate) struct Signals {
    rx: UnixStream,
}

impl Signals {
    /// Blocks until the next SIGINT or SIGTERM and returns its number.
    pub(crate) fn wait(&mut self) -> io::Result<i32> {
        let mut byte = [0u8; 1];
        loop {
            match self.rx.read(&mut byte) {
                Ok(1) => return Ok(i32::from(byte[0])),
                Ok(_) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// Routes SIGINT and SIGTERM to the returned [`Signals`]. Call once per
/// process; a second call returns an error.
pub(crate) fn install() -> io::Result<Signals> {
    let (rx, tx) = UnixStream::pair()?;
    tx.set_nonblocking(true)?;
    let fd = tx.into_raw_fd();
    if PIPE_WRITE
        .compare_exchange(-1, fd, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        // SAFETY: `fd` came from into_raw_fd above and is ours to close.
        unsafe { libc::close(fd) };
        return Err(io::Error::other("signal handlers are already installed"));
    }
    for signo in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is a valid starting value; the handler
        // only calls async-signal-safe functions.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        // SAFETY: `action.sa_mask` is a valid sigset to initialise.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        syscall!(sigaction(signo, &action, std::ptr::null_mut()))?;
    }
    Ok(Signals { rx })
}
