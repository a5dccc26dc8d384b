//! The link between a werk parent (the reloader's supervisor, `werk run`)
//! and a child it started to serve: a Unix socket pair, whose child end
//! sits at a fixed descriptor named by `WERK_LINK_FD`.
//!
//! ```text
//!  parent                                child
//!  ◄──── ready PID ─────────────────────  serving: it accepts on the sockets
//!  ◄──── changed MICROS ────────────────  (reloader) a watched file changed
//!  ───── state building ───────────────►  the build state, which live
//!  ───── state ok ─────────────────────►  reload shows in open pages
//!  ───── state failed LEN\n<LEN bytes> ─►
//! ```
//!
//! One message per line; the only payload that may hold newlines, a
//! build's errors, is sent with its length first. A link closes when
//! either process ends, which the other sees as the end of the stream.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

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
    /// Process `pid` accepts connections on the inherited sockets.
    Ready(u32),
    /// A file the child watches changed at this time (the reloader).
    Changed(SystemTime),
}

impl Report {
    fn encode(&self) -> String {
        match self {
            Report::Ready(pid) => format!("ready {pid}\n"),
            Report::Changed(at) => format!("changed {}\n", crate::reload::to_micros(*at)),
        }
    }

    fn decode(line: &str) -> Option<Report> {
        let (word, rest) = line.trim_end().split_once(' ')?;
        match word {
            "ready" => rest.parse().ok().map(Report::Ready),
            "changed" => rest
                .parse()
                .ok()
                .map(|micros| Report::Changed(crate::reload::from_micros(micros))),
            _ => None,
        }
    }
}

/// A build state as the parent sends it.
fn encode_state(state: &BuildState) -> Vec<u8> {
    match state {
        BuildState::Ok => b"state ok\n".to_vec(),
        BuildState::Building => b"state building\n".to_vec(),
        BuildState::Failed(text) => {
            let text = cut(text, MOST_TEXT);
            let mut out = format!("state failed {}\n", text.len()).into_bytes();
            out.extend_from_slice(text.as_bytes());
            out
        }
    }
}

/// Reads one state message; `Ok(None)` at the end of the stream.
fn read_state(from: &mut impl BufRead) -> io::Result<Option<BuildState>> {
    let mut line = String::new();
    loop {
        line.clear();
        if from.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let state = match line.trim_end() {
            "state ok" => BuildState::Ok,
            "state building" => BuildState::Building,
            other => match other.strip_prefix("state failed ") {
                Some(len) => {
                    let len: usize = len.parse().map_err(|_| bad(other))?;
                    let mut text = vec![0; len.min(MOST_TEXT)];
                    from.read_exact(&mut text)?;
                    BuildState::Failed(String::from_utf8_lossy(&text).into_owned())
                }
                // A message from a newer parent: skip it.
                None => continue,
            },
        };
        return Ok(Some(state));
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
}

/// A new link: the parent's end, and the child's to hand over at spawn.
pub(crate) fn pair() -> io::Result<(ParentEnd, std::os::fd::OwnedFd)> {
    let (parent, child) = UnixStream::pair()?;
    Ok((ParentEnd { stream: parent }, child.into()))
}

impl ParentEnd {
    /// Tells the child the build state. A child that is gone is not an
    /// error: its end will be seen closed by the reader.
    pub(crate) fn send(&self, state: &BuildState) {
        let _ = (&self.stream).write_all(&encode_state(state));
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
        if !super::started_by_werk() {
            return None;
        }
        let fd = crate::sys::process::adopt_fd(fd.parse().ok()?).ok()?;
        Some(ChildEnd {
            stream: UnixStream::from(fd),
            listeners: Mutex::new(Vec::new()),
            reading: OnceLock::new(),
        })
    }

    /// Tells the parent something. A parent that is gone is not an error
    /// here: the parent check stops this process.
    pub(crate) fn report(&self, report: &Report) {
        let _ = (&self.stream).write_all(report.encode().as_bytes());
    }

    /// Calls `listener` with each build state the parent sends, from a
    /// thread that reads the link (started by the first call).
    pub(crate) fn on_build_state(&'static self, listener: StateListener) {
        self.listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(listener);
        self.reading.get_or_init(|| self.start_reading());
    }

    fn start_reading(&'static self) {
        let Ok(stream) = self.stream.try_clone() else {
            return;
        };
        let _ = std::thread::Builder::new()
            .name("werk-link".into())
            .spawn(move || {
                let mut from = BufReader::new(stream);
                while let Ok(Some(state)) = read_state(&mut from) {
                    let listeners = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
                    for listener in listeners.iter() {
                        listener(&state);
                    }
                }
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip() {
        let at = crate::reload::from_micros(1_700_000_000_123_456);
        for report in [Report::Ready(42), Report::Changed(at)] {
            assert_eq!(Report::decode(&report.encode()), Some(report));
        }
        assert_eq!(Report::decode("ready x"), None);
        assert_eq!(Report::decode("hello 1"), None);
    }

    #[test]
    fn build_states_round_trip_with_newlines() {
        let mut wire = Vec::new();
        let states = [
            BuildState::Building,
            BuildState::Failed("error[E0308]: mismatched types\n --> src/main.rs:3:5\n".into()),
            BuildState::Ok,
        ];
        for state in &states {
            wire.extend(encode_state(state));
        }
        wire.extend(b"state from-the-future\n");
        let mut from = io::Cursor::new(wire);
        for state in &states {
            assert_eq!(read_state(&mut from).unwrap().as_ref(), Some(state));
        }
        assert_eq!(read_state(&mut from).unwrap(), None);
    }

    #[test]
    fn long_error_text_is_cut_at_a_character() {
        let text = "é".repeat(MOST_TEXT);
        let BuildState::Failed(sent) = read_state(&mut io::Cursor::new(encode_state(
            &BuildState::Failed(text),
        )))
        .unwrap()
        .unwrap() else {
            panic!()
        };
        assert!(sent.len() <= MOST_TEXT && sent.chars().all(|c| c == 'é'));
    }
}
