//! One chunk of a streamed body: bytes the app owns, or bytes that live
//! as long as the program and are sent without a copy.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

/// A piece of a response body as [`Body::stream`](crate::Body::stream)
/// takes it and [`BodyChunks`](crate::BodyChunks) gives it back.
///
/// Owned bytes (`Vec<u8>`, `String`) are moved in; static bytes
/// (`&'static [u8]`, `&'static str`, `include_bytes!`) are borrowed, so a
/// body streamed from a precomputed buffer is written to the socket from
/// where it lies (pieces under 16 KiB are gathered into one write with
/// the head or framing first). A chunk reads as a byte slice.
///
/// `Body::stream` took `Into<Vec<u8>>` before `Chunk` existed; a type
/// that only converts into a `Vec<u8>` (such as `bytes::Bytes`) now
/// needs `Vec::from` first, and code that read [`BodyChunks`] items as
/// `Vec<u8>` calls [`Chunk::into_vec`].
///
/// [`BodyChunks`]: crate::BodyChunks
///
/// ```
/// use werk::Chunk;
///
/// let text = Chunk::from("static text");
/// assert!(text.is_borrowed());
/// assert_eq!(&text[..6], b"static");
/// let line = Chunk::from(format!("line {}\n", 1));
/// assert_eq!(line.into_vec(), b"line 1\n");
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Chunk(Cow<'static, [u8]>);

impl Chunk {
    /// The bytes, owned: free for an owned chunk, a copy for a borrowed one.
    pub fn into_vec(self) -> Vec<u8> {
        self.0.into_owned()
    }

    /// True when the chunk borrows static bytes rather than owning them.
    pub fn is_borrowed(&self) -> bool {
        matches!(self.0, Cow::Borrowed(_))
    }

    pub(crate) fn into_cow(self) -> Cow<'static, [u8]> {
        self.0
    }
}

impl Deref for Chunk {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Chunk {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq<[u8]> for Chunk {
    fn eq(&self, other: &[u8]) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&[u8]> for Chunk {
    fn eq(&self, other: &&[u8]) -> bool {
        *self.0 == **other
    }
}

impl fmt::Debug for Chunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Chunk({:?})", String::from_utf8_lossy(&self.0))
    }
}

impl From<Vec<u8>> for Chunk {
    fn from(bytes: Vec<u8>) -> Chunk {
        Chunk(Cow::Owned(bytes))
    }
}

impl From<String> for Chunk {
    fn from(text: String) -> Chunk {
        Chunk(Cow::Owned(text.into_bytes()))
    }
}

impl From<Box<[u8]>> for Chunk {
    fn from(bytes: Box<[u8]>) -> Chunk {
        Chunk(Cow::Owned(bytes.into_vec()))
    }
}

impl From<Box<str>> for Chunk {
    fn from(text: Box<str>) -> Chunk {
        Chunk::from(String::from(text))
    }
}

impl From<&'static [u8]> for Chunk {
    fn from(bytes: &'static [u8]) -> Chunk {
        Chunk(Cow::Borrowed(bytes))
    }
}

impl<const N: usize> From<&'static [u8; N]> for Chunk {
    fn from(bytes: &'static [u8; N]) -> Chunk {
        Chunk(Cow::Borrowed(bytes))
    }
}

impl<const N: usize> From<[u8; N]> for Chunk {
    fn from(bytes: [u8; N]) -> Chunk {
        Chunk(Cow::Owned(bytes.to_vec()))
    }
}

impl From<&'static str> for Chunk {
    fn from(text: &'static str) -> Chunk {
        Chunk(Cow::Borrowed(text.as_bytes()))
    }
}

impl From<Cow<'static, [u8]>> for Chunk {
    fn from(bytes: Cow<'static, [u8]>) -> Chunk {
        Chunk(bytes)
    }
}

impl From<Cow<'static, str>> for Chunk {
    fn from(text: Cow<'static, str>) -> Chunk {
        match text {
            Cow::Borrowed(s) => Chunk::from(s),
            Cow::Owned(s) => Chunk::from(s),
        }
    }
}

impl From<Chunk> for Vec<u8> {
    fn from(chunk: Chunk) -> Vec<u8> {
        chunk.into_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_bytes_are_borrowed_and_owned_bytes_moved() {
        static BLOCK: [u8; 4] = *b"abcd";
        let borrowed = Chunk::from(&BLOCK[..]);
        assert!(borrowed.is_borrowed());
        assert_eq!(borrowed.as_ptr(), BLOCK.as_ptr());
        assert!(Chunk::from(&BLOCK).is_borrowed());
        assert!(Chunk::from(Cow::Borrowed("x")).is_borrowed());
        assert_eq!(Chunk::from(Box::<str>::from("ab")), &b"ab"[..]);

        let owned = vec![1u8, 2, 3];
        let at = owned.as_ptr();
        let chunk = Chunk::from(owned);
        assert!(!chunk.is_borrowed());
        let back = chunk.into_vec();
        assert_eq!(back.as_ptr(), at);
    }
}
