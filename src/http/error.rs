use std::fmt;

/// A request the server refuses before the application sees it, or while
/// reading its body. Each variant maps to one status code; the connection
/// is closed after the error response.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpError {
    /// The request line or a header does not follow RFC 9112 syntax.
    Malformed(&'static str),
    /// The version is well formed but not HTTP/1.0 or HTTP/1.1.
    UnsupportedVersion,
    /// The request head (request line and headers) is larger than allowed,
    /// or has too many headers.
    HeadTooLarge,
    /// The request target is longer than allowed.
    UriTooLong,
    /// The declared or received body is larger than the configured limit.
    BodyTooLarge,
    /// A transfer coding other than `chunked` was used.
    UnsupportedTransferCoding,
    /// Content-Length and Transfer-Encoding together, or Content-Length
    /// values that disagree: the framing is ambiguous (request smuggling).
    AmbiguousFraming,
    /// A chunk size line or chunk terminator is invalid.
    BadChunk,
    /// An `Expect` value other than `100-continue`.
    UnsupportedExpectation,
    /// HTTP/1.1 without exactly one valid Host header.
    BadHost,
    /// The client did not finish its request head in time.
    HeadTimeout,
    /// The client sent a body too slowly (the server awaits bodies up to
    /// a size before the application runs).
    BodyTimeout,
    /// The server holds as much memory for unfinished requests as it
    /// allows itself: this one cannot grow (it may be retried).
    Overloaded,
}

impl HttpError {
    /// The status code this error is answered with.
    pub fn status(self) -> u16 {
        match self {
            HttpError::Malformed(_)
            | HttpError::AmbiguousFraming
            | HttpError::BadChunk
            | HttpError::BadHost => 400,
            HttpError::HeadTimeout | HttpError::BodyTimeout => 408,
            HttpError::BodyTooLarge => 413,
            HttpError::UriTooLong => 414,
            HttpError::UnsupportedExpectation => 417,
            HttpError::HeadTooLarge => 431,
            HttpError::UnsupportedTransferCoding => 501,
            HttpError::UnsupportedVersion => 505,
            HttpError::Overloaded => 503,
        }
    }

    fn description(self) -> &'static str {
        match self {
            HttpError::Malformed(what) => what,
            HttpError::UnsupportedVersion => {
                "HTTP version not supported (use HTTP/1.0 or HTTP/1.1)"
            }
            HttpError::HeadTooLarge => "request head too large",
            HttpError::UriTooLong => "request target too long",
            HttpError::BodyTooLarge => "request body larger than the server's limit",
            HttpError::UnsupportedTransferCoding => {
                "transfer coding not supported (only chunked is)"
            }
            HttpError::AmbiguousFraming => {
                "conflicting Content-Length and Transfer-Encoding framing"
            }
            HttpError::BadChunk => "invalid chunked body",
            HttpError::UnsupportedExpectation => "unsupported Expect value (only 100-continue is)",
            HttpError::BadHost => "missing or invalid Host header",
            HttpError::HeadTimeout => "request head not received in time",
            HttpError::BodyTimeout => "request body not received in time",
            HttpError::Overloaded => {
                "the server holds too many unfinished requests in memory; try again"
            }
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for HttpError {}
