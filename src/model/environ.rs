//! The environ: PEP 3333's dictionary of CGI variables and `wsgi.*` keys.

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::ops::Range;
use std::sync::{Arc, Mutex};

/// The request as the application sees it (PEP 3333 "environ Variables").
///
/// CGI meta-variables and `HTTP_*` headers are strings looked up by their
/// WSGI names, as a Python app would: `environ.get("PATH_INFO")`. The
/// `wsgi.*` entries are typed fields with accessors. Typed helpers
/// ([`Environ::method`], [`Environ::header`], ...) read the same strings.
///
/// Text that is not valid UTF-8: werk keeps Rust strings valid. The path is
/// percent-decoded as UTF-8, with U+FFFD for invalid sequences (as Werkzeug
/// does); `REQUEST_URI`/`RAW_URI` keep the exact target, percent-encoded;
/// a header value that is not UTF-8 is read as ISO-8859-1 (one char per
/// byte, as PEP 3333's "native strings"), so no byte is lost.
///
/// ```
/// let environ = werk::Environ::builder()
///     .method("POST")
///     .path("/submit")
///     .query("a=1")
///     .header("Content-Type", "text/plain")
///     .body("hello")
///     .build();
/// assert_eq!(environ.get("REQUEST_METHOD"), Some("POST"));
/// assert_eq!(environ.get("CONTENT_LENGTH"), Some("5"));
/// assert_eq!(environ.header("content-type"), Some("text/plain"));
/// ```
#[derive(Clone)]
pub struct Environ {
    /// Names are mostly the server's fixed CGI names, borrowed, and values
    /// are fixed or shared text where they can be ([`Text`]), so that
    /// building an environ allocates only for what differs per request.
    vars: Vec<(Cow<'static, str>, Text)>,
    /// What the values that are pieces ([`Text::Piece`]) lie in.
    texts: SharedTexts,
    url_scheme: Text,
    input: Input,
    errors: Errors,
    multithread: bool,
    multiprocess: bool,
    run_once: bool,
    input_terminated: bool,
    extensions: Extensions,
}

impl Environ {
    /// A builder for an environ outside a server: for tests of apps and
    /// middleware.
    pub fn builder() -> EnvironBuilder {
        EnvironBuilder::new()
    }

    /// An environ from variables of any string kinds (a gateway's, a
    /// builder's).
    pub(crate) fn from_parts<K: Into<Cow<'static, str>>, V: Into<Text>>(
        vars: Vec<(K, V)>,
        url_scheme: impl Into<Text>,
        input: Input,
    ) -> Environ {
        let vars = vars.into_iter().map(|(k, v)| (k.into(), v.into()));
        Environ::from_vars(
            vars.collect(),
            SharedTexts::default(),
            url_scheme.into(),
            input,
        )
    }

    /// An environ from the server's variables, taken as they are, and the
    /// texts their pieces lie in.
    pub(crate) fn from_vars(
        vars: Vec<(Cow<'static, str>, Text)>,
        texts: SharedTexts,
        url_scheme: Text,
        input: Input,
    ) -> Environ {
        Environ {
            vars,
            texts,
            url_scheme,
            input,
            errors: Errors::stderr(),
            multithread: true,
            multiprocess: false,
            run_once: false,
            input_terminated: true,
            extensions: Extensions::default(),
        }
    }

    /// Sets `wsgi.multithread`, `wsgi.multiprocess` and `wsgi.run_once`:
    /// a CGI gateway runs one request per process; a server that is one of
    /// several processes says so.
    pub(crate) fn set_process_model(
        &mut self,
        multithread: bool,
        multiprocess: bool,
        run_once: bool,
    ) {
        self.multithread = multithread;
        self.multiprocess = multiprocess;
        self.run_once = run_once;
    }

    /// The value of a CGI variable or `HTTP_*` header, by its WSGI name.
    pub fn get(&self, key: &str) -> Option<&str> {
        let (_, value) = self.vars.iter().find(|(k, _)| k == key)?;
        Some(value.as_str(&self.texts))
    }

    /// Sets a variable, replacing any earlier value: middleware uses this
    /// on a clone of the environ it passes on.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        let value = Text::Owned(value.into());
        match self.vars.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((Cow::Owned(key), value)),
        }
    }

    /// Removes a variable, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let pos = self.vars.iter().position(|(k, _)| k == key)?;
        Some(self.vars.remove(pos).1.into_string(&self.texts))
    }

    /// Every string variable, in the order the server set them.
    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        let texts = &self.texts;
        self.vars
            .iter()
            .map(move |(k, v)| (k.as_ref(), v.as_str(texts)))
    }

    /// `wsgi.url_scheme`: `"http"` or `"https"`.
    pub fn url_scheme(&self) -> &str {
        self.url_scheme.as_str(&self.texts)
    }

    /// Replaces `wsgi.url_scheme` (a proxy-headers middleware does).
    pub fn set_url_scheme(&mut self, scheme: impl Into<String>) {
        self.url_scheme = Text::Owned(scheme.into());
    }

    /// `wsgi.input`: the request body, already de-chunked and ending where
    /// the body ends. Each call returns a handle to the same stream.
    pub fn input(&self) -> Input {
        self.input.clone()
    }

    /// Replaces `wsgi.input`, as middleware that watches or transforms the
    /// request body does (on the clone of the environ it passes on).
    pub fn set_input(&mut self, input: Input) {
        self.input = input;
    }

    /// `wsgi.errors`: a text stream to the server's error log.
    pub fn errors(&self) -> Errors {
        self.errors.clone()
    }

    /// Replaces `wsgi.errors`, for middleware that collects what the
    /// application reports (a test can pass [`Errors::capture`]).
    pub fn set_errors(&mut self, errors: Errors) {
        self.errors = errors;
    }

    /// `wsgi.multithread`: true, the server runs requests on a thread pool
    /// (false under CGI).
    pub fn multithread(&self) -> bool {
        self.multithread
    }

    /// `wsgi.multiprocess`: false when one process serves every request;
    /// true with `Options::processes` above 1, and under CGI.
    pub fn multiprocess(&self) -> bool {
        self.multiprocess
    }

    /// `wsgi.run_once`: false, the process serves many requests (true
    /// under CGI).
    pub fn run_once(&self) -> bool {
        self.run_once
    }

    /// `wsgi.input_terminated`: true, reading the input to its end is safe
    /// because the server bounds it by Content-Length or the chunked
    /// framing (werk sets it for every request, not only chunked ones).
    pub fn input_terminated(&self) -> bool {
        self.input_terminated
    }

    /// The typed extension map, for values middleware passes inward.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// The extension map, to add values.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    /// `REQUEST_METHOD`; empty if a middleware removed it (every server
    /// and the builder set it).
    pub fn method(&self) -> &str {
        self.get("REQUEST_METHOD").unwrap_or("")
    }

    /// `PATH_INFO`, percent-decoded.
    pub fn path_info(&self) -> &str {
        self.get("PATH_INFO").unwrap_or("")
    }

    /// `SCRIPT_NAME`: where the app is mounted.
    pub fn script_name(&self) -> &str {
        self.get("SCRIPT_NAME").unwrap_or("")
    }

    /// `QUERY_STRING`, still percent-encoded.
    pub fn query_string(&self) -> &str {
        self.get("QUERY_STRING").unwrap_or("")
    }

    /// `CONTENT_LENGTH` as a number, when sent and valid.
    pub fn content_length(&self) -> Option<u64> {
        self.get("CONTENT_LENGTH")?.trim().parse().ok()
    }

    /// A request header by its HTTP name, any case: `header("User-Agent")`
    /// reads `HTTP_USER_AGENT` (and `CONTENT_TYPE`/`CONTENT_LENGTH`, which
    /// have no prefix).
    pub fn header(&self, name: &str) -> Option<&str> {
        let key = header_key(name);
        self.get(&key)
    }

    /// The request headers as `(WSGI name without HTTP_, value)` pairs,
    /// plus CONTENT_TYPE and CONTENT_LENGTH.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars().filter_map(|(k, v)| match k {
            "CONTENT_TYPE" | "CONTENT_LENGTH" => Some((k, v)),
            _ => k.strip_prefix("HTTP_").map(|name| (name, v)),
        })
    }

    /// The host the client asked for: `HTTP_HOST`, else `SERVER_NAME` and
    /// `SERVER_PORT` (PEP 3333 "URL Reconstruction").
    pub fn host(&self) -> String {
        if let Some(host) = self.get("HTTP_HOST").filter(|h| !h.is_empty()) {
            return host.to_owned();
        }
        let name = self.get("SERVER_NAME").unwrap_or("");
        let port = self.get("SERVER_PORT").unwrap_or("");
        let default = matches!((self.url_scheme(), port), ("http", "80") | ("https", "443"));
        let name = if name.contains(':') {
            format!("[{name}]")
        } else {
            name.to_owned()
        };
        if default || port.is_empty() {
            name
        } else {
            format!("{name}:{port}")
        }
    }

    /// The full request URL, rebuilt as PEP 3333 "URL Reconstruction" does.
    pub fn url(&self) -> String {
        let mut url = format!("{}://{}", self.url_scheme(), self.host());
        url.push_str(&percent_encode_path(self.script_name()));
        url.push_str(&percent_encode_path(self.path_info()));
        if !self.query_string().is_empty() {
            url.push('?');
            url.push_str(self.query_string());
        }
        url
    }

    /// `REMOTE_ADDR`: the client's address.
    pub fn remote_addr(&self) -> &str {
        self.get("REMOTE_ADDR").unwrap_or("")
    }
}

impl fmt::Debug for Environ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (k, v) in self.vars() {
            map.entry(&k, &v);
        }
        map.entry(&"wsgi.url_scheme", &self.url_scheme())
            .entry(&"wsgi.multithread", &self.multithread)
            .entry(&"wsgi.multiprocess", &self.multiprocess)
            .entry(&"wsgi.run_once", &self.run_once)
            .entry(&"wsgi.input_terminated", &self.input_terminated)
            .finish()
    }
}

/// The texts an environ's values may be pieces of, each held once by the
/// environ so that those values need no reference count of their own:
/// the server's are the request head and the connection's addresses.
pub(crate) type SharedTexts = [Option<Arc<str>>; 2];

/// An environ value. Most are pieces of the request head's text or of
/// the connection's addresses, both shared ([`SharedTexts`]); some are
/// fixed text (`GATEWAY_INTERFACE`, the protocol); the rest are made
/// for the request.
#[derive(Clone, Debug)]
pub(crate) enum Text {
    Static(&'static str),
    Shared(Arc<str>),
    /// Bytes `range` of the shared text number `of`.
    Piece {
        of: u8,
        range: Range<usize>,
    },
    Owned(String),
}

impl Text {
    /// The text, resolving a piece in `texts` (empty if it lies outside).
    pub(crate) fn as_str<'a>(&'a self, texts: &'a SharedTexts) -> &'a str {
        match self {
            Text::Static(s) => s,
            Text::Shared(s) => s,
            Text::Piece { of, range } => texts
                .get(usize::from(*of))
                .and_then(Option::as_deref)
                .and_then(|text| text.get(range.clone()))
                .unwrap_or(""),
            Text::Owned(s) => s,
        }
    }

    pub(crate) fn into_string(self, texts: &SharedTexts) -> String {
        match self {
            Text::Owned(s) => s,
            other => other.as_str(texts).to_owned(),
        }
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text::Owned(s)
    }
}

impl From<&'static str> for Text {
    fn from(s: &'static str) -> Text {
        Text::Static(s)
    }
}

impl From<Arc<str>> for Text {
    fn from(s: Arc<str>) -> Text {
        Text::Shared(s)
    }
}

/// `User-Agent` -> `HTTP_USER_AGENT`; Content-Type and Content-Length keep
/// their CGI names. The headers most requests carry get their fixed name
/// without building one.
pub(crate) fn header_key(name: &str) -> Cow<'static, str> {
    const COMMON: [(&str, &str); 14] = [
        ("host", "HTTP_HOST"),
        ("user-agent", "HTTP_USER_AGENT"),
        ("accept", "HTTP_ACCEPT"),
        ("accept-encoding", "HTTP_ACCEPT_ENCODING"),
        ("accept-language", "HTTP_ACCEPT_LANGUAGE"),
        ("connection", "HTTP_CONNECTION"),
        ("content-type", "CONTENT_TYPE"),
        ("content-length", "CONTENT_LENGTH"),
        ("cookie", "HTTP_COOKIE"),
        ("referer", "HTTP_REFERER"),
        ("origin", "HTTP_ORIGIN"),
        ("cache-control", "HTTP_CACHE_CONTROL"),
        ("authorization", "HTTP_AUTHORIZATION"),
        (
            "upgrade-insecure-requests",
            "HTTP_UPGRADE_INSECURE_REQUESTS",
        ),
    ];
    if let Some((_, key)) = COMMON.iter().find(|(h, _)| h.eq_ignore_ascii_case(name)) {
        return Cow::Borrowed(key);
    }
    let mut key = String::with_capacity(name.len() + 5);
    key.push_str("HTTP_");
    key.extend(name.chars().map(|c| match c {
        '-' => '_',
        c => c.to_ascii_uppercase(),
    }));
    match &key[5..] {
        "CONTENT_TYPE" | "CONTENT_LENGTH" => Cow::Owned(key[5..].to_owned()),
        _ => Cow::Owned(key),
    }
}

/// Percent-encodes what may not appear literally in a URL path.
pub(crate) fn percent_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// PATH_INFO: leading slashes collapsed to one (as Werkzeug does for
/// `//double-slash`), percent-escapes decoded, invalid UTF-8 replaced by
/// U+FFFD; an empty path is `/` for absolute-form targets.
pub(crate) fn decode_path(path: &str) -> Cow<'_, str> {
    if path == "*" || is_plain_path(path) {
        return Cow::Borrowed(path);
    }
    let trimmed = path.trim_start_matches('/');
    let path = if path.is_empty() {
        "/".to_owned()
    } else {
        format!("/{trimmed}")
    };
    Cow::Owned(String::from_utf8_lossy(&percent_decode(path.as_bytes())).into_owned())
}

/// A path that decoding would leave as it is: one leading slash, no
/// escapes (the common case, which then costs no copy).
fn is_plain_path(path: &str) -> bool {
    path.starts_with('/') && !path.starts_with("//") && !path.contains('%')
}

/// Decodes `%XX` escapes; a `%` not followed by two hex digits stays.
pub(crate) fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' && i + 2 < input.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(input[i + 1]), hex(input[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

/// `wsgi.input`: the request body as a byte stream.
///
/// Reading from it may first send `100 Continue` to a client that asked
/// for it. It ends (returns 0) where the body ends; a malformed chunked body
/// or one over the server's size limit is an `InvalidData` error.
#[derive(Clone)]
pub struct Input {
    stream: Stream,
}

/// What an [`Input`] reads from.
#[derive(Clone)]
enum Stream {
    /// Any reader, behind a lock of its own.
    Locked(Arc<Mutex<dyn Read + Send>>),
    /// A reader that locks itself: the server's exchange, which already
    /// holds the request's state behind one lock, so a request's input
    /// costs no allocation of its own.
    Shared(Arc<dyn SharedRead>),
}

/// A reader that several handles read through `&self`.
pub(crate) trait SharedRead: Send + Sync {
    /// Reads as [`Read::read`] does.
    fn read_shared(&self, buf: &mut [u8]) -> io::Result<usize>;
}

impl Input {
    /// An input over any reader (the server's own, or bytes in a test).
    pub fn new(reader: impl Read + Send + 'static) -> Input {
        Input {
            stream: Stream::Locked(Arc::new(Mutex::new(reader))),
        }
    }

    /// An input over a reader that locks itself.
    pub(crate) fn shared(reader: Arc<dyn SharedRead>) -> Input {
        Input {
            stream: Stream::Shared(reader),
        }
    }

    /// An input holding `bytes`.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Input {
        Input::new(io::Cursor::new(bytes.into()))
    }

    /// Reads the rest of the body into memory.
    pub fn read_all(&self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.clone().read_to_end(&mut out)?;
        Ok(out)
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &self.stream {
            Stream::Locked(stream) => {
                let mut stream = stream.lock().unwrap_or_else(|e| e.into_inner());
                stream.read(buf)
            }
            Stream::Shared(stream) => stream.read_shared(buf),
        }
    }
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Input").finish_non_exhaustive()
    }
}

/// `wsgi.errors`: where an application writes diagnostics. The server's
/// goes to standard error; [`Errors::capture`] keeps the text for tests.
#[derive(Clone, Default)]
pub struct Errors {
    captured: Option<Arc<Mutex<Vec<u8>>>>,
}

impl Errors {
    /// The server's error stream: standard error.
    pub fn stderr() -> Errors {
        Errors { captured: None }
    }

    /// A stream that keeps what is written, for [`Errors::captured`].
    pub fn capture() -> Errors {
        Errors {
            captured: Some(Arc::default()),
        }
    }

    /// What was written to a capturing stream (empty for standard error).
    pub fn captured(&self) -> String {
        match &self.captured {
            Some(buf) => {
                String::from_utf8_lossy(&buf.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
            }
            None => String::new(),
        }
    }
}

impl Write for Errors {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &self.captured {
            Some(cap) => {
                cap.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(buf);
                Ok(buf.len())
            }
            None => io::stderr().lock().write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &self.captured {
            Some(_) => Ok(()),
            None => io::stderr().flush(),
        }
    }
}

impl fmt::Debug for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = if self.captured.is_some() {
            "capture"
        } else {
            "stderr"
        };
        f.debug_tuple("Errors").field(&target).finish()
    }
}

/// A map from type to value, for data middleware hands to the apps it
/// wraps (the Rust form of custom environ keys such as `werkzeug.request`).
///
/// ```
/// #[derive(Debug, PartialEq)]
/// struct User(&'static str);
///
/// let mut environ = werk::Environ::builder().build();
/// environ.extensions_mut().insert(User("ada"));
/// assert_eq!(environ.extensions().get::<User>(), Some(&User("ada")));
/// ```
#[derive(Clone, Default)]
pub struct Extensions {
    map: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl Extensions {
    /// Stores `value`, replacing any earlier value of its type.
    pub fn insert<T: Any + Send + Sync>(&mut self, value: T) {
        self.map.insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// The stored value of type `T`.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.map.get(&TypeId::of::<T>())?.downcast_ref()
    }

    /// Removes the value of type `T`; true if there was one.
    pub fn remove<T: Any + Send + Sync>(&mut self) -> bool {
        self.map.remove(&TypeId::of::<T>()).is_some()
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extensions")
            .field("len", &self.map.len())
            .finish()
    }
}

/// Builds an [`Environ`] for tests, filled as the server would fill it for
/// a request from 127.0.0.1 to `localhost:5000`.
#[derive(Debug)]
pub struct EnvironBuilder {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    scheme: String,
    errors: Errors,
}

impl EnvironBuilder {
    fn new() -> EnvironBuilder {
        EnvironBuilder {
            method: "GET".to_owned(),
            path: "/".to_owned(),
            query: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
            scheme: "http".to_owned(),
            errors: Errors::capture(),
        }
    }

    /// REQUEST_METHOD (default GET).
    pub fn method(mut self, method: &str) -> Self {
        self.method = method.to_owned();
        self
    }

    /// PATH_INFO, already decoded (default `/`).
    pub fn path(mut self, path: &str) -> Self {
        self.path = path.to_owned();
        self
    }

    /// QUERY_STRING, encoded.
    pub fn query(mut self, query: &str) -> Self {
        self.query = query.to_owned();
        self
    }

    /// Adds a request header, named as on the wire.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The request body; sets CONTENT_LENGTH.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// `wsgi.url_scheme` (default http).
    pub fn scheme(mut self, scheme: &str) -> Self {
        self.scheme = scheme.to_owned();
        self
    }

    /// The environ, with a capturing `wsgi.errors`.
    pub fn build(self) -> Environ {
        let target = if self.query.is_empty() {
            percent_encode_path(&self.path)
        } else {
            format!("{}?{}", percent_encode_path(&self.path), self.query)
        };
        let mut vars: Vec<(String, String)> = [
            ("REQUEST_METHOD", self.method.clone()),
            ("SCRIPT_NAME", String::new()),
            ("PATH_INFO", self.path.clone()),
            ("QUERY_STRING", self.query.clone()),
            ("REQUEST_URI", target.clone()),
            ("RAW_URI", target),
            ("SERVER_NAME", "127.0.0.1".to_owned()),
            ("SERVER_PORT", "5000".to_owned()),
            ("SERVER_PROTOCOL", "HTTP/1.1".to_owned()),
            ("SERVER_SOFTWARE", crate::SERVER_SOFTWARE.to_owned()),
            ("GATEWAY_INTERFACE", "CGI/1.1".to_owned()),
            ("REMOTE_ADDR", "127.0.0.1".to_owned()),
            ("REMOTE_PORT", "49152".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        if !self
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("host"))
        {
            vars.push(("HTTP_HOST".to_owned(), "localhost:5000".to_owned()));
        }
        if !self.body.is_empty() {
            vars.push(("CONTENT_LENGTH".to_owned(), self.body.len().to_string()));
        }
        let mut environ = Environ::from_parts(vars, self.scheme, Input::from_bytes(self.body));
        for (name, value) in &self.headers {
            environ.set(header_key(name), value.clone());
        }
        environ.errors = self.errors;
        environ
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_map_to_cgi_keys() {
        assert_eq!(header_key("User-Agent"), "HTTP_USER_AGENT");
        assert_eq!(header_key("content-type"), "CONTENT_TYPE");
        assert_eq!(header_key("Content-Length"), "CONTENT_LENGTH");
        assert_eq!(header_key("X-Forwarded-For"), "HTTP_X_FORWARDED_FOR");
        assert_eq!(header_key("HOST"), "HTTP_HOST");
    }

    #[test]
    fn url_reconstruction() {
        let mut env = Environ::builder().path("/a b").query("x=1").build();
        env.set("SCRIPT_NAME", "/app");
        assert_eq!(env.url(), "http://localhost:5000/app/a%20b?x=1");
        env.remove("HTTP_HOST");
        env.set("SERVER_NAME", "::1");
        env.set("SERVER_PORT", "80");
        assert_eq!(env.host(), "[::1]");
    }

    #[test]
    fn input_reads_the_body() {
        let env = Environ::builder().body("abc").build();
        assert_eq!(env.input().read_all().unwrap(), b"abc");
        assert_eq!(env.input().read_all().unwrap(), b"");
    }

    #[test]
    fn errors_capture() {
        let env = Environ::builder().build();
        write!(env.errors(), "warning: x").unwrap();
        assert_eq!(env.errors().captured(), "warning: x");
    }

    #[test]
    fn percent_decoding_keeps_bad_escapes() {
        assert_eq!(percent_decode(b"%41%4a%zz%4"), b"AJ%zz%4");
        assert_eq!(percent_decode(b"a+b%2Fc"), b"a+b/c");
    }
}
