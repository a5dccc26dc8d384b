//! What the scheduler is doing with a thread: how much CPU time it has
//! had, and whether it is runnable (on a CPU or waiting for one) or
//! asleep. The pool asks before it grows, to tell workers held by their
//! requests (asleep in an app, or computing a long answer) from workers
//! that other programs keep from the CPU, and at each sweep, to see
//! extra workers that only take turns.
//!
//! On Linux the CPU time is the thread's CPU-time clock
//! (`pthread_getcpuclockid`, POSIX), current to the call, and the state
//! is the third field of `/proc/self/task/<tid>/stat` (proc(5)). (The
//! kernel's `schedstat` also counts time spent waiting for a CPU, but
//! only once the wait has ended: a thread waiting now looks asleep.)
//! Elsewhere [`Watch::this_thread`] gives `None`, and the pool grows as
//! it would without knowing.

use std::time::Duration;

/// A thread, as another thread of the process can look at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Watch {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    tid: libc::pid_t,
    #[cfg(any(target_os = "linux", target_os = "android"))]
    clock: libc::clockid_t,
}

/// A look at a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sample {
    /// CPU time used since the thread started.
    pub(crate) ran: Duration,
    /// On a CPU or waiting for one, rather than asleep.
    pub(crate) runnable: bool,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl Watch {
    /// The calling thread, to be looked at from others.
    pub(crate) fn this_thread() -> Option<Watch> {
        let mut clock: libc::clockid_t = 0;
        // SAFETY: `clock` is a valid place for the clock id;
        // pthread_self is always a valid thread.
        let failed = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock) };
        if failed != 0 {
            return None;
        }
        // SAFETY: gettid takes nothing and cannot fail. (Through syscall:
        // glibc wraps it only since 2.30.)
        let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::pid_t;
        Some(Watch { tid, clock })
    }

    /// The thread now; `None` once it has ended.
    pub(crate) fn sample(&self) -> Option<Sample> {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid timespec to fill.
        if unsafe { libc::clock_gettime(self.clock, &mut now) } != 0 {
            return None;
        }
        let ran = Duration::new(now.tv_sec as u64, now.tv_nsec as u32);
        let stat = std::fs::read(format!("/proc/self/task/{}/stat", self.tid)).ok()?;
        let runnable = state_of(&stat)? == b'R';
        Some(Sample { ran, runnable })
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
impl Watch {
    /// Not known off Linux.
    pub(crate) fn this_thread() -> Option<Watch> {
        None
    }

    pub(crate) fn sample(&self) -> Option<Sample> {
        None
    }
}

/// The state letter of a `/proc/<pid>/task/<tid>/stat` line: the first
/// field after the command name, which is in parentheses and may itself
/// hold spaces, parentheses or any other bytes (so the last `)` ends it).
#[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
fn state_of(stat: &[u8]) -> Option<u8> {
    let end_of_name = stat.iter().rposition(|&b| b == b')')?;
    let after_name = &stat[end_of_name + 1..];
    after_name
        .iter()
        .copied()
        .find(|b| !b.is_ascii_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_follows_the_command_name_whatever_it_holds() {
        assert_eq!(state_of(b"4242 (werk-worker-0) S 1 2 3"), Some(b'S'));
        assert_eq!(state_of(b"7 (a) b) (c) R 1 2"), Some(b'R'));
        assert_eq!(state_of(b"7 (\xff\xfe) D 1"), Some(b'D'));
        assert_eq!(state_of(b"7 (no state)"), None);
        assert_eq!(state_of(b"garbage"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_spinning_thread_is_runnable_and_uses_cpu_a_sleeping_one_is_not() {
        let watch = Watch::this_thread().unwrap();
        let before = watch.sample().unwrap();
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(20) {
            std::hint::black_box(0);
        }
        let after = watch.sample().unwrap();
        assert!(after.runnable, "a thread looking at itself is running");
        assert!(
            after.ran >= before.ran + Duration::from_millis(5),
            "{before:?} then {after:?}"
        );

        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let sleeper = std::thread::spawn(move || {
            tx.send(Watch::this_thread().unwrap()).unwrap();
            let _ = done_rx.recv();
        });
        let asleep = rx.recv().unwrap();
        let mut seen = asleep.sample().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while seen.runnable && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
            seen = asleep.sample().unwrap();
        }
        assert!(!seen.runnable, "a thread blocked on a channel is asleep");
        done_tx.send(()).unwrap();
        sleeper.join().unwrap();
        assert_eq!(asleep.sample(), None, "an ended thread is gone");
    }
}
