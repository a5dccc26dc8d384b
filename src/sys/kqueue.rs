//! kqueue(2) vnode events: file and directory watches for the reloader on
//! macOS and the BSDs.
//!
//! A vnode watch needs an open descriptor for each watched file or
//! directory. A directory reports `NOTE_WRITE` when an entry is created,
//! deleted or renamed in it (which is how an atomic save shows), a file
//! reports writes, growth, metadata changes, deletion and renames.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

/// The vnode events every watch asks for.
const VNODE_EVENTS: u32 = libc::NOTE_WRITE
    | libc::NOTE_DELETE
    | libc::NOTE_RENAME
    | libc::NOTE_EXTEND
    | libc::NOTE_ATTRIB;

/// Open flags for a descriptor used only for events: `O_EVTONLY` on
/// Apple systems (it does not keep a volume from unmounting), read-only
/// elsewhere; never blocking, never inherited.
#[cfg(any(target_os = "macos", target_os = "ios"))]
const EVENT_OPEN_FLAGS: libc::c_int = libc::O_EVTONLY | libc::O_CLOEXEC | libc::O_NONBLOCK;
#[cfg(not(any(target_os = "macos", target_os = "ios")))]
const EVENT_OPEN_FLAGS: libc::c_int = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK;

/// A kqueue (close-on-exec).
#[derive(Debug)]
pub(crate) struct Kqueue {
    fd: OwnedFd,
}

impl Kqueue {
    /// `kqueue()`, then `FD_CLOEXEC`.
    pub(crate) fn new() -> io::Result<Kqueue> {
        let fd = syscall!(kqueue())?;
        // SAFETY: kqueue returned a fresh descriptor that we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        super::socket::set_cloexec(fd.as_raw_fd(), true)?;
        Ok(Kqueue { fd })
    }

    /// Registers `EVFILT_VNODE` on `fd` (edge-triggered: `EV_CLEAR`); its
    /// events come back from [`wait`](Kqueue::wait) as `token`.
    pub(crate) fn watch(&self, fd: RawFd, token: usize) -> io::Result<()> {
        // SAFETY: kevent is plain data, valid when zeroed (the field types
        // differ between the BSDs, so it is filled field by field).
        let mut change: libc::kevent = unsafe { std::mem::zeroed() };
        change.ident = fd as _;
        change.filter = libc::EVFILT_VNODE as _;
        change.flags = (libc::EV_ADD | libc::EV_CLEAR) as _;
        change.fflags = VNODE_EVENTS as _;
        change.udata = token as _;
        syscall!(kevent(
            self.fd.as_raw_fd(),
            &change,
            1,
            std::ptr::null_mut(),
            0,
            std::ptr::null()
        ))
        .map(drop)
    }

    /// Waits up to `timeout` (`None`: no limit) for events and appends
    /// their tokens to `tokens`; nothing is appended when the time ran out.
    pub(crate) fn wait(
        &self,
        timeout: Option<Duration>,
        tokens: &mut Vec<usize>,
    ) -> io::Result<()> {
        // SAFETY: as above, zeroed kevents are valid output slots.
        let mut events: [libc::kevent; 32] = unsafe { std::mem::zeroed() };
        let spec = timeout.map(|t| libc::timespec {
            tv_sec: t.as_secs().min(i32::MAX as u64) as libc::time_t,
            tv_nsec: t.subsec_nanos() as _,
        });
        let spec_ptr = spec
            .as_ref()
            .map_or(std::ptr::null(), |s| s as *const libc::timespec);
        let n = match syscall!(kevent(
            self.fd.as_raw_fd(),
            std::ptr::null(),
            0,
            events.as_mut_ptr(),
            events.len() as _,
            spec_ptr
        )) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        };
        tokens.extend(events[..n as usize].iter().map(|e| e.udata as usize));
        Ok(())
    }
}

/// Opens `path` (a file or a directory) for event notification only.
pub(crate) fn open_for_events(path: &Path) -> io::Result<OwnedFd> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
    let fd = syscall!(open(c_path.as_ptr(), EVENT_OPEN_FLAGS))?;
    // SAFETY: open returned a fresh descriptor that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
