//! The server a supervisor runs itself while no child serves: every
//! request gets 503 at once, with a page that says why (the build is
//! running, the build failed and its errors, or how the process ended and
//! the last lines it wrote), instead of waiting in the kernel's backlog
//! for a child that may not come.
//!
//! It serves on duplicates of the listening sockets the supervisor holds
//! for its children, and stops as soon as a child reports that it serves:
//! what arrives after that waits in the backlog for the child.

// Shared by the reloader and `werk run` (the `cli` feature); some parts
// serve the latter only.
#![cfg_attr(not(feature = "cli"), allow(dead_code))]

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use crate::escape::html_escape;
use crate::server::live::BuildState;
use crate::server::ServerHandle;
use crate::{Body, Environ, Options, StartResponse};

/// Why no child serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Down {
    /// The first build is running.
    Building,
    /// The build is done and its process started, but it has not said
    /// that it accepts yet.
    Starting,
    /// The build failed: the compiler's errors.
    BuildFailed(String),
    /// The process ended: how (`exited with status 101`), and the last
    /// lines it wrote to standard error.
    Ended { how: String, tail: String },
}

impl Down {
    fn title(&self) -> String {
        match self {
            Down::Building => "Building: the server starts when the build is done".into(),
            Down::Starting => "Starting: the new process has not begun to serve yet".into(),
            Down::BuildFailed(_) => "The build failed".into(),
            Down::Ended { how, .. } => format!("The server process {how}"),
        }
    }

    fn detail(&self) -> &str {
        match self {
            Down::Building | Down::Starting => "",
            Down::BuildFailed(errors) => errors,
            Down::Ended { tail, .. } => tail,
        }
    }

    fn next_step(&self) -> &'static str {
        match self {
            Down::Building => "This page reloads by itself when the server is up.",
            Down::Starting => {
                "This page reloads by itself when it serves. If it never does, check that \
                 main calls werk::run_simple or make_server(..).serve_forever()."
            }
            Down::BuildFailed(_) => {
                "Fix the errors and save: werk builds again, and this page reloads by itself."
            }
            Down::Ended { .. } => {
                "werk starts it again at the next change to the watched files; \
                 this page reloads by itself then."
            }
        }
    }

    /// What live reload shows over pages open on this server.
    fn build_state(&self) -> BuildState {
        match self {
            Down::Building | Down::Starting => BuildState::Building,
            other => BuildState::Failed(format!("{}\n\n{}", other.title(), other.detail())),
        }
    }
}

/// The standby server, started and stopped by the supervisor.
#[derive(Debug)]
pub(crate) struct Standby {
    /// The supervisor's listening sockets (duplicated for each start).
    listeners: Vec<OwnedFd>,
    options: Options,
    why: Arc<Mutex<Down>>,
    running: Option<Running>,
    /// Counts the starts, for live reload's id.
    starts: u32,
}

#[derive(Debug)]
struct Running {
    handle: ServerHandle,
    live: Option<Arc<crate::server::live::Live>>,
    thread: std::thread::JoinHandle<()>,
}

impl Standby {
    /// A standby server for the listening sockets of `server`, with its
    /// TLS certificate (as loaded then: a certificate file broken since
    /// is what a crash may be about), and the request log and live reload
    /// of `serving`. Returns the listening sockets and the Unix socket
    /// files the server created.
    pub(crate) fn new(
        server: crate::Server,
        serving: &Options,
    ) -> std::io::Result<(Standby, Vec<OwnedFd>, Vec<std::path::PathBuf>)> {
        let mut options = Options::default()
            .threads(1)
            .max_threads(16)
            .log_requests(serving.log_requests)
            .live_reload(serving.live_reload)
            .shutdown_grace(std::time::Duration::from_secs(2));
        #[cfg(feature = "tls")]
        {
            options.ssl_context = server.tls_config().map(crate::SslContext::Config);
        }
        options.protocol = serving.protocol;
        let (listeners, created_files) = server.into_listeners();
        let copies: std::io::Result<Vec<OwnedFd>> =
            listeners.iter().map(OwnedFd::try_clone).collect();
        let copies = copies.inspect_err(|_| {
            for path in &created_files {
                crate::net::remove_socket_file(path);
            }
        })?;
        let standby = Standby {
            listeners: copies,
            options,
            why: Arc::new(Mutex::new(Down::Building)),
            running: None,
            starts: 0,
        };
        Ok((standby, listeners, created_files))
    }

    /// True while it answers.
    pub(crate) fn is_serving(&self) -> bool {
        self.running.is_some()
    }

    /// Answers every request with 503 and `why`, from now until
    /// [`stop`](Standby::stop); already running, it only changes the
    /// reason.
    pub(crate) fn serve(&mut self, why: Down) {
        if let Some(running) = &self.running {
            if let Some(live) = &running.live {
                live.set_state(why.build_state());
            }
            *self.why.lock().unwrap_or_else(|e| e.into_inner()) = why;
            return;
        }
        *self.why.lock().unwrap_or_else(|e| e.into_inner()) = why;
        if let Err(e) = self.start() {
            say!(" * Cannot answer while no server process runs: {e}");
        }
    }

    fn start(&mut self) -> Result<(), crate::Error> {
        self.starts += 1;
        let mut options = self.options.clone();
        options.live_id = Some(format!("down-{}-{}", std::process::id(), self.starts));
        let fds = self
            .listeners
            .iter()
            .map(OwnedFd::try_clone)
            .collect::<std::io::Result<_>>()?;
        let why = self.why.clone();
        let app = move |environ: &Environ, start_response: StartResponse| {
            let why = why.lock().unwrap_or_else(|e| e.into_inner()).clone();
            answer(&why, environ, start_response)
        };
        let config = options.config()?;
        let app = crate::options::wrap_for_options(Box::new(app), &options, "localhost");
        let server = crate::server::serve_held(fds, app, config)?;
        let handle = server.handle();
        let live = server.live();
        let thread = std::thread::Builder::new()
            .name("werk-standby".into())
            .spawn(move || {
                if let Err(e) = server.serve_forever() {
                    say!(" * The server that answers 503 stopped: {e}");
                }
            })?;
        self.running = Some(Running {
            handle,
            live,
            thread,
        });
        Ok(())
    }

    /// Stops answering: a child serves now. Returns once the requests the
    /// standby took are answered.
    pub(crate) fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.handle.shutdown();
            let _ = running.thread.join();
        }
    }
}

/// The 503 response: a page for browsers, plain text for other clients.
fn answer(why: &Down, environ: &Environ, start_response: StartResponse) -> Body {
    let wants_html = environ
        .get("HTTP_ACCEPT")
        .is_some_and(|accept| accept.contains("text/html"));
    let detail = strip_ansi(why.detail());
    let (content_type, body) = if wants_html {
        ("text/html; charset=utf-8", page(why, &detail))
    } else {
        let mut text = format!("503 Service Unavailable: {}\n", why.title());
        if !detail.is_empty() {
            text.push('\n');
            text.push_str(&detail);
            text.push('\n');
        }
        text.push('\n');
        text.push_str(why.next_step());
        text.push('\n');
        ("text/plain; charset=utf-8", text)
    };
    let _ = start_response.start(
        "503 Service Unavailable",
        [
            ("Content-Type", content_type),
            ("Cache-Control", "no-store"),
            ("Retry-After", "1"),
        ],
    );
    Body::from(body)
}

fn page(why: &Down, detail: &str) -> String {
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!("<pre>{}</pre>\n", html_escape(detail))
    };
    format!(
        "<!doctype html>\n<html lang=en>\n<meta charset=utf-8>\n\
         <title>503 · {title}</title>\n\
         <style>body{{font:15px/1.5 system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em}}\
         h1{{font-size:1.3em;color:#b3261e}}pre{{background:#f6f6f6;padding:1em;overflow:auto;\
         font:13px/1.45 ui-monospace,Menlo,monospace;white-space:pre-wrap}}</style>\n\
         <h1>{title}</h1>\n{detail}<p>{next}</p>\n</html>\n",
        title = html_escape(&why.title()),
        next = html_escape(why.next_step()),
    )
}

/// `text` without ANSI escape sequences (cargo's colours).
pub(crate) fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            // Parameters and intermediates, then one final byte.
            for c in chars.by_ref() {
                if ('\x40'..='\x7e').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::call;

    fn ask(why: &Down, accept: &str) -> crate::testing::TestResponse {
        let environ = Environ::builder().header("Accept", accept).build();
        let why = why.clone();
        call(
            &move |environ: &Environ, sr: StartResponse| answer(&why, environ, sr),
            environ,
        )
    }

    #[test]
    fn a_browser_gets_the_errors_as_a_page() {
        let why = Down::BuildFailed("\x1b[1m\x1b[38;5;9merror[E0308]\x1b[0m: <mismatched>".into());
        let response = ask(&why, "text/html,application/xhtml+xml,*/*;q=0.8");
        assert_eq!(response.status, "503 Service Unavailable");
        assert_eq!(response.header("retry-after"), Some("1"));
        let body = String::from_utf8(response.body).unwrap();
        assert!(body.contains("<h1>The build failed</h1>"), "{body}");
        assert!(body.contains("error[E0308]: &lt;mismatched&gt;"), "{body}");
    }

    #[test]
    fn other_clients_get_plain_text_with_the_exit_and_the_last_lines() {
        let why = Down::Ended {
            how: "was killed by signal SIGKILL".into(),
            tail: "listening\nthread 'main' panicked".into(),
        };
        let response = ask(&why, "*/*");
        assert_eq!(
            response.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        let body = String::from_utf8(response.body).unwrap();
        assert!(body.starts_with(
            "503 Service Unavailable: The server process was killed by signal SIGKILL\n"
        ));
        assert!(body.contains("thread 'main' panicked"));
    }

    #[test]
    fn ansi_sequences_are_removed() {
        assert_eq!(
            strip_ansi("\x1b[0m\x1b[1m\x1b[91merror\x1b[0m: x"),
            "error: x"
        );
        assert_eq!(strip_ansi("plain"), "plain");
    }
}
