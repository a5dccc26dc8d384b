//! The chunked transfer coding of request bodies (RFC 9112 section 7.1),
//! decoded incrementally from whatever bytes have arrived.

use std::ops::Range;

use super::HttpError;

/// The most bytes of chunk extensions or trailer fields accepted; both are
/// read and dropped.
const MAX_METADATA: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Hex digits of a chunk size.
    Size {
        value: u64,
        digits: u8,
    },
    /// Whitespace after the size, before `;` or CR.
    SizeSpace {
        value: u64,
    },
    /// A chunk extension, up to CR.
    Extension {
        value: u64,
    },
    /// The LF ending the size line.
    SizeLf {
        value: u64,
    },
    /// Data bytes still to come in this chunk.
    Data {
        left: u64,
    },
    /// The CRLF after a chunk's data.
    DataCr,
    DataLf,
    /// A trailer line (`empty` until a byte arrives), then its LF.
    Trailer {
        empty: bool,
    },
    TrailerLf {
        empty: bool,
    },
    /// The last chunk and the trailer section have been read.
    Done,
}

/// What one call to [`ChunkedDecoder::decode`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Bytes of the input that were used (framing and data).
    pub consumed: usize,
    /// Where body data lies in the input; empty when the input held only
    /// framing.
    pub data: Range<usize>,
}

/// An incremental decoder: feed it input, it says which bytes are data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedDecoder {
    state: State,
    metadata: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    /// A decoder at the start of a chunked body.
    pub fn new() -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::Size {
                value: 0,
                digits: 0,
            },
            metadata: 0,
        }
    }

    /// True once the last chunk and the trailers are read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Reads framing from `input` until it reaches body data, the end of
    /// the input, or the end of the body. Returns the data found (one run of
    /// at most `max_data` bytes) and how much input was used; call again
    /// with the rest.
    pub fn decode(&mut self, input: &[u8], max_data: usize) -> Result<Decoded, HttpError> {
        let mut pos = 0;
        while pos < input.len() {
            if let State::Data { left } = self.state {
                let take = (input.len() - pos)
                    .min(max_data)
                    .min(usize::try_from(left).unwrap_or(usize::MAX));
                let left = left - take as u64;
                self.state = if left == 0 {
                    State::DataCr
                } else {
                    State::Data { left }
                };
                return Ok(Decoded {
                    consumed: pos + take,
                    data: pos..pos + take,
                });
            }
            if self.state == State::Done {
                break;
            }
            self.state = self.step(input[pos])?;
            pos += 1;
        }
        Ok(Decoded {
            consumed: pos,
            data: pos..pos,
        })
    }

    fn step(&mut self, byte: u8) -> Result<State, HttpError> {
        const BAD: HttpError = HttpError::BadChunk;
        let next = match (self.state, byte) {
            (State::Size { value, digits }, _) if byte.is_ascii_hexdigit() => {
                if digits >= 16 {
                    return Err(BAD);
                }
                let digit = u64::from((byte as char).to_digit(16).unwrap_or(0));
                State::Size {
                    value: value * 16 + digit,
                    digits: digits + 1,
                }
            }
            (State::Size { digits: 0, .. }, _) => return Err(BAD),
            (State::Size { value, .. } | State::SizeSpace { value }, b' ' | b'\t') => {
                State::SizeSpace { value }
            }
            (State::Size { value, .. } | State::SizeSpace { value }, b';') => {
                State::Extension { value }
            }
            (State::Size { value, .. } | State::SizeSpace { value }, b'\r') => {
                State::SizeLf { value }
            }
            (State::Extension { value }, b'\r') => State::SizeLf { value },
            (State::Extension { value }, b) if b == b'\t' || !b.is_ascii_control() => {
                self.count_metadata()?;
                State::Extension { value }
            }
            (State::SizeLf { value: 0 }, b'\n') => State::Trailer { empty: true },
            (State::SizeLf { value }, b'\n') => State::Data { left: value },
            (State::DataCr, b'\r') => State::DataLf,
            (State::DataLf, b'\n') => State::Size {
                value: 0,
                digits: 0,
            },
            (State::Trailer { empty }, b'\r') => State::TrailerLf { empty },
            (State::Trailer { .. }, b'\n') => return Err(BAD),
            (State::Trailer { .. }, _) => {
                self.count_metadata()?;
                State::Trailer { empty: false }
            }
            (State::TrailerLf { empty: true }, b'\n') => State::Done,
            (State::TrailerLf { empty: false }, b'\n') => State::Trailer { empty: true },
            _ => return Err(BAD),
        };
        Ok(next)
    }

    fn count_metadata(&mut self) -> Result<(), HttpError> {
        self.metadata += 1;
        if self.metadata > MAX_METADATA {
            return Err(HttpError::BadChunk);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` fed `step` bytes at a time; returns the body.
    fn decode_all(input: &[u8], step: usize) -> Result<(Vec<u8>, bool), HttpError> {
        let mut dec = ChunkedDecoder::new();
        let mut body = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        for piece in input.chunks(step) {
            pending.extend_from_slice(piece);
            loop {
                let d = dec.decode(&pending, 3)?;
                body.extend_from_slice(&pending[d.data.clone()]);
                pending.drain(..d.consumed);
                if d.consumed == 0 || pending.is_empty() || dec.is_done() {
                    break;
                }
            }
        }
        Ok((body, dec.is_done()))
    }

    #[test]
    fn decodes_at_every_split() {
        let wire = b"5\r\nhello\r\n6;name=val\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
        for step in 1..wire.len() {
            let (body, done) = decode_all(wire, step).unwrap();
            assert_eq!(body, b"hello world", "step {step}");
            assert!(done);
        }
    }

    #[test]
    fn stops_at_the_end_of_the_body() {
        let mut dec = ChunkedDecoder::new();
        let wire = b"0\r\n\r\nGET / HTTP/1.1\r\n";
        let d = dec.decode(wire, usize::MAX).unwrap();
        assert!(dec.is_done());
        assert_eq!(d.consumed, 5);
    }

    #[test]
    fn uppercase_hex_and_whitespace_before_extension() {
        let (body, done) = decode_all(b"A ;x\r\n0123456789\r\n0\r\n\r\n", 3).unwrap();
        assert_eq!(body, b"0123456789");
        assert!(done);
    }

    #[test]
    fn rejects_bad_framing() {
        for bad in [
            &b"x\r\n"[..],
            b"\r\n",
            b"0x5\r\nhello\r\n",
            b"+5\r\nhello\r\n",
            b"-5\r\n",
            b"5\nhello\r\n",
            b"5\r\nhelloX\r\n",
            b"11111111111111111\r\n",
            b"0\r\nbad\ntrailer\r\n\r\n",
        ] {
            assert_eq!(
                decode_all(bad, bad.len()).unwrap_err(),
                HttpError::BadChunk,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn huge_size_is_data_not_overflow() {
        let mut dec = ChunkedDecoder::new();
        let d = dec.decode(b"ffffffffffffffff\r\nab", 100).unwrap();
        assert_eq!(d.data, 18..20);
    }
}
