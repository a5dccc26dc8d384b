//! inotify(7): directory watches for the reloader on Linux.
//!
//! Only directories are watched: an event on a directory names the entry
//! it concerns, which sees a file replaced by a rename (an editor's atomic
//! save, cargo's new binary) as well as a file written in place.

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

/// What a directory watch reports: entries written, their metadata
/// changed (`touch`), created, deleted or renamed in or out, and the
/// directory itself deleted or moved.
const WATCH_MASK: u32 = libc::IN_MODIFY
    | libc::IN_ATTRIB
    | libc::IN_CREATE
    | libc::IN_DELETE
    | libc::IN_MOVED_FROM
    | libc::IN_MOVED_TO
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF
    | libc::IN_ONLYDIR
    | libc::IN_EXCL_UNLINK;

/// The fixed part of `struct inotify_event`: wd, mask, cookie, len.
const HEADER: usize = 16;

/// An inotify instance (close-on-exec, non-blocking).
#[derive(Debug)]
pub(crate) struct Inotify {
    fd: OwnedFd,
}

/// One event, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    /// The watch it came from (-1 for a queue overflow).
    pub wd: i32,
    mask: u32,
    /// The entry of the watched directory it concerns; `None` when it
    /// concerns the directory itself.
    pub name: Option<OsString>,
}

impl Event {
    /// The kernel's queue overflowed: events were lost.
    pub(crate) fn overflowed(&self) -> bool {
        self.mask & libc::IN_Q_OVERFLOW != 0
    }

    /// The watch is gone (its directory was deleted or unmounted).
    pub(crate) fn watch_removed(&self) -> bool {
        self.mask & libc::IN_IGNORED != 0
    }

    /// The watched directory itself was deleted or moved away.
    pub(crate) fn directory_gone(&self) -> bool {
        self.mask & (libc::IN_DELETE_SELF | libc::IN_MOVE_SELF) != 0
    }
}

impl Inotify {
    /// `inotify_init1(IN_CLOEXEC | IN_NONBLOCK)`. Fails with `EMFILE` when
    /// the per-user instance limit (`fs.inotify.max_user_instances`) is
    /// reached.
    pub(crate) fn new() -> io::Result<Inotify> {
        let fd = syscall!(inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK))?;
        // SAFETY: inotify_init1 returned a fresh descriptor that we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Inotify { fd })
    }

    /// Watches directory `dir`; returns the watch descriptor. Fails with
    /// `ENOSPC` when the per-user watch limit (`fs.inotify.max_user_watches`)
    /// is reached, `ENOTDIR` if `dir` is not a directory.
    pub(crate) fn watch_dir(&self, dir: &Path) -> io::Result<i32> {
        let path = CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
        syscall!(inotify_add_watch(
            self.fd.as_raw_fd(),
            path.as_ptr(),
            WATCH_MASK
        ))
    }

    /// Waits up to `timeout_ms` (-1: no limit) for events and returns the
    /// ones queued; empty when the time ran out.
    pub(crate) fn read(&self, timeout_ms: i32) -> io::Result<Vec<Event>> {
        let mut events = Vec::new();
        if !super::wait_readable(self.fd.as_raw_fd(), timeout_ms)? {
            return Ok(events);
        }
        // Room for many events; one event is at most HEADER + NAME_MAX + 1.
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: `buf` is valid and writable for `buf.len()` bytes.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                let err = io::Error::last_os_error();
                match err.kind() {
                    io::ErrorKind::WouldBlock => return Ok(events),
                    io::ErrorKind::Interrupted => continue,
                    _ => return Err(err),
                }
            }
            decode(&buf[..n as usize], &mut events);
            if n == 0 {
                return Ok(events);
            }
        }
    }
}

/// Decodes the `struct inotify_event` records in `bytes`.
fn decode(bytes: &[u8], out: &mut Vec<Event>) {
    let mut rest = bytes;
    while rest.len() >= HEADER {
        let word = |i: usize| [rest[i], rest[i + 1], rest[i + 2], rest[i + 3]];
        let wd = i32::from_ne_bytes(word(0));
        let mask = u32::from_ne_bytes(word(4));
        let len = u32::from_ne_bytes(word(12)) as usize;
        let Some(name_bytes) = rest.get(HEADER..HEADER + len) else {
            return;
        };
        // The name is NUL-padded to an alignment boundary.
        let end = name_bytes.iter().position(|&b| b == 0).unwrap_or(len);
        let name = (end > 0).then(|| OsString::from_vec(name_bytes[..end].to_vec()));
        out.push(Event { wd, mask, name });
        rest = &rest[HEADER + len..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_records_with_and_without_names() {
        let mut bytes = Vec::new();
        for (wd, mask, name) in [
            (1i32, libc::IN_MODIFY, &b"a.toml"[..]),
            (2, libc::IN_DELETE_SELF, b""),
        ] {
            let padded = if name.is_empty() {
                0
            } else {
                (name.len() / 16 + 1) * 16
            };
            bytes.extend(wd.to_ne_bytes());
            bytes.extend(mask.to_ne_bytes());
            bytes.extend(0u32.to_ne_bytes());
            bytes.extend((padded as u32).to_ne_bytes());
            let mut field = name.to_vec();
            field.resize(padded, 0);
            bytes.extend(field);
        }
        let mut events = Vec::new();
        decode(&bytes, &mut events);
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[0].name.as_deref(),
            Some(std::ffi::OsStr::new("a.toml"))
        );
        assert_eq!(events[1].name, None);
        assert!(events[1].directory_gone());
    }

    #[test]
    fn sees_a_file_written_in_a_watched_directory() {
        let dir = std::env::temp_dir().join(format!("werk-inotify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let inotify = Inotify::new().unwrap();
        let wd = inotify.watch_dir(&dir).unwrap();
        std::fs::write(dir.join("x"), b"1").unwrap();
        let events = inotify.read(5000).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(events
            .iter()
            .any(|e| e.wd == wd && e.name.as_deref() == Some(std::ffi::OsStr::new("x"))));
    }
}
