//! The last lines a child wrote to its standard error, for the page that
//! says why it stopped: the child writes to a pipe, and a thread of the
//! parent copies every byte on to the parent's own standard error as it
//! comes, keeping the tail.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::process::ChildStderr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How many lines are kept.
const LINES: usize = 40;

/// The longest line kept; the rest of it is cut.
const LINE_BYTES: usize = 1024;

/// The tail of one child's standard error.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tail {
    inner: Arc<(Mutex<Lines>, Condvar)>,
}

#[derive(Debug, Default)]
struct Lines {
    done: VecDeque<String>,
    partial: Vec<u8>,
    /// The pipe reached its end: every writer closed it.
    closed: bool,
}

impl Tail {
    /// Copies `pipe` to this process's standard error on a thread of its
    /// own, keeping the last lines. A failed write to our own standard
    /// error (a closed terminal) does not stop the copying: the child must
    /// never block on a full pipe.
    pub(crate) fn follow(pipe: ChildStderr) -> std::io::Result<Tail> {
        let tail = Tail::default();
        let keeper = tail.clone();
        std::thread::Builder::new()
            .name("werk-stderr".into())
            .spawn(move || keeper.copy(pipe))?;
        Ok(tail)
    }

    fn copy(&self, mut pipe: ChildStderr) {
        let mut buf = [0u8; 8192];
        loop {
            let n = match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let _ = std::io::stderr().write_all(&buf[..n]);
            self.keep(&buf[..n]);
        }
        let (lock, cvar) = &*self.inner;
        lock.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        cvar.notify_all();
    }

    fn keep(&self, bytes: &[u8]) {
        let mut lines = self.inner.0.lock().unwrap_or_else(|e| e.into_inner());
        for &b in bytes {
            if b == b'\n' {
                let line = std::mem::take(&mut lines.partial);
                lines.push(String::from_utf8_lossy(&line).into_owned());
            } else if lines.partial.len() < LINE_BYTES {
                lines.partial.push(b);
            }
        }
    }

    /// The kept lines, once the pipe has closed or `wait` has passed (the
    /// child is gone, but what it wrote last may still be on its way).
    pub(crate) fn text(&self, wait: Duration) -> String {
        let (lock, cvar) = &*self.inner;
        let lines = lock.lock().unwrap_or_else(|e| e.into_inner());
        let (lines, _) = cvar
            .wait_timeout_while(lines, wait, |l| !l.closed)
            .unwrap_or_else(|e| e.into_inner());
        let mut text: Vec<&str> = lines.done.iter().map(String::as_str).collect();
        let partial = String::from_utf8_lossy(&lines.partial);
        if !partial.is_empty() {
            text.push(&partial);
        }
        text.join("\n")
    }
}

impl Lines {
    fn push(&mut self, line: String) {
        if self.done.len() == LINES {
            self.done.pop_front();
        }
        self.done.push_back(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines_and_a_partial_one() {
        let tail = Tail::default();
        for i in 0..100 {
            tail.keep(format!("line {i}\n").as_bytes());
        }
        tail.keep(b"thread 'main' panicked");
        let text = tail.text(Duration::ZERO);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), LINES + 1);
        assert_eq!(lines[0], format!("line {}", 100 - LINES));
        assert_eq!(lines[LINES], "thread 'main' panicked");
    }

    #[test]
    fn long_lines_are_cut() {
        let tail = Tail::default();
        tail.keep(&vec![b'x'; 3 * LINE_BYTES]);
        tail.keep(b"\n");
        assert_eq!(tail.text(Duration::ZERO).len(), LINE_BYTES);
    }
}
