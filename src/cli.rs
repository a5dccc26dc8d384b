//! The `werk` command line: `werk serve [APP] [--host HOST] [--port PORT]
//! [--threads N] ...`, `werk cgi [APP]`, `werk doctor [HOST] [PORT]
//! [--json]`, `werk trust [--name NAME]... [--uninstall | --status]`.
//!
//! Parsed with std only. A bad flag or value is a one-line error and exit
//! status 2; `--help` lists every flag.

use std::ffi::OsString;
use std::fmt;

use crate::{apps, Options};

const OVERVIEW: &str = "\
werk: a development web server in the WSGI model

Usage:
  werk run [CARGO OPTIONS] [OPTIONS] [-- ARGS]
                                build and serve the cargo project here (its
                                binary calls werk::run_simple); rebuild and
                                swap in the new build at each change to its
                                sources, with no request refused
  werk serve [APP] [OPTIONS]    serve a built-in app
  werk cgi [APP]                answer one request as a CGI script (RFC 3875),
                                for a web server's cgi-bin (see
                                docs/deploying.md)
  werk devcert BASE_PATH [--host HOST]
                                write BASE_PATH.crt and BASE_PATH.key, a
                                development certificate for HOST (default
                                localhost) and its subdomains
  werk trust [--name NAME]... [--uninstall | --status]
                                create this user's local certificate authority
                                (for localhost, the names under it,
                                127.0.0.0/8 and ::1, and each --name, such as
                                myapp.test or 192.168.1.0/24) and make the
                                system, Chromium and Firefox trust it, for
                                --cert local; --uninstall takes it out of
                                them, --status says where it is trusted
  werk doctor [HOST] [PORT] [--json]
                                explain why HOST:PORT is slow or refused for
                                browsers, curl, Node.js and Python, and how to
                                fix it (default localhost 5000; --json prints
                                the report as one JSON object)
  werk --help | --version

";

const APPS: &str = "\
Apps:
  testapp   a page that shows the request environ (default)
  hello     'Hello, World!' with a Content-Length, for benchmarks
  echo      the request reflected as JSON, for debugging clients
  files     werk serve files [DIR]: the files of DIR (default .), with
            directory listings, as python -m http.server; dot files are
            not served

";

const RUN_OPTIONS: &str = "\
Cargo options for run:
      --bin NAME              the binary to run [default: the package's only
                              binary, or its default-run]
  -p, --package NAME          the package, in a workspace
      --manifest-path PATH    the Cargo.toml to use
      --release               build with the release profile
      --features LIST         features to enable; repeatable
      --all-features          enable every feature
      --no-default-features   do not enable the default feature
      --offline               build without the network
      --no-live-reload        do not reload open pages nor show build errors
                              in them
  Options for serve that apply to run too: --host, --port, --cert, --key,
  --reloader-type, --reloader-interval, --extra-files, --exclude-patterns,
  -q. The program's own host and port are ignored under run.

";

const SERVE_OPTIONS: &str = "\
Options for serve:
      --host HOST             name or address to bind [default: localhost,
                              which is every loopback address]
  -p, --port PORT             TCP port, 0 for any free port [default: 5000]
      --threads N             workers that always run [default: CPU count]
      --max-threads N         most workers under load [default: 256]
      --processes N           serve from N processes, each with its own
                              workers (--threads per process) [default: 1]
      --max-body-size BYTES   largest request body accepted (413 beyond)
      --passthrough-errors    let a panic in the app stop the server
      --static /URL=DIR       serve the files in DIR (or the file DIR) at
                              /URL before the app; repeat for more
      --debugger              show a page with the panic and its backtrace
                              when the app panics, to clients on this
                              machine (others get a plain 500)
      --debugger-any-client   the same, to every client that can connect
      --debug                 the debugger and the reloader together, as
                              Flask's debug mode; --no-reload leaves the
                              reloader out
      --cert adhoc|local|CERT_FILE
                              serve HTTPS: with a certificate generated at
                              start (adhoc), with one from the local
                              certificate authority that werk trust makes
                              browsers and curl trust (local), or with a
                              PEM certificate file (needs --key)
      --key KEY_FILE          the PEM private key for --cert CERT_FILE
      --scgi                  speak SCGI instead of HTTP, to a web server in
                              front (lighttpd mod_scgi, nginx scgi_pass,
                              Apache mod_proxy_scgi)
      --reload                restart the server when the werk executable or
                              an --extra-files path changes; the listening
                              sockets stay open across restarts
      --reloader-type auto|stat|inotify|kqueue
                              how to watch files [default: auto: the
                              system's events, else stat]
      --reloader-interval SECS
                              how often stat looks [default: 1]
      --extra-files P1:P2     more files, or directories (watched with all
                              below them), to watch; repeatable
      --exclude-patterns G1:G2
                              globs of paths whose changes are ignored
                              (*.log, **/cache/**); repeatable
      --live-reload           reload open pages when the server restarts
                              (on by default under werk run)
  -q, --quiet                 do not log each request
  -h, --help                  print this help
  -V, --version               print the version
";

/// The help for `werk TOPIC --help`, or all of it.
pub(crate) fn help_text(topic: Option<&str>) -> String {
    let usage_line = |command: &str| {
        OVERVIEW
            .split("\n  werk ")
            .find(|part| part.starts_with(command))
            .map(|part| format!("Usage:\n  werk {}", part.trim_end()))
    };
    match topic {
        Some("serve") => format!(
            "{}\n\n{APPS}{SERVE_OPTIONS}",
            usage_line("serve").unwrap_or_default()
        ),
        Some("run") => format!("{}\n\n{RUN_OPTIONS}", usage_line("run").unwrap_or_default()),
        Some(command @ ("cgi" | "devcert" | "doctor" | "trust")) => {
            let mut text = usage_line(command).unwrap_or_default();
            if command == "cgi" {
                text.push_str("\n\n");
                text.push_str(APPS.trim_end());
            }
            text
        }
        _ => format!("{OVERVIEW}{APPS}{RUN_OPTIONS}{SERVE_OPTIONS}")
            .trim_end()
            .to_owned(),
    }
}

/// A command-line mistake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UsageError(String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "werk: {} (see werk --help)", self.0)
    }
}

impl std::error::Error for UsageError {}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// Print the help text: all of it, or one command's.
    Help(Option<String>),
    /// Print the version.
    Version,
    /// Serve a built-in app.
    Serve(ServeArgs),
    /// Build, serve and rebuild the cargo project in this directory.
    Run(RunArgs),
    /// Report how HOST:PORT behaves for each kind of client.
    Doctor {
        /// The name or address examined.
        host: String,
        /// The port examined.
        port: u16,
        /// Print JSON instead of text.
        json: bool,
    },
    /// Answer one request as a CGI script.
    Cgi {
        /// The built-in app's name.
        app: String,
    },
    /// Install the local certificate authority, remove it, or say where
    /// it is trusted.
    Trust {
        /// What to do.
        action: TrustAction,
        /// Names the authority permits besides the local ones.
        names: Vec<String>,
    },
    /// Write a development certificate and key.
    Devcert {
        /// Files are BASE_PATH.crt and BASE_PATH.key.
        base_path: String,
        /// The host the certificate is for.
        host: Option<String>,
    },
}

/// What `werk trust` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TrustAction {
    /// Create the authority if needed and install it everywhere.
    Install,
    /// `--uninstall`: remove it from every store it was put in.
    Uninstall,
    /// `--status`: say where it is trusted.
    Status,
}

/// The arguments of `werk serve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServeArgs {
    /// The built-in app's name.
    pub(crate) app: String,
    /// The directory `files` serves.
    pub(crate) dir: Option<String>,
    /// The host to bind.
    pub(crate) host: String,
    /// The port to bind.
    pub(crate) port: u16,
    /// Workers that always run.
    pub(crate) threads: Option<usize>,
    /// Most workers under load.
    pub(crate) max_threads: Option<usize>,
    /// Serving processes (`--processes`, at least 1).
    pub(crate) processes: Option<std::num::NonZeroUsize>,
    /// Largest request body.
    pub(crate) max_body_size: Option<u64>,
    /// Let app panics propagate.
    pub(crate) passthrough_errors: bool,
    /// No request log.
    pub(crate) quiet: bool,
    /// `adhoc` or a certificate file.
    pub(crate) cert: Option<String>,
    /// The key file for `cert`.
    pub(crate) key: Option<String>,
    /// `--static /URL=DIR`: URL prefixes and what they serve.
    pub(crate) static_files: Vec<(String, String)>,
    /// `--debugger`.
    pub(crate) debugger: bool,
    /// `--debugger-any-client`.
    pub(crate) debugger_any_client: bool,
    /// `--scgi`: speak SCGI instead of HTTP.
    pub(crate) scgi: bool,
    /// `--reload`.
    pub(crate) reload: bool,
    /// `--reloader-type`.
    pub(crate) reloader_type: crate::ReloaderType,
    /// `--reloader-interval`.
    pub(crate) reloader_interval: Option<std::time::Duration>,
    /// `--extra-files`, split at `:`.
    pub(crate) extra_files: Vec<String>,
    /// `--exclude-patterns`, split at `:`.
    pub(crate) exclude_patterns: Vec<String>,
    /// `--live-reload`.
    pub(crate) live_reload: bool,
}

impl Default for ServeArgs {
    fn default() -> ServeArgs {
        ServeArgs {
            app: "testapp".into(),
            dir: None,
            host: "localhost".into(),
            port: 5000,
            threads: None,
            max_threads: None,
            processes: None,
            max_body_size: None,
            passthrough_errors: false,
            quiet: false,
            cert: None,
            key: None,
            static_files: Vec::new(),
            debugger: false,
            debugger_any_client: false,
            scgi: false,
            reload: false,
            reloader_type: crate::ReloaderType::Auto,
            reloader_interval: None,
            extra_files: Vec::new(),
            exclude_patterns: Vec::new(),
            live_reload: false,
        }
    }
}

/// The arguments of `werk run`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RunArgs {
    /// The serve options that apply (host, port, certificate, watching,
    /// quiet).
    pub(crate) serve: ServeArgs,
    /// `--bin`.
    pub(crate) bin: Option<String>,
    /// `-p`, `--package`.
    pub(crate) package: Option<String>,
    /// `--manifest-path`.
    pub(crate) manifest_path: Option<String>,
    /// `--release`.
    pub(crate) release: bool,
    /// `--features`, each value split at commas and spaces.
    pub(crate) features: Vec<String>,
    /// `--all-features`.
    pub(crate) all_features: bool,
    /// `--no-default-features`.
    pub(crate) no_default_features: bool,
    /// `--offline`.
    pub(crate) offline: bool,
    /// Not `--no-live-reload`.
    pub(crate) live_reload: bool,
    /// The program's arguments, after `--`.
    pub(crate) args: Vec<String>,
}

impl ServeArgs {
    /// The server options these arguments give.
    pub(crate) fn options(&self) -> Result<Options, UsageError> {
        let mut options = Options::default()
            .passthrough_errors(self.passthrough_errors)
            .log_requests(!self.quiet)
            .use_debugger(self.debugger || self.debugger_any_client)
            .debugger_any_client(self.debugger_any_client)
            .live_reload(self.live_reload);
        if self.scgi {
            options = options.protocol(crate::Protocol::Scgi);
        }
        for (prefix, dir) in &self.static_files {
            options = options.static_files(prefix, dir);
        }
        if let Some(n) = self.threads {
            options = options.threads(n);
        }
        if let Some(n) = self.max_threads {
            options = options.max_threads(n);
        }
        if let Some(n) = self.processes {
            options = options.processes(n.get());
        }
        options = options
            .use_reloader(self.reload)
            .reloader_type(self.reloader_type)
            .extra_files(&self.extra_files)
            .exclude_patterns(&self.exclude_patterns);
        if let Some(interval) = self.reloader_interval {
            options = options.reloader_interval(interval);
        }
        if let Some(n) = self.max_body_size {
            options = options.max_body_size(n);
        }
        match (&self.cert, &self.key) {
            (None, None) => {}
            (None, Some(_)) => return Err(UsageError("--key needs --cert CERT_FILE".into())),
            #[cfg(feature = "tls")]
            (Some(cert), None) if cert == "adhoc" => {
                options = options.ssl_context(crate::SslContext::Adhoc);
            }
            #[cfg(feature = "tls")]
            (Some(cert), None) if cert == "local" => {
                options = options.ssl_context(crate::SslContext::Local);
            }
            #[cfg(feature = "tls")]
            (Some(cert), Some(key)) if cert != "adhoc" && cert != "local" => {
                options = options.ssl_context(crate::SslContext::Files {
                    cert: cert.into(),
                    key: key.into(),
                });
            }
            #[cfg(feature = "tls")]
            (Some(_), _) => return Err(UsageError(
                "use --cert adhoc or --cert local alone, or --cert CERT_FILE with --key KEY_FILE"
                    .into(),
            )),
            #[cfg(not(feature = "tls"))]
            (Some(_), _) => {
                return Err(UsageError(
                    "this werk was built without the tls feature".into(),
                ))
            }
        }
        Ok(options)
    }
}

/// Parses the arguments after the program name.
pub(crate) fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, UsageError> {
    let mut words: Vec<String> = Vec::new();
    for arg in args {
        words.push(
            arg.into_string()
                .map_err(|a| UsageError(format!("argument {a:?} is not valid UTF-8")))?,
        );
    }
    let mut rest = words.into_iter();
    match rest.next().as_deref() {
        None => Err(UsageError(
            "missing command, for example `werk serve`".into(),
        )),
        Some("-h" | "--help") => Ok(Command::Help(None)),
        Some("help") => Ok(Command::Help(rest.next())),
        Some("-V" | "--version") => Ok(Command::Version),
        Some("serve") => parse_serve(rest.collect()),
        Some("run") => parse_run(rest.collect()),
        Some("cgi") => parse_cgi(rest.collect()),
        Some("doctor") => parse_doctor(rest.collect()),
        Some("devcert") => parse_devcert(rest.collect()),
        Some("trust") => parse_trust(rest.collect()),
        Some(other) => Err(UsageError(format!("unknown command {other:?}"))),
    }
}

fn parse_serve(args: Vec<String>) -> Result<Command, UsageError> {
    let mut serve = ServeArgs::default();
    let mut app: Option<String> = None;
    let mut no_reload = false;
    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        let (flag, inline) = split_flag(&arg);
        let mut value = value_of(&flag, inline, &mut iter);
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help(Some("serve".into()))),
            "-V" | "--version" => return Ok(Command::Version),
            "-p" => serve.port = port(&value()?)?,
            "--threads" => serve.threads = Some(positive(&value()?, "--threads")?),
            "--max-threads" => serve.max_threads = Some(positive(&value()?, "--max-threads")?),
            "--processes" => {
                serve.processes = std::num::NonZeroUsize::new(positive(&value()?, "--processes")?)
            }
            "--max-body-size" => serve.max_body_size = Some(number(&value()?, "--max-body-size")?),
            "--passthrough-errors" => serve.passthrough_errors = true,
            "--static" => serve.static_files.push(static_export(&value()?)?),
            "--debugger" => serve.debugger = true,
            "--debugger-any-client" => serve.debugger_any_client = true,
            "--scgi" => serve.scgi = true,
            "--reload" => serve.reload = true,
            "--no-reload" => no_reload = true,
            "--debug" => {
                serve.debugger = true;
                serve.reload = true;
            }
            "--live-reload" => serve.live_reload = true,
            f if shared_flag(&mut serve, f, &mut value)? => {}
            f if f.starts_with('-') => return Err(unknown_option(f, SERVE_OPTIONS)),
            name if app.is_none() => app = Some(app_name(name)?),
            dir if app.as_deref() == Some("files") && serve.dir.is_none() => {
                serve.dir = Some(dir.to_owned())
            }
            extra => return Err(UsageError(format!("unexpected argument {extra:?}"))),
        }
    }
    if let Some(app) = app {
        serve.app = app;
    }
    if no_reload {
        serve.reload = false;
    }
    Ok(Command::Serve(serve))
}

/// The serve flags that `werk run` takes too; false if `flag` is not one.
fn shared_flag(
    serve: &mut ServeArgs,
    flag: &str,
    value: &mut impl FnMut() -> Result<String, UsageError>,
) -> Result<bool, UsageError> {
    match flag {
        "--host" => serve.host = host(value()?)?,
        "--port" => serve.port = port(&value()?)?,
        "--cert" => serve.cert = Some(value()?),
        "--key" => serve.key = Some(value()?),
        "--reloader-type" => serve.reloader_type = value()?.parse().map_err(UsageError)?,
        "--reloader-interval" => serve.reloader_interval = Some(seconds(&value()?)?),
        "--extra-files" => serve.extra_files.extend(split_list(&value()?)),
        "--exclude-patterns" => {
            for pattern in split_list(&value()?) {
                crate::glob::Glob::check(&pattern).map_err(UsageError)?;
                serve.exclude_patterns.push(pattern);
            }
        }
        "-q" | "--quiet" => serve.quiet = true,
        _ => return Ok(false),
    }
    Ok(true)
}

/// `--flag=value` into the flag and its inline value.
fn split_flag(arg: &str) -> (String, Option<String>) {
    match arg.split_once('=') {
        Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
        _ => (arg.to_owned(), None),
    }
}

/// The value of `flag`: inline, or the next argument.
fn value_of<'a>(
    flag: &'a str,
    inline: Option<String>,
    rest: &'a mut impl Iterator<Item = String>,
) -> impl FnMut() -> Result<String, UsageError> + 'a {
    let mut inline = inline;
    move || match inline.take() {
        Some(v) => Ok(v),
        None => rest
            .next()
            .ok_or_else(|| UsageError(format!("{flag} needs a value"))),
    }
}

/// `werk run [CARGO OPTIONS] [OPTIONS] [-- ARGS]`.
fn parse_run(args: Vec<String>) -> Result<Command, UsageError> {
    let mut run = RunArgs {
        live_reload: true,
        ..RunArgs::default()
    };
    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        if arg == "--" {
            run.args = iter.by_ref().collect();
            break;
        }
        let (flag, inline) = split_flag(&arg);
        let mut value = value_of(&flag, inline, &mut iter);
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help(Some("run".into()))),
            "--bin" => run.bin = Some(value()?),
            "-p" | "--package" => run.package = Some(package(&flag, value()?)?),
            "--manifest-path" => run.manifest_path = Some(value()?),
            "--release" => run.release = true,
            "--features" | "-F" => run.features.extend(
                value()?
                    .split([',', ' '])
                    .filter(|f| !f.is_empty())
                    .map(str::to_owned),
            ),
            "--all-features" => run.all_features = true,
            "--no-default-features" => run.no_default_features = true,
            "--offline" => run.offline = true,
            "--live-reload" => run.live_reload = true,
            "--no-live-reload" => run.live_reload = false,
            f if shared_flag(&mut run.serve, f, &mut value)? => {}
            "--threads"
            | "--max-threads"
            | "--processes"
            | "--max-body-size"
            | "--passthrough-errors"
            | "--static"
            | "--debugger"
            | "--scgi" => {
                return Err(UsageError(format!(
                    "{flag} is not an option of werk run: set it in your program's werk::Options"
                )))
            }
            "--reload" => {
                return Err(UsageError(
                    "werk run always reloads; --reload is for werk serve".into(),
                ))
            }
            f if f.starts_with('-') => {
                return Err(unknown_option(f, &format!("{RUN_OPTIONS}{SERVE_OPTIONS}")))
            }
            extra => {
                return Err(UsageError(format!(
                    "unexpected argument {extra:?} (the program's arguments go after --)"
                )))
            }
        }
    }
    Ok(Command::Run(run))
}

/// `--reloader-interval`: a positive number of seconds, such as 0.5.
fn seconds(text: &str) -> Result<std::time::Duration, UsageError> {
    match text
        .parse::<f64>()
        .map(std::time::Duration::try_from_secs_f64)
    {
        Ok(Ok(d)) if !d.is_zero() => Ok(d),
        _ => Err(UsageError(format!(
            "--reloader-interval expects a positive number of seconds, got {text:?}"
        ))),
    }
}

/// The name of a built-in app.
fn app_name(name: &str) -> Result<String, UsageError> {
    if apps::NAMES.contains(&name) {
        Ok(name.to_owned())
    } else {
        Err(UsageError(format!(
            "unknown app {name:?}; built-in apps are {}",
            apps::NAMES.join(", ")
        )))
    }
}

/// `a:b:c` into its non-empty parts.
fn split_list(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(':').filter(|s| !s.is_empty()).map(str::to_owned)
}

/// `/URL=DIR` into its prefix and path.
fn static_export(text: &str) -> Result<(String, String), UsageError> {
    match text.split_once('=') {
        Some((prefix, dir)) if prefix.starts_with('/') && !dir.is_empty() => {
            Ok((prefix.to_owned(), dir.to_owned()))
        }
        _ => Err(UsageError(format!(
            "--static expects /URL=DIR, for example /static=./assets, got {text:?}"
        ))),
    }
}

/// `werk cgi [APP]`.
fn parse_cgi(args: Vec<String>) -> Result<Command, UsageError> {
    let mut app = None;
    for arg in args {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help(Some("cgi".into()))),
            f if f.starts_with('-') => return Err(UsageError(format!("unknown option {f}"))),
            name if app.is_none() => app = Some(app_name(name)?),
            extra => return Err(UsageError(format!("unexpected argument {extra:?}"))),
        }
    }
    Ok(Command::Cgi {
        app: app.unwrap_or_else(|| "testapp".to_owned()),
    })
}

fn parse_devcert(args: Vec<String>) -> Result<Command, UsageError> {
    let mut base_path = None;
    let mut host = None;
    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help(Some("devcert".into()))),
            "--host" => {
                host = Some(
                    iter.next()
                        .ok_or_else(|| UsageError("--host needs a value".into()))?,
                )
            }
            f if f.starts_with("--host=") => host = Some(f["--host=".len()..].to_owned()),
            f if f.starts_with('-') => return Err(UsageError(format!("unknown option {f}"))),
            path if base_path.is_none() => base_path = Some(path.to_owned()),
            extra => return Err(UsageError(format!("unexpected argument {extra:?}"))),
        }
    }
    let base_path = base_path.ok_or_else(|| UsageError("devcert needs a BASE_PATH".into()))?;
    Ok(Command::Devcert { base_path, host })
}

/// `werk trust [--name NAME]... [--uninstall | --status]`.
fn parse_trust(args: Vec<String>) -> Result<Command, UsageError> {
    let mut action = TrustAction::Install;
    let mut names = Vec::new();
    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        let (flag, inline) = split_flag(&arg);
        let mut value = value_of(&flag, inline, &mut iter);
        let chosen = match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help(Some("trust".into()))),
            "--name" => {
                let name = value()?;
                #[cfg(feature = "tls")]
                crate::tls::local::Permit::parse(&name)
                    .map_err(|e| UsageError(format!("--name: {e}")))?;
                names.push(name);
                continue;
            }
            "--uninstall" => TrustAction::Uninstall,
            "--status" => TrustAction::Status,
            f if f.starts_with('-') => {
                return Err(unknown_option(f, "--name --uninstall --status --help"))
            }
            extra => return Err(UsageError(format!("unexpected argument {extra:?}"))),
        };
        if action != TrustAction::Install && action != chosen {
            return Err(UsageError("use --uninstall or --status, not both".into()));
        }
        action = chosen;
    }
    if action != TrustAction::Install && !names.is_empty() {
        return Err(UsageError(
            "--name goes with werk trust alone: it sets what a new authority permits".into(),
        ));
    }
    Ok(Command::Trust { action, names })
}

/// The package `-p` names under `werk run`, as for cargo; a number there
/// was meant as the port, as `-p` is under `werk serve`.
fn package(flag: &str, name: String) -> Result<String, UsageError> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UsageError(format!(
            "{flag} names the package under `werk run`, as for cargo; for the port, use --port {name}"
        )));
    }
    Ok(name)
}

/// `[HOST] [PORT] [--json]`; a lone number is the port.
fn parse_doctor(args: Vec<String>) -> Result<Command, UsageError> {
    let mut json = false;
    let mut words = Vec::new();
    for arg in args {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help(Some("doctor".into()))),
            "--json" => json = true,
            f if f.starts_with('-') => return Err(UsageError(format!("unknown option {f}"))),
            _ => words.push(arg),
        }
    }
    let is_port = |w: &String| w.bytes().all(|b| b.is_ascii_digit());
    let (host, port) = match words.as_slice() {
        [] => (None, None),
        [port] if is_port(port) => (None, Some(port)),
        [host] => (Some(host), None),
        [host, port] => (Some(host), Some(port)),
        [_, _, extra, ..] => return Err(UsageError(format!("unexpected argument {extra:?}"))),
    };
    Ok(Command::Doctor {
        host: host
            .map_or(crate::net::doctor::DEFAULT_HOST, String::as_str)
            .to_owned(),
        port: match port {
            Some(p) => number(p, "PORT")?,
            None => crate::net::doctor::DEFAULT_PORT,
        },
        json,
    })
}

/// `--port`: 0 to 65535.
fn port(text: &str) -> Result<u16, UsageError> {
    match text.parse::<u16>() {
        Ok(port) => Ok(port),
        Err(_) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => Err(UsageError(
            format!("--port must be from 0 to 65535 (0 picks a free port), got {text}"),
        )),
        Err(_) => Err(UsageError(format!("--port expects a number, got {text:?}"))),
    }
}

/// `--host`: a name or an address, without a port.
fn host(text: String) -> Result<String, UsageError> {
    let with_port = text
        .parse::<std::net::SocketAddr>()
        .ok()
        .map(|a| (a.ip().to_string(), a.port()));
    let named = match text.rsplit_once(':') {
        Some((name, port))
            if !name.contains(':')
                && !text.starts_with("unix:")
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some((name.to_owned(), port.parse::<u16>().unwrap_or(0)))
        }
        _ => None,
    };
    match with_port.or(named) {
        Some((name, port)) => Err(UsageError(format!(
            "--host takes a name or an address without the port: use --host {name} --port {port}"
        ))),
        None => Ok(text),
    }
}

/// An unknown option, with the closest one `help` lists when it is near.
fn unknown_option(flag: &str, help: &str) -> UsageError {
    let known = help
        .split_whitespace()
        .map(|w| w.trim_end_matches(','))
        .filter(|w| w.starts_with("--") && w.len() > 2);
    let name = flag.split('=').next().unwrap_or(flag);
    let closest = known
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d);
    match closest {
        Some((_, k)) => UsageError(format!("unknown option {flag}; did you mean {k}?")),
        None => UsageError(format!("unknown option {flag}")),
    }
}

/// The Levenshtein distance of two short words.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

fn number<T: std::str::FromStr>(text: &str, flag: &str) -> Result<T, UsageError> {
    text.parse()
        .map_err(|_| UsageError(format!("{flag} expects a number, got {text:?}")))
}

fn positive(text: &str, flag: &str) -> Result<usize, UsageError> {
    match number::<usize>(text, flag)? {
        0 => Err(UsageError(format!("{flag} must be at least 1"))),
        n => Ok(n),
    }
}

/// Runs the command line; returns the exit status.
pub fn main(args: impl IntoIterator<Item = OsString>) -> i32 {
    let command = match parse(args) {
        Ok(c) => c,
        Err(e) => {
            say!("{e}");
            return 2;
        }
    };
    match command {
        Command::Help(topic) => {
            out!("{}", help_text(topic.as_deref()).trim_end());
            0
        }
        Command::Version => {
            out!("{}", crate::SERVER_SOFTWARE);
            0
        }
        Command::Serve(args) => serve(&args),
        Command::Run(args) => run_dev_loop(args),
        Command::Doctor { host, port, json } => crate::net::doctor::examine(&host, port, json),
        Command::Cgi { app } => match apps::by_name(&app) {
            Some(app) => crate::cgi::run(app),
            None => 2,
        },
        Command::Devcert { base_path, host } => devcert(&base_path, host.as_deref()),
        Command::Trust { action, names } => trust(action, &names),
    }
}

#[cfg(feature = "tls")]
fn trust(action: TrustAction, names: &[String]) -> i32 {
    use crate::tls::trust::Action;
    let action = match action {
        TrustAction::Install => Action::Install,
        TrustAction::Uninstall => Action::Uninstall,
        TrustAction::Status => Action::Status,
    };
    crate::tls::trust::main(action, names)
}

#[cfg(not(feature = "tls"))]
fn trust(_: TrustAction, _: &[String]) -> i32 {
    say!("werk: this werk was built without the tls feature");
    2
}

#[cfg(feature = "tls")]
fn devcert(base_path: &str, host: Option<&str>) -> i32 {
    match crate::make_ssl_devcert(base_path, host) {
        Ok((cert, key)) => {
            out!("Wrote {} and {}", cert.display(), key.display());
            out!(
                "Serve with: werk serve --cert {} --key {}",
                cert.display(),
                key.display()
            );
            out!(
                "Trust with: curl --cacert {} https://{}:5000/",
                cert.display(),
                host.unwrap_or("localhost")
            );
            0
        }
        Err(e) => {
            say!("werk: cannot write the certificate: {e}");
            1
        }
    }
}

#[cfg(not(feature = "tls"))]
fn devcert(_: &str, _: Option<&str>) -> i32 {
    say!("werk: this werk was built without the tls feature");
    2
}

fn run_dev_loop(args: RunArgs) -> i32 {
    let options = match args.serve.options() {
        Ok(options) => options.live_reload(args.live_reload),
        Err(e) => {
            say!("{e}");
            return 2;
        }
    };
    let project = crate::reload::dev_loop::Project {
        cargo: crate::reload::cargo::Cargo {
            manifest_path: args.manifest_path.map(Into::into),
            package: args.package,
            bin: args.bin,
            release: args.release,
            features: args.features,
            all_features: args.all_features,
            no_default_features: args.no_default_features,
            offline: args.offline,
        },
        args: args.args.into_iter().map(Into::into).collect(),
    };
    crate::reload::dev_loop::serve(&args.serve.host, args.serve.port, project, options)
}

fn serve(args: &ServeArgs) -> i32 {
    let app: Box<dyn crate::App> = match (args.app.as_str(), &args.dir) {
        ("files", Some(dir)) => {
            if !std::path::Path::new(dir).is_dir() {
                say!("werk: files: {dir} is not a directory");
                return 1;
            }
            Box::new(apps::files(dir))
        }
        (name, _) => match apps::by_name(name) {
            Some(app) => app,
            None => {
                say!("werk: unknown app {name:?}");
                return 2;
            }
        },
    };
    let options = match args.options() {
        Ok(options) => options,
        Err(e) => {
            say!("{e}");
            return 2;
        }
    };
    if crate::procs::wanted(&options) {
        return crate::run_in_processes(&args.host, args.port, app, options);
    }
    let Some(server) = crate::procs::make_server_or_say(&args.host, args.port, app, options) else {
        return 1;
    };
    match crate::serve_until_signalled(server) {
        Ok(()) => 0,
        Err(e) => {
            say!("{e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Command, UsageError> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn defaults() {
        assert_eq!(
            parse_str(&["serve"]).unwrap(),
            Command::Serve(ServeArgs::default())
        );
    }

    #[test]
    fn flags_in_both_forms() {
        let Command::Serve(s) = parse_str(&[
            "serve",
            "echo",
            "--host",
            "::",
            "--port=0",
            "--threads",
            "4",
            "--processes=3",
            "-q",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            (s.app.as_str(), s.host.as_str(), s.port, s.threads),
            ("echo", "::", 0, Some(4))
        );
        assert_eq!(s.processes.map(|n| n.get()), Some(3));
        assert!(s.quiet);
    }

    #[test]
    fn doctor_arguments() {
        let doctor = |args: &[&str]| match parse_str(args).unwrap() {
            Command::Doctor { host, port, json } => (host, port, json),
            other => panic!("{other:?}"),
        };
        assert_eq!(doctor(&["doctor"]), ("localhost".into(), 5000, false));
        assert_eq!(
            doctor(&["doctor", "8000"]),
            ("localhost".into(), 8000, false)
        );
        assert_eq!(
            doctor(&["doctor", "api.localhost"]),
            ("api.localhost".into(), 5000, false)
        );
        assert_eq!(
            doctor(&["doctor", "--json", "::1", "80"]),
            ("::1".into(), 80, true)
        );
        assert_eq!(
            parse_str(&["doctor", "--help"]).unwrap(),
            Command::Help(Some("doctor".into()))
        );
        for bad in [
            &["doctor", "localhost", "http"][..],
            &["doctor", "localhost", "70000"],
            &["doctor", "localhost", "5000", "extra"],
            &["doctor", "--port", "5000"],
        ] {
            assert!(parse_str(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn mistakes() {
        for bad in [
            &["serve", "--port", "http"][..],
            &["serve", "--port", "70000"],
            &["serve", "--threads", "0"],
            &["serve", "--processes", "0"],
            &["serve", "--processes", "many"],
            &["serve", "--nope"],
            &["serve", "nosuchapp"],
            &["serve", "echo", "extra"],
            &["serve", "--host"],
            &["serve", "--static", "static=dir"],
            &["serve", "--static", "/static"],
            &["serve", "--static"],
            &["frobnicate"],
            &[],
        ] {
            assert!(parse_str(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn reloader_flags() {
        let Command::Serve(s) = parse_str(&[
            "serve",
            "--reload",
            "--reloader-type",
            "stat",
            "--reloader-interval=0.25",
            "--extra-files",
            "a.toml:conf/",
            "--extra-files=b.json",
            "--exclude-patterns",
            "*.log:**/cache/**",
        ])
        .unwrap() else {
            panic!()
        };
        assert!(s.reload);
        assert_eq!(s.reloader_type, crate::ReloaderType::Stat);
        assert_eq!(
            s.reloader_interval,
            Some(std::time::Duration::from_millis(250))
        );
        assert_eq!(s.extra_files, ["a.toml", "conf/", "b.json"]);
        assert_eq!(s.exclude_patterns, ["*.log", "**/cache/**"]);
        for bad in [
            &["serve", "--reloader-type", "watchdog"][..],
            &["serve", "--reloader-interval", "0"],
            &["serve", "--reloader-interval", "-1"],
            &["serve", "--reloader-interval", "soon"],
            &["serve", "--extra-files"],
        ] {
            assert!(parse_str(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cgi_and_scgi() {
        assert_eq!(
            parse_str(&["cgi"]).unwrap(),
            Command::Cgi {
                app: "testapp".into()
            }
        );
        assert_eq!(
            parse_str(&["cgi", "echo"]).unwrap(),
            Command::Cgi { app: "echo".into() }
        );
        for bad in [
            &["cgi", "nosuchapp"][..],
            &["cgi", "echo", "hello"],
            &["cgi", "--port", "1"],
        ] {
            assert!(parse_str(bad).is_err(), "{bad:?}");
        }
        let Command::Serve(s) = parse_str(&["serve", "echo", "--scgi", "--port", "9000"]).unwrap()
        else {
            panic!()
        };
        assert!(s.scgi);
        let usage = help_text(None);
        assert!(usage.contains("werk cgi [APP]") && usage.contains("--scgi"));
    }

    #[test]
    fn static_files_and_debugger() {
        let Command::Serve(s) = parse_str(&[
            "serve",
            "--static",
            "/static=./assets",
            "--static=/favicon.ico=icon.ico",
            "--debugger",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            s.static_files,
            [
                ("/static".to_owned(), "./assets".to_owned()),
                ("/favicon.ico".to_owned(), "icon.ico".to_owned())
            ]
        );
        assert!(s.debugger);
        let usage = help_text(Some("serve"));
        assert!(usage.contains("--static /URL=DIR") && usage.contains("--debugger"));
    }

    #[test]
    fn run_takes_cargo_flags_serve_flags_and_the_program_s_arguments() {
        let Command::Run(run) = parse_str(&[
            "run",
            "--bin",
            "site",
            "-p",
            "web",
            "--release",
            "--features",
            "a,b",
            "-F",
            "c",
            "--port",
            "8000",
            "--cert=adhoc",
            "--exclude-patterns",
            "*.db",
            "-q",
            "--no-live-reload",
            "--",
            "--config",
            "dev.toml",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(run.bin.as_deref(), Some("site"));
        assert_eq!(run.package.as_deref(), Some("web"));
        assert!(run.release && !run.live_reload);
        assert_eq!(run.features, ["a", "b", "c"]);
        assert_eq!(run.serve.port, 8000);
        assert_eq!(run.serve.cert.as_deref(), Some("adhoc"));
        assert_eq!(run.serve.exclude_patterns, ["*.db"]);
        assert!(run.serve.quiet);
        assert_eq!(run.args, ["--config", "dev.toml"]);
        let Command::Run(plain) = parse_str(&["run"]).unwrap() else {
            panic!()
        };
        assert!(plain.live_reload, "on by default under run");
        for bad in [
            &["run", "--threads", "4"][..],
            &["run", "--reload"],
            &["run", "echo"],
            &["run", "--bin"],
            &["run", "--nope"],
        ] {
            assert!(parse_str(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn flask_habits() {
        let serve = |args: &[&str]| match parse_str(args).unwrap() {
            Command::Serve(s) => s,
            other => panic!("{other:?}"),
        };
        assert_eq!(serve(&["serve", "-p", "5001"]).port, 5001);
        let debug = serve(&["serve", "--debug"]);
        assert!(debug.debugger && debug.reload);
        let no_reload = serve(&["serve", "--debug", "--no-reload"]);
        assert!(no_reload.debugger && !no_reload.reload);
        assert_eq!(
            parse_str(&["serve", "--help"]).unwrap(),
            Command::Help(Some("serve".into()))
        );
        assert_eq!(
            parse_str(&["help", "run"]).unwrap(),
            Command::Help(Some("run".into()))
        );
        let serve_help = help_text(Some("serve"));
        assert!(
            serve_help.starts_with("Usage:\n  werk serve [APP]"),
            "{serve_help}"
        );
        assert!(!serve_help.contains("--manifest-path"));
        assert!(help_text(Some("run")).contains("--manifest-path"));
    }

    #[test]
    fn trust_arguments() {
        let trust = |args: &[&str]| match parse_str(args).unwrap() {
            Command::Trust { action, names } => (action, names),
            other => panic!("{other:?}"),
        };
        assert_eq!(trust(&["trust"]), (TrustAction::Install, vec![]));
        assert_eq!(
            trust(&["trust", "--name", "myapp.test", "--name=10.0.0.0/8"]),
            (
                TrustAction::Install,
                vec!["myapp.test".to_owned(), "10.0.0.0/8".to_owned()]
            )
        );
        assert_eq!(trust(&["trust", "--uninstall"]).0, TrustAction::Uninstall);
        assert_eq!(trust(&["trust", "--status"]).0, TrustAction::Status);
        assert_eq!(
            parse_str(&["trust", "--help"]).unwrap(),
            Command::Help(Some("trust".into()))
        );
        assert!(help_text(Some("trust")).starts_with("Usage:\n  werk trust [--name NAME]"));
        let err = |args: &[&str]| parse_str(args).unwrap_err().to_string();
        assert!(err(&["trust", "--uninstall", "--status"]).contains("not both"));
        assert!(err(&["trust", "--status", "--name", "a.test"]).contains("werk trust alone"));
        assert!(err(&["trust", "--uninstal"]).contains("did you mean --uninstall?"));
        assert!(err(&["trust", "extra"]).contains("unexpected argument"));
        assert!(err(&["trust", "--name"]).contains("needs a value"));
        #[cfg(feature = "tls")]
        assert!(err(&["trust", "--name", "*.myapp.test"]).contains("write myapp.test"));
    }

    #[test]
    fn mistakes_say_what_to_do() {
        let err = |args: &[&str]| parse_str(args).unwrap_err().to_string();
        assert!(err(&["serve", "--prot", "80"]).contains("did you mean --port?"));
        assert!(err(&["serve", "--relaod"]).contains("did you mean --reload?"));
        assert!(err(&["run", "--releas"]).contains("did you mean --release?"));
        assert!(!err(&["serve", "--zzzzzzzz"]).contains("did you mean"));
        assert!(err(&["serve", "--host", "127.0.0.1:5000"])
            .contains("use --host 127.0.0.1 --port 5000"));
        assert!(err(&["serve", "--host", "localhost:8080"])
            .contains("use --host localhost --port 8080"));
        assert!(err(&["serve", "--host", "[::1]:5000"]).contains("--host ::1 --port 5000"));
        assert!(err(&["serve", "--port", "70000"]).contains("from 0 to 65535"));
        assert!(err(&["serve", "--port", "http"]).contains("expects a number"));
        assert!(err(&["run", "-p", "8000"]).contains("for the port, use --port 8000"));
        for fine in ["::1", "0.0.0.0", "unix:///tmp/app.sock", "api.localhost"] {
            assert!(parse_str(&["serve", "--host", fine]).is_ok(), "{fine}");
        }
    }
}
