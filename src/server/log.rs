//! The server's output: the startup banner and the request log, in
//! Werkzeug's format, coloured by status class only when standard error is
//! a terminal (or `CLICOLOR_FORCE` is set, as a supervisor that reads a
//! child's standard error through a pipe sets it) and `NO_COLOR` is not
//! set (<https://no-color.org>).

use std::io::{IsTerminal, Write};

/// ANSI styles, as Werkzeug's `_ansi_style` emits them.
const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const MAGENTA: &str = "\x1b[35m";
const CYAN: &str = "\x1b[36m";

/// Where log lines go and how they look.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Log {
    colour: bool,
    requests: bool,
}

/// Set, and not `0`, to colour the log even when standard error is not a
/// terminal.
pub(crate) const FORCE_COLOUR: &str = "CLICOLOR_FORCE";

/// Whether this process's standard error gets colours: a terminal, or
/// [`FORCE_COLOUR`], and `NO_COLOR` unset or empty.
pub(crate) fn colour_wanted() -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0");
    !set("NO_COLOR") && (set(FORCE_COLOUR) || std::io::stderr().is_terminal())
}

impl Log {
    pub(crate) fn new(log_requests: bool) -> Log {
        Log {
            colour: colour_wanted(),
            requests: log_requests,
        }
    }

    /// One request line:
    /// `127.0.0.1 - - [26/Nov/2026 22:32:29] "GET / HTTP/1.1" 200 -`.
    pub(crate) fn request(&self, client: &str, request_line: &dyn std::fmt::Display, code: u16) {
        if !self.requests {
            return;
        }
        let text = escape_controls(&request_line.to_string());
        let text = if self.colour {
            paint(&text, code)
        } else {
            text
        };
        let code = if code == 0 {
            "-".to_owned()
        } else {
            code.to_string()
        };
        self.line(&format!(
            "{client} - - [{}] \"{text}\" {code} -",
            crate::http::date::log_timestamp()
        ));
    }

    /// A message about one client, with the request-log prefix:
    /// `127.0.0.1 - - [date] code 400, message Bad request`.
    pub(crate) fn client_error(&self, client: &str, message: &str) {
        self.line(&format!(
            "{client} - - [{}] {}",
            crate::http::date::log_timestamp(),
            escape_controls(message)
        ));
    }

    /// A server-level message, without prefix.
    pub(crate) fn error(&self, message: &str) {
        self.line(message);
    }

    /// Text in a style, if colour is on.
    pub(crate) fn styled(&self, text: &str, style: Style) -> String {
        if !self.colour {
            return text.to_owned();
        }
        match style {
            Style::Warning => format!("{RED}{BOLD}{text}{RESET}"),
            Style::Hint => format!("{YELLOW}{text}{RESET}"),
        }
    }

    /// Writes one line to stderr in a single write, so lines from different
    /// workers never interleave.
    pub(crate) fn line(&self, text: &str) {
        let mut line = String::with_capacity(text.len() + 1);
        line.push_str(text);
        line.push('\n');
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

/// Banner styles.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Style {
    /// Bold red, for the development-server warning.
    Warning,
    /// Yellow, for `Press CTRL+C to quit`.
    Hint,
}

/// Werkzeug's colours: 1xx bold, 200 plain, 304 cyan, other 3xx green,
/// 404 yellow, other 4xx bold red, everything else bold magenta.
fn paint(text: &str, code: u16) -> String {
    let style = match code {
        100..=199 => BOLD.to_owned(),
        200 => return text.to_owned(),
        304 => CYAN.to_owned(),
        300..=399 => GREEN.to_owned(),
        404 => YELLOW.to_owned(),
        400..=499 => format!("{RED}{BOLD}"),
        _ => format!("{MAGENTA}{BOLD}"),
    };
    format!("{style}{text}{RESET}")
}

/// Control characters as `\xNN` and backslashes doubled, so a request line
/// cannot forge log lines or terminal escapes (Werkzeug 2.3, PR #2652).
pub(crate) fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped() {
        assert_eq!(
            escape_controls("GET /\x1b[31m\\ HTTP/1.1"),
            "GET /\\x1b[31m\\\\ HTTP/1.1"
        );
    }

    #[test]
    fn colours_follow_werkzeug() {
        assert_eq!(paint("x", 200), "x");
        assert_eq!(paint("x", 404), "\x1b[33mx\x1b[0m");
        assert_eq!(paint("x", 500), "\x1b[35m\x1b[1mx\x1b[0m");
        assert_eq!(paint("x", 304), "\x1b[36mx\x1b[0m");
    }
}
