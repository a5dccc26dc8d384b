//! The errors `make_server` and `run_simple` report, worded so a user knows
//! what to do next.

use std::fmt;
use std::io;
use std::net::SocketAddr;

/// Why a server could not start or stopped.
#[non_exhaustive]
#[derive(Debug)]
pub enum Error {
    /// The host name did not resolve.
    Resolve {
        /// The name as given.
        host: String,
        /// The resolver's error.
        source: io::Error,
    },
    /// The host name resolved to no address.
    NoAddress {
        /// The name as given.
        host: String,
    },
    /// Binding or listening on an address failed.
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
        /// The program holding the port, when the OS tells.
        holder: Option<String>,
    },
    /// Making a Unix socket file failed.
    UnixBind {
        /// The socket's path.
        path: std::path::PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// An invalid option value.
    Config(String),
    /// A certificate or key could not be loaded or generated.
    Tls(String),
    /// Any other I/O error while setting up or serving.
    Io(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Resolve { host, source } => {
                write!(f, "cannot resolve host {host:?}: {source}")
            }
            Error::NoAddress { host } => {
                write!(f, "host {host:?} resolves to no address")
            }
            Error::Bind {
                addr,
                source,
                holder,
            } => {
                write!(f, "cannot listen on {addr}: {source}")?;
                match source.kind() {
                    io::ErrorKind::AddrInUse => {
                        write!(
                            f,
                            ". Port {} is in use by another program. Either identify and stop that program, or start the server with a different port.",
                            addr.port()
                        )?;
                        if let Some(holder) = holder {
                            write!(f, " It is held by {holder}.")?;
                        }
                    }
                    _ if addr.is_ipv6()
                        && matches!(source.raw_os_error(), Some(libc::EAFNOSUPPORT | libc::EADDRNOTAVAIL)) =>
                    {
                        write!(
                            f,
                            ". IPv6 is disabled or not configured on this machine; use an IPv4 address such as 127.0.0.1."
                        )?
                    }
                    io::ErrorKind::PermissionDenied if addr.port() < 1024 => write!(
                        f,
                        ". Ports below 1024 need privileges; use a port such as 5000 or 8080."
                    )?,
                    io::ErrorKind::AddrNotAvailable => write!(
                        f,
                        ". No interface of this machine has the address {}.",
                        addr.ip()
                    )?,
                    _ => {}
                }
                Ok(())
            }
            Error::UnixBind { path, source } => {
                write!(
                    f,
                    "cannot listen on unix socket {}: {source}",
                    path.display()
                )?;
                let dir = path
                    .parent()
                    .map_or_else(|| ".".into(), |d| d.display().to_string());
                match source.kind() {
                    io::ErrorKind::NotFound => write!(
                        f,
                        ". Its directory {dir} does not exist: create it (mkdir -p {dir}) or choose another path."
                    ),
                    io::ErrorKind::PermissionDenied => write!(
                        f,
                        ". This user may not create files in {dir}: choose a directory you can write, such as /tmp or $XDG_RUNTIME_DIR."
                    ),
                    _ => Ok(()),
                }
            }
            Error::Config(msg) => write!(f, "invalid option: {msg}"),
            Error::Tls(msg) => write!(f, "tls: {msg}"),
            Error::Io(e) => write!(f, "io: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Resolve { source, .. }
            | Error::Bind { source, .. }
            | Error::UnixBind { source, .. } => Some(source),
            Error::Io(e) => Some(e),
            Error::NoAddress { .. } | Error::Config(_) | Error::Tls(_) => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}
