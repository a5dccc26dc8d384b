//! The echo app behind nginx: as a CGI script through fcgiwrap (nginx has
//! no CGI of its own; fcgiwrap runs a wrapper that execs `werk cgi echo`)
//! and over SCGI (`scgi_pass` to werk serving SCGI), reached over HTTP by
//! a raw-socket client. nginx runs in the foreground with its pid file,
//! logs and temporary files in the test's directory (`nginx -p DIR -c
//! nginx.conf -g 'daemon off;'`), fcgiwrap on a Unix socket there; both
//! are stopped by their process id at the end.
//!
//! If nginx or fcgiwrap is not installed or does not start, the test
//! fails under CI (`.ci/run` installs them) and elsewhere says that it
//! skips and why.

mod deploy_support;
mod support;

use std::fs;
use std::os::unix::net::UnixStream;
use std::process::Command;

use deploy_support::{
    check_echo_app, check_process_model, free_port, installed, start_daemon, Daemon, Mount, TempDir,
};
use support::TestServer;

/// Starts nginx for `test`, serving `locations` on 127.0.0.1:`port`;
/// `None` if it is not installed or does not start, which fails under CI
/// and is a skip (said on standard error) elsewhere.
fn nginx(test: &str, dir: &TempDir, port: u16, locations: &str) -> Option<Daemon> {
    let program = installed("nginx", "nginx-light", test)?;
    fs::create_dir_all(dir.join("www")).unwrap();
    let d = |name: &str| dir.text(name);
    let config = format!(
        r#"master_process off;
worker_processes 1;
pid {pid};
error_log {error_log} info;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  fastcgi_temp_path {tmp}/fastcgi;
  proxy_temp_path {tmp}/proxy;
  scgi_temp_path {tmp}/scgi;
  uwsgi_temp_path {tmp}/uwsgi;
  client_max_body_size 8m;
  server {{
    listen 127.0.0.1:{port};
    root {www};
{locations}
  }}
}}
"#,
        pid = d("nginx.pid"),
        error_log = d("nginx-error.log"),
        tmp = dir.path.display(),
        www = d("www"),
    );
    let conf = dir.join("nginx.conf");
    fs::write(&conf, config).unwrap();
    let mut command = Command::new(program);
    command
        .arg("-p")
        .arg(&dir.path)
        .arg("-e")
        .arg(dir.join("nginx-error.log"))
        .arg("-c")
        .arg(&conf)
        .arg("-g")
        .arg("daemon off;");
    start_daemon(
        test,
        "nginx",
        || {
            let mut daemon = Daemon::spawn("nginx", &mut command, dir.join("nginx.out"))?;
            daemon.also_log(dir.join("nginx-error.log"));
            Ok(daemon)
        },
        |daemon| daemon.wait_listening(port),
    )
}

/// The FastCGI parameters fcgiwrap turns into the CGI environment:
/// self-contained, so the test does not depend on the distribution's
/// `fastcgi_params`.
const CGI_LOCATION: &str = r#"
    location /cgi-bin/ {
      fastcgi_split_path_info ^(/cgi-bin/[^/]+)(/.*)$;
      fastcgi_param GATEWAY_INTERFACE CGI/1.1;
      fastcgi_param SERVER_SOFTWARE   nginx;
      fastcgi_param SERVER_PROTOCOL   $server_protocol;
      fastcgi_param REQUEST_METHOD    $request_method;
      fastcgi_param QUERY_STRING      $query_string;
      fastcgi_param CONTENT_TYPE      $content_type;
      fastcgi_param CONTENT_LENGTH    $content_length;
      fastcgi_param SCRIPT_NAME       $fastcgi_script_name;
      fastcgi_param SCRIPT_FILENAME   $document_root$fastcgi_script_name;
      fastcgi_param PATH_INFO         $fastcgi_path_info;
      fastcgi_param REQUEST_URI       $request_uri;
      fastcgi_param REMOTE_ADDR       $remote_addr;
      fastcgi_param REMOTE_PORT       $remote_port;
      fastcgi_param SERVER_ADDR       $server_addr;
      fastcgi_param SERVER_PORT       $server_port;
      fastcgi_param SERVER_NAME       $host;
      fastcgi_param HTTPS             $https if_not_empty;
      fastcgi_pass unix:SOCKET;
    }"#;

#[test]
fn nginx_fcgiwrap_cgi_runs_the_echo_app() {
    let test = "nginx_fcgiwrap_cgi_runs_the_echo_app";
    let dir = TempDir::new("nginx-cgi");
    fs::create_dir_all(dir.join("www/cgi-bin")).unwrap();
    deploy_support::write_cgi_wrapper(&dir.join("www/cgi-bin/echo"));
    let Some(fcgiwrap_program) = installed("fcgiwrap", "fcgiwrap", test) else {
        return;
    };
    let socket = dir.join("fcgiwrap.sock");
    // One process (-c 1): with more, fcgiwrap forks workers that outlive
    // a parent stopped by its id.
    let mut command = Command::new(fcgiwrap_program);
    command
        .arg("-c")
        .arg("1")
        .arg("-s")
        .arg(format!("unix:{}", socket.display()));
    let Some(fcgiwrap) = start_daemon(
        test,
        "fcgiwrap",
        || Daemon::spawn("fcgiwrap", &mut command, dir.join("fcgiwrap.out")),
        |daemon| daemon.wait_ready(|| UnixStream::connect(&socket).is_ok()),
    ) else {
        return;
    };
    let port = free_port();
    let location = CGI_LOCATION.replace("SOCKET", &socket.display().to_string());
    let Some(nginx) = nginx(test, &dir, port, &location) else {
        return;
    };
    let mount = Mount {
        what: "nginx + fcgiwrap + CGI",
        port,
        prefix: "/cgi-bin/echo",
        script_name: "/cgi-bin/echo",
        cgi: true,
    };
    let pids = check_echo_app(&mount);
    check_process_model(&mount, pids);
    deploy_support::check_panic_logged(&[&nginx, &fcgiwrap], mount.what);
    nginx.stop_and_check(Some(port));
    fcgiwrap.stop_and_check(None);
    deploy_support::assert_no_process_mentions(&socket.display().to_string());
}

#[test]
fn nginx_scgi_runs_the_echo_app() {
    let dir = TempDir::new("nginx-scgi");
    let werk = TestServer::start(
        werk::apps::echo,
        support::quiet().protocol(werk::Protocol::Scgi),
    );
    // No PATH_INFO or SCRIPT_NAME: werk takes the path from REQUEST_URI.
    // HTTP_HOST comes from the request's own Host header.
    let location = format!(
        r#"
    location / {{
      scgi_param REQUEST_METHOD  $request_method;
      scgi_param REQUEST_URI     $request_uri;
      scgi_param QUERY_STRING    $query_string;
      scgi_param CONTENT_TYPE    $content_type;
      scgi_param SERVER_PROTOCOL $server_protocol;
      scgi_param REQUEST_SCHEME  $scheme;
      scgi_param HTTPS           $https if_not_empty;
      scgi_param REMOTE_ADDR     $remote_addr;
      scgi_param REMOTE_PORT     $remote_port;
      scgi_param SERVER_NAME     $host;
      scgi_param SERVER_PORT     $server_port;
      scgi_param SCGI            1;
      scgi_pass 127.0.0.1:{};
    }}"#,
        werk.addr.port()
    );
    let port = free_port();
    let Some(nginx) = nginx("nginx_scgi_runs_the_echo_app", &dir, port, &location) else {
        return;
    };
    let mount = Mount {
        what: "nginx + SCGI",
        port,
        prefix: "",
        script_name: "",
        cgi: false,
    };
    let pids = check_echo_app(&mount);
    check_process_model(&mount, pids);
    nginx.stop_and_check(Some(port));
    werk.stop()
        .expect("serve_forever")
        .expect("werk stops cleanly");
}
