//! Linux readiness through epoll: one edge-triggered registration per
//! connection, for its whole life (the parker decides which worker gets
//! a report), plus an eventfd that wakes the waiting threads. A
//! registration waits for bytes to read, or, while a response waits for
//! room, for room to write.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::Interest;

/// The token reported for the wake-up eventfd; never given to `add`.
const WAKE: u64 = u64::MAX;

/// A set of file descriptors watched for readability (or writability),
/// each reported when data arrives (or room is made).
#[derive(Debug)]
pub(crate) struct Poller {
    epoll: OwnedFd,
    wake: OwnedFd,
}

impl Poller {
    /// 1. `epoll_create1(EPOLL_CLOEXEC)`;
    /// 2. `eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)` for [`Poller::notify`];
    /// 3. the eventfd registered level-triggered under the reserved token.
    pub(crate) fn new() -> io::Result<Poller> {
        let epoll = syscall!(epoll_create1(libc::EPOLL_CLOEXEC))?;
        // SAFETY: epoll_create1 returned a fresh descriptor that we own.
        let epoll = unsafe { OwnedFd::from_raw_fd(epoll) };
        let wake = syscall!(eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK))?;
        // SAFETY: eventfd returned a fresh descriptor that we own.
        let wake = unsafe { OwnedFd::from_raw_fd(wake) };
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: WAKE,
        };
        syscall!(epoll_ctl(
            epoll.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            wake.as_raw_fd(),
            &mut ev
        ))?;
        Ok(Poller { epoll, wake })
    }

    /// Watches `fd`, edge-triggered: `token` is reported each time data
    /// arrives (or the peer hangs up), not while data merely waits; for
    /// [`Interest::Write`], each time room is made after a write found none
    /// (or on an error). So the caller reads until the socket is empty (or
    /// writes until it is full) before it waits for the next report, and a
    /// report may come while it still reads.
    pub(crate) fn add(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        self.control(libc::EPOLL_CTL_ADD, fd, token, interest)
    }

    /// Watches `fd`, reported before, for the next report of the same
    /// interest: nothing to do for an edge-triggered registration (the
    /// poll(2) backend needs it).
    pub(crate) fn rearm(&self, _fd: RawFd, _token: u64, _interest: Interest) -> io::Result<()> {
        Ok(())
    }

    /// Watches `fd`, added before, for another interest
    /// (`EPOLL_CTL_MOD`). The kernel checks the new interest at once, so
    /// a socket that is ready already is reported.
    pub(crate) fn modify(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        self.control(libc::EPOLL_CTL_MOD, fd, token, interest)
    }

    fn control(
        &self,
        op: libc::c_int,
        fd: RawFd,
        token: u64,
        interest: Interest,
    ) -> io::Result<()> {
        let events = match interest {
            Interest::Read => libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLET,
            // Errors and hang-ups are always reported; a peer that only
            // stopped sending may still read, so EPOLLRDHUP is not asked.
            Interest::Write => libc::EPOLLOUT | libc::EPOLLET,
        };
        let mut ev = libc::epoll_event {
            events: events as u32,
            u64: token,
        };
        syscall!(epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut ev)).map(drop)
    }

    /// Stops watching `fd` (closing it does the same).
    pub(crate) fn delete(&self, fd: RawFd) -> io::Result<()> {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        syscall!(epoll_ctl(
            self.epoll.as_raw_fd(),
            libc::EPOLL_CTL_DEL,
            fd,
            &mut ev
        ))
        .map(drop)
    }

    /// Waits up to `timeout_ms` (-1: no limit) and appends the tokens of
    /// ready descriptors to `ready`. Returns true if [`Poller::notify`] was
    /// called since the last wait.
    pub(crate) fn wait(&self, ready: &mut Vec<u64>, timeout_ms: i32) -> io::Result<bool> {
        let mut events = [std::mem::MaybeUninit::<libc::epoll_event>::uninit(); 256];
        // SAFETY: `events` has room for the 256 entries announced; the
        // kernel writes the first `n`, which are the only ones read below.
        let n = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                events.as_mut_ptr().cast(),
                events.len() as i32,
                timeout_ms,
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            return match err.kind() {
                io::ErrorKind::Interrupted => Ok(false),
                _ => Err(err),
            };
        }
        let mut woken = false;
        for ev in &events[..n as usize] {
            // SAFETY: epoll_wait initialised the first `n` entries.
            let token = unsafe { ev.assume_init_ref() }.u64;
            if token == WAKE {
                woken = true;
                self.clear_wake();
            } else {
                ready.push(token);
            }
        }
        Ok(woken)
    }

    /// Waits up to `timeout_ms` for events and fills `tokens` with those
    /// of ready descriptors, as many as it has room for; returns how many
    /// (0 on a timeout or a [`Poller::notify`], which it consumes).
    /// Several threads may wait at once; each ready descriptor goes to one
    /// of them.
    pub(crate) fn wait_some(&self, tokens: &mut [u64], timeout_ms: i32) -> io::Result<usize> {
        const MAX: usize = 64;
        let mut events = [std::mem::MaybeUninit::<libc::epoll_event>::uninit(); MAX];
        let room = tokens.len().min(MAX) as i32;
        // SAFETY: `events` has room for the `room` entries announced; the
        // kernel writes the first `n`, which are the only ones read below.
        let n = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                events.as_mut_ptr().cast(),
                room,
                timeout_ms,
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            return match err.kind() {
                io::ErrorKind::Interrupted => Ok(0),
                _ => Err(err),
            };
        }
        let mut count = 0;
        let mut woken = false;
        for ev in &events[..n as usize] {
            // SAFETY: epoll_wait initialised the first `n` entries.
            let token = unsafe { ev.assume_init_ref() }.u64;
            if token == WAKE {
                woken = true;
            } else {
                tokens[count] = token;
                count += 1;
            }
        }
        // A wake-up that came with work is left pending, for the next
        // thread that waits: it was meant for a thread with nothing to do.
        if woken && count == 0 {
            self.clear_wake();
        }
        Ok(count)
    }

    fn clear_wake(&self) {
        let mut buf = [0u8; 8];
        // SAFETY: reading 8 bytes into an 8-byte buffer.
        unsafe { libc::read(self.wake.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
    }

    /// Wakes a thread blocked in [`Poller::wait`].
    pub(crate) fn notify(&self) -> io::Result<()> {
        let one: u64 = 1;
        // SAFETY: writing the 8 bytes of `one`.
        let n = unsafe { libc::write(self.wake.as_raw_fd(), (&one as *const u64).cast(), 8) };
        if n < 0 {
            let err = io::Error::last_os_error();
            // A full counter still wakes the waiter.
            if err.kind() != io::ErrorKind::WouldBlock {
                return Err(err);
            }
        }
        Ok(())
    }
}
