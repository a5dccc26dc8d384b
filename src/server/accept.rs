//! The accept loop: one thread watches every listener (and a wake-up
//! socket for shutdown), accepts what is pending and queues it for the
//! pool. It never dies on a per-connection error.

use std::io::{self, Read};
use std::net::TcpListener;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use super::conn::Conn;
use super::Shared;

/// Socket timeouts for reading a body and writing a response; reading a
/// head never blocks a worker (the parker waits instead).
fn configure(stream: &std::net::TcpStream, shared: &Shared) -> io::Result<()> {
    // Accepted sockets inherit O_NONBLOCK from the listener on the BSDs
    // and macOS, not on Linux.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(shared.config.io_timeout))?;
    stream.set_write_timeout(Some(shared.config.io_timeout))
}

/// Accepts until `wake` becomes readable.
pub(crate) fn run(listeners: &[TcpListener], mut wake: UnixStream, shared: &Arc<Shared>) {
    let mut fds: Vec<RawFd> = vec![wake.as_raw_fd()];
    fds.extend(listeners.iter().map(AsRawFd::as_raw_fd));
    for listener in listeners {
        if let Err(e) = listener.set_nonblocking(true) {
            shared
                .log
                .error(&format!(" * Cannot configure listener: {e}"));
        }
    }
    loop {
        let ready = match crate::sys::wait_any_readable(&fds, -1) {
            Ok(ready) => ready,
            Err(e) => {
                shared
                    .log
                    .error(&format!(" * Waiting for connections failed: {e}"));
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if ready[0] {
            let _ = wake.read(&mut [0u8; 16]);
            if shared.is_shutting_down() {
                return;
            }
        }
        for (listener, _) in listeners.iter().zip(&ready[1..]).filter(|(_, r)| **r) {
            accept_pending(listener, shared);
        }
    }
}

/// Accepts every connection the listener has queued.
fn accept_pending(listener: &TcpListener, shared: &Arc<Shared>) {
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                let local = match stream.local_addr() {
                    Ok(local) => local,
                    Err(_) => continue,
                };
                if configure(&stream, shared).is_err() {
                    continue;
                }
                shared.pool.submit(Conn::new(stream, peer, local), shared);
            }
            Err(e) => match e.kind() {
                io::ErrorKind::WouldBlock => return,
                io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted => {}
                _ if is_fd_exhaustion(&e) => {
                    shared.log.error(&format!(
                        " * Cannot accept: {e}. Raise the limit with `ulimit -n`; retrying."
                    ));
                    std::thread::sleep(Duration::from_millis(100));
                    return;
                }
                _ => {
                    shared.log.error(&format!(" * Accept failed: {e}"));
                    return;
                }
            },
        }
    }
}

fn is_fd_exhaustion(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(code) if code == libc::EMFILE || code == libc::ENFILE)
}
