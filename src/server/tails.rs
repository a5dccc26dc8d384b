//! The thread that sends a streamed chunk's kept-back tail when the next
//! chunk is late.
//!
//! A chunk of a streamed body that would end in a small partial TCP
//! segment leaves those bytes in the exchange's buffer
//! ([`State::put_streamed`](super::exchange::State::put_streamed)), so
//! that they go out with the next chunk in whole segments: on loopback a
//! 64 KiB chunk is otherwise a full segment and a 53-byte one, and the
//! kernel's work goes by segments. PEP 3333 ("Buffering and Streaming")
//! does not let a server sit on a block while the application produces
//! the next, unless another thread keeps it moving; this is that thread.
//! A tail that has waited [`PATIENCE`] is sent from here, as far as the
//! socket has room, and the rest as room comes, at each look (the
//! worker may be in the app for long); that response keeps no more tails.
//! An app reading its request body sends a waiting tail first
//! (`State::read_body`): the read holds the exchange.
//!
//! The thread starts when a tail first waits and ends after [`IDLE`]
//! with none: a server that streams nothing has no such thread.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use super::exchange::Exchange;

/// How long a tail may wait for the next chunk before this thread sends
/// it; it looks this often.
pub(crate) const PATIENCE: Duration = Duration::from_millis(1);

/// How long the thread lives on with nothing to watch, so that a series
/// of streamed responses does not start one thread each.
const IDLE: Duration = Duration::from_millis(50);

/// The exchanges whose tails wait, and whether the thread runs.
#[derive(Debug, Default)]
pub(crate) struct Tails {
    watched: Arc<Mutex<Watched>>,
}

#[derive(Debug, Default)]
struct Watched {
    /// Exchanges handed over since the thread last looked.
    new: Vec<Weak<Exchange>>,
    running: bool,
}

impl Tails {
    /// Watches `exchange`, whose tail now waits, until nothing waits there;
    /// false if the thread cannot be started (the caller sends the tail
    /// at once). Called once per stretch of waiting tails, not per chunk.
    pub(crate) fn watch(&self, exchange: &Arc<Exchange>) -> bool {
        let mut watched = lock(&self.watched);
        if !watched.running {
            let shared = self.watched.clone();
            let started = std::thread::Builder::new()
                .name("werk-tails".into())
                .spawn(move || send_late_tails(&shared));
            if started.is_err() {
                return false;
            }
            watched.running = true;
        }
        watched.new.push(Arc::downgrade(exchange));
        true
    }
}

/// The thread: every [`PATIENCE`], sends the tails that have waited that
/// long, and forgets the exchanges where nothing waits any more.
fn send_late_tails(watched: &Mutex<Watched>) {
    let mut mine: Vec<Weak<Exchange>> = Vec::new();
    let mut idle_since = Instant::now();
    loop {
        std::thread::sleep(PATIENCE);
        mine.append(&mut lock(watched).new);
        let now = Instant::now();
        mine.retain(|weak| {
            weak.upgrade()
                .is_some_and(|exchange| exchange.send_late_tail(now, PATIENCE))
        });
        if !mine.is_empty() {
            idle_since = now;
            continue;
        }
        let mut watched = lock(watched);
        if watched.new.is_empty() && now.duration_since(idle_since) >= IDLE {
            watched.running = false;
            return;
        }
    }
}

fn lock(watched: &Mutex<Watched>) -> MutexGuard<'_, Watched> {
    watched.lock().unwrap_or_else(|e| e.into_inner())
}
