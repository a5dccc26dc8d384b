//! Running an application as a CGI script (RFC 3875): the web server
//! starts the process for each request, passes the request in environment
//! variables and the body on standard input, and reads the response from
//! standard output.
//!
//! ```no_run
//! use werk::{Body, Environ, StartResponse};
//!
//! fn app(environ: &Environ, start_response: StartResponse) -> Body {
//!     start_response
//!         .start("200 OK", [("Content-Type", "text/plain")])
//!         .expect("first call");
//!     Body::from(format!("Hello from {}\n", environ.path_info()))
//! }
//!
//! fn main() {
//!     std::process::exit(werk::cgi::run(app));
//! }
//! ```
//!
//! [`werk::run`](crate::run) picks CGI by itself when the process was
//! started as a CGI script, and serves HTTP on `localhost:5000` otherwise,
//! so one binary works in both places. `werk cgi [APP]` runs a built-in
//! app this way. See `docs/deploying.md` for lighttpd, nginx and Apache.
//!
//! What the environ holds: the RFC 3875 section 4.1 meta-variables, the
//! `HTTP_*` headers, and the per-request variables common servers add
//! (`REQUEST_URI`, `SCRIPT_FILENAME`, `DOCUMENT_ROOT`, `REMOTE_PORT`,
//! `SERVER_ADDR`, `HTTPS`, `REQUEST_SCHEME`, `REDIRECT_STATUS`, `SSL_*`,
//! ...), tidied for what real servers send (an empty `CONTENT_LENGTH`, no
//! `SERVER_NAME`, no `PATH_INFO`: see `docs/deploying.md`); not the rest of the
//! process environment (`PATH`, `HOME`, secrets), which an application
//! reads with `std::env::var` if it wants it. `wsgi.multithread` is false,
//! `wsgi.multiprocess` and `wsgi.run_once` are true (PEP 3333 on CGI).
//!
//! The body is read whole before the application runs (kept in memory up
//! to 1 MiB, beyond that in an unlinked temporary file): some servers,
//! fcgiwrap among them, write the whole request body to the script before
//! they read any of its output, so a script that answered while it read
//! (the echo app's `/echo`) would fill the output pipe and wait forever.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsFd;

use super::response::{self, Gateway, GatewayInput, Transport};
use super::text;
use crate::model::{Environ, Input};
use crate::App;

/// The RFC 3875 section 4.1 meta-variables, then the per-request variables
/// common servers add, in the order the environ lists them.
const NAMES: [&str; 28] = [
    "GATEWAY_INTERFACE",
    "SERVER_SOFTWARE",
    "SERVER_PROTOCOL",
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "PATH_TRANSLATED",
    "QUERY_STRING",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "SERVER_NAME",
    "SERVER_PORT",
    "REMOTE_ADDR",
    "REMOTE_HOST",
    "REMOTE_IDENT",
    "REMOTE_USER",
    "AUTH_TYPE",
    "REQUEST_URI",
    "DOCUMENT_URI",
    "SCRIPT_FILENAME",
    "DOCUMENT_ROOT",
    "CONTEXT_PREFIX",
    "CONTEXT_DOCUMENT_ROOT",
    "REMOTE_PORT",
    "SERVER_ADDR",
    "HTTPS",
    "REQUEST_SCHEME",
    "REDIRECT_STATUS",
];

/// Request bodies up to this size are read into memory before the app
/// runs; larger ones into an unlinked temporary file.
const SPOOL_IN_MEMORY: u64 = 1024 * 1024;

/// True when the process was started as a CGI script: the web server set
/// `GATEWAY_INTERFACE` (RFC 3875 section 4.1.4).
pub fn is_cgi() -> bool {
    std::env::var_os("GATEWAY_INTERFACE").is_some()
}

/// Answers the one request this process was started for, as a CGI script:
/// the environ from the process environment, `wsgi.input` from standard
/// input (exactly `CONTENT_LENGTH` bytes; none when it is unset or
/// empty), the response to standard output (`Status:`, headers, a blank
/// line, the body, flushed chunk by chunk as the app produces it).
///
/// A panic in the application gives a 500 response (if no header went
/// out yet) and a message on standard error, which the web server keeps
/// in its error log; so does a misuse of `start_response`. A web server
/// that stops reading (a broken pipe) just ends the response.
///
/// Returns the exit status for the process: 0, or 1 if the request could
/// not be answered as the app meant (a bad request from the web server, a
/// panic, a misuse).
pub fn run(app: impl App) -> i32 {
    let stdin = std_file(io::stdin().as_fd())
        .map(|f| Box::new(f) as Box<dyn Read + Send>)
        .unwrap_or_else(|_| Box::new(io::empty()));
    let stdout = match std_file(io::stdout().as_fd()) {
        Ok(f) => f,
        Err(e) => {
            report(&format!("cannot use standard output: {e}"));
            return 1;
        }
    };
    let vars = std::env::vars_os().collect();
    run_with(&app, vars, Stdio { stdin, stdout })
}

/// Standard input or output as a `File` of its own (a duplicate of the
/// descriptor), so the response goes out unbuffered by `io::Stdout`'s line
/// buffering and as one write per chunk.
fn std_file(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<File> {
    Ok(File::from(fd.try_clone_to_owned()?))
}

/// Standard input and output as a gateway transport.
struct Stdio<W> {
    stdin: Box<dyn Read + Send>,
    stdout: W,
}

impl<W: Write + Send + 'static> Transport for Stdio<W> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.stdin.read(out)
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.stdout.write_all(data)?;
        self.stdout.flush()
    }
}

/// [`run`] with the environment and standard streams given.
fn run_with<W: Write + Send + 'static>(
    app: &dyn App,
    env: Vec<(OsString, OsString)>,
    mut io: Stdio<W>,
) -> i32 {
    let request = match super::request_from_vars(cgi_vars(env)) {
        Ok(request) => request,
        Err(refused) => {
            report(&format!(
                "{} (is this running as a CGI script from a web server?)",
                refused.message
            ));
            response::refuse(io, refused.code, &refused.message);
            return 1;
        }
    };
    io.stdin = spool(io.stdin, request.content_length);
    let line = request.request_line();
    let client = request.get("REMOTE_ADDR").unwrap_or("-").to_owned();
    let method = request.get("REQUEST_METHOD").unwrap_or("GET").to_owned();
    let gateway = Gateway::new(io, request.content_length, &method);
    let mut environ = Environ::from_parts(
        request.vars,
        request.scheme,
        Input::new(GatewayInput(gateway.clone())),
    );
    environ.set_process_model(false, true, true);
    let outcome = response::call(app, environ, &gateway, false);
    for error in &outcome.errors {
        report(&format!(
            "Error on request \"{line}\" from {client}: {error}"
        ));
    }
    gateway.finish();
    i32::from(!outcome.errors.is_empty())
}

/// Reads up to `len` bytes of the body before the app runs (see the
/// module documentation). A body that ends early keeps what arrived: the
/// app's read then fails at that point, as it would have.
fn spool(mut stdin: Box<dyn Read + Send>, len: u64) -> Box<dyn Read + Send> {
    if len == 0 {
        return Box::new(io::empty());
    }
    let mut body = (&mut stdin).take(len);
    if len > SPOOL_IN_MEMORY {
        if let Ok(mut file) = temp_file() {
            let copied = io::copy(&mut body, &mut file);
            if copied.is_ok() && file.rewind().is_ok() {
                return Box::new(file);
            }
            if let Ok(n) = copied {
                report(&format!(
                    "cannot reread the spooled request body ({n} bytes)"
                ));
            }
            return Box::new(io::empty());
        }
    }
    let mut bytes = Vec::with_capacity(len.min(SPOOL_IN_MEMORY) as usize);
    let _ = body.read_to_end(&mut bytes);
    Box::new(io::Cursor::new(bytes))
}

/// A new temporary file that is already unlinked: it goes away with the
/// process, whatever happens.
fn temp_file() -> io::Result<File> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let path = std::env::temp_dir().join(format!("werk-cgi-body-{}-{nanos}", std::process::id()));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    let _ = std::fs::remove_file(&path);
    Ok(file)
}

/// The request's variables from the process environment: the CGI names,
/// `HTTP_*` and `SSL_*` (but not OpenSSL's own `SSL_CERT_FILE` and
/// `SSL_CERT_DIR`); values that are not UTF-8 read as ISO-8859-1.
fn cgi_vars(env: Vec<(OsString, OsString)>) -> Vec<(String, String)> {
    use std::os::unix::ffi::OsStrExt;
    let mut extra: Vec<(String, String)> = Vec::new();
    let mut named: Vec<Option<String>> = vec![None; NAMES.len()];
    for (key, value) in env {
        let (Some(key), value) = (key.to_str(), text(value.as_bytes())) else {
            continue;
        };
        if let Some(i) = NAMES.iter().position(|n| *n == key) {
            named[i] = Some(value);
        } else if key.starts_with("HTTP_")
            || (key.starts_with("SSL_") && key != "SSL_CERT_FILE" && key != "SSL_CERT_DIR")
        {
            extra.push((key.to_owned(), value));
        }
    }
    extra.sort();
    NAMES
        .iter()
        .zip(named)
        .filter_map(|(name, value)| Some(((*name).to_owned(), value?)))
        .chain(extra)
        .collect()
}

/// A line on standard error, which the web server keeps in its error log;
/// a closed standard error is ignored.
fn report(message: &str) {
    let _ = writeln!(io::stderr(), "werk cgi: {message}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Body, StartResponse};
    use std::sync::{Arc, Mutex};

    /// An output the test can read after the gateway is done with it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn cgi(app: impl App, env: &[(&str, &str)], stdin: &[u8]) -> (i32, String) {
        let (code, out) = cgi_bytes(app, env, stdin);
        (code, String::from_utf8_lossy(&out).into_owned())
    }

    fn cgi_bytes(app: impl App, env: &[(&str, &str)], stdin: &[u8]) -> (i32, Vec<u8>) {
        let out = Shared::default();
        let env = env
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect();
        let io = Stdio {
            stdin: Box::new(io::Cursor::new(stdin.to_vec())),
            stdout: out.clone(),
        };
        let code = run_with(&app, env, io);
        let bytes = out.0.lock().unwrap().clone();
        (code, bytes)
    }

    fn echo_env(environ: &Environ, start_response: StartResponse) -> Body {
        start_response
            .start("200 OK", [("Content-Type", "text/plain")])
            .unwrap();
        let mut text = String::new();
        for (k, v) in environ.vars() {
            text.push_str(&format!("{k}={v}\n"));
        }
        text.push_str(&format!(
            "scheme={} run_once={} body={}\n",
            environ.url_scheme(),
            environ.run_once(),
            String::from_utf8_lossy(&environ.input().read_all().unwrap())
        ));
        Body::from(text)
    }

    #[test]
    fn nginx_fcgiwrap_post() {
        let (code, out) = cgi(
            echo_env,
            &[
                ("GATEWAY_INTERFACE", "CGI/1.1"),
                ("REQUEST_METHOD", "POST"),
                ("SERVER_PROTOCOL", "HTTP/1.1"),
                ("SCRIPT_NAME", "/cgi-bin/app"),
                ("PATH_INFO", "/x"),
                ("QUERY_STRING", "a=1"),
                ("CONTENT_LENGTH", "5"),
                ("CONTENT_TYPE", "text/plain"),
                ("HTTP_X_TOKEN", "t"),
                ("HTTPS", "on"),
                ("PATH", "/usr/bin"),
                ("SECRET", "x"),
            ],
            b"hello and more",
        );
        assert_eq!(code, 0);
        assert!(out.starts_with("Status: 200 OK\r\nContent-Type: text/plain\r\n"));
        assert!(out.contains("\nPATH_INFO=/x\n"), "{out}");
        assert!(out.contains("\nHTTP_X_TOKEN=t\n"), "{out}");
        assert!(
            out.contains("scheme=https run_once=true body=hello\n"),
            "{out}"
        );
        assert!(!out.contains("PATH=") && !out.contains("SECRET"), "{out}");
    }

    #[test]
    fn a_large_body_is_spooled_to_a_file() {
        let body: Vec<u8> = (0..3 * SPOOL_IN_MEMORY).map(|i| (i % 251) as u8).collect();
        let app = |environ: &Environ, start_response: StartResponse| {
            start_response
                .start("200 OK", Vec::<(String, String)>::new())
                .unwrap();
            Body::from_reader(environ.input())
        };
        let len = body.len().to_string();
        let env = [("REQUEST_METHOD", "POST"), ("CONTENT_LENGTH", len.as_str())];
        let (code, out) = cgi_bytes(app, &env, &body);
        assert_eq!(code, 0);
        let start = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert!(out[start..] == body[..], "the body came back changed");
    }

    #[test]
    fn busybox_get_without_server_name_or_length() {
        let (_, out) = cgi(
            echo_env,
            &[
                ("GATEWAY_INTERFACE", "CGI/1.1"),
                ("REQUEST_METHOD", "GET"),
                ("HTTP_HOST", "127.0.0.1:8080"),
            ],
            b"never read",
        );
        assert!(out.contains("\nSERVER_NAME=127.0.0.1\n"), "{out}");
        assert!(out.contains("\nSERVER_PORT=8080\n"), "{out}");
        assert!(out.contains(" body=\n"), "{out}");
    }

    #[test]
    fn no_cgi_environment_is_a_400_and_status_1() {
        let (code, out) = cgi(echo_env, &[("PATH", "/bin")], b"");
        assert_eq!(code, 1);
        assert!(out.starts_with("Status: 400 Bad Request\r\n"), "{out}");
    }

    #[test]
    fn a_panic_is_a_500_and_status_1() {
        let app = |_: &Environ, _: StartResponse| -> Body { panic!("boom") };
        let (code, out) = cgi(app, &[("REQUEST_METHOD", "GET")], b"");
        assert_eq!(code, 1);
        assert!(
            out.starts_with("Status: 500 Internal Server Error\r\n"),
            "{out}"
        );
    }
}
