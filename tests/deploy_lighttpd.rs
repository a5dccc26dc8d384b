//! The echo app behind lighttpd: as a CGI script (`mod_cgi`, a wrapper
//! that execs `werk cgi echo`) and over SCGI (`mod_scgi` in front of werk
//! serving SCGI), reached over HTTP by a raw-socket client. lighttpd runs
//! in the foreground (`-D`) on 127.0.0.1 and a free port, with a config
//! the test writes, and is stopped by its process id at the end.
//!
//! If lighttpd is not installed or does not start, the test fails under
//! CI (`.ci/run` installs it) and elsewhere says that it skips and why.

mod deploy_support;
mod support;

use std::fs;
use std::process::Command;

use deploy_support::{
    check_echo_app, check_process_model, free_port, installed, start_daemon, Daemon, Mount, TempDir,
};
use support::TestServer;

/// Starts lighttpd for `test` with `body` after the common settings;
/// `None` if it is not installed or does not start, which fails under CI
/// and is a skip (said on standard error) elsewhere.
fn lighttpd(test: &str, dir: &TempDir, port: u16, body: &str) -> Option<Daemon> {
    let program = installed("lighttpd", "lighttpd", test)?;
    fs::create_dir_all(dir.join("www")).unwrap();
    fs::create_dir_all(dir.join("uploads")).unwrap();
    let config = format!(
        r#"server.document-root = "{www}"
server.bind          = "127.0.0.1"
server.port          = {port}
server.errorlog      = "{errorlog}"
server.upload-dirs   = ( "{uploads}" )
{body}
"#,
        www = dir.text("www"),
        errorlog = dir.text("lighttpd-error.log"),
        uploads = dir.text("uploads"),
    );
    let conf = dir.join("lighttpd.conf");
    fs::write(&conf, config).unwrap();
    let mut command = Command::new(program);
    command.arg("-D").arg("-f").arg(&conf);
    start_daemon(
        test,
        "lighttpd",
        || {
            let mut daemon = Daemon::spawn("lighttpd", &mut command, dir.join("lighttpd.out"))?;
            daemon.also_log(dir.join("lighttpd-error.log"));
            Ok(daemon)
        },
        |daemon| daemon.wait_listening(port),
    )
}

#[test]
fn lighttpd_cgi_runs_the_echo_app() {
    let dir = TempDir::new("lighttpd-cgi");
    fs::create_dir_all(dir.join("www/cgi-bin")).unwrap();
    deploy_support::write_cgi_wrapper(&dir.join("www/cgi-bin/echo"));
    let port = free_port();
    let Some(lighttpd) = lighttpd(
        "lighttpd_cgi_runs_the_echo_app",
        &dir,
        port,
        r#"server.modules = ( "mod_cgi" )
$HTTP["url"] =~ "^/cgi-bin/" { cgi.assign = ( "" => "" ) }"#,
    ) else {
        return;
    };
    let mount = Mount {
        what: "lighttpd + CGI",
        port,
        prefix: "/cgi-bin/echo",
        script_name: "/cgi-bin/echo",
        cgi: true,
    };
    let pids = check_echo_app(&mount);
    check_process_model(&mount, pids);
    deploy_support::check_panic_logged(&[&lighttpd], mount.what);
    lighttpd.stop_and_check(Some(port));
}

#[test]
fn lighttpd_scgi_runs_the_echo_app() {
    let dir = TempDir::new("lighttpd-scgi");
    let werk = TestServer::start(
        werk::apps::echo,
        support::quiet().protocol(werk::Protocol::Scgi),
    );
    let port = free_port();
    let scgi = format!(
        r#"server.modules = ( "mod_scgi" )
scgi.server = ( "/" => ((
  "host" => "127.0.0.1", "port" => {},
  "check-local" => "disable", "fix-root-scriptname" => "enable"
)) )"#,
        werk.addr.port()
    );
    let Some(lighttpd) = lighttpd("lighttpd_scgi_runs_the_echo_app", &dir, port, &scgi) else {
        return;
    };
    let mount = Mount {
        what: "lighttpd + SCGI",
        port,
        prefix: "",
        script_name: "",
        cgi: false,
    };
    let pids = check_echo_app(&mount);
    check_process_model(&mount, pids);
    lighttpd.stop_and_check(Some(port));
    werk.stop()
        .expect("serve_forever")
        .expect("werk stops cleanly");
}

/// `examples/deploy.rs` calls `werk::run`: started by lighttpd as a CGI
/// script it answers the request, the same binary that serves HTTP on
/// localhost:5000 when started by hand. The example is built by a full
/// `cargo test` (or `cargo build --example deploy`), as CI runs it; when
/// it is not there the test fails under CI and skips elsewhere, saying so.
#[test]
fn lighttpd_cgi_runs_a_program_built_on_werk_run() {
    let test = "lighttpd_cgi_runs_a_program_built_on_werk_run";
    let werk = std::path::Path::new(env!("CARGO_BIN_EXE_werk"));
    let example = werk.with_file_name("examples").join("deploy");
    if !example.is_file() {
        let why = format!(
            "{} is not built (cargo build --example deploy)",
            example.display()
        );
        support::skip(test, &why);
        return;
    }
    let dir = TempDir::new("lighttpd-run");
    fs::create_dir_all(dir.join("www/cgi-bin")).unwrap();
    let script = dir.join("www/cgi-bin/deploy");
    fs::write(
        &script,
        format!("#!/bin/sh\nexec '{}'\n", example.display()),
    )
    .unwrap();
    fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let port = free_port();
    let Some(lighttpd) = lighttpd(
        test,
        &dir,
        port,
        r#"server.modules = ( "mod_cgi" )
$HTTP["url"] =~ "^/cgi-bin/" { cgi.assign = ( "" => "" ) }"#,
    ) else {
        return;
    };
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let response = support::Client::connect(addr).get("/cgi-bin/deploy/hi");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.text(),
        "Hello from /hi on 127.0.0.1, served by a CGI script (a process for this request)\n"
    );
    lighttpd.stop_and_check(Some(port));
}

/// The program `docs/deploying.md` shows is `examples/deploy.rs`, which
/// the test above runs under lighttpd: the page cannot drift from it.
#[test]
fn deploying_md_shows_the_tested_example() {
    let root = env!("CARGO_MANIFEST_DIR");
    let doc = fs::read_to_string(format!("{root}/docs/deploying.md")).unwrap();
    let example = fs::read_to_string(format!("{root}/examples/deploy.rs")).unwrap();
    let start = doc.find("```rust\n").expect("a rust block") + "```rust\n".len();
    let block = &doc[start..start + doc[start..].find("```").unwrap()];
    assert!(
        example.contains(block),
        "the first rust block of docs/deploying.md is not in examples/deploy.rs:\n{block}"
    );
}
