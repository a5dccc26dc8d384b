//! `Debugger`: a panic in the application becomes a `500` page with the
//! panic message, the request and the backtrace, instead of the server's
//! plain error page (Werkzeug's `DebuggedApplication`, what
//! `run_simple(use_debugger=True)` adds).
//!
//! How the backtrace is taken: a backtrace has to be captured while the
//! panicking stack still exists, which is inside the panic hook, before
//! the unwinding that `catch_unwind` stops. `Debugger` installs a hook
//! once per process that chains to the hook before it (so the usual
//! `thread '...' panicked at` line still reaches standard error) and,
//! only on a thread that is inside a `Debugger`, stores the message, the
//! location and `Backtrace::force_capture()` in a thread-local. After
//! `catch_unwind` returns the panic, the debugger takes them from there.
//! A hook installed later that does not chain to the previous one hides
//! the panic from the debugger; it then shows the backtrace of the place
//! where it caught the panic, and says so.
//!
//! What it cannot do: Werkzeug's debugger opens a Python console in any
//! frame of the traceback. Rust compiles to machine code and keeps no
//! interpreter at run time, so code cannot be evaluated in a stack frame:
//! there is no console, no PIN and no `__debugger__` requests. The page
//! shows the frames with their source lines; the fix happens in the
//! editor.
//!
//! The page shows source file paths and code, so by default only a client
//! on this machine gets it (a loopback address or a Unix socket), and
//! only for a `Host` the server is known by: a page in a browser that a
//! hostile name resolves to 127.0.0.1 (DNS rebinding, Werkzeug's
//! CVE-2024-34069) sends its own name and gets the plain 500. Every other
//! client gets the server's plain 500, while the report still goes to
//! `wsgi.errors`. [`Debugger::any_client`] opens the page to everyone,
//! and the server's banner then says so.

use std::any::Any;
use std::backtrace::Backtrace;
use std::cell::{Cell, RefCell};
use std::fmt::{self, Write as _};
use std::io::{self, Write as _};
use std::panic::{self, catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Once;

use crate::escape::html_escape;
use crate::model::panic_message;
use crate::{App, Body, BodyChunks, Chunk, Environ, Errors, StartResponse};

/// Catches panics in the wrapped application, in its call and while its
/// body is produced, and answers `500` with a page that shows the panic
/// message, the request line and the backtrace, the application's own
/// frames marked. Browsers (whose `Accept` names `text/html`) get HTML;
/// other clients, such as curl, get plain text. The same text goes to
/// `wsgi.errors`.
///
/// Off by default; `Options::use_debugger(true)` (or `werk serve
/// --debugger`) puts it around the application. With
/// `passthrough_errors`, the panic is passed on instead, so it reaches
/// the server (and stops it, for a debugger attached to the process).
///
/// ```no_run
/// use werk::middleware::Debugger;
/// # fn app(_: &werk::Environ, _: werk::StartResponse) -> werk::Body { panic!("boom") }
///
/// werk::run_simple("localhost", 5000, Debugger::new(app), werk::Options::default());
/// ```
pub struct Debugger<A> {
    app: A,
    passthrough_errors: bool,
    /// Who gets the page.
    access: Access,
}

/// Who may see the debugger's page.
#[derive(Debug, Clone)]
enum Access {
    /// Loopback and Unix-socket clients, for these hosts (`.name` also
    /// matches every name under it).
    Local { hosts: Vec<String> },
    /// Every client.
    Anyone,
}

/// The names a local page may be asked for without more configuration.
const LOCAL_HOSTS: [&str; 4] = ["localhost", ".localhost", "127.0.0.1", "::1"];

impl<A: App> Debugger<A> {
    /// Wraps `app` (and installs the panic hook, once per process). The
    /// page goes to local clients asking for `localhost`, a name under
    /// it, `127.0.0.1` or `::1`; see [`Debugger::trusted_hosts`] and
    /// [`Debugger::any_client`].
    pub fn new(app: A) -> Debugger<A> {
        install_hook();
        Debugger {
            app,
            passthrough_errors: false,
            access: Access::local(),
        }
    }

    /// Resumes the panic instead of answering with the page.
    pub fn passthrough_errors(mut self, on: bool) -> Debugger<A> {
        self.passthrough_errors = on;
        self
    }

    /// More host names a local client may use to get the page (a name, or
    /// `.name` for every name under it), such as the one the server was
    /// started with. `run_simple` adds its own host.
    pub fn trusted_hosts<S: Into<String>>(mut self, hosts: impl IntoIterator<Item = S>) -> Self {
        if let Access::Local { hosts: trusted } = &mut self.access {
            trusted.extend(hosts.into_iter().map(|h| h.into().to_ascii_lowercase()));
        }
        self
    }

    /// Shows the page to every client that can connect, whatever its
    /// address and `Host` (default off). Only on a network you trust: the
    /// page shows your source code and paths.
    pub fn any_client(mut self, on: bool) -> Self {
        if on {
            self.access = Access::Anyone;
        } else if matches!(self.access, Access::Anyone) {
            self.access = Access::local();
        }
        self
    }
}

impl<A> fmt::Debug for Debugger<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Debugger")
            .field("passthrough_errors", &self.passthrough_errors)
            .field("access", &self.access)
            .finish_non_exhaustive()
    }
}

impl Access {
    fn local() -> Access {
        Access::Local {
            hosts: LOCAL_HOSTS.iter().map(|h| (*h).to_owned()).collect(),
        }
    }

    /// Whether the client of `environ` may see the page.
    fn allows(&self, environ: &Environ) -> bool {
        let Access::Local { hosts } = self else {
            return true;
        };
        let remote = environ.remote_addr();
        let local = remote == "<local>"
            || remote
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        let host = environ
            .get("HTTP_HOST")
            .or(environ.get("SERVER_NAME"))
            .map(host_name)
            .unwrap_or_default();
        local && hosts.iter().any(|trusted| host_matches(&host, trusted))
    }
}

/// The name of a Host header, without the port or an IPv6 literal's
/// brackets, in lower case.
fn host_name(host: &str) -> String {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Whether `host` is `trusted`, or under it when `trusted` starts with `.`.
fn host_matches(host: &str, trusted: &str) -> bool {
    match trusted.strip_prefix('.') {
        Some(domain) => host == domain || host.ends_with(trusted),
        None => host == trusted,
    }
}

impl<A: App> App for Debugger<A> {
    fn call(&self, environ: &Environ, start_response: StartResponse) -> Body {
        install_hook();
        let mut request = Request::of(environ, start_response.clone(), self.passthrough_errors);
        request.shows_page = self.access.allows(environ);
        match guarded(|| self.app.call(environ, start_response)) {
            // A body of known size is bytes or a file: producing it cannot
            // panic, and the file keeps the kernel's copy path.
            Ok(body) if body.len().is_some() => body,
            Ok(body) => Body::try_stream(GuardedChunks {
                chunks: Some(body.into_chunks()),
                request: Some(request),
            }),
            Err(caught) => match request.answer(caught) {
                Ok(page) => Body::from(page),
                Err(e) => Body::try_stream([Err::<Chunk, _>(e)]),
            },
        }
    }
}

/// What the page needs to know of the request.
struct Request {
    line: String,
    html: bool,
    errors: Errors,
    start_response: StartResponse,
    passthrough: bool,
    /// The client may see the page; others get the server's plain 500.
    shows_page: bool,
}

impl Request {
    fn of(environ: &Environ, start_response: StartResponse, passthrough: bool) -> Request {
        let line = format!(
            "{} {} {}",
            environ.method(),
            environ.get("REQUEST_URI").unwrap_or(environ.path_info()),
            environ.get("SERVER_PROTOCOL").unwrap_or("HTTP/1.1")
        );
        let html = environ
            .header("Accept")
            .is_some_and(|a| a.to_ascii_lowercase().contains("text/html"));
        Request {
            line,
            html,
            errors: environ.errors(),
            start_response,
            passthrough,
            shows_page: false,
        }
    }

    /// Logs the panic and replaces the response with the page; an error
    /// once the head was sent (the server then cuts the response short,
    /// so the client does not take it for complete). Resumes the panic
    /// with `passthrough_errors`.
    fn answer(&self, caught: Caught) -> io::Result<Chunk> {
        if self.passthrough {
            resume_unwind(caught.payload);
        }
        let report = &caught.report;
        let text = report.text(&self.line);
        let mut errors = self.errors.clone();
        let _ = errors.write_all(text.as_bytes());
        if !self.shows_page {
            // The server answers with its plain 500 page.
            resume_unwind(caught.payload);
        }
        let (content_type, page) = if self.html {
            ("text/html; charset=utf-8", report.html(&self.line))
        } else {
            ("text/plain; charset=utf-8", text)
        };
        let replaced = self.start_response.start_with_error(
            "500 Internal Server Error",
            [
                ("Content-Type", content_type.to_owned()),
                ("Content-Length", page.len().to_string()),
                ("Cache-Control", "no-store".to_owned()),
            ],
            &report.message,
        );
        match replaced {
            Ok(_) => Ok(Chunk::from(page)),
            Err(_) => {
                let why = "the application panicked after the response head was sent, so the debugger cannot show its page; the response is cut short";
                let _ = writeln!(errors, "werk debugger: {why}");
                Err(io::Error::other(why))
            }
        }
    }
}

/// A streamed body whose production is watched for panics.
struct GuardedChunks {
    chunks: Option<BodyChunks>,
    /// Taken once a panic was answered; the body then ends.
    request: Option<Request>,
}

impl Iterator for GuardedChunks {
    type Item = io::Result<Chunk>;

    fn next(&mut self) -> Option<io::Result<Chunk>> {
        let chunks = self.chunks.as_mut()?;
        match guarded(|| chunks.next()) {
            Ok(next) => next,
            Err(caught) => {
                // Close the application's body (its `close()` still runs),
                // keeping a panic in its drop from escaping.
                let chunks = self.chunks.take();
                let _ = catch_unwind(AssertUnwindSafe(move || drop(chunks)));
                let request = self.request.take()?;
                Some(request.answer(caught))
            }
        }
    }
}

/// A panic, with what the hook saw of it.
struct Caught {
    payload: Box<dyn Any + Send>,
    report: Box<Report>,
}

/// What the hook stores for the thread that panicked.
struct Captured {
    message: String,
    location: Option<String>,
    backtrace: Backtrace,
}

thread_local! {
    /// Non-zero while this thread runs code inside a `Debugger`.
    static ARMED: Cell<usize> = const { Cell::new(0) };
    /// The last panic the hook saw on this thread while armed.
    static CAPTURED: RefCell<Option<Captured>> = const { RefCell::new(None) };
}

/// Installs the capturing hook in front of the current one, once.
fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if ARMED.with(Cell::get) > 0 {
                let captured = Captured {
                    message: panic_message(info.payload()),
                    location: info
                        .location()
                        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column())),
                    backtrace: Backtrace::force_capture(),
                };
                CAPTURED.with(|c| *c.borrow_mut() = Some(captured));
            }
            previous(info);
        }));
    });
}

/// Runs `f`, armed, and turns a panic into a [`Caught`].
fn guarded<R>(f: impl FnOnce() -> R) -> Result<R, Caught> {
    ARMED.with(|a| a.set(a.get() + 1));
    let result = catch_unwind(AssertUnwindSafe(f));
    ARMED.with(|a| a.set(a.get() - 1));
    let captured = CAPTURED.with(|c| c.borrow_mut().take());
    result.map_err(|payload| {
        let report = match captured {
            Some(c) => Report::new(c.message, c.location, &c.backtrace, false),
            None => Report::new(
                panic_message(&*payload),
                None,
                &Backtrace::force_capture(),
                true,
            ),
        };
        Caught {
            payload,
            report: Box::new(report),
        }
    })
}

/// One frame of a backtrace.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Frame {
    function: String,
    file: Option<String>,
    line: Option<u32>,
    column: Option<u32>,
}

impl Frame {
    /// A frame of the application's own code: it has a source file that is
    /// not the standard library's (`/rustc/...`, or rust-src under
    /// `.rustup`), nor a dependency's (`.cargo/registry`, `.cargo/git`),
    /// nor werk's own (its `src/`, when werk is built from a checkout).
    fn is_app(&self) -> bool {
        self.file.as_deref().is_some_and(|f| {
            !(f.starts_with("/rustc/")
                || f.contains(".cargo/registry")
                || f.contains(".cargo/git")
                || f.contains(".rustup/toolchains")
                || is_werk_source(f))
        })
    }

    fn location(&self) -> Option<String> {
        let file = self.file.as_deref()?;
        Some(match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
            (Some(l), None) => format!("{file}:{l}"),
            _ => file.to_owned(),
        })
    }
}

/// Whether `file` (as a backtrace prints it: absolute, or relative to the
/// current directory) is in werk's own `src/`.
fn is_werk_source(file: &str) -> bool {
    let werk_src = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
    let path = std::path::Path::new(file);
    if path.is_absolute() {
        return path.starts_with(werk_src);
    }
    std::env::current_dir().is_ok_and(|cwd| cwd.join(path).starts_with(werk_src))
}

/// Reads the frames from a backtrace's text, in the format std prints:
///
/// ```text
///   12: my_app::handler
///              at ./src/main.rs:10:5
/// ```
fn parse_frames(text: &str) -> Vec<Frame> {
    let mut frames: Vec<Frame> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(at) = line.strip_prefix("at ") {
            if let Some(frame) = frames.last_mut() {
                let mut parts = at.rsplitn(3, ':');
                let (c, l, f) = (parts.next(), parts.next(), parts.next());
                match (
                    f,
                    l.and_then(|l| l.parse().ok()),
                    c.and_then(|c| c.parse().ok()),
                ) {
                    (Some(f), Some(l), Some(c)) => {
                        frame.file = Some(f.to_owned());
                        frame.line = Some(l);
                        frame.column = Some(c);
                    }
                    _ => frame.file = Some(at.to_owned()),
                }
            }
        } else if let Some((index, function)) = line.split_once(": ") {
            if !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) {
                frames.push(Frame {
                    function: function.to_owned(),
                    file: None,
                    line: None,
                    column: None,
                });
            }
        }
    }
    frames
}

/// A frame of the panic machinery: the hook runs above these, the code
/// that panicked below.
fn is_panic_entry(function: &str) -> bool {
    function.ends_with("rust_begin_unwind")
        || function.starts_with("core::panicking::")
        || function.starts_with("std::panicking::begin_panic")
        || function.starts_with("std::panicking::panic_with_hook")
        || function.starts_with("std::panicking::panic_handler")
        || function.starts_with("std::panicking::rust_panic")
        || function.starts_with("std::sys::backtrace::__rust_end_short_backtrace")
}

/// A frame of `catch_unwind` or of the debugger's own closures, between
/// the application and [`guarded`].
fn is_catch_frame(function: &str) -> bool {
    function.contains("catch_unwind")
        || function == "__rust_try"
        || function.contains("AssertUnwindSafe")
        || function.contains("debugger::Debugger<")
        || function.contains("debugger::GuardedChunks")
}

/// A panic, ready to show.
#[derive(Debug, Clone)]
struct Report {
    message: String,
    location: Option<String>,
    thread: String,
    frames: Vec<Frame>,
    /// Frames above the panic (the hook, the panic machinery) not shown.
    hidden_above: usize,
    /// Frames below the debugger (the server) not shown.
    hidden_below: usize,
    /// The backtrace is of the place the panic was caught, not where it
    /// happened (the hook did not run).
    late: bool,
}

impl Report {
    fn new(message: String, location: Option<String>, backtrace: &Backtrace, late: bool) -> Report {
        Report::from_frames(
            message,
            location,
            parse_frames(&backtrace.to_string()),
            late,
        )
    }

    fn from_frames(
        message: String,
        location: Option<String>,
        frames: Vec<Frame>,
        late: bool,
    ) -> Report {
        let start = frames
            .iter()
            .rposition(|f| is_panic_entry(&f.function))
            .map_or(0, |i| i + 1);
        let mut end = frames[start..]
            .iter()
            .position(|f| f.function.contains("middleware::debugger::guarded"))
            .map_or(frames.len(), |i| start + i);
        while end > start && is_catch_frame(&frames[end - 1].function) {
            end -= 1;
        }
        let (start, end) = if late {
            (0, frames.len())
        } else {
            (start, end)
        };
        Report {
            message,
            location,
            thread: std::thread::current()
                .name()
                .unwrap_or("<unnamed>")
                .to_owned(),
            hidden_above: start,
            hidden_below: frames.len() - end,
            frames: frames[start..end].to_vec(),
            late,
        }
    }

    /// The plain-text report: for curl, and for `wsgi.errors`.
    fn text(&self, request_line: &str) -> String {
        let mut out = String::new();
        let at = self
            .location
            .as_deref()
            .map_or(String::new(), |l| format!(" at {l}"));
        let _ = writeln!(out, "werk debugger: thread '{}' panicked{at}:", self.thread);
        let _ = writeln!(out, "{}", self.message);
        let _ = writeln!(out, "request: {request_line}");
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "backtrace, most recent call first ('>' marks your code):"
        );
        for (i, frame) in self.frames.iter().enumerate() {
            let mark = if frame.is_app() { '>' } else { ' ' };
            let _ = writeln!(out, "{mark} {i:>3}: {}", frame.function);
            if let Some(loc) = frame.location() {
                let _ = writeln!(out, "         at {loc}");
            }
        }
        let _ = writeln!(out, "{}", self.hidden_note());
        let _ = writeln!(
            out,
            "Rust cannot evaluate code in a stack frame, so this debugger has no console."
        );
        out
    }

    fn hidden_note(&self) -> String {
        if self.late {
            return "The panic hook did not run (another hook replaced it without chaining), so this is the backtrace of where the debugger caught the panic.".to_owned();
        }
        format!(
            "({} frames of the panic machinery above and {} frames of the debugger and the server below are not shown.)",
            self.hidden_above, self.hidden_below
        )
    }

    /// The HTML page, readable without scripts.
    fn html(&self, request_line: &str) -> String {
        let e = html_escape;
        let mut out = String::with_capacity(16 * 1024);
        let first_line = self.message.lines().next().unwrap_or("");
        let _ = write!(
            out,
            "<!doctype html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n\
             <meta name=viewport content=\"width=device-width, initial-scale=1\">\n\
             <title>{} // werk debugger</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
            e(first_line)
        );
        let _ = writeln!(
            out,
            "<h1>Panic</h1>\n<pre class=message>{}</pre>",
            e(&self.message)
        );
        let at = self
            .location
            .as_deref()
            .map_or(String::new(), |l| format!(" at <code>{}</code>", e(l)));
        let _ = writeln!(
            out,
            "<p class=where>Thread <code>{}</code> panicked{at} while serving <code class=request>{}</code>.</p>",
            e(&self.thread),
            e(request_line)
        );
        let _ = writeln!(
            out,
            "<p>The debugger caught a panic in your application. Frames from your code are \
             highlighted and show their source; frames from the standard library and \
             dependencies are grey.</p>\n<h2>Backtrace <small>(most recent call first)</small></h2>\n<ol class=frames start=0>"
        );
        let mut sources_shown = 0;
        for frame in &self.frames {
            let class = if frame.is_app() { "app" } else { "lib" };
            let _ = write!(
                out,
                "<li class={class}><div class=fn>{}</div>",
                e(&frame.function)
            );
            if let Some(loc) = frame.location() {
                let _ = write!(out, "<div class=loc>{}</div>", e(&loc));
            }
            if frame.is_app() && sources_shown < 12 {
                if let Some(src) = source_context(frame) {
                    sources_shown += 1;
                    out.push_str(&src);
                }
            }
            out.push_str("</li>\n");
        }
        let _ = writeln!(out, "</ol>\n<p class=note>{}</p>", e(&self.hidden_note()));
        let _ = writeln!(
            out,
            "<details><summary>Plain text, to copy</summary><pre>{}</pre></details>",
            e(&self.text(request_line))
        );
        let _ = writeln!(
            out,
            "<footer>werk debugger. Rust cannot evaluate code in a stack frame, so unlike \
             Werkzeug's debugger there is no console: read the frames, fix the code, reload.</footer>\n</body>\n</html>"
        );
        out
    }
}

/// A few lines of source around a frame's line, the line itself marked;
/// `None` if the file cannot be read (or is large).
fn source_context(frame: &Frame) -> Option<String> {
    let path = frame.file.as_deref()?;
    let line = frame.line? as usize;
    if std::fs::metadata(path).ok()?.len() > 2 * 1024 * 1024 {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let first = line.saturating_sub(3).max(1);
    let mut out = String::from("<pre class=src>");
    for (n, content) in text
        .lines()
        .enumerate()
        .skip(first - 1)
        .take(line + 3 - first)
    {
        let n = n + 1;
        let class = if n == line { " class=here" } else { "" };
        // Each line is a block: no newline between them.
        let _ = write!(
            out,
            "<span{class}><i>{n:>5}</i> {}</span>",
            html_escape(content)
        );
    }
    out.push_str("</pre>");
    Some(out)
}

const STYLE: &str = "\
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:70em;padding:1em 2em;color:#222;background:#fff}\
h1{color:#b00020;margin:.3em 0 .2em}h2 small{font-weight:normal;color:#777;font-size:.7em}\
pre,code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}\
pre.message{font-size:17px;white-space:pre-wrap;background:#fdecee;border-left:4px solid #b00020;padding:.6em .8em}\
ol.frames{padding-left:3em}ol.frames li{margin:.35em 0;padding:.25em .5em;border-radius:3px}\
li.lib{color:#888}li.lib .fn{font-size:13px}li.app{background:#f3f7ff;border-left:3px solid #2456c7}\
.fn{font-family:ui-monospace,monospace;word-break:break-all}.loc{font-family:ui-monospace,monospace;font-size:12px;color:#2456c7}\
li.lib .loc{color:#999}pre.src{background:#fafafa;border:1px solid #e4e4e4;padding:.4em 0;margin:.3em 0;overflow-x:auto}\
pre.src span{display:block;padding:0 .6em}pre.src i{color:#aaa;font-style:normal;user-select:none}\
pre.src span.here{background:#fff3c4}.note{color:#666;font-size:13px}\
details pre{white-space:pre-wrap;background:#f6f6f6;padding:.6em}\
footer{margin-top:2em;padding-top:.6em;border-top:1px solid #ddd;color:#777;font-size:13px}";

#[cfg(test)]
mod tests {
    use super::*;

    fn environ(remote: &str, host: &str) -> Environ {
        let mut environ = Environ::builder().header("Host", host).build();
        environ.set("REMOTE_ADDR", remote);
        environ
    }

    #[test]
    fn the_page_is_for_local_clients_asking_for_a_known_host() {
        let access = Access::local();
        for (remote, host, shown) in [
            ("127.0.0.1", "localhost:5000", true),
            ("::1", "[::1]:5000", true),
            ("127.0.0.2", "api.localhost", true),
            ("<local>", "localhost", true),
            ("127.0.0.1", "attacker.example", false),
            ("127.0.0.1", "notlocalhost", false),
            ("192.0.2.7", "localhost", false),
            ("10.1.2.3", "127.0.0.1", false),
        ] {
            assert_eq!(
                access.allows(&environ(remote, host)),
                shown,
                "{remote} {host}"
            );
        }
        let named = match Debugger::new(|_: &Environ, _: StartResponse| Body::empty())
            .trusted_hosts(["Dev.Example"])
            .access
        {
            Access::Local { hosts } => hosts,
            Access::Anyone => panic!(),
        };
        assert!(Access::Local { hosts: named }.allows(&environ("127.0.0.1", "dev.example:80")));
        assert!(Access::Anyone.allows(&environ("192.0.2.7", "attacker.example")));
    }

    const SAMPLE: &str = "   0: std::backtrace::Backtrace::force_capture
             at /rustc/abc/library/std/src/backtrace.rs:312:9
   1: werk::middleware::debugger::install_hook::{{closure}}
             at ./src/middleware/debugger.rs:200:32
   2: __rustc::rust_begin_unwind
             at /rustc/abc/library/std/src/panicking.rs:689:5
   3: core::panicking::panic_fmt
             at /rustc/abc/library/core/src/panicking.rs:80:14
   4: my_app::handler
             at /home/u/shop/src/main.rs:10:5
   5: serde::de::thing
             at /home/u/.cargo/registry/src/index/serde-1.0/src/de.rs:1:1
   6: __rust_try
   7: <werk::middleware::debugger::Debugger<A> as werk::model::App>::call::{{closure}}
             at ./src/middleware/debugger.rs:90:20
   8: std::panicking::catch_unwind
             at /rustc/abc/library/std/src/panicking.rs:544:19
   9: werk::middleware::debugger::guarded
             at ./src/middleware/debugger.rs:220:18
  10: werk::server::handler::serve
             at ./src/server/handler.rs:40:1
";

    #[test]
    fn frames_are_parsed() {
        let frames = parse_frames(SAMPLE);
        assert_eq!(frames.len(), 11);
        assert_eq!(frames[4].function, "my_app::handler");
        assert_eq!(frames[4].file.as_deref(), Some("/home/u/shop/src/main.rs"));
        assert_eq!((frames[4].line, frames[4].column), (Some(10), Some(5)));
        assert!(frames[4].is_app());
        assert!(!frames[5].is_app());
        assert!(!frames[3].is_app());
        assert!(!frames[10].is_app(), "werk's own frames are not the app's");
        assert_eq!(frames[6].file, None);
        assert!(!frames[6].is_app());
    }

    #[test]
    fn machinery_and_server_frames_are_trimmed() {
        let report = Report::from_frames("boom".into(), None, parse_frames(SAMPLE), false);
        let shown: Vec<&str> = report.frames.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(shown, ["my_app::handler", "serde::de::thing"]);
        assert_eq!((report.hidden_above, report.hidden_below), (4, 5));
        let text = report.text("GET /x HTTP/1.1");
        assert!(text.contains(">   0: my_app::handler"), "{text}");
        assert!(text.contains("request: GET /x HTTP/1.1"));
        let html = report.html("GET /x HTTP/1.1");
        assert!(html.contains("<li class=app><div class=fn>my_app::handler</div>"));
        assert!(html.contains("<title>boom // werk debugger</title>"));
    }

    #[test]
    fn a_panic_is_caught_with_its_backtrace() {
        install_hook();
        let caught = guarded(|| -> u8 { panic!("boom {}", 42) }).err().unwrap();
        assert_eq!(caught.report.message, "boom 42");
        assert!(!caught.report.late);
        assert!(caught.report.location.unwrap().contains("debugger.rs"));
        assert!(caught
            .report
            .frames
            .iter()
            .any(|f| f.function.contains("a_panic_is_caught_with_its_backtrace")));
    }
}
