//! The worker pool: threads that serve connections, taken from the
//! parker's readiness set (readable parked connections, and listeners with
//! new connections, which the worker accepts) or from a crossbeam channel
//! (the extra connections of an accept, queued for any worker).
//!
//! `threads` workers always run. When connections wait and no worker has
//! taken or accepted one for a few milliseconds (all are held by slow
//! clients, slow apps or long streaming responses), more workers start,
//! up to `max_threads`; such extra workers end after a while without work.
//! A pool that is merely busy with quick requests does not grow: more
//! threads would not add CPU. Nor does a pool whose busy workers other
//! programs keep from the CPU (a build on the same cores): on Linux the
//! pool looks at its workers first (`sys/sched.rs`), and grows only if
//! one is asleep in its request or computing; more workers would only
//! share the same CPU. For the same reason an extra worker ends when
//! the workers only take turns on the CPU (each runnable, with under
//! half of it), as a steady load of quick requests after slow ones
//! would otherwise keep them all busy, and alive, for as long as it
//! lasts.
//!
//! Idle keep-alive connections never hold a worker: they wait in the
//! parker, and an idle worker waits on the parker's readiness set and on
//! this channel at once (a connection queued on the channel wakes it
//! through the parker's wake-up).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::conn::Conn;
use super::Shared;
use crate::sys::sched::{Sample, Watch};

/// How long an extra worker waits for work before it ends.
const EXTRA_IDLE: Duration = Duration::from_secs(10);

/// How long an idle worker waits for readiness before it looks at the
/// queue and the shutdown flag again (both also wake it at once).
const WAIT_SLICE: Duration = Duration::from_millis(100);

/// Workers started at most per check: enough that a crowd of slow
/// requests soon has its threads, few enough that a burst of new
/// connections being accepted cannot start hundreds at once.
const GROW_AT_ONCE: usize = 8;

/// How long queued connections may wait with no worker taking any before
/// the pool grows.
pub(crate) const STUCK_AFTER: Duration = Duration::from_millis(5);

/// Workers and the queue that feeds them.
#[derive(Debug)]
pub(crate) struct Pool {
    tx: Sender<Conn>,
    rx: Receiver<Conn>,
    idle: AtomicUsize,
    /// Workers inside [`super::park::Parker::take_ready`] (or about to be).
    in_wait: AtomicUsize,
    running: AtomicUsize,
    spawned: AtomicUsize,
    min: usize,
    max: usize,
    handles: Mutex<Vec<JoinHandle<()>>>,
    /// Connections taken by workers so far: counted on the hot path, where
    /// reading the clock would cost more.
    takes: AtomicU64,
    /// What [`Pool::grow_if_stuck`] saw last.
    progress: Mutex<Progress>,
    /// The running workers, where the kernel lets them be looked at,
    /// with the count of connections each took: what tells a held pool
    /// from a starved one, and workers taking turns from one stuck in a
    /// request.
    watches: Mutex<Vec<(Watch, Arc<AtomicU64>)>>,
    /// The look [`Pool::shrink_if_taking_turns`] took at its last run, and
    /// when.
    last_look: Mutex<Option<(Instant, Look)>>,
    /// Extra workers asked to end.
    retire: AtomicUsize,
    /// Signalled when a worker ends, and at shutdown when one stops
    /// waiting for readiness: what [`Pool::wait_until`] waits for.
    left: (Mutex<()>, Condvar),
}

impl Pool {
    pub(crate) fn new(min: usize, max: usize) -> Pool {
        let (tx, rx) = crossbeam_channel::unbounded();
        Pool {
            tx,
            rx,
            idle: AtomicUsize::new(0),
            in_wait: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            spawned: AtomicUsize::new(0),
            min: min.max(1),
            max: max.max(min.max(1)),
            handles: Mutex::new(Vec::new()),
            takes: AtomicU64::new(0),
            progress: Mutex::new(Progress::at(0)),
            watches: Mutex::new(Vec::new()),
            last_look: Mutex::new(None),
            retire: AtomicUsize::new(0),
            left: (Mutex::new(()), Condvar::new()),
        }
    }

    /// Starts the workers that always run.
    pub(crate) fn start(&self, shared: &Arc<Shared>) {
        for _ in 0..self.min {
            self.spawn(shared, false);
        }
    }

    /// Queues a new connection for any worker. The caller wakes one (once
    /// for several); whether the pool must grow is the parker thread's
    /// call, made when queued connections stop being taken.
    pub(crate) fn queue(&self, conn: Conn) {
        let _ = self.tx.send(conn);
    }

    /// The connections still queued (after the workers stopped).
    pub(crate) fn take_queued(&self) -> Vec<Conn> {
        self.rx.try_iter().collect()
    }

    /// Workers waiting on the readiness queue now.
    pub(crate) fn waiting_for_ready(&self) -> usize {
        self.in_wait.load(Ordering::SeqCst)
    }

    /// Starts extra workers if connections wait (queued, parked and
    /// perhaps readable, or not accepted yet) while no worker is idle and
    /// none has taken or accepted a connection for [`STUCK_AFTER`]: one
    /// per queued connection (at least one, at most [`GROW_AT_ONCE`]), up
    /// to the limit, unless the workers were starved of CPU rather than
    /// held (see [`Pool::kept_from_cpu`]). Says when to check again.
    pub(crate) fn grow_if_stuck(&self, shared: &Arc<Shared>) -> Next {
        if self.idle.load(Ordering::SeqCst) > 0 {
            return Next::Sweep;
        }
        let takes = self.takes.load(Ordering::Relaxed);
        let mut progress = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        if progress.takes != takes {
            // Progress since the last check: the common case under load,
            // settled without a lock on the parker or a system call.
            *progress = Progress::at(takes);
            return Next::Soon;
        }
        let waiting = self.tx.len();
        // Parked connections may be readable with no worker free to take
        // them (the readiness queue cannot be counted without taking it);
        // with every worker busy, new ones wait on the listeners.
        let parked = shared.parker.len();
        if waiting == 0 && parked == 0 && !shared.parker.connections_pending() {
            // Nothing waits yet, but no worker would take a client that
            // comes now: look again when one does.
            return Next::OnArrival;
        }
        let idle = self.idle.load(Ordering::SeqCst);
        let since_take = progress.since.elapsed();
        let start = workers_to_start(waiting, idle, since_take, self.running(), self.max);
        if start == 0 || self.kept_from_cpu(&mut progress) {
            return Next::Soon;
        }
        drop(progress);
        self.retire.store(0, Ordering::SeqCst);
        *self.lock_last_look() = None;
        for _ in 0..start {
            self.spawn(shared, true);
        }
        self.note_take();
        Next::Soon
    }

    /// Whether workers that took nothing for [`STUCK_AFTER`] were kept
    /// from the CPU by other work rather than held by their requests
    /// (see [`starved`]), judged against the first look at them since the
    /// last take. Where workers cannot be looked at, no: the pool grows
    /// at once, as a stuck pool must.
    fn kept_from_cpu(&self, progress: &mut Progress) -> bool {
        let Some(now) = self.look_at_workers(false) else {
            return false;
        };
        let first = progress.first_look.get_or_insert_with(|| now.clone());
        starved(first, &now)
    }

    /// Asks one extra worker to end when the workers took turns on the
    /// CPU since the last run (see [`taking_turns`]): there are more
    /// workers than the CPU runs, and each turn lengthens a request's
    /// wait. Slow requests make the pool grow; a steady load of quick
    /// ones afterwards would otherwise keep every extra worker
    /// busy, and alive, for as long as it lasts. A worker held by its
    /// request (asleep in the app, say) keeps them all. Run by the parker
    /// thread at each sweep.
    pub(crate) fn shrink_if_taking_turns(&self) {
        let mut last = self.lock_last_look();
        if self.running() <= self.min {
            *last = None;
            self.retire.store(0, Ordering::SeqCst);
            return;
        }
        // A pool held by slow clients is often large: the first worker
        // found asleep settles it.
        let Some(now) = self.look_at_workers(true) else {
            *last = None;
            self.retire.store(0, Ordering::SeqCst);
            return;
        };
        let Some((at, before)) = last.replace((Instant::now(), now)) else {
            return;
        };
        let (_, now) = last.as_ref().expect("just set");
        // One at a time; a request no extra worker took up is withdrawn
        // once the workers stop taking turns.
        let ask = usize::from(taking_turns(&before, now, at.elapsed()));
        self.retire.store(ask, Ordering::SeqCst);
    }

    /// True for the extra worker that takes up a request to end.
    fn take_retirement(&self) -> bool {
        self.retire
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// A look at each running worker, with the connections it has taken;
    /// `None` if none can be looked at, or with `until_asleep` as soon as
    /// one is asleep.
    fn look_at_workers(&self, until_asleep: bool) -> Option<Look> {
        let watches = self.lock_watches().clone();
        let mut look = Vec::with_capacity(watches.len());
        for (watch, taken) in watches {
            match watch.sample() {
                Some(seen) if until_asleep && !seen.runnable => return None,
                Some(seen) => look.push((watch, seen, taken.load(Ordering::Relaxed))),
                None => {}
            }
        }
        (!look.is_empty()).then_some(look)
    }

    fn lock_last_look(&self) -> std::sync::MutexGuard<'_, Option<(Instant, Look)>> {
        self.last_look.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a connection taken (or accepted) by a worker: the pool is
    /// making progress.
    pub(crate) fn note_take(&self) {
        self.takes.fetch_add(1, Ordering::Relaxed);
    }

    /// True when another worker is idle and no connection waits for one
    /// (new, or parked and reported readable): anything else that becomes
    /// ready will be taken without us.
    pub(crate) fn is_quiet(&self, shared: &Shared) -> bool {
        self.idle.load(Ordering::SeqCst) > 0 && self.tx.is_empty() && shared.parker.none_reported()
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

    /// Waits for the workers, up to `grace`; false if some are still
    /// busy when it runs out.
    pub(crate) fn join(&self, grace: Duration) -> bool {
        if !self.wait_until(Instant::now() + grace, |pool| pool.running() == 0) {
            return false;
        }
        for handle in self.lock_handles().drain(..) {
            let _ = handle.join();
        }
        true
    }

    /// Waits until `done` holds or `deadline` passes; true if it holds.
    /// `done` is checked again each time a worker ends, or stops waiting
    /// for readiness at shutdown.
    pub(crate) fn wait_until(&self, deadline: Instant, done: impl Fn(&Pool) -> bool) -> bool {
        let mut guard = self.left.0.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if done(self) {
                return true;
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            guard = match self.left.1.wait_timeout(guard, left) {
                Ok((guard, _)) => guard,
                Err(e) => e.into_inner().0,
            };
        }
    }

    /// Wakes [`Pool::wait_until`]; called after the count it waits on
    /// changed, under its lock so the waiter cannot miss it.
    fn signal_left(&self) {
        let _guard = self.left.0.lock().unwrap_or_else(|e| e.into_inner());
        self.left.1.notify_all();
    }

    fn lock_watches(&self) -> std::sync::MutexGuard<'_, Vec<(Watch, Arc<AtomicU64>)>> {
        self.watches.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_handles(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.handles.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A worker's loop: take a new connection from the queue or a readable
/// parked one, serve it, repeat.
fn work(shared: &Arc<Shared>, extra: bool) {
    let pool = &shared.pool;
    let watch = Watch::this_thread();
    let taken = Arc::new(AtomicU64::new(0));
    if let Some(watch) = watch {
        pool.lock_watches().push((watch, taken.clone()));
    }
    let mut last_work = Instant::now();
    loop {
        let job = if let Ok(conn) = pool.rx.try_recv() {
            if !pool.rx.is_empty() {
                // More are queued: let another idle worker see them.
                shared.parker.wake();
            }
            Job::Queued(conn)
        } else {
            // Counted before the shutdown check, so that the parker, which
            // checks the count after the flag is set, never misses a waiter.
            pool.in_wait.fetch_add(1, Ordering::SeqCst);
            if shared.is_shutting_down() || (extra && last_work.elapsed() >= EXTRA_IDLE) {
                pool.in_wait.fetch_sub(1, Ordering::SeqCst);
                pool.signal_left();
                break;
            }
            pool.idle.fetch_add(1, Ordering::SeqCst);
            let ready = shared.parker.take_ready(WAIT_SLICE, || {
                if pool.idle.load(Ordering::SeqCst) > 1 {
                    shared.parker.wake();
                }
            });
            pool.idle.fetch_sub(1, Ordering::SeqCst);
            pool.in_wait.fetch_sub(1, Ordering::SeqCst);
            if shared.is_shutting_down() {
                pool.signal_left();
            }
            match ready {
                Some(ready) => Job::Ready(ready),
                None => continue,
            }
        };
        pool.note_take();
        taken.fetch_add(1, Ordering::Relaxed);
        match job {
            Job::Queued(conn) => super::handler::serve(conn, shared),
            Job::Ready(ready) => super::park::serve_ready(ready, shared),
        }
        if extra {
            if pool.take_retirement() {
                break;
            }
            last_work = Instant::now();
        }
    }
    if shared.is_shutting_down() {
        // Connections accepted before the shutdown still get their answer.
        while let Ok(conn) = pool.rx.try_recv() {
            super::handler::serve(conn, shared);
        }
    }
    if let Some(watch) = watch {
        pool.lock_watches().retain(|(w, _)| *w != watch);
    }
    pool.running.fetch_sub(1, Ordering::SeqCst);
    pool.signal_left();
}

/// What a worker serves next.
enum Job {
    /// A new connection from the queue.
    Queued(Conn),
    /// A parked connection that became readable, or a listener.
    Ready(super::park::Ready),
}

/// When the parker thread runs [`Pool::grow_if_stuck`] again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// At its next sweep: a worker is idle, and takes whatever becomes
    /// ready, so a server at rest is not woken every few milliseconds.
    Sweep,
    /// After [`STUCK_AFTER`]: every worker is busy and connections wait.
    Soon,
    /// When a client connects (or at the next sweep): every worker is
    /// busy (held by slow requests, say) and nothing waits yet. Waiting
    /// on the listeners, rather than looking every few milliseconds,
    /// costs nothing while long requests run, and the newcomer does not
    /// wait for a sweep.
    OnArrival,
}

/// What each worker was doing, and how many connections it had taken.
type Look = Vec<(Watch, Sample, u64)>;

/// What the growth check remembers from one run to the next.
#[derive(Debug)]
struct Progress {
    /// The count of takes last seen, and since when.
    takes: u64,
    since: Instant,
    /// The first look at the workers once the pool has gone
    /// [`STUCK_AFTER`] without a take.
    first_look: Option<Look>,
}

impl Progress {
    fn at(takes: u64) -> Progress {
        Progress {
            takes,
            since: Instant::now(),
            first_look: None,
        }
    }
}

/// CPU time that a worker which took no connection must have had since
/// the first look to count as held by its request (computing a long
/// answer, say): a starved worker that gets the CPU takes a connection
/// within microseconds.
const HELD_CPU: Duration = Duration::from_millis(1);

/// Whether no worker in `now` is held by its request, though some are
/// busy: each is runnable (on a CPU or waiting for one) and has had less
/// than [`HELD_CPU`] since `first`. A worker asleep now (in the app, on a
/// slow client) is held, and one such worker is reason enough to grow.
/// False when `now` is empty.
fn starved<W: PartialEq>(first: &[(W, Sample, u64)], now: &[(W, Sample, u64)]) -> bool {
    let held = |(worker, seen, _): &(W, Sample, u64)| {
        let earlier = first.iter().find(|(w, _, _)| w == worker);
        let ran = earlier.map_or(Duration::ZERO, |(_, e, _)| seen.ran.saturating_sub(e.ran));
        !seen.runnable || ran >= HELD_CPU
    };
    !now.is_empty() && !now.iter().any(held)
}

/// Whether the workers took turns on the CPU between `before` and `now`,
/// `elapsed` apart: each was runnable at both looks, took a connection
/// in between (one held by a long request is not taking turns) and had
/// less than half of that time. False when no worker is in both looks.
fn taking_turns<W: PartialEq>(
    before: &[(W, Sample, u64)],
    now: &[(W, Sample, u64)],
    elapsed: Duration,
) -> bool {
    let mut compared = 0;
    for (worker, seen, takes) in now {
        let Some((_, earlier, took)) = before.iter().find(|(w, _, _)| w == worker) else {
            continue;
        };
        compared += 1;
        let ran = seen.ran.saturating_sub(earlier.ran);
        let turns = earlier.runnable && seen.runnable && takes > took && ran < elapsed / 2;
        if !turns {
            return false;
        }
    }
    compared > 0
}

/// How many extra workers to start: none while a worker is idle or one
/// took a connection within [`STUCK_AFTER`]; otherwise one per queued
/// connection (at least one, at most [`GROW_AT_ONCE`]), within the room
/// `max` leaves.
fn workers_to_start(
    queued: usize,
    idle: usize,
    since_take: Duration,
    running: usize,
    max: usize,
) -> usize {
    if idle > 0 || since_take < STUCK_AFTER {
        return 0;
    }
    let room = max.saturating_sub(running);
    queued.clamp(1, GROW_AT_ONCE).min(room)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STUCK: Duration = STUCK_AFTER;

    #[test]
    fn a_pool_with_an_idle_worker_or_recent_progress_does_not_grow() {
        assert_eq!(workers_to_start(5, 1, STUCK * 10, 4, 64), 0);
        assert_eq!(workers_to_start(5, 0, STUCK / 2, 4, 64), 0);
    }

    #[test]
    fn a_stuck_pool_grows_by_the_queue_within_bounds() {
        // Nothing queued: readable parked connections or pending accepts.
        assert_eq!(workers_to_start(0, 0, STUCK, 4, 64), 1);
        assert_eq!(workers_to_start(3, 0, STUCK, 4, 64), 3);
        assert_eq!(workers_to_start(100, 0, STUCK, 4, 64), GROW_AT_ONCE);
        assert_eq!(workers_to_start(100, 0, STUCK, 61, 64), 3);
        assert_eq!(workers_to_start(100, 0, STUCK, 64, 64), 0);
    }

    fn look(ran_ms: u64, runnable: bool) -> Sample {
        let ran = Duration::from_millis(ran_ms);
        Sample { ran, runnable }
    }

    #[test]
    fn a_pool_is_starved_when_its_busy_workers_are_runnable_and_get_no_cpu() {
        let first = [(1, look(100, true), 0), (2, look(100, true), 0)];
        // At the first look, runnable workers are not told held yet.
        assert!(starved(&first, &first));
        assert!(starved(
            &first,
            &[(1, look(100, true), 0), (2, look(100, true), 0)]
        ));
        // One that computed since (a long answer) is held.
        assert!(!starved(
            &first,
            &[(1, look(100, true), 0), (2, look(102, true), 0)]
        ));
        // One asleep (in the app, say) is held, from the first look on.
        let asleep = [(1, look(100, true), 0), (2, look(100, false), 0)];
        assert!(!starved(&asleep, &asleep));
        // A worker started since is compared with nothing: runnable, it is
        // not held; nothing to look at, nothing is known.
        assert!(starved(
            &first,
            &[(1, look(100, true), 0), (3, look(50, true), 0)]
        ));
        assert!(!starved(&first, &[]));
    }

    #[test]
    fn workers_take_turns_when_each_took_connections_with_under_half_the_cpu() {
        let hundred = Duration::from_millis(100);
        let at = |tid, ms, runnable, takes| (tid, look(ms, runnable), takes);
        let before = [at(1, 1000, true, 10), at(2, 1000, true, 10)];
        let turns = [at(1, 1030, true, 500), at(2, 1040, true, 600)];
        assert!(taking_turns(&before, &turns, hundred));
        // One that had most of the CPU, slept at a look, or took nothing
        // (held by one long request) stops it.
        let most = [at(1, 1060, true, 500), at(2, 1030, true, 600)];
        assert!(!taking_turns(&before, &most, hundred));
        let slept = [at(1, 1030, true, 500), at(2, 1000, false, 600)];
        assert!(!taking_turns(&before, &slept, hundred));
        let held = [at(1, 1045, true, 10), at(2, 1045, true, 900)];
        assert!(!taking_turns(&before, &held, hundred));
        assert!(!taking_turns(&before, &[at(3, 0, true, 1)], hundred));
    }

    #[test]
    fn wait_until_wakes_when_a_worker_leaves() {
        let pool = Arc::new(Pool::new(1, 1));
        pool.running.store(1, Ordering::SeqCst);
        let leaving = pool.clone();
        let worker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            leaving.running.fetch_sub(1, Ordering::SeqCst);
            leaving.signal_left();
        });
        // Woken by the signal, well before the deadline: a missed signal
        // would return only at the deadline.
        let deadline = Instant::now() + Duration::from_secs(20);
        assert!(pool.wait_until(deadline, |p| p.running() == 0));
        assert!(Instant::now() < deadline, "woken by the worker leaving");
        worker.join().unwrap();
        let soon = Instant::now() + Duration::from_millis(20);
        pool.running.store(1, Ordering::SeqCst);
        assert!(!pool.wait_until(soon, |p| p.running() == 0));
    }
}
