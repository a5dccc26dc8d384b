//! A client connection: the socket, its addresses, and the bytes read but
//! not yet used (the rest of a head, a body, pipelined requests).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::RawFd;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) use super::socket::Stream;
pub(crate) use crate::net::Plain;

/// The read buffer a connection starts with, and the room it keeps free
/// for a read (half of it): enough for any usual request head; a larger
/// head grows it. Kept while the connection lives, so it is also what an
/// idle connection costs.
const READ_CHUNK: usize = 8 * 1024;

/// The response buffer a connection starts with: room for a head and a
/// small body.
const WRITE_BUFFER_START: usize = 1024;

/// The largest response buffer a connection keeps between requests.
const WRITE_BUFFER_KEPT: usize = 4 * 1024;

/// The client's end of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Peer {
    /// An IP client, with IPv4-mapped IPv6 addresses unmapped.
    Ip(SocketAddr),
    /// A client of a Unix socket.
    Local,
}

impl Peer {
    /// The name the log and `REMOTE_ADDR` use: the IP, or `<local>` as
    /// Werkzeug says for Unix sockets.
    pub(crate) fn name(&self) -> String {
        match self {
            Peer::Ip(addr) => addr.ip().to_string(),
            Peer::Local => "<local>".to_owned(),
        }
    }

    /// `REMOTE_PORT`: 0 for Unix sockets.
    pub(crate) fn port(&self) -> u16 {
        match self {
            Peer::Ip(addr) => addr.port(),
            Peer::Local => 0,
        }
    }
}

/// The server's end of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Local {
    Ip(SocketAddr),
    Unix(Arc<Path>),
}

/// A connection's addresses as the environ and the log spell them,
/// formatted once per connection rather than once per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Names {
    /// The client in the log.
    pub remote_addr: Arc<str>,
    /// `REMOTE_ADDR`, `REMOTE_PORT`, `SERVER_NAME` and `SERVER_PORT`, one
    /// after the other, for each request's environ to share
    /// ([`Names::ends`]).
    pub text: Arc<str>,
    ends: [usize; 4],
}

/// The server's end as `SERVER_NAME` and `SERVER_PORT` spell it: the same
/// for every connection of a listener bound to one address, so formatted
/// once for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerNames {
    pub name: Arc<str>,
    pub port: Arc<str>,
}

impl ServerNames {
    pub(crate) fn of(local: &Local) -> ServerNames {
        let (name, port) = match local {
            Local::Ip(addr) => {
                let addr = unmap(*addr);
                (addr.ip().to_string(), addr.port().to_string())
            }
            // Werkzeug puts odd slices of the socket path here; werk gives
            // the path, and no port.
            Local::Unix(path) => (path.display().to_string(), String::new()),
        };
        ServerNames {
            name: name.into(),
            port: port.into(),
        }
    }
}

impl Names {
    pub(crate) fn of(peer: &Peer, server: ServerNames) -> Names {
        let remote_addr: Arc<str> = peer.name().into();
        let parts = [
            &*remote_addr,
            &peer.port().to_string(),
            &*server.name,
            &*server.port,
        ];
        let mut ends = [0; 4];
        let mut end = 0;
        for (slot, part) in ends.iter_mut().zip(parts) {
            end += part.len();
            *slot = end;
        }
        let text = parts.concat().into();
        Names {
            remote_addr,
            text,
            ends,
        }
    }

    /// Where `REMOTE_ADDR`, `REMOTE_PORT`, `SERVER_NAME` and `SERVER_PORT`
    /// end in [`Names::text`], in that order.
    pub(crate) fn ends(&self) -> [usize; 4] {
        self.ends
    }
}

/// The clock of the request arriving on a connection: a head must arrive
/// within `head_timeout` of its first byte; a body awaited before the
/// application runs gets an allowance on top (docs/serving.md,
/// timeouts). Stopped when the request is whole.
#[derive(Debug, Default)]
pub(crate) struct Arrival {
    started: Option<Instant>,
    body_allowance: Duration,
    /// How far an awaited chunked body has been decoded.
    pub body_scan: Option<BodyScan>,
}

impl Arrival {
    /// Starts the clock, if it is not running, and says when it started.
    pub(crate) fn start(&mut self) -> Instant {
        *self.started.get_or_insert_with(Instant::now)
    }

    /// True while a request is part way in.
    pub(crate) fn is_running(&self) -> bool {
        self.started.is_some()
    }

    /// The request's body is awaited too, with `allowance` on top of the
    /// head's time.
    pub(crate) fn await_body(&mut self, allowance: Duration) {
        self.start();
        self.body_allowance = allowance;
    }

    /// True once a body is awaited (its allowance given).
    pub(crate) fn awaits_body(&self) -> bool {
        !self.body_allowance.is_zero()
    }

    /// When the request must be whole, if the clock runs.
    pub(crate) fn deadline(&self, head_timeout: Duration) -> Option<Instant> {
        Some(self.started? + head_timeout + self.body_allowance)
    }

    /// True if the request took longer than it may.
    pub(crate) fn is_late(&self, head_timeout: Duration) -> bool {
        self.deadline(head_timeout)
            .is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// The request is whole: the clock stops, ready for the next one.
    pub(crate) fn stop(&mut self) {
        *self = Arrival::default();
    }
}

/// A chunked request body awaited before the application runs: the
/// decoder's state and what it has read so far, so that each new read is
/// decoded once.
#[derive(Debug, Default)]
pub(crate) struct BodyScan {
    pub decoder: crate::http::ChunkedDecoder,
    /// Bytes of the body (after the head) decoded so far.
    pub scanned: usize,
    /// Data bytes found in them.
    pub data: u64,
}

/// One accepted connection: its state, boxed, so that handing the
/// connection between the pool, the exchange and the parker moves a
/// pointer rather than some 300 bytes. Fields read through
/// [`ConnState`].
#[derive(Debug)]
pub(crate) struct Conn(Box<ConnState>);

impl std::ops::Deref for Conn {
    type Target = ConnState;

    fn deref(&self) -> &ConnState {
        &self.0
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut ConnState {
        &mut self.0
    }
}

/// Whether a read of `n` bytes into `room` left the socket empty: it gave
/// less than there was room for. Only a plain socket says so; TLS may
/// hold decrypted bytes back.
fn drained_by(stream: &Stream, n: usize, room: usize) -> bool {
    stream.is_plain() && n < room
}

/// What a [`Conn`] holds.
#[derive(Debug)]
pub(crate) struct ConnState {
    /// Its place in the parker, once it has waited there. First, so that
    /// it is dropped before the socket closes.
    pub registration: Option<super::park::Registration>,
    stream: Stream,
    /// Who connected.
    pub peer: Peer,
    /// Both ends, as text.
    pub names: Names,
    /// Received bytes; `buf.data[buf.start..buf.end]` is not used yet.
    buf: ReadBuf,
    /// The request being read: since when, and until when.
    pub arrival: Arrival,
    /// Requests served on this connection so far.
    served: u64,
    /// The response buffer, kept between requests so that a response
    /// head does not allocate.
    write_buffer: Vec<u8>,
    /// The last read from a plain socket returned less than it asked for,
    /// so nothing more was waiting then: the next read would most likely
    /// find nothing, and the parker's poller reports anything that comes.
    drained: bool,
    /// The response under way, while the connection waits in the parker
    /// for room to write the rest of it.
    pub sending: Option<Box<super::handler::Sending>>,
    /// What [`Conn::segment_size`] last learnt.
    segment: SegmentSize,
}

/// The connection's segment size as last asked, and how many more times
/// it is used before it is asked again: it grows with the client's window
/// in the connection's first round trips (the kernel keeps it under half
/// the largest window seen; on loopback 32 KiB, then 46.5, then 64 KiB),
/// so it is asked at each use while it changes, then every
/// [`SegmentSize::REUSE`] uses.
#[derive(Debug, Default)]
struct SegmentSize {
    size: Option<usize>,
    uses_left: u8,
}

impl SegmentSize {
    const REUSE: u8 = 16;
}

impl Conn {
    pub(crate) fn new(stream: Stream, peer: Peer, server: ServerNames) -> Conn {
        let peer = match peer {
            Peer::Ip(p) => Peer::Ip(unmap(p)),
            local => local,
        };
        Conn(Box::new(ConnState {
            registration: None,
            stream,
            names: Names::of(&peer, server),
            peer,
            buf: ReadBuf::default(),
            arrival: Arrival::default(),
            served: 0,
            write_buffer: Vec::new(),
            drained: false,
            sending: None,
            segment: SegmentSize::default(),
        }))
    }

    /// Requests served on this connection so far.
    pub(crate) fn served(&self) -> u64 {
        self.served
    }

    /// Counts a request served.
    pub(crate) fn count_served(&mut self) {
        self.served += 1;
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.stream.fd()
    }

    /// How long one write may wait for the client from now on.
    pub(crate) fn set_write_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.stream.set_write_timeout(timeout)
    }

    /// How long one read may wait for the client from now on.
    pub(crate) fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.stream.set_read_timeout(timeout)
    }

    /// The received bytes after the first `skip` not used yet.
    pub(crate) fn buf_after(&self, skip: usize) -> &[u8] {
        &self.buffered()[skip..]
    }

    /// The received bytes not used yet.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf.data[self.buf.start..self.buf.end]
    }

    /// Marks `n` buffered bytes as used. A buffer that grew for a long
    /// head goes back to its first size once emptied.
    pub(crate) fn consume(&mut self, n: usize) {
        self.buf.start = (self.buf.start + n).min(self.buf.end);
        if self.buf.start == self.buf.end {
            self.buf.start = 0;
            self.buf.end = 0;
            self.buf.shrink_when_empty();
        }
    }

    /// Reads what the kernel holds now, without waiting: `Ok(None)` if
    /// nothing, `Ok(Some(0))` at end of stream.
    pub(crate) fn fill_now(&mut self) -> io::Result<Option<usize>> {
        self.fill_by(|stream, room| stream.read_now(room))
    }

    /// Reads at least one byte, waiting up to the socket's read timeout;
    /// 0 at end of stream.
    pub(crate) fn fill_blocking(&mut self) -> io::Result<usize> {
        self.fill_by(|stream, room| read_retrying(stream, room).map(Some))
            .map(|n| n.unwrap_or(0))
    }

    /// One read into the buffer by `read`, noting whether it left a plain
    /// socket drained (it gave less than there was room for).
    fn fill_by(
        &mut self,
        read: impl FnOnce(&mut Stream, &mut [u8]) -> io::Result<Option<usize>>,
    ) -> io::Result<Option<usize>> {
        let ConnState {
            stream,
            drained,
            buf,
            ..
        } = &mut *self.0;
        buf.fill(|room| {
            let got = read(stream, room);
            *drained = matches!(got, Ok(Some(n)) if drained_by(stream, n, room.len()));
            got
        })
    }

    /// True when nothing is buffered and the last read suggests the socket
    /// holds nothing either: a worker can park the connection without
    /// another read (one that would most likely find nothing).
    pub(crate) fn seems_drained(&self) -> bool {
        self.drained && self.buf.start == self.buf.end
    }

    /// Forgets what the last read suggested: the socket is (or may be)
    /// readable now.
    pub(crate) fn mark_readable(&mut self) {
        self.drained = false;
    }

    /// Reads into `out` directly, first from the buffer, then from the
    /// socket (waiting up to the read timeout). For large request bodies
    /// this skips the copy through the buffer.
    pub(crate) fn read_into(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let buffered = self.buffered();
        if !buffered.is_empty() {
            let n = buffered.len().min(out.len());
            out[..n].copy_from_slice(&buffered[..n]);
            self.consume(n);
            return Ok(n);
        }
        let read = read_retrying(&mut self.stream, out);
        self.drained = matches!(read, Ok(n) if drained_by(&self.stream, n, out.len()));
        read
    }

    /// The buffer for the next response, empty.
    pub(crate) fn take_write_buffer(&mut self) -> Vec<u8> {
        let mut buf = std::mem::take(&mut self.write_buffer);
        if buf.capacity() == 0 {
            buf.reserve(WRITE_BUFFER_START);
        }
        buf
    }

    /// Keeps a response buffer for the next request, unless it grew large
    /// (an idle connection should not hold a big buffer). A buffer that
    /// still holds responses (held for a pipelined request that follows)
    /// is kept whole: the next response goes out with them.
    pub(crate) fn keep_write_buffer(&mut self, mut buf: Vec<u8>) {
        if !buf.is_empty() {
            self.write_buffer = buf;
        } else if buf.capacity() <= WRITE_BUFFER_KEPT {
            buf.clear();
            self.write_buffer = buf;
        }
    }

    /// True when responses wait in the write buffer for the next one.
    pub(crate) fn holds_output(&self) -> bool {
        !self.write_buffer.is_empty()
    }

    /// Writes the responses held for a pipelined request, before anything
    /// else is written or the connection waits or closes.
    pub(crate) fn flush_held(&mut self) -> io::Result<()> {
        if self.write_buffer.is_empty() {
            return Ok(());
        }
        let held = std::mem::take(&mut self.write_buffer);
        let result = self.stream.write_all(&held).map_err(timeout_error);
        self.keep_write_buffer({
            let mut held = held;
            held.clear();
            held
        });
        result
    }

    /// Writes all of `data` (after any held responses), waiting up to the
    /// write timeout per write.
    pub(crate) fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.flush_held()?;
        self.stream.write_all(data).map_err(timeout_error)
    }

    /// Writes all of `first`, then all of `second`, in as few system calls
    /// as the kernel allows (one `writev` for both, usually).
    pub(crate) fn write_all_pair(&mut self, first: &[u8], second: &[u8]) -> io::Result<()> {
        self.stream
            .write_all_pair(first, second)
            .map_err(timeout_error)
    }

    /// Writes what the socket has room for now of `first`, then `second`,
    /// without waiting; the bytes taken ([`Stream::write_now_pair`]).
    pub(crate) fn write_now_pair(&mut self, first: &[u8], second: &[u8]) -> io::Result<usize> {
        self.stream.write_now_pair(first, second)
    }

    /// Sends what the stream holds of its own (TLS records) without
    /// waiting: true when nothing is left.
    pub(crate) fn flush_now(&mut self) -> io::Result<bool> {
        self.stream.flush_now()
    }

    /// The largest segment the connection sends (see
    /// [`Stream::segment_size`] and [`SegmentSize`]).
    pub(crate) fn segment_size(&mut self) -> Option<usize> {
        let known = &mut self.0.segment;
        if known.uses_left > 0 {
            known.uses_left -= 1;
            return known.size;
        }
        let size = self.0.stream.segment_size();
        if size == known.size {
            known.uses_left = SegmentSize::REUSE;
        }
        known.size = size;
        size
    }

    /// Waits up to `timeout_ms` for room to write; true when there is.
    pub(crate) fn wait_writable(&self, timeout_ms: i32) -> io::Result<bool> {
        self.stream.wait_writable(timeout_ms)
    }

    /// Sends up to `len` bytes of `file` with `sendfile`, as far as the
    /// socket has room now; `None` where the kernel cannot
    /// ([`Stream::send_file_now`]).
    pub(crate) fn send_file_now(
        &mut self,
        file: &std::fs::File,
        len: u64,
    ) -> io::Result<Option<crate::sys::socket::FileSent>> {
        self.stream.send_file_now(file, len)
    }

    /// Half-closes the sending side, so the client sees the end of the
    /// response while the server can still read (and drop) what it sends.
    pub(crate) fn shutdown_write(&mut self) {
        self.stream.shutdown_write();
    }

    /// True while a TLS handshake is in progress.
    pub(crate) fn is_handshaking(&self) -> bool {
        self.stream.is_handshaking()
    }

    /// True for an HTTPS connection.
    pub(crate) fn is_tls(&self) -> bool {
        self.stream.is_tls()
    }

    /// The client's TLS certificate as PEM, if it sent one.
    pub(crate) fn peer_certificate_pem(&self) -> Option<String> {
        self.stream.peer_certificate_pem()
    }
}

/// A read buffer that keeps its memory between requests, so a read does
/// not clear or allocate.
#[derive(Debug, Default)]
struct ReadBuf {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

/// What all connections' read buffers may hold beyond their first
/// [`READ_CHUNK`] bytes, together: the memory that long or partial request
/// heads (and pipelined bursts) take. 1,000 clients each holding a 62 KiB
/// partial head would otherwise hold 62 MiB; at the cap, a connection that
/// needs more room is answered 503 and closed (see
/// [`is_over_memory_cap`]), and the others are not affected.
pub(crate) const MEMORY_CAP: usize = 32 * 1024 * 1024;

/// Bytes of read buffers beyond [`READ_CHUNK`], over every connection of
/// the process.
static BEYOND_BASE: AtomicUsize = AtomicUsize::new(0);

/// The error a read returns when its buffer cannot grow: the memory cap
/// for read buffers is reached.
#[derive(Debug)]
struct OverMemoryCap;

impl std::fmt::Display for OverMemoryCap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the server holds {} MiB of unfinished requests already",
            MEMORY_CAP >> 20
        )
    }
}

impl std::error::Error for OverMemoryCap {}

/// True for the error a read gives when its buffer could not grow because
/// of [`MEMORY_CAP`].
pub(crate) fn is_over_memory_cap(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<OverMemoryCap>())
}

impl ReadBuf {
    /// Appends one read's worth of bytes through `read`, making room first:
    /// moving unread bytes to the front, or growing by one read's worth
    /// (the buffer grows with the bytes received, not ahead of them).
    fn fill(
        &mut self,
        read: impl FnOnce(&mut [u8]) -> io::Result<Option<usize>>,
    ) -> io::Result<Option<usize>> {
        if self.data.len() - self.end < READ_CHUNK / 2 {
            if self.start > 0 {
                self.data.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.data.len() - self.end < READ_CHUNK / 2 {
                self.resize((self.end + READ_CHUNK).next_multiple_of(READ_CHUNK / 2))?;
            }
        }
        let result = read(&mut self.data[self.end..]);
        if let Ok(Some(n)) = &result {
            self.end += n;
        }
        result
    }

    /// Resizes to `len` bytes, charging or crediting what lies beyond
    /// [`READ_CHUNK`] to the process's budget.
    fn resize(&mut self, len: usize) -> io::Result<()> {
        let (before, after) = (beyond_base(self.data.len()), beyond_base(len));
        if after > before {
            let more = after - before;
            let charged = BEYOND_BASE.fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held + more <= MEMORY_CAP).then_some(held + more)
            });
            if charged.is_err() {
                return Err(io::Error::other(OverMemoryCap));
            }
        } else {
            BEYOND_BASE.fetch_sub(before - after, Ordering::AcqRel);
        }
        self.data.resize(len, 0);
        if len < self.data.capacity() {
            self.data.shrink_to(len);
        }
        Ok(())
    }

    /// Gives back what the buffer holds beyond its first [`READ_CHUNK`]
    /// bytes, once it holds nothing unread.
    fn shrink_when_empty(&mut self) {
        if self.start == self.end && self.data.len() > READ_CHUNK {
            self.start = 0;
            self.end = 0;
            let _ = self.resize(READ_CHUNK);
        }
    }
}

impl Drop for ReadBuf {
    fn drop(&mut self) {
        BEYOND_BASE.fetch_sub(beyond_base(self.data.len()), Ordering::AcqRel);
    }
}

fn beyond_base(len: usize) -> usize {
    len.saturating_sub(READ_CHUNK)
}

/// The bytes held beyond the base by every read buffer now.
#[cfg(test)]
pub(crate) fn memory_beyond_base() -> usize {
    BEYOND_BASE.load(Ordering::Acquire)
}

fn read_retrying(stream: &mut Stream, out: &mut [u8]) -> io::Result<usize> {
    loop {
        match stream.read(out) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other.map_err(timeout_error),
        }
    }
}

/// On Unix a socket timeout surfaces as `WouldBlock`; call it what it is.
fn timeout_error(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        io::Error::new(io::ErrorKind::TimedOut, "client timed out")
    } else {
        e
    }
}

/// `::ffff:127.0.0.1` -> `127.0.0.1`: an IPv4 client of a dual-stack
/// socket is shown as the IPv4 address it is.
pub(crate) fn unmap(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => addr,
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod read_buffer_tests {
    use super::*;

    /// The budget is the process's: these tests take turns with it.
    static BUDGET: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn fill_with(buf: &mut ReadBuf, bytes: usize) -> io::Result<()> {
        let mut left = bytes;
        while left > 0 {
            buf.fill(|room| {
                let n = room.len().min(left);
                left -= n;
                Ok(Some(n))
            })?;
        }
        Ok(())
    }

    #[test]
    fn a_buffer_grows_with_the_bytes_and_gives_them_back() {
        let _turn = BUDGET.lock().unwrap_or_else(|e| e.into_inner());
        let mut buf = ReadBuf::default();
        fill_with(&mut buf, 62 * 1024).unwrap();
        // Room for one more read, not twice the bytes.
        assert!(
            buf.data.len() <= 62 * 1024 + READ_CHUNK,
            "{}",
            buf.data.len()
        );
        buf.start = buf.end;
        buf.shrink_when_empty();
        assert_eq!(buf.data.len(), READ_CHUNK);
    }

    #[test]
    fn growth_past_the_cap_is_refused_and_others_are_unaffected() {
        let _turn = BUDGET.lock().unwrap_or_else(|e| e.into_inner());
        // Another buffer takes nearly the whole budget.
        let mut hog = ReadBuf::default();
        let room = MEMORY_CAP.saturating_sub(memory_beyond_base());
        fill_with(&mut hog, room.saturating_sub(READ_CHUNK)).unwrap();
        let mut late = ReadBuf::default();
        let refused = fill_with(&mut late, 4 * READ_CHUNK).unwrap_err();
        assert!(is_over_memory_cap(&refused), "{refused}");
        // A request that fits the first READ_CHUNK bytes is never refused.
        let mut small = ReadBuf::default();
        fill_with(&mut small, READ_CHUNK / 2).unwrap();
        drop(hog);
        fill_with(&mut late, 4 * READ_CHUNK).unwrap();
    }
}

#[cfg(test)]
mod arrival_tests {
    use super::Arrival;
    use std::time::Duration;

    #[test]
    fn an_arrival_runs_from_the_first_byte_and_an_awaited_body_extends_it() {
        let mut arrival = Arrival::default();
        let head = Duration::from_secs(10);
        assert!(!arrival.is_running());
        assert_eq!(arrival.deadline(head), None);
        let started = arrival.start();
        assert_eq!(arrival.start(), started, "a running clock keeps its start");
        assert_eq!(arrival.deadline(head), Some(started + head));
        assert!(!arrival.awaits_body() && !arrival.is_late(head));
        assert!(arrival.is_late(Duration::ZERO));
        arrival.await_body(Duration::from_secs(3));
        assert!(arrival.awaits_body());
        let later = started + head + Duration::from_secs(3);
        assert_eq!(arrival.deadline(head), Some(later));
        arrival.stop();
        assert!(!arrival.is_running() && !arrival.awaits_body());
    }
}
