//! `Options::processes(n)` and `werk serve --processes N`: N processes
//! serve the same listening sockets, each with its own worker pool.
//!
//! Werkzeug's `run_simple(processes=N)` is a forking server: it forks a
//! child per accepted connection (`ForkingMixIn`), up to N at a time, the
//! child serves that connection and exits; and it refuses to combine that
//! with `threaded`. werk starts its N processes once, prefork
//! style, and each one is threaded as a single werk server is: every
//! process accepts from the shared sockets and serves keep-alive
//! connections with its own pool. A process is never forked from a running
//! server: each is this program executed again, as the reloader starts its
//! child (see the parent module).
//!
//! The parent binds, prints the banner, starts the children and then only
//! supervises: it forwards SIGINT and SIGTERM (as SIGTERM: each child
//! finishes its requests), waits for every child, and replaces a child that
//! ends while the server is not stopping, after a delay that grows while
//! children keep dying soon after they start.
//!
//! Under the reloader, the reloader's child is this parent: a change stops
//! every process, and the next reloader child starts a new set.

use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Child, ExitStatus};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{Children, Program, Stoppable};
use crate::{App, Options};

/// The wait before replacing a process that ended, doubled for each end in
/// a row that came soon after a start, up to [`MAX_DELAY`]: a process that
/// fails at startup is retried a few times a second at first, then every
/// few seconds, instead of in a loop that spins.
const FIRST_DELAY: Duration = Duration::from_millis(100);
/// The longest wait before replacing a process.
const MAX_DELAY: Duration = Duration::from_secs(5);
/// A process that ran this long was not failing at startup: the wait
/// before its replacement starts again from [`FIRST_DELAY`].
const STABLE: Duration = Duration::from_secs(10);

/// The parent of `options.processes` serving processes: binds, prints the
/// banner, serves nothing itself. Returns the exit status.
pub(crate) fn serve_in_processes(host: &str, port: u16, app: impl App, options: Options) -> i32 {
    let count = options.processes;
    let Some(server) = super::make_server_or_say(host, port, app, options) else {
        return 1;
    };
    server.log_startup();
    let (listeners, created_files) = server.into_listeners();
    let processes = match Processes::new(listeners, created_files, count) {
        Ok(processes) => processes,
        Err(e) => {
            say!(" * Cannot start the server processes: {e}");
            return 1;
        }
    };
    if let Err(e) = super::handle_signals(false, processes.stopper()) {
        say!(" * Cannot start the server processes: {e}");
        processes.children.remove_socket_files();
        return 1;
    }
    processes.supervise()
}

/// One of the processes: serves on the sockets its parent passed until
/// SIGTERM, or until the parent is gone. Returns the exit status.
pub(crate) fn serve(host: &str, port: u16, app: impl App, mut options: Options) -> i32 {
    let Some(parent) = super::take_supervisor() else {
        say!(
            " * {} is set but the process that set it is not this one's parent; exiting",
            super::PROCESS
        );
        return 1;
    };
    options.one_of_processes = true;
    let Some(server) = super::make_server_or_say(host, port, app, options) else {
        return 1;
    };
    // After make_server, which takes the sockets because it is set.
    std::env::remove_var(super::PROCESS);
    let handle = server.handle();
    let started = super::handle_signals(true, handle.clone())
        .and_then(|()| super::watch_parent(Some(parent), handle));
    if let Err(e) = started {
        say!(" * The server process cannot start: {e}");
        return 1;
    }
    match server.serve_forever() {
        Ok(()) => 0,
        Err(e) => {
            say!("{e}");
            1
        }
    }
}

/// What the supervising loop hears about.
#[derive(Debug)]
enum Event {
    /// The child in a slot ended.
    Exited {
        slot: usize,
        pid: u32,
        status: io::Result<ExitStatus>,
    },
    /// A stop began.
    Stop,
}

/// One of the N places for a process.
#[derive(Debug)]
struct Slot {
    /// The running child's process id.
    pid: Option<u32>,
    started: Instant,
    /// Ends in a row, each soon after a start.
    failures: u32,
    /// When to start a child, while none runs.
    start_at: Option<Instant>,
}

/// N serving processes on the same sockets, kept at N until a stop.
#[derive(Debug)]
pub(crate) struct Processes {
    program: Program,
    children: Children,
    count: usize,
    events: mpsc::Sender<Event>,
    heard: mpsc::Receiver<Event>,
}

impl Processes {
    /// `count` processes to serve on `listeners`; `created_files` (Unix
    /// sockets this process created) are removed when they have stopped.
    pub(crate) fn new(
        listeners: Vec<OwnedFd>,
        created_files: Vec<PathBuf>,
        count: usize,
    ) -> io::Result<Processes> {
        let children = Children::new(created_files);
        let program = super::running_exe().and_then(|exe| Program::this(exe, listeners));
        let program = program.inspect_err(|_| children.remove_socket_files())?;
        let (events, heard) = mpsc::channel();
        Ok(Processes {
            program,
            children,
            count,
            events,
            heard,
        })
    }

    /// What stops every process; for the signal thread and, under the
    /// reloader, its watcher.
    pub(crate) fn stopper(&self) -> Stopper {
        Stopper {
            children: self.children.clone(),
            wake: self.events.clone(),
        }
    }

    /// Starts the processes, replaces those that end, and returns (0) when
    /// a stop has ended every one. Call it from the thread that lives as
    /// long as this process (the parent-death signal follows it).
    pub(crate) fn supervise(self) -> i32 {
        let now = Instant::now();
        let mut slots: Vec<Slot> = (0..self.count)
            .map(|_| Slot {
                pid: None,
                started: now,
                failures: 0,
                start_at: Some(now),
            })
            .collect();
        let mut first = true;
        loop {
            if !self.children.is_stopping() {
                for (i, slot) in slots.iter_mut().enumerate() {
                    if slot.start_at.is_some_and(|at| at <= Instant::now()) {
                        self.start(i, slot, first);
                    }
                }
                if first {
                    let pids: Vec<String> = slots
                        .iter()
                        .flat_map(|s| s.pid)
                        .map(|p| p.to_string())
                        .collect();
                    if !pids.is_empty() {
                        say!(
                            " * Serving with {} processes (pids {})",
                            self.count,
                            pids.join(", ")
                        );
                    }
                    first = false;
                }
            }
            let stopping = self.children.is_stopping();
            if stopping && slots.iter().all(|s| s.pid.is_none()) {
                break;
            }
            // Stopping, only the ends of the running ones matter.
            let next = slots
                .iter()
                .filter_map(|s| s.start_at)
                .min()
                .filter(|_| !stopping);
            let event = match next {
                Some(at) => self
                    .heard
                    .recv_timeout(at.saturating_duration_since(Instant::now()))
                    .ok(),
                None => self.heard.recv().ok(),
            };
            if let Some(Event::Exited { slot, pid, status }) = event {
                self.ended(slot, &mut slots[slot], pid, status);
            }
        }
        self.children.remove_socket_files();
        0
    }

    /// Starts the child for slot `i`, or schedules another try.
    fn start(&self, i: usize, slot: &mut Slot, first: bool) {
        slot.start_at = None;
        match self.spawn(i) {
            Ok(Some(pid)) => {
                slot.pid = Some(pid);
                slot.started = Instant::now();
                if !first {
                    say!(" * Started server process {} again: pid {pid}", i + 1);
                }
            }
            Ok(None) => {}
            Err(e) => {
                let delay = backoff(slot);
                say!(
                    " * Cannot start server process {}: {e}; trying again in {}",
                    i + 1,
                    human(delay)
                );
                slot.start_at = Some(Instant::now() + delay);
            }
        }
    }

    /// Starts a child for slot `i` and a thread that waits for it; its
    /// process id, or `None` if a stop has begun. The thread comes first,
    /// so a child never runs without one.
    fn spawn(&self, i: usize) -> io::Result<Option<u32>> {
        let (give, take) = mpsc::channel::<Child>();
        let children = self.children.clone();
        let events = self.events.clone();
        std::thread::Builder::new()
            .name(format!("werk-wait-{}", i + 1))
            .spawn(move || {
                if let Ok(child) = take.recv() {
                    let pid = child.id();
                    let status = children.wait(child);
                    let _ = events.send(Event::Exited {
                        slot: i,
                        pid,
                        status,
                    });
                }
            })?;
        let mut command = self.program.command(None)?;
        command.env(super::PROCESS, (i + 1).to_string());
        let Some(child) = self.children.spawn(&mut command)? else {
            return Ok(None);
        };
        let pid = child.id();
        let _ = give.send(child);
        Ok(Some(pid))
    }

    /// The child in slot `i` ended: unless the server is stopping, says how
    /// and schedules its replacement.
    fn ended(&self, i: usize, slot: &mut Slot, pid: u32, status: io::Result<ExitStatus>) {
        slot.pid = None;
        if self.children.is_stopping() {
            return;
        }
        if slot.started.elapsed() >= STABLE {
            slot.failures = 0;
        }
        let delay = backoff(slot);
        let how = match status {
            Ok(status) => super::describe(status),
            Err(e) => format!("could not be waited for ({e})"),
        };
        say!(
            " * Server process {} (pid {pid}) {how}; starting another in {}",
            i + 1,
            human(delay)
        );
        slot.start_at = Some(Instant::now() + delay);
    }
}

/// The wait before the next start in `slot`, counting this failure.
fn backoff(slot: &mut Slot) -> Duration {
    let delay = FIRST_DELAY
        .saturating_mul(1 << slot.failures.min(16))
        .min(MAX_DELAY);
    slot.failures = slot.failures.saturating_add(1);
    delay
}

/// "100 ms", "1.6 s".
fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Stops every process (see [`Processes::stopper`]); cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Stopper {
    children: Children,
    wake: mpsc::Sender<Event>,
}

impl Stoppable for Stopper {
    fn stop(&self, announce: bool) -> bool {
        let running = self.children.stop(announce);
        // The supervising loop may be waiting to replace a process.
        let _ = self.wake.send(Event::Stop);
        running
    }

    fn kill(&self) {
        self.children.kill();
    }

    fn cleanup(&self) {
        self.children.cleanup();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_grows_and_is_bounded() {
        let mut slot = Slot {
            pid: None,
            started: Instant::now(),
            failures: 0,
            start_at: None,
        };
        let waits: Vec<Duration> = (0..12).map(|_| backoff(&mut slot)).collect();
        assert_eq!(waits[0], FIRST_DELAY);
        assert_eq!(waits[1], FIRST_DELAY * 2);
        assert!(waits.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*waits.last().unwrap(), MAX_DELAY);
    }

    #[test]
    fn waits_read_well() {
        assert_eq!(human(Duration::from_millis(100)), "100 ms");
        assert_eq!(human(Duration::from_millis(1600)), "1.6 s");
    }
}
