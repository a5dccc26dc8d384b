//! The link between a werk parent (the reloader's supervisor, `werk run`)
//! and a child it started to serve: a Unix socket pair, whose child end
//! sits at a fixed descriptor named by `WERK_LINK_FD`.
//!
//! ```text
//!  parent                                child
//!  ◄──── ready PID ─────────────────────  about to accept on the sockets
//!  ───── accept ───────────────────────►  (werk run) go ahead: no other
//!                                         process accepts any more
//!  ◄──── stopped PID ───────────────────  it accepts no more (shutting down)
//!  ◄──── changed MICROS ────────────────  (reloader) a watched file changed
//!  ───── state building ───────────────►  the build state, which live
//!  ───── state ok ─────────────────────►  reload shows in open pages
//!  ───── state failed LEN\n<LEN bytes> ─►
//! ```
//!
//! `werk run` hands the sockets over: the new build says `ready`, the old
//! one is told to stop and says `stopped`, and only then is the new one
//! told to `accept`, so that one process at a time accepts (connections
//! arriving meanwhile wait in the kernel's backlog, a millisecond or so).
//!
//! One message per line; the only payload that may hold newlines, a
//! build's errors, is sent with its length first. A link closes when
//! either process ends, which the other sees as the end of the stream.

// The parent's side is the reloader's, and its orders `werk run`'s.
#![cfg_attr(not(feature = "cli"), allow(dead_code))]

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

pub(crate) use crate::server::live::BuildState;

/// Who hears of the build states in a child (the server's live reload).
type StateListener = Arc<dyn Fn(&BuildState) + Send + Sync>;

/// The descriptor of the child's end, in the child's environment.
pub(crate) const LINK_FD: &str = "WERK_LINK_FD";

/// The most a `failed` message may carry; longer error text is cut.
const MOST_TEXT: usize = 1 << 20;

/// What a child tells its parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Report {
    /// Process `pid` is about to accept connections on the inherited
    /// sockets (under `werk run`, once told to).
    Ready(u32),
    /// Process `pid` accepts no more connections: it is stopping.
    Stopped(u32),
    /// A file the child watches changed at this time (the reloader).
    Changed(SystemTime),
}

/// What a parent tells its child.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Order {
    /// Accept connections now.
    Accept,
    /// The build state changed.
    State(BuildState),
}

impl Report {
    fn encode(&self) -> String {
        match self {
            Report::Ready(pid) => format!("ready {pid}\n"),
            Report::Stopped(pid) => format!("stopped {pid}\n"),
            Report::Changed(at) => format!("changed {}\n", super::to_micros(*at)),
        }
    }

    fn decode(line: &str) -> Option<Report> {
        let (word, rest) = line.trim_end().split_once(' ')?;
        match word {
            "ready" => rest.parse().ok().map(Report::Ready),
            "stopped" => rest.parse().ok().map(Report::Stopped),
            "changed" => rest
                .parse()
                .ok()
                .map(|micros| Report::Changed(super::from_micros(micros))),
            _ => None,
        }
    }
}

impl Order {
    fn encode(&self) -> Vec<u8> {
        match self {
            Order::Accept => b"accept\n".to_vec(),
            Order::State(BuildState::Ok) => b"state ok\n".to_vec(),
            Order::State(BuildState::Building) => b"state building\n".to_vec(),
            Order::State(BuildState::Failed(text)) => {
                let text = cut(text, MOST_TEXT);
                let mut out = format!("state failed {}\n", text.len()).into_bytes();
                out.extend_from_slice(text.as_bytes());
                out
            }
        }
    }

    /// Reads one order; `Ok(None)` at the end of the stream. Lines it does
    /// not know (from a newer parent) are skipped.
    fn read(from: &mut impl BufRead) -> io::Result<Option<Order>> {
        let mut line = String::new();
        loop {
            line.clear();
            if from.read_line(&mut line)? == 0 {
                return Ok(None);
            }
            let order = match line.trim_end() {
                "accept" => Order::Accept,
                "state ok" => Order::State(BuildState::Ok),
                "state building" => Order::State(BuildState::Building),
                other => match other.strip_prefix("state failed ") {
                    Some(len) => {
                        let len: usize = len.parse().map_err(|_| bad(other))?;
                        let mut text = Vec::new();
                        std::io::Read::read_to_end(
                            &mut std::io::Read::take(&mut *from, len as u64),
                            &mut text,
                        )?;
                        if text.len() < len {
                            return Err(io::ErrorKind::UnexpectedEof.into());
                        }
                        // Whatever the parent sent, no more is kept.
                        text.truncate(MOST_TEXT);
                        Order::State(BuildState::Failed(
                            String::from_utf8_lossy(&text).into_owned(),
                        ))
                    }
                    None => continue,
                },
            };
            return Ok(Some(order));
        }
    }
}

fn bad(line: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("bad link message {line:?}"),
    )
}

/// `text` cut to at most `most` bytes, at a character boundary.
fn cut(text: &str, most: usize) -> &str {
    let mut end = text.len().min(most);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The parent's end of one child's link.
#[derive(Debug)]
pub(crate) struct ParentEnd {
    stream: UnixStream,
    /// Orders not written yet; a thread of its own writes them, so that a
    /// child that does not read (it never reached `make_server`) blocks
    /// no one.
    mailbox: Arc<(Mutex<Mailbox>, Condvar)>,
}

/// Orders waiting for the writer: the latest state only, since a newer
/// one replaces an older.
#[derive(Debug, Default)]
struct Mailbox {
    accept: bool,
    state: Option<BuildState>,
    /// The parent let go of the child.
    closed: bool,
}

/// A new link: the parent's end, and the child's to hand over at spawn.
pub(crate) fn pair() -> io::Result<(ParentEnd, std::os::fd::OwnedFd)> {
    let (parent, child) = UnixStream::pair()?;
    let mailbox: Arc<(Mutex<Mailbox>, Condvar)> = Arc::default();
    let (writer, letters) = (parent.try_clone()?, mailbox.clone());
    std::thread::Builder::new()
        .name("werk-link-out".into())
        .spawn(move || write_orders(writer, &letters))?;
    Ok((
        ParentEnd {
            stream: parent,
            mailbox,
        },
        child.into(),
    ))
}

/// The writer of one link: each order as it comes, until the child is gone
/// or the parent let go of it.
fn write_orders(mut stream: UnixStream, mailbox: &(Mutex<Mailbox>, Condvar)) {
    let (lock, cvar) = mailbox;
    loop {
        let orders = {
            let mut letters = lock.lock().unwrap_or_else(|e| e.into_inner());
            while !letters.closed && !letters.accept && letters.state.is_none() {
                letters = cvar.wait(letters).unwrap_or_else(|e| e.into_inner());
            }
            if letters.closed {
                return;
            }
            let accept = std::mem::take(&mut letters.accept).then_some(Order::Accept);
            let state = letters.state.take().map(Order::State);
            [accept, state]
        };
        for order in orders.into_iter().flatten() {
            if stream.write_all(&order.encode()).is_err() {
                return;
            }
        }
    }
}

impl Drop for ParentEnd {
    fn drop(&mut self) {
        self.post(|letters| letters.closed = true);
    }
}

impl ParentEnd {
    /// Tells the child the build state. A child that is gone is not an
    /// error: its end will be seen closed by the reader.
    pub(crate) fn send(&self, state: &BuildState) {
        self.post(|letters| letters.state = Some(state.clone()));
    }

    /// Tells the child to accept connections.
    pub(crate) fn accept(&self) {
        self.post(|letters| letters.accept = true);
    }

    fn post(&self, write: impl FnOnce(&mut Mailbox)) {
        let (lock, cvar) = &*self.mailbox;
        write(&mut lock.lock().unwrap_or_else(|e| e.into_inner()));
        cvar.notify_one();
    }

    /// Reads the child's reports on a thread of its own, calling `each`
    /// for every one, then `closed` when the child's end closes.
    pub(crate) fn read_reports(
        &self,
        mut each: impl FnMut(Report) + Send + 'static,
        closed: impl FnOnce() + Send + 'static,
    ) -> io::Result<()> {
        let stream = self.stream.try_clone()?;
        std::thread::Builder::new()
            .name("werk-link".into())
            .spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if let Some(report) = Report::decode(&line) {
                        each(report);
                    }
                }
                closed();
            })?;
        Ok(())
    }
}

/// This process's link to the werk parent that started it, if any: taken
/// from the environment once (the variable is removed, so that processes
/// this one starts do not take it for theirs).
pub(crate) fn to_parent() -> Option<&'static ChildEnd> {
    static LINK: OnceLock<Option<ChildEnd>> = OnceLock::new();
    LINK.get_or_init(ChildEnd::from_env).as_ref()
}

/// A child's end of its link.
pub(crate) struct ChildEnd {
    stream: UnixStream,
    listeners: Mutex<Vec<StateListener>>,
    /// The parent said `accept` (or went away).
    may_accept: (Mutex<bool>, Condvar),
    reading: OnceLock<()>,
}

impl std::fmt::Debug for ChildEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildEnd")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl ChildEnd {
    fn from_env() -> Option<ChildEnd> {
        let fd = std::env::var(LINK_FD).ok()?;
        std::env::remove_var(LINK_FD);
        // A program the child started before it read the variable has it
        // too, and the descriptor: only the werk parent's own child takes it.
        let parent = std::env::var(super::SUPERVISOR_PID)
            .ok()?
            .parse::<u32>()
            .ok()?;
        if !super::started_by_werk() || std::os::unix::process::parent_id() != parent {
            return None;
        }
        let fd = crate::sys::process::adopt_fd(fd.parse().ok()?).ok()?;
        Some(ChildEnd {
            stream: UnixStream::from(fd),
            listeners: Mutex::new(Vec::new()),
            may_accept: (Mutex::new(false), Condvar::new()),
            reading: OnceLock::new(),
        })
    }

    /// Tells the parent something. A parent that is gone is not an error
    /// here: the parent check stops this process.
    pub(crate) fn report(&self, report: &Report) {
        let _ = (&self.stream).write_all(report.encode().as_bytes());
    }

    /// Calls `listener` with each build state the parent sends.
    pub(crate) fn on_build_state(&'static self, listener: StateListener) {
        self.listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(listener);
        self.start_reading();
    }

    /// Waits until the parent says `accept` (or is gone), or `stopping`
    /// says this process stops before it ever accepted.
    pub(crate) fn wait_for_accept(&'static self, stopping: impl Fn() -> bool) {
        self.start_reading();
        let (lock, cvar) = &self.may_accept;
        let mut may = lock.lock().unwrap_or_else(|e| e.into_inner());
        while !*may && !stopping() {
            may = cvar
                .wait_timeout(may, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Starts the thread that reads the parent's orders, once.
    fn start_reading(&'static self) {
        self.reading.get_or_init(|| {
            let Ok(stream) = self.stream.try_clone() else {
                return self.allow_accept();
            };
            let started = std::thread::Builder::new()
                .name("werk-link".into())
                .spawn(move || {
                    let mut from = BufReader::new(stream);
                    while let Ok(Some(order)) = Order::read(&mut from) {
                        match order {
                            Order::Accept => self.allow_accept(),
                            Order::State(state) => self.tell_listeners(&state),
                        }
                    }
                    // No parent to wait for any more.
                    self.allow_accept();
                });
            if started.is_err() {
                self.allow_accept();
            }
        });
    }

    fn allow_accept(&self) {
        *self.may_accept.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.may_accept.1.notify_all();
    }

    fn tell_listeners(&self, state: &BuildState) {
        let listeners = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        for listener in listeners.iter() {
            listener(state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip() {
        let at = crate::procs::from_micros(1_700_000_000_123_456);
        for report in [Report::Ready(42), Report::Stopped(7), Report::Changed(at)] {
            assert_eq!(Report::decode(&report.encode()), Some(report));
        }
        assert_eq!(Report::decode("ready x"), None);
        assert_eq!(Report::decode("hello 1"), None);
    }

    #[test]
    fn orders_round_trip_with_newlines_in_the_errors() {
        let mut wire = Vec::new();
        let orders = [
            Order::State(BuildState::Building),
            Order::Accept,
            Order::State(BuildState::Failed(
                "error[E0308]: mismatched types\n --> src/main.rs:3:5\n".into(),
            )),
            Order::State(BuildState::Ok),
        ];
        for order in &orders {
            wire.extend(order.encode());
        }
        wire.extend(b"from-the-future 1\n");
        let mut from = io::Cursor::new(wire);
        for order in &orders {
            assert_eq!(Order::read(&mut from).unwrap().as_ref(), Some(order));
        }
        assert_eq!(Order::read(&mut from).unwrap(), None);
    }

    #[test]
    fn long_error_text_is_cut_at_a_character() {
        let text = "é".repeat(MOST_TEXT);
        let sent = Order::State(BuildState::Failed(text)).encode();
        let Some(Order::State(BuildState::Failed(got))) =
            Order::read(&mut io::Cursor::new(sent)).unwrap()
        else {
            panic!()
        };
        assert!(got.len() <= MOST_TEXT && got.chars().all(|c| c == 'é'));
    }
}
