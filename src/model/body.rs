//! The response body: PEP 3333's returned iterable, with its `close()`.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};

use super::Chunk;

/// A callback run when the body is closed.
type Closer = Box<dyn FnOnce() + Send>;

/// An iterator of chunks as a body holds it.
type ChunkIter = Box<dyn Iterator<Item = io::Result<Chunk>> + Send>;

/// Where the body's bytes come from.
pub(crate) enum Source {
    Empty,
    Bytes(Cow<'static, [u8]>),
    Chunks(ChunkIter),
    Reader(Box<dyn Read + Send>),
    File { file: File, len: u64 },
}

/// The response body an [`App`](crate::App) returns: a sequence of byte
/// chunks, sent in order, each as soon as it is produced (PEP 3333
/// "Buffering and Streaming").
///
/// Callbacks given to [`Body::on_close`] run exactly once when the body is
/// dropped, whether it was sent in full, cut short by a client that went
/// away, or never iterated (a HEAD request): this is PEP 3333's `close()`.
///
/// ```
/// use werk::Body;
///
/// let text = Body::from("Hello");
/// assert_eq!(text.len(), Some(5));
/// let streamed = Body::stream((0..3).map(|i| format!("line {i}\n")));
/// assert_eq!(streamed.len(), None);
/// ```
pub struct Body {
    source: Source,
    closers: Vec<Closer>,
}

impl Body {
    /// A body with no bytes.
    pub fn empty() -> Body {
        Body::with_source(Source::Empty)
    }

    /// A body streamed from an iterator of chunks; empty chunks are skipped.
    /// A chunk is anything that becomes a [`Chunk`]: owned bytes or text,
    /// or static bytes, which are sent without a copy.
    pub fn stream<I, C>(chunks: I) -> Body
    where
        I: IntoIterator<Item = C>,
        I::IntoIter: Send + 'static,
        C: Into<Chunk>,
    {
        Body::with_source(Source::Chunks(Box::new(
            chunks.into_iter().map(|c| Ok(c.into())),
        )))
    }

    /// A body streamed from an iterator whose chunks may fail; an error ends
    /// the response early and the client sees it cut short.
    pub fn try_stream<I, C>(chunks: I) -> Body
    where
        I: IntoIterator<Item = io::Result<C>>,
        I::IntoIter: Send + 'static,
        C: Into<Chunk>,
    {
        Body::with_source(Source::Chunks(Box::new(
            chunks.into_iter().map(|c| c.map(Into::into)),
        )))
    }

    /// A body read from `reader` until end of file, in pieces of up to
    /// 64 KiB.
    pub fn from_reader<R: Read + Send + 'static>(reader: R) -> Body {
        Body::with_source(Source::Reader(Box::new(reader)))
    }

    /// A file sent from its current position to its end, with its size as
    /// Content-Length unless the app gives one. On Linux the server sends it
    /// with the kernel's copy path (`sendfile`), so the file never passes
    /// through user memory: PEP 3333's `wsgi.file_wrapper`.
    pub fn file(mut file: File) -> io::Result<Body> {
        use std::io::Seek;
        let size = file.metadata()?.len();
        let pos = file.stream_position()?;
        Ok(Body::with_source(Source::File {
            file,
            len: size.saturating_sub(pos),
        }))
    }

    /// `len` bytes of a file starting at byte `offset` (fewer if the file
    /// ends first), sent like [`Body::file`] through the kernel's copy
    /// path: the body of a `206 Partial Content` response (RFC 9110
    /// section 14).
    pub fn file_range(mut file: File, offset: u64, len: u64) -> io::Result<Body> {
        use std::io::{Seek, SeekFrom};
        let size = file.metadata()?.len();
        file.seek(SeekFrom::Start(offset))?;
        Ok(Body::with_source(Source::File {
            file,
            len: len.min(size.saturating_sub(offset)),
        }))
    }

    /// Runs `close` when the body is done with (PEP 3333's `close()`).
    pub fn on_close(mut self, close: impl FnOnce() + Send + 'static) -> Body {
        self.closers.push(Box::new(close));
        self
    }

    /// The body's size, when it is known before sending.
    pub fn len(&self) -> Option<u64> {
        match &self.source {
            Source::Empty => Some(0),
            Source::Bytes(b) => Some(b.len() as u64),
            Source::File { len, .. } => Some(*len),
            Source::Chunks(_) | Source::Reader(_) => None,
        }
    }

    /// True for a body known to hold no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// Reads the whole body into memory (for tests and middleware that
    /// must see all of it). Close callbacks run.
    pub fn into_bytes(self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        for chunk in self.into_chunks() {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    /// The body as an iterator of chunks, for middleware that transforms
    /// it. Close callbacks run when the iterator is dropped.
    pub fn into_chunks(mut self) -> BodyChunks {
        let source = self.take_source();
        BodyChunks {
            source,
            closers: std::mem::take(&mut self.closers),
        }
    }

    pub(crate) fn take_source(&mut self) -> Source {
        std::mem::replace(&mut self.source, Source::Empty)
    }

    /// The same body, with its bytes coming from what `f` makes of its
    /// source; the close callbacks stay.
    pub(crate) fn map_source(mut self, f: impl FnOnce(Source) -> Source) -> Body {
        let source = self.take_source();
        self.source = f(source);
        self
    }

    fn with_source(source: Source) -> Body {
        Body {
            source,
            closers: Vec::new(),
        }
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        run_closers(&mut self.closers);
    }
}

fn run_closers(closers: &mut Vec<Closer>) {
    for close in closers.drain(..) {
        close();
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.source {
            Source::Empty => "empty",
            Source::Bytes(_) => "bytes",
            Source::Chunks(_) => "chunks",
            Source::Reader(_) => "reader",
            Source::File { .. } => "file",
        };
        f.debug_struct("Body")
            .field("kind", &kind)
            .field("len", &self.len())
            .field("on_close", &self.closers.len())
            .finish()
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Body {
        Body::with_source(Source::Bytes(Cow::Borrowed(s.as_bytes())))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Body {
        Body::with_source(Source::Bytes(Cow::Owned(s.into_bytes())))
    }
}

impl From<&'static [u8]> for Body {
    fn from(b: &'static [u8]) -> Body {
        Body::with_source(Source::Bytes(Cow::Borrowed(b)))
    }
}

impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Body {
        Body::with_source(Source::Bytes(Cow::Owned(b)))
    }
}

impl From<Chunk> for Body {
    fn from(chunk: Chunk) -> Body {
        Body::with_source(Source::Bytes(chunk.into_cow()))
    }
}

/// A [`Body`] as an iterator of chunks; see [`Body::into_chunks`].
pub struct BodyChunks {
    source: Source,
    closers: Vec<Closer>,
}

impl Iterator for BodyChunks {
    type Item = io::Result<Chunk>;

    fn next(&mut self) -> Option<io::Result<Chunk>> {
        next_chunk(&mut self.source)
    }
}

impl Drop for BodyChunks {
    fn drop(&mut self) {
        run_closers(&mut self.closers);
    }
}

impl fmt::Debug for BodyChunks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyChunks").finish_non_exhaustive()
    }
}

/// The next non-empty chunk of a source, reading readers and files in
/// 64 KiB pieces. At the end (`None`) the source is `Empty`: the app's
/// iterator or reader is dropped here, where the caller holds no lock.
pub(crate) fn next_chunk(source: &mut Source) -> Option<io::Result<Chunk>> {
    loop {
        let chunk = match source {
            Source::Empty => return None,
            Source::Bytes(bytes) => {
                let bytes = std::mem::take(bytes);
                *source = Source::Empty;
                Ok(Chunk::from(bytes))
            }
            Source::Chunks(iter) => match iter.next() {
                Some(chunk) => chunk,
                None => {
                    *source = Source::Empty;
                    return None;
                }
            },
            Source::Reader(reader) => read_piece(reader.as_mut()),
            Source::File { file, len } => {
                let mut limited = file.take(*len);
                let piece = read_piece(&mut limited);
                if let Ok(p) = &piece {
                    *len -= p.len() as u64;
                }
                piece
            }
        };
        match chunk {
            Ok(c) if c.is_empty() => {
                if matches!(source, Source::Reader(_) | Source::File { .. }) {
                    *source = Source::Empty;
                    return None;
                }
            }
            other => return Some(other),
        }
    }
}

/// The most a reader or file gives per chunk.
const PIECE: usize = 64 * 1024;

thread_local! {
    /// Where [`read_piece`] reads before copying out what came: one
    /// zeroed buffer per thread instead of a fresh 64 KiB per piece.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// One read of up to 64 KiB, as a chunk of exactly the bytes read.
fn read_piece(reader: &mut dyn Read) -> io::Result<Chunk> {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut buf) => {
            buf.resize(PIECE, 0);
            let n = read_retrying(reader, &mut buf)?;
            Ok(Chunk::from(buf[..n].to_vec()))
        }
        // A reader that itself reads a body on this thread.
        Err(_) => {
            let mut buf = vec![0; PIECE];
            let n = read_retrying(reader, &mut buf)?;
            buf.truncate(n);
            Ok(Chunk::from(buf))
        }
    })
}

fn read_retrying(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn close_runs_once_when_dropped_unread() {
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let body = Body::from("x").on_close(move || {
            c.fetch_add(1, Ordering::SeqCst);
        });
        drop(body);
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn close_runs_after_iteration() {
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let body = Body::stream(["a", "", "b"]).on_close(move || {
            c.fetch_add(1, Ordering::SeqCst);
        });
        let chunks: Vec<Chunk> = body.into_chunks().map(Result::unwrap).collect();
        assert_eq!(chunks, [Chunk::from("a"), Chunk::from("b")]);
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    /// Static chunks and static bytes reach the sender as the same
    /// memory, not copies.
    #[test]
    fn static_chunks_pass_through_uncopied() {
        static BLOCK: &[u8] = b"precomputed";
        let mut chunks = Body::stream([&BLOCK[..3], &BLOCK[3..]]).into_chunks();
        let first = chunks.next().unwrap().unwrap();
        assert!(first.is_borrowed());
        assert_eq!(first.as_ptr(), BLOCK.as_ptr());
        assert_eq!(
            chunks.next().unwrap().unwrap().as_ptr(),
            BLOCK[3..].as_ptr()
        );
        let whole = Body::from(BLOCK).into_chunks().next().unwrap().unwrap();
        assert_eq!(whole.as_ptr(), BLOCK.as_ptr());
    }

    #[test]
    fn reader_body_reads_to_end() {
        let data = vec![7u8; 200_000];
        let body = Body::from_reader(io::Cursor::new(data.clone()));
        assert_eq!(body.into_bytes().unwrap(), data);
    }

    /// A chunk is what one read gave, not the scratch buffer's size; a
    /// reader that reads another body on the same thread gets its own.
    #[test]
    fn reader_chunks_are_each_read_even_nested() {
        struct Nested(u8);
        impl Read for Nested {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Ok(0);
                }
                self.0 -= 1;
                let inner = Body::from_reader(io::Cursor::new(vec![b'x'; 3]));
                let inner = inner.into_bytes()?;
                buf[..inner.len()].copy_from_slice(&inner);
                Ok(inner.len())
            }
        }
        let chunks = Body::from_reader(Nested(2)).into_chunks();
        let chunks: Vec<Chunk> = chunks.map(Result::unwrap).collect();
        assert_eq!(chunks, [Chunk::from("xxx"), Chunk::from("xxx")]);
    }

    #[test]
    fn file_body_knows_its_length() {
        let path = std::env::temp_dir().join(format!("werk-body-{}", std::process::id()));
        std::fs::write(&path, b"0123456789").unwrap();
        let mut file = File::open(&path).unwrap();
        io::Seek::seek(&mut file, io::SeekFrom::Start(4)).unwrap();
        let body = Body::file(file).unwrap();
        assert_eq!(body.len(), Some(6));
        assert_eq!(body.into_bytes().unwrap(), b"456789");
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn file_range_sends_only_the_range() {
        let path = std::env::temp_dir().join(format!("werk-range-{}", std::process::id()));
        std::fs::write(&path, b"0123456789").unwrap();
        let body = Body::file_range(File::open(&path).unwrap(), 2, 3).unwrap();
        assert_eq!(body.len(), Some(3));
        assert_eq!(body.into_bytes().unwrap(), b"234");
        let tail = Body::file_range(File::open(&path).unwrap(), 8, 5).unwrap();
        assert_eq!(tail.into_bytes().unwrap(), b"89");
        std::fs::remove_file(path).unwrap();
    }
}
