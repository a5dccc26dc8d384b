//! Who listens where, from Linux's /proc: the listening TCP sockets in
//! /proc/net/tcp and tcp6, and the process that holds a socket inode
//! (found through /proc/PID/fd). On other systems the files are absent
//! and these return errors or nothing.

use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// TCP state `LISTEN` in /proc/net/tcp.
const LISTEN: &str = "0A";

/// A listening TCP socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcListener {
    pub addr: SocketAddr,
    pub inode: u64,
}

/// A process holding a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    pub pid: u32,
    pub name: String,
}

/// Every listening TCP socket of both families.
pub(crate) fn listeners() -> io::Result<Vec<ProcListener>> {
    let mut out = Vec::new();
    for path in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = fs::read_to_string(path) {
            out.extend(parse_table(&text));
        }
    }
    if out.is_empty() && fs::metadata("/proc/net/tcp").is_err() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "/proc/net/tcp is not available",
        ));
    }
    Ok(out)
}

/// The listening sockets of one /proc/net/tcp{,6} table.
pub(crate) fn parse_table(text: &str) -> Vec<ProcListener> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 10 || fields[3] != LISTEN {
                return None;
            }
            Some(ProcListener {
                addr: parse_addr(fields[1])?,
                inode: fields[9].parse().ok()?,
            })
        })
        .collect()
}

/// `0100007F:1388` -> 127.0.0.1:5000. The address is the kernel's
/// in-memory bytes, printed as 32-bit words in host order.
fn parse_addr(text: &str) -> Option<SocketAddr> {
    let (ip_hex, port_hex) = text.split_once(':')?;
    let port = u16::from_str_radix(port_hex, 16).ok()?;
    let words: Vec<u32> = (0..ip_hex.len() / 8)
        .map(|i| u32::from_str_radix(&ip_hex[i * 8..i * 8 + 8], 16))
        .collect::<Result<_, _>>()
        .ok()?;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
    let ip = match bytes.len() {
        4 => IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])),
        16 => {
            let arr: [u8; 16] = bytes.try_into().ok()?;
            IpAddr::V6(Ipv6Addr::from(arr))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// The process that has the socket with this inode open, if this user may
/// look.
pub(crate) fn owner_of_inode(inode: u64) -> Option<Owner> {
    let target = format!("socket:[{inode}]");
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == target.as_str()) {
                let name = fs::read_to_string(entry.path().join("comm"))
                    .map(|s| s.trim().to_owned())
                    .unwrap_or_else(|_| "?".to_owned());
                return Some(Owner { pid, name });
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_families() {
        let v4 = "  sl  local_address rem_address   st\n   0: 0100007F:1388 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000  0 4242 1\n   1: 0100007F:D452 0100007F:B6A3 06 00000000:00000000 03:000009AF 00000000 0 0 0 3\n";
        let got = parse_table(v4);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].addr, "127.0.0.1:5000".parse().unwrap());
        assert_eq!(got[0].inode, 4242);
        let v6 = "  sl  local_address remote st\n   0: 00000000000000000000000001000000:1388 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000  0 77 1\n";
        let got = parse_table(v6);
        assert_eq!(got[0].addr, "[::1]:5000".parse().unwrap());
    }

    #[test]
    fn finds_our_own_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let Ok(all) = listeners() else {
            say!("skipped: /proc/net/tcp is not available here");
            return;
        };
        let ours = all.iter().find(|l| l.addr == addr).expect("listed");
        if let Some(owner) = owner_of_inode(ours.inode) {
            assert_eq!(owner.pid, std::process::id());
        }
    }
}
