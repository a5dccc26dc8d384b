//! Readiness through `poll(2)`, for the Unix systems without epoll (macOS,
//! the BSDs). Same surface as the epoll backend, but a descriptor is
//! reported once per `add`, `rearm` or `modify`, while it is readable (or
//! writable, for [`Interest::Write`]), so a report never comes while a
//! worker holds the connection; a self-pipe wakes the waiting threads.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Mutex;

use super::Interest;

/// A set of file descriptors watched for readability (or writability),
/// each reported once per `add`, `rearm` or `modify`.
#[derive(Debug)]
pub(crate) struct Poller {
    watched: Mutex<HashMap<RawFd, (u64, Interest)>>,
    wake_rx: UnixStream,
    wake_tx: UnixStream,
}

impl Poller {
    pub(crate) fn new() -> io::Result<Poller> {
        let (wake_rx, wake_tx) = UnixStream::pair()?;
        wake_rx.set_nonblocking(true)?;
        wake_tx.set_nonblocking(true)?;
        Ok(Poller {
            watched: Mutex::new(HashMap::new()),
            wake_rx,
            wake_tx,
        })
    }

    /// Watches `fd` until it is ready for `interest`, then reports `token`
    /// once.
    pub(crate) fn add(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        self.lock().insert(fd, (token, interest));
        self.notify()
    }

    /// Watches `fd`, reported before, again: the same as [`Poller::add`]
    /// here.
    pub(crate) fn rearm(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        self.add(fd, token, interest)
    }

    /// Watches `fd` for another interest: the same as [`Poller::add`]
    /// here.
    pub(crate) fn modify(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        self.add(fd, token, interest)
    }

    /// Stops watching `fd`.
    pub(crate) fn delete(&self, fd: RawFd) -> io::Result<()> {
        self.lock().remove(&fd);
        Ok(())
    }

    /// Waits up to `timeout_ms` and appends the tokens of ready descriptors
    /// to `ready`; true if [`Poller::notify`] was called.
    pub(crate) fn wait(&self, ready: &mut Vec<u64>, timeout_ms: i32) -> io::Result<bool> {
        self.wait_up_to(ready, timeout_ms, usize::MAX)
    }

    /// Waits up to `timeout_ms` and fills `tokens` with those of ready
    /// descriptors, as many as it has room for; returns how many (0 on a
    /// timeout or a notify). Other ready descriptors stay watched.
    pub(crate) fn wait_some(&self, tokens: &mut [u64], timeout_ms: i32) -> io::Result<usize> {
        let mut ready = Vec::with_capacity(tokens.len());
        let woken = self.wait_up_to(&mut ready, timeout_ms, tokens.len())?;
        if woken && !ready.is_empty() {
            // Meant for a thread with nothing to do: pass it on.
            self.notify()?;
        }
        tokens[..ready.len()].copy_from_slice(&ready);
        Ok(ready.len())
    }

    /// [`Poller::wait`], reporting (and unwatching) at most `limit`
    /// descriptors.
    fn wait_up_to(&self, ready: &mut Vec<u64>, timeout_ms: i32, limit: usize) -> io::Result<bool> {
        let snapshot: Vec<(RawFd, (u64, Interest))> =
            self.lock().iter().map(|(&f, &t)| (f, t)).collect();
        let mut fds: Vec<(RawFd, Interest)> = Vec::with_capacity(snapshot.len() + 1);
        fds.push((self.wake_rx.as_raw_fd(), Interest::Read));
        fds.extend(snapshot.iter().map(|&(fd, (_, interest))| (fd, interest)));
        let readable = super::wait_any(&fds, timeout_ms)?;
        let woken = readable[0];
        if woken {
            let mut buf = [0u8; 64];
            while matches!((&self.wake_rx).read(&mut buf), Ok(n) if n > 0) {}
        }
        let mut watched = self.lock();
        for (i, &(fd, (token, interest))) in snapshot.iter().enumerate() {
            if ready.len() >= limit {
                break;
            }
            if readable[i + 1] && watched.get(&fd) == Some(&(token, interest)) {
                watched.remove(&fd);
                ready.push(token);
            }
        }
        Ok(woken)
    }

    /// Wakes a thread blocked in [`Poller::wait`].
    pub(crate) fn notify(&self) -> io::Result<()> {
        match (&self.wake_tx).write(&[1]) {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RawFd, (u64, Interest)>> {
        self.watched.lock().unwrap_or_else(|e| e.into_inner())
    }
}
