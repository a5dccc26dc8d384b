//! The child's side: which process started it, and stopping when that
//! process is gone, so that no orphan keeps serving on the port.

use std::time::Duration;

use super::Stoppable;

/// How often a child checks that its parent is still there.
const PARENT_CHECK: Duration = Duration::from_millis(500);

/// The werk process that started this one (`WERK_SUPERVISOR_PID`), if it
/// is still this process's parent. The variable is removed, so that
/// processes this one starts do not take it for theirs.
pub(crate) fn take_supervisor() -> Option<u32> {
    let value = std::env::var(super::SUPERVISOR_PID).ok();
    std::env::remove_var(super::SUPERVISOR_PID);
    value
        .and_then(|v| v.parse().ok())
        .filter(|&pid| pid == std::os::unix::process::parent_id())
}

/// Stops `target` when the parent `supervisor` goes away (its process id
/// is no longer our parent's): on systems without a parent-death signal,
/// and as a second guard on Linux, where the kernel sends SIGTERM.
pub(crate) fn watch_parent(supervisor: Option<u32>, target: impl Stoppable) -> std::io::Result<()> {
    let Some(supervisor) = supervisor else {
        return Ok(());
    };
    std::thread::Builder::new()
        .name("werk-parent".into())
        .spawn(move || loop {
            std::thread::sleep(PARENT_CHECK);
            if std::os::unix::process::parent_id() != supervisor {
                say!(" * The process that started this one (pid {supervisor}) is gone; shutting down");
                target.stop(false);
                return;
            }
        })?;
    Ok(())
}

use super::link::Report;

/// What a werk parent asked of this process through its environment,
/// read once.
#[derive(Debug, Default)]
struct FromParent {
    /// Started by `werk run`: serve once on its sockets, with its
    /// certificate and live reload; no reloader, no processes.
    dev_loop: bool,
    /// Live reload on or off, as the parent says.
    live_reload: Option<bool>,
    /// The build's generation: the server's id for live reload.
    generation: Option<String>,
    /// No request log.
    quiet: bool,
    #[cfg(feature = "tls")]
    tls: Option<crate::SslContext>,
    /// `werk run` serves HTTPS, which this build of werk cannot.
    #[cfg(not(feature = "tls"))]
    tls_wanted: bool,
}

impl FromParent {
    fn get() -> &'static FromParent {
        static ONCE: std::sync::OnceLock<FromParent> = std::sync::OnceLock::new();
        ONCE.get_or_init(|| {
            if !super::started_by_werk() {
                return FromParent::default();
            }
            let take = |name: &str| {
                let value = std::env::var(name).ok();
                std::env::remove_var(name);
                value
            };
            let dev_loop = take(super::DEV_LOOP).is_some();
            #[cfg(feature = "tls")]
            let tls = match (take(super::TLS_CERT), take(super::TLS_KEY)) {
                (Some(cert), Some(key)) => Some(crate::SslContext::Files {
                    cert: cert.into(),
                    key: key.into(),
                }),
                _ if dev_loop && std::env::var_os(crate::tls::ADHOC_ENV).is_some() => {
                    Some(crate::SslContext::Adhoc)
                }
                _ => None,
            };
            #[cfg(not(feature = "tls"))]
            let tls_wanted = take(super::TLS_CERT).is_some() | take(super::TLS_KEY).is_some()
                || (dev_loop && std::env::var_os("WERK_ADHOC_TLS").is_some());
            FromParent {
                dev_loop,
                live_reload: take(super::LIVE_RELOAD).map(|v| v == "1"),
                generation: take(super::GENERATION),
                quiet: take(super::QUIET).is_some(),
                #[cfg(feature = "tls")]
                tls,
                #[cfg(not(feature = "tls"))]
                tls_wanted,
            }
        })
    }
}

/// `options` as the werk parent that started this process wants them:
/// under `werk run`, its certificate and live reload, and neither the
/// reloader nor `processes` (`werk run` is both); under any werk parent,
/// the server's id for live reload. Unchanged in a process no werk parent
/// started.
pub(crate) fn with_parent_settings(
    mut options: crate::Options,
) -> Result<crate::Options, crate::Error> {
    let parent = FromParent::get();
    #[cfg(not(feature = "tls"))]
    if parent.tls_wanted {
        return Err(crate::Error::Config(
            "werk run serves HTTPS (--cert), but this program's werk was built without \
             its tls feature: remove default-features = false from werk in Cargo.toml"
                .into(),
        ));
    }
    if let Some(on) = parent.live_reload {
        options.live_reload = on;
    }
    if let Some(generation) = &parent.generation {
        options.live_id = Some(generation.clone());
    }
    if !parent.dev_loop {
        return Ok(options);
    }
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        let mut ignored = vec!["host and port"];
        if options.use_reloader {
            ignored.push("use_reloader");
        }
        if options.processes > 1 {
            ignored.push("processes");
        }
        if parent.generation.as_deref() == Some("1") {
            say!(
                " * Serving on the sockets of werk run: the program's {} are not used",
                ignored.join(", ")
            );
        }
    });
    options.use_reloader = false;
    options.processes = 1;
    if parent.quiet {
        options.log_requests = false;
    }
    #[cfg(feature = "tls")]
    if let Some(tls) = &parent.tls {
        options.ssl_context = Some(tls.clone());
    }
    Ok(options)
}

/// Ties a server to the werk parent that started this process: the
/// server reports when it serves and hears the build states for live
/// reload; under `werk run` it also stops on SIGTERM (a newer build
/// replaces it) and when the parent is gone, whoever calls
/// `serve_forever`.
pub(crate) fn connect_to_parent(server: &mut crate::Server) -> std::io::Result<()> {
    let Some(link) = super::link::to_parent() else {
        return Ok(());
    };
    let pid = std::process::id();
    let dev_loop = FromParent::get().dev_loop;
    let handle = server.handle();
    server.before_accepting(move || {
        link.report(&Report::Ready(pid));
        if dev_loop {
            // One process accepts at a time: the one before stops first.
            link.wait_for_accept(|| crate::Server::is_stopping(&handle));
        }
    });
    server.after_accepting(move || link.report(&Report::Stopped(pid)));
    if let Some(live) = server.live() {
        link.on_build_state(std::sync::Arc::new(move |state| {
            live.set_state(state.clone())
        }));
    }
    if dev_loop && !server.signals_handled() {
        super::handle_signals(true, server.handle())?;
        watch_parent(take_supervisor(), server.handle())?;
        server.set_signals_handled();
    }
    Ok(())
}
