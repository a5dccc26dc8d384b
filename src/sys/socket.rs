//! Listening sockets with the options std cannot set: `IPV6_V6ONLY`
//! before bind, and the listen backlog; adopting inherited descriptors;
//! the machine's interface addresses.

use std::io;
use std::mem;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;

/// The listen backlog: connections the kernel accepts for us while no
/// thread is in `accept` (a reloader restart, a burst). std uses 128;
/// Linux caps it at `net.core.somaxconn` (4096 on current kernels).
pub(crate) const BACKLOG: libc::c_int = 1024;

/// Binds a TCP listener:
/// 1. `socket(family, SOCK_STREAM | SOCK_CLOEXEC)`;
/// 2. `SO_REUSEADDR`, so a restart does not wait out TIME_WAIT (as std and
///    Werkzeug do);
/// 3. for IPv6, `IPV6_V6ONLY` set to `v6only` (off for `::`, so one socket
///    serves both families; on for a specific address) — std cannot set it
///    before bind;
/// 4. `bind`, then `listen` with [`BACKLOG`].
pub(crate) fn listen_tcp(addr: SocketAddr, v6only: bool) -> io::Result<TcpListener> {
    let family = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    let fd = new_socket(family)?;
    let raw = fd.as_raw_fd();
    set_int_option(raw, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    if family == libc::AF_INET6 {
        set_int_option(
            raw,
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            i32::from(v6only),
        )?;
    }
    let (storage, len) = sockaddr_of(addr);
    syscall!(bind(
        raw,
        (&storage as *const libc::sockaddr_storage).cast(),
        len
    ))?;
    syscall!(listen(raw, BACKLOG))?;
    Ok(TcpListener::from(fd))
}

#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
fn new_socket(family: libc::c_int) -> io::Result<OwnedFd> {
    let fd = syscall!(socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0))?;
    // SAFETY: socket returned a fresh descriptor that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn new_socket(family: libc::c_int) -> io::Result<OwnedFd> {
    let fd = syscall!(socket(family, libc::SOCK_STREAM, 0))?;
    // SAFETY: socket returned a fresh descriptor that we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    set_cloexec(fd.as_raw_fd(), true)?;
    Ok(fd)
}

/// Caps the kernel's send buffer of socket `fd` (`SO_SNDBUF`), so that a
/// test can fill it with little data.
#[cfg(test)]
pub(crate) fn set_send_buffer(fd: RawFd, bytes: i32) -> io::Result<()> {
    set_int_option(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, bytes)
}

fn set_int_option(fd: RawFd, level: libc::c_int, name: libc::c_int, value: i32) -> io::Result<()> {
    let value: libc::c_int = value;
    syscall!(setsockopt(
        fd,
        level,
        name,
        (&value as *const libc::c_int).cast(),
        mem::size_of::<libc::c_int>() as libc::socklen_t
    ))
    .map(drop)
}

/// Sets on a listening TCP socket the options its connections need
/// (`TCP_NODELAY`, and `timeout` for receiving and sending): on Linux an
/// accepted TCP socket starts as a copy of its listener's, so this spares
/// three `setsockopt` calls per connection. Also `TCP_DEFER_ACCEPT`: a
/// connection is handed over once its first bytes arrived (HTTP, TLS and
/// SCGI clients all speak first), so the worker that accepts it can read
/// the request at once.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn set_inherited_options(fd: RawFd, timeout: std::time::Duration) -> io::Result<()> {
    set_int_option(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)?;
    set_int_option(fd, libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT, 1)?;
    let tv = libc::timeval {
        tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_usec: timeout.subsec_micros() as libc::suseconds_t,
    };
    for name in [libc::SO_RCVTIMEO, libc::SO_SNDTIMEO] {
        syscall!(setsockopt(
            fd,
            libc::SOL_SOCKET,
            name,
            (&tv as *const libc::timeval).cast(),
            mem::size_of::<libc::timeval>() as libc::socklen_t
        ))?;
    }
    Ok(())
}

/// Reads `IPV6_V6ONLY` of an IPv6 socket.
#[cfg(test)]
pub(crate) fn v6only(fd: RawFd) -> io::Result<bool> {
    let mut value: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    syscall!(getsockopt(
        fd,
        libc::IPPROTO_IPV6,
        libc::IPV6_V6ONLY,
        (&mut value as *mut libc::c_int).cast(),
        &mut len
    ))?;
    Ok(value != 0)
}

fn sockaddr_of(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data, valid when zeroed.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is large and aligned enough for any
            // sockaddr type.
            let sin = unsafe {
                &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = v4.port().to_be();
            sin.sin_addr = libc::in_addr {
                s_addr: u32::from_ne_bytes(v4.ip().octets()),
            };
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            // SAFETY: as above.
            let sin6 = unsafe {
                &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = v6.port().to_be();
            sin6.sin6_addr = libc::in6_addr {
                s6_addr: v6.ip().octets(),
            };
            sin6.sin6_flowinfo = v6.flowinfo();
            sin6.sin6_scope_id = v6.scope_id();
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// Sets or clears `FD_CLOEXEC`: cleared, a descriptor survives `exec` into
/// a child process (socket activation, the reloader's child).
pub(crate) fn set_cloexec(fd: RawFd, on: bool) -> io::Result<()> {
    let flags = syscall!(fcntl(fd, libc::F_GETFD))?;
    let flags = if on {
        flags | libc::FD_CLOEXEC
    } else {
        flags & !libc::FD_CLOEXEC
    };
    syscall!(fcntl(fd, libc::F_SETFD, flags)).map(drop)
}

/// A listening socket received from the parent process.
#[derive(Debug)]
pub(crate) enum Inherited {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// Adopts descriptor `fd` if it is a listening stream socket (the checks
/// of `sd_is_socket`): `fstat` says socket, `SO_TYPE` is `SOCK_STREAM`,
/// `SO_ACCEPTCONN` is set; the family picks the listener type.
pub(crate) fn adopt_listener(fd: RawFd) -> io::Result<Inherited> {
    // SAFETY: `stat` is plain data; fstat fills it or fails.
    let mut stat: libc::stat = unsafe { mem::zeroed() };
    syscall!(fstat(fd, &mut stat))?;
    if stat.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(io::Error::other(format!("descriptor {fd} is not a socket")));
    }
    if get_int_option(fd, libc::SOL_SOCKET, libc::SO_TYPE)? != libc::SOCK_STREAM {
        return Err(io::Error::other(format!(
            "descriptor {fd} is not a stream socket"
        )));
    }
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    if get_int_option(fd, libc::SOL_SOCKET, libc::SO_ACCEPTCONN)? == 0 {
        return Err(io::Error::other(format!(
            "descriptor {fd} is not listening"
        )));
    }
    // SAFETY: as above.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    syscall!(getsockname(
        fd,
        (&mut storage as *mut libc::sockaddr_storage).cast(),
        &mut len
    ))?;
    set_cloexec(fd, true)?;
    let family = libc::c_int::from(storage.ss_family);
    // SAFETY: the checks above show `fd` is an open listening socket, and
    // the protocol hands its ownership to this process.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    match family {
        libc::AF_INET | libc::AF_INET6 => Ok(Inherited::Tcp(TcpListener::from(owned))),
        libc::AF_UNIX => Ok(Inherited::Unix(UnixListener::from(owned))),
        other => Err(io::Error::other(format!(
            "descriptor {fd} has unsupported address family {other}"
        ))),
    }
}

/// The largest TCP segment the connection `fd` sends (`TCP_MAXSEG`):
/// about 64 KiB on loopback, 1,448 bytes on Ethernet.
pub(crate) fn segment_size(fd: RawFd) -> io::Result<usize> {
    let size = get_int_option(fd, libc::IPPROTO_TCP, libc::TCP_MAXSEG)?;
    Ok(usize::try_from(size).unwrap_or(0))
}

fn get_int_option(fd: RawFd, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    syscall!(getsockopt(
        fd,
        level,
        name,
        (&mut value as *mut libc::c_int).cast(),
        &mut len
    ))?;
    Ok(value)
}

/// An address of a network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InterfaceAddr {
    pub name: String,
    pub ip: IpAddr,
}

/// Every IPv4 and IPv6 address on the machine's interfaces (`getifaddrs`).
pub(crate) fn interface_addrs() -> io::Result<Vec<InterfaceAddr>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    syscall!(getifaddrs(&mut head))?;
    let mut out = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, which
        // stays valid until freeifaddrs below.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: ifa_addr points to a sockaddr whose family tells its
        // real type.
        let family = libc::c_int::from(unsafe { (*ifa.ifa_addr).sa_family });
        let ip = match family {
            libc::AF_INET => {
                // SAFETY: the family is AF_INET, so this is a sockaddr_in.
                let sin = unsafe { &*ifa.ifa_addr.cast::<libc::sockaddr_in>() };
                IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
            }
            libc::AF_INET6 => {
                // SAFETY: the family is AF_INET6, so this is a sockaddr_in6.
                let sin6 = unsafe { &*ifa.ifa_addr.cast::<libc::sockaddr_in6>() };
                IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr))
            }
            _ => continue,
        };
        out.push(InterfaceAddr { name, ip });
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

/// What a `sendfile` step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileSent {
    /// Bytes sent.
    pub sent: u64,
    /// The socket had no room for more (a non-blocking socket, or a send
    /// timeout that expired); otherwise fewer than asked means the file
    /// ended first.
    pub blocked: bool,
}

/// Sends up to `len` bytes of `file`, from its current position (which it
/// advances), to the socket `out` without copying them through user
/// space: `sendfile(2)`. Stops when the socket has no room (`blocked`: the
/// caller makes the socket non-blocking for this) or the file ends.
/// `None` if the kernel cannot do it for these descriptors and nothing
/// was sent.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn send_file(out: RawFd, file: RawFd, len: u64) -> io::Result<Option<FileSent>> {
    // Full segments only while the file goes out (the connection has
    // TCP_NODELAY, which would send each piece as it is queued); the
    // last partial one leaves when the cork comes off. Not a TCP socket:
    // nothing to do.
    let corked = set_int_option(out, libc::IPPROTO_TCP, libc::TCP_CORK, 1).is_ok();
    let result = send_file_uncorked(out, file, len);
    if corked {
        let _ = set_int_option(out, libc::IPPROTO_TCP, libc::TCP_CORK, 0);
    }
    result
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn send_file_uncorked(out: RawFd, file: RawFd, len: u64) -> io::Result<Option<FileSent>> {
    let mut sent = 0u64;
    while sent < len {
        let count = (len - sent).min(1 << 30) as usize;
        // SAFETY: both descriptors are open for the caller's borrow; a null
        // offset makes the kernel use and advance the file position.
        let n = unsafe { libc::sendfile(out, file, std::ptr::null_mut(), count) };
        if n > 0 {
            sent += n as u64;
            continue;
        }
        if n == 0 {
            break;
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => {}
            Some(libc::EINVAL | libc::ENOSYS) if sent == 0 => return Ok(None),
            _ if err.kind() == io::ErrorKind::WouldBlock => {
                return Ok(Some(FileSent {
                    sent,
                    blocked: true,
                }))
            }
            _ => return Err(err),
        }
    }
    Ok(Some(FileSent {
        sent,
        blocked: false,
    }))
}
