//! A serving child as a supervisor sees it: started on the listening
//! sockets with its link and its standard error followed, and everything
//! that happens to it arriving as [`Event`]s on the supervisor's one
//! channel, beside the supervisor's own (a file changed, a build ended, a
//! stop was asked for).

// Shared by the reloader and `werk run` (the `cli` feature); some parts
// serve the latter only.
#![cfg_attr(not(feature = "cli"), allow(dead_code))]

use std::io;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::Sender;

use crate::procs::link::{self, BuildState, ParentEnd, Report};
use crate::procs::{Children, Program, Stoppable, Tail};

/// How long, after a child ended, its last words may take to arrive.
const LAST_WORDS: Duration = Duration::from_millis(200);

/// What a supervisor waits for.
#[derive(Debug)]
pub(crate) enum Event {
    /// Child `pid` is about to accept connections.
    Ready(u32),
    /// Child `pid` accepts no more connections.
    Stopped(u32),
    /// Child `pid` ended.
    Exited(u32, io::Result<ExitStatus>),
    /// A file the supervisor watches changed.
    Changed(PathBuf, SystemTime),
    /// A build ended (`werk run`).
    #[cfg(feature = "cli")]
    Built(super::cargo::Outcome),
    /// A manifest changed and the packages are now these (`werk run`);
    /// the change itself follows as `Changed`.
    #[cfg(feature = "cli")]
    Layout(super::cargo::Layout),
    /// Ctrl-C or SIGTERM: the children have been told to stop.
    Stop,
}

/// One serving child.
#[derive(Debug)]
pub(crate) struct Served {
    pub pid: u32,
    pub started: Instant,
    link: ParentEnd,
    tail: Tail,
    /// The change a reloader's child reported before it exited, and
    /// whether its link has closed.
    heard: Arc<(Mutex<Heard>, Condvar)>,
}

#[derive(Debug, Default)]
struct Heard {
    changed: Option<SystemTime>,
    closed: bool,
}

impl Served {
    /// Starts `command` (made by `program`, then adjusted by `adjust`)
    /// with a link of its own and its standard error followed; `None` if
    /// the session is ending. Its events go to `events`.
    pub(crate) fn start(
        program: &Program,
        children: &Children,
        generation: u32,
        adjust: impl FnOnce(&mut Command),
        events: &Sender<Event>,
    ) -> io::Result<Option<Served>> {
        let (parent_end, child_end) = link::pair()?;
        let mut command = program.command(Some(child_end))?;
        command
            .env(crate::procs::GENERATION, generation.to_string())
            .stderr(Stdio::piped());
        if crate::server::log::colour_wanted() {
            command.env(crate::server::log::FORCE_COLOUR, "1");
        }
        adjust(&mut command);
        let Some(mut child) = children.spawn(&mut command)? else {
            return Ok(None);
        };
        drop(command);
        let pid = child.id();
        let stderr = child.stderr.take();
        // The waiter first: whatever fails after, the child is reaped.
        let (waiter, to_loop) = (children.clone(), events.clone());
        let waiting = std::thread::Builder::new()
            .name(format!("werk-wait-{pid}"))
            .spawn(move || {
                let status = waiter.wait(child);
                let _ = to_loop.send(Event::Exited(pid, status));
            });
        if let Err(e) = waiting {
            children.signal(pid, crate::sys::process::Signal::Kill);
            return Err(e);
        }
        let heard: Arc<(Mutex<Heard>, Condvar)> = Arc::default();
        let followed = follow(stderr, &parent_end, &heard, events);
        let tail = followed.inspect_err(|_| {
            // Unheard, it could never be handed the sockets.
            children.signal(pid, crate::sys::process::Signal::Kill);
        })?;
        Ok(Some(Served {
            pid,
            started: Instant::now(),
            link: parent_end,
            tail,
            heard,
        }))
    }

    /// Tells the child the build state (for live reload).
    pub(crate) fn tell(&self, state: &BuildState) {
        self.link.send(state);
    }

    /// Tells the child to accept connections.
    pub(crate) fn accept(&self) {
        self.link.accept();
    }

    /// The change the child reported before it ended, once its link has
    /// closed (or a moment has passed).
    pub(crate) fn reported_change(&self) -> Option<SystemTime> {
        let (lock, cvar) = &*self.heard;
        let heard = lock.lock().unwrap_or_else(|e| e.into_inner());
        let (heard, _) = cvar
            .wait_timeout_while(heard, LAST_WORDS, |h| !h.closed)
            .unwrap_or_else(|e| e.into_inner());
        heard.changed
    }

    /// The change the child has reported so far, without waiting.
    pub(crate) fn change_heard(&self) -> Option<SystemTime> {
        self.heard
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .changed
    }

    /// The last lines the child wrote to standard error.
    pub(crate) fn last_lines(&self) -> String {
        self.tail.text(LAST_WORDS)
    }
}

/// Follows a child: its standard error, and its reports on the link.
fn follow(
    stderr: Option<std::process::ChildStderr>,
    link: &ParentEnd,
    heard: &Arc<(Mutex<Heard>, Condvar)>,
    events: &Sender<Event>,
) -> io::Result<Tail> {
    let tail = match stderr {
        Some(pipe) => Tail::follow(pipe)?,
        None => Tail::default(),
    };
    let (to_loop, heard_here, closing) = (events.clone(), heard.clone(), heard.clone());
    link.read_reports(
        move |report| match report {
            Report::Ready(pid) => {
                let _ = to_loop.send(Event::Ready(pid));
            }
            Report::Stopped(pid) => {
                let _ = to_loop.send(Event::Stopped(pid));
            }
            Report::Changed(at) => {
                heard_here
                    .0
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .changed = Some(at)
            }
        },
        move || {
            closing.0.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
            closing.1.notify_all();
        },
    )?;
    Ok(tail)
}

/// What a signal stops in a supervisor: the children get SIGTERM (a
/// second signal, SIGKILL), and the supervisor's loop hears [`Event::Stop`]
/// and ends once they are gone.
#[derive(Debug, Clone)]
pub(crate) struct Stopper {
    pub children: Children,
    pub events: Sender<Event>,
}

impl Stopper {
    /// Makes SIGINT and SIGTERM stop `children` and tell the loop.
    pub(crate) fn install(children: &Children, events: &Sender<Event>) -> io::Result<()> {
        crate::procs::handle_signals(
            false,
            Stopper {
                children: children.clone(),
                events: events.clone(),
            },
        )
    }
}

impl Stoppable for Stopper {
    fn stop(&self, announce: bool) -> bool {
        self.children.stop(announce);
        let _ = self.events.send(Event::Stop);
        true
    }

    fn kill(&self) {
        self.children.kill();
    }

    fn cleanup(&self) {
        self.children.remove_socket_files();
    }
}
