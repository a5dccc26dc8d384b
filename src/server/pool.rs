//! The worker pool: threads that take connections from a crossbeam
//! channel and serve them.
//!
//! `threads` workers always run. When a connection is queued and no
//! worker is idle (all are busy with slow clients or long streaming
//! responses), another worker starts, up to `max_threads`; such extra
//! workers end after a while without work. Idle keep-alive connections
//! never hold a worker: they wait in the parker.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use super::conn::Conn;
use super::Shared;

/// How long an extra worker waits for work before it ends.
const EXTRA_IDLE: Duration = Duration::from_secs(10);

/// Workers and the queue that feeds them.
#[derive(Debug)]
pub(crate) struct Pool {
    tx: Sender<Conn>,
    rx: Receiver<Conn>,
    /// Closed (dropped) at shutdown, which wakes every idle worker.
    stop_tx: Mutex<Option<Sender<()>>>,
    stop_rx: Receiver<()>,
    idle: AtomicUsize,
    running: AtomicUsize,
    spawned: AtomicUsize,
    min: usize,
    max: usize,
    handles: Mutex<Vec<JoinHandle<()>>>,
}

impl Pool {
    pub(crate) fn new(min: usize, max: usize) -> Pool {
        let (tx, rx) = crossbeam_channel::unbounded();
        let (stop_tx, stop_rx) = crossbeam_channel::bounded(0);
        Pool {
            tx,
            rx,
            stop_tx: Mutex::new(Some(stop_tx)),
            stop_rx,
            idle: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            spawned: AtomicUsize::new(0),
            min: min.max(1),
            max: max.max(min.max(1)),
            handles: Mutex::new(Vec::new()),
        }
    }

    /// Starts the workers that always run.
    pub(crate) fn start(&self, shared: &Arc<Shared>) {
        for _ in 0..self.min {
            self.spawn(shared, false);
        }
    }

    /// Queues a connection that has something to read.
    pub(crate) fn submit(&self, conn: Conn, shared: &Arc<Shared>) {
        if self.tx.send(conn).is_err() {
            return;
        }
        if self.idle.load(Ordering::SeqCst) == 0 && self.running.load(Ordering::SeqCst) < self.max {
            self.spawn(shared, true);
        }
    }

    /// True when no connection waits for a worker.
    pub(crate) fn is_quiet(&self) -> bool {
        self.tx.is_empty()
    }

    /// Workers running now.
    pub(crate) fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    fn spawn(&self, shared: &Arc<Shared>, extra: bool) {
        self.running.fetch_add(1, Ordering::SeqCst);
        let n = self.spawned.fetch_add(1, Ordering::SeqCst);
        let shared_for_worker = shared.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("werk-worker-{n}"))
            .spawn(move || work(&shared_for_worker, extra));
        match spawned {
            Ok(handle) => {
                let mut handles = self.lock_handles();
                handles.retain(|h| !h.is_finished());
                handles.push(handle);
            }
            Err(e) => {
                self.running.fetch_sub(1, Ordering::SeqCst);
                shared
                    .log
                    .error(&format!(" * Could not start a worker thread: {e}"));
            }
        }
    }

    /// Wakes idle workers and lets them finish: each serves what is
    /// already queued, then ends.
    pub(crate) fn stop(&self) {
        self.stop_tx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }

    /// Waits for the workers, up to `grace`; false if some are still
    /// busy when it runs out.
    pub(crate) fn join(&self, grace: Duration) -> bool {
        let deadline = std::time::Instant::now() + grace;
        while self.running() > 0 {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        for handle in self.lock_handles().drain(..) {
            let _ = handle.join();
        }
        true
    }

    fn lock_handles(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.handles.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A worker's loop: take a connection, serve it, repeat.
fn work(shared: &Arc<Shared>, extra: bool) {
    let pool = &shared.pool;
    loop {
        pool.idle.fetch_add(1, Ordering::SeqCst);
        let next = if extra {
            crossbeam_channel::select! {
                recv(pool.rx) -> conn => conn.ok(),
                recv(pool.stop_rx) -> _ => None,
                default(EXTRA_IDLE) => None,
            }
        } else {
            crossbeam_channel::select! {
                recv(pool.rx) -> conn => conn.ok(),
                recv(pool.stop_rx) -> _ => None,
            }
        };
        pool.idle.fetch_sub(1, Ordering::SeqCst);
        match next {
            Some(conn) => super::handler::serve(conn, shared),
            None => break,
        }
    }
    if shared.is_shutting_down() {
        // Connections accepted before the shutdown still get their answer.
        while let Ok(conn) = pool.rx.try_recv() {
            super::handler::serve(conn, shared);
        }
    }
    pool.running.fetch_sub(1, Ordering::SeqCst);
}
