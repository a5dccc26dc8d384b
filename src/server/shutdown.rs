//! When the server began to stop, and what that leaves a request in
//! flight. Every thread of the server and every exchange holds it, so a
//! body read that started before the shutdown still learns when to give
//! up.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The margin kept before the grace ends for the server to answer a body
/// that did not arrive (408), rather than close in silence.
const LAST_READS: Duration = Duration::from_millis(250);

#[derive(Debug)]
pub(crate) struct Shutdown {
    began: OnceLock<Instant>,
    /// How long in-flight requests may run once it began.
    grace: Duration,
}

impl Shutdown {
    pub(crate) fn new(grace: Duration) -> Shutdown {
        Shutdown {
            began: OnceLock::new(),
            grace,
        }
    }

    /// Marks the start of the shutdown; true the first time only.
    pub(crate) fn begin(&self) -> bool {
        self.began.set(Instant::now()).is_ok()
    }

    pub(crate) fn has_begun(&self) -> bool {
        self.began.get().is_some()
    }

    /// Until when in-flight requests may run: the grace after the
    /// shutdown began (after now, if it has not).
    pub(crate) fn deadline(&self) -> Instant {
        self.began.get().copied().unwrap_or_else(Instant::now) + self.grace
    }

    /// Until when a request body may still be read, once the shutdown has
    /// begun: [`LAST_READS`] before the deadline (half the grace, if it is
    /// shorter than twice that), so that a client that stopped sending
    /// gets its 408 before the process ends.
    pub(crate) fn body_reads_until(&self) -> Option<Instant> {
        let began = self.began.get()?;
        Some(*began + self.grace.saturating_sub(LAST_READS).max(self.grace / 2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn begins_once_and_bounds_body_reads_by_the_grace() {
        let shutdown = Shutdown::new(Duration::from_secs(2));
        assert!(!shutdown.has_begun());
        assert_eq!(shutdown.body_reads_until(), None);
        assert!(shutdown.begin());
        let began = shutdown.began.get().copied().unwrap();
        assert!(!shutdown.begin(), "a second call changes nothing");
        assert_eq!(shutdown.began.get().copied(), Some(began));
        assert_eq!(shutdown.deadline(), began + Duration::from_secs(2));
        assert_eq!(
            shutdown.body_reads_until(),
            Some(began + Duration::from_millis(1750))
        );
    }

    #[test]
    fn a_short_grace_leaves_body_reads_half_of_it() {
        let shutdown = Shutdown::new(Duration::from_millis(300));
        shutdown.begin();
        let began = shutdown.began.get().copied().unwrap();
        assert_eq!(
            shutdown.body_reads_until(),
            Some(began + Duration::from_millis(150))
        );
    }
}
