//! Zero-copy, strict HTTP/1.1 request parsing (RFC 9112) and response-head writing.
//!
//! Owns: recognising one request head at the start of a byte slice and deciding its framing.
//! Does not own: I/O, buffering across reads (the caller keeps unconsumed bytes and calls again),
//! routing, response bodies.
//!
//! [`parse`] is fed whatever bytes have arrived. It returns [`Status::Partial`] when the head is
//! not complete yet (this is not an error), [`Status::Complete`] with a [`Request`] whose method,
//! target and header fields are slices of the input, or an [`Error`] that carries the HTTP status
//! the server must answer with before closing the connection. Header storage is the caller's
//! fixed array: its length is the field-count limit. Nothing is allocated.
//!
//! Choices where the RFC leaves room (each one checked in the tests):
//! - Bare LF line endings are accepted (RFC 9112 §2.2 allows it); a bare CR is rejected.
//! - Up to [`MAX_LEADING_EMPTY_LINES`] empty lines before the request line are skipped (§2.2).
//! - A request with both Content-Length and Transfer-Encoding is rejected (§6.1 permits it and
//!   it is the only safe answer against smuggling through a front proxy).

#![forbid(unsafe_code)]

mod chunked;
mod date;
mod response;
mod target;

pub use chunked::{ChunkedDecoder, Progress, MAX_LINE};
pub use date::HttpDate;
pub use response::{reason, write_status_line};
pub use target::{normalize_path, NormalPath, PathError};

/// Empty lines skipped before a request line.
pub const MAX_LEADING_EMPTY_LINES: usize = 4;

/// Bounds on what a request may contain. Each has a status when exceeded.
#[derive(Copy, Clone, Debug)]
pub struct Limits {
    /// Longest request line, without its line ending (414 beyond).
    pub max_request_line: usize,
    /// Longest head: request line plus header fields plus the empty line (431 beyond).
    pub max_head: usize,
    /// Largest declared body (413 beyond).
    pub max_body: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_line: 8 * 1024,
            max_head: 16 * 1024,
            max_body: 1 << 20,
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Patch,
    Trace,
    Connect,
    /// Any other valid token.
    Other,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Header<'a> {
    pub name: &'a [u8],
    pub value: &'a [u8],
}

/// How the request body is framed (RFC 9112 §6.3).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Body {
    None,
    Length(u64),
    Chunked,
}

#[derive(Debug)]
pub struct Request<'a, 'h> {
    pub method: Method,
    pub method_raw: &'a [u8],
    pub target: &'a [u8],
    pub version: Version,
    pub headers: &'h [Header<'a>],
    /// Bytes of the head, including skipped leading empty lines and the final empty line.
    pub head_len: usize,
    pub body: Body,
    /// The connection may be reused after this request (version default and `Connection`).
    pub keep_alive: bool,
    pub host: Option<&'a [u8]>,
    pub expect_continue: bool,
}

impl<'a> Request<'a, '_> {
    /// The target's path: everything before `?` (origin-form).
    pub fn path(&self) -> &'a [u8] {
        match self.target.iter().position(|&b| b == b'?') {
            Some(i) => &self.target[..i],
            None => self.target,
        }
    }

    /// The first field named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name.as_bytes()))
            .map(|h| h.value)
    }
}

#[derive(Debug)]
pub enum Status<T> {
    Complete(T),
    /// More bytes are needed; nothing is wrong so far.
    Partial,
}

/// Why a request was rejected. Every kind maps to a status; the connection must be closed after
/// answering, since the framing of what follows is unknown.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400, with a short reason.
    BadRequest(&'static str),
    /// 414: request line longer than the limit.
    UriTooLong,
    /// 431: head larger than the limit, or more fields than the header array holds.
    HeaderFieldsTooLarge,
    /// 413: declared body larger than the limit.
    PayloadTooLarge,
    /// 417: an expectation other than 100-continue.
    ExpectationFailed,
    /// 501: a transfer coding we do not implement.
    NotImplemented(&'static str),
    /// 505: an HTTP version other than 1.0 and 1.1.
    VersionNotSupported,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    /// Byte offset in the input where the problem was found.
    pub offset: usize,
}

impl Error {
    pub fn status(&self) -> u16 {
        match self.kind {
            ErrorKind::BadRequest(_) => 400,
            ErrorKind::UriTooLong => 414,
            ErrorKind::HeaderFieldsTooLarge => 431,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::ExpectationFailed => 417,
            ErrorKind::NotImplemented(_) => 501,
            ErrorKind::VersionNotSupported => 505,
        }
    }

    /// A one-line explanation for the response body and logs.
    pub fn detail(&self) -> &'static str {
        match self.kind {
            ErrorKind::BadRequest(why) => why,
            ErrorKind::UriTooLong => "request line too long",
            ErrorKind::HeaderFieldsTooLarge => "request header fields too large",
            ErrorKind::PayloadTooLarge => "request body too large",
            ErrorKind::ExpectationFailed => "unsupported expectation",
            ErrorKind::NotImplemented(why) => why,
            ErrorKind::VersionNotSupported => "HTTP version not supported",
        }
    }
}

fn err<T>(kind: ErrorKind, offset: usize) -> Result<T, Error> {
    Err(Error { kind, offset })
}

fn bad<T>(why: &'static str, offset: usize) -> Result<T, Error> {
    err(ErrorKind::BadRequest(why), offset)
}

/// tchar (RFC 9110 §5.6.2).
const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
        | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// Byte classes, one table lookup per byte on the hot loops.
const TCHAR: u8 = 1;
/// Allowed in a request-target: visible ASCII (RFC 9112 §3.2, RFC 3986 plus what browsers send).
const TARGET: u8 = 2;
/// Allowed in a field value: VCHAR, obs-text, SP, HTAB (RFC 9110 §5.5).
const VALUE: u8 = 4;

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut c = 0;
        if is_tchar(b) {
            c |= TCHAR;
        }
        if b > 0x20 && b < 0x7f {
            c |= TARGET;
        }
        if (b > 0x20 && b != 0x7f) || b == b' ' || b == b'\t' {
            c |= VALUE;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// Where the line starting at `from` ends: (index of its last content byte + 1, index after LF).
/// `Ok(None)` when no LF has arrived yet. A CR anywhere but right before the LF is an error.
fn line_end(buf: &[u8], from: usize) -> Result<Option<(usize, usize)>, Error> {
    let Some(rel) = buf[from..].iter().position(|&b| b == b'\n') else {
        return Ok(None);
    };
    let lf = from + rel;
    let end = if lf > from && buf[lf - 1] == b'\r' {
        lf - 1
    } else {
        lf
    };
    Ok(Some((end, lf + 1)))
}

fn method_of(m: &[u8]) -> Method {
    match m {
        b"GET" => Method::Get,
        b"HEAD" => Method::Head,
        b"POST" => Method::Post,
        b"PUT" => Method::Put,
        b"DELETE" => Method::Delete,
        b"OPTIONS" => Method::Options,
        b"PATCH" => Method::Patch,
        b"TRACE" => Method::Trace,
        b"CONNECT" => Method::Connect,
        _ => Method::Other,
    }
}

/// Parse one request head at the start of `buf`. See the crate docs.
pub fn parse<'a, 'h>(
    buf: &'a [u8],
    storage: &'h mut [Header<'a>],
    limits: &Limits,
) -> Result<Status<Request<'a, 'h>>, Error> {
    // Leading empty lines (RFC 9112 §2.2).
    let mut pos = 0;
    for _ in 0..MAX_LEADING_EMPTY_LINES {
        match buf.get(pos..pos + 2) {
            Some(b"\r\n") => pos += 2,
            _ if buf.get(pos) == Some(&b'\n') => pos += 1,
            _ => break,
        }
    }
    let start = pos;

    // Request line.
    let Some((line_stop, next)) = line_end(buf, start)? else {
        if buf.len() - start > limits.max_request_line + 2 {
            return err(ErrorKind::UriTooLong, buf.len());
        }
        check_partial_line(buf, start, b' ')?;
        return Ok(Status::Partial);
    };
    if line_stop - start > limits.max_request_line {
        return err(ErrorKind::UriTooLong, line_stop);
    }
    let line = &buf[start..line_stop];
    let (method_raw, target, version) = request_line(line, start)?;
    let method = method_of(method_raw);
    pos = next;

    // Header fields.
    let mut count = 0;
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut saw_te = false;
    let mut host: Option<&'a [u8]> = None;
    let mut conn_close = false;
    let mut conn_keep_alive = false;
    let mut expect_continue = false;
    loop {
        if pos - start > limits.max_head {
            return err(ErrorKind::HeaderFieldsTooLarge, pos);
        }
        let Some((stop, after)) = line_end(buf, pos)? else {
            if buf.len() - start > limits.max_head {
                return err(ErrorKind::HeaderFieldsTooLarge, buf.len());
            }
            check_partial_line(buf, pos, b':')?;
            return Ok(Status::Partial);
        };
        if after - start > limits.max_head {
            return err(ErrorKind::HeaderFieldsTooLarge, after);
        }
        if stop == pos {
            pos = after;
            break;
        }
        let line = &buf[pos..stop];
        // obs-fold (RFC 9112 §5.2): reject.
        if line[0] == b' ' || line[0] == b'\t' {
            return bad("obsolete line folding", pos);
        }
        let name_len = line
            .iter()
            .position(|&b| CLASS[b as usize] & TCHAR == 0)
            .unwrap_or(line.len());
        if name_len == 0 {
            return bad("invalid header name", pos);
        }
        // No whitespace between name and colon (RFC 9112 §5.1): a smuggling vector.
        if line.get(name_len) != Some(&b':') {
            return bad(
                if matches!(line.get(name_len), Some(b' ' | b'\t')) {
                    "whitespace before colon"
                } else {
                    "invalid header name"
                },
                pos + name_len,
            );
        }
        let name = &line[..name_len];
        let mut v = &line[name_len + 1..];
        if let Some(i) = v.iter().position(|&b| CLASS[b as usize] & VALUE == 0) {
            return bad(
                if v[i] == b'\r' {
                    "bare CR"
                } else {
                    "control character in header value"
                },
                pos + name_len + 1 + i,
            );
        }
        while let [b' ' | b'\t', rest @ ..] = v {
            v = rest;
        }
        while let [rest @ .., b' ' | b'\t'] = v {
            v = rest;
        }
        if count == storage.len() {
            return err(ErrorKind::HeaderFieldsTooLarge, pos);
        }
        storage[count] = Header { name, value: v };
        count += 1;

        match name.len() {
            4 if name.eq_ignore_ascii_case(b"host") => {
                // Exactly one Host (RFC 9112 §3.2).
                if host.is_some() {
                    return bad("several Host fields", pos);
                }
                if v.iter()
                    .any(|&b| matches!(b, b'/' | b'\\' | b'@' | b' ' | b'\t'))
                {
                    return bad("invalid Host", pos);
                }
                host = Some(v);
            }
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                // One value, or a list of identical values (RFC 9110 §8.6).
                for item in v.split(|&b| b == b',') {
                    let item = trim_ows(item);
                    let n = parse_decimal(item).ok_or(Error {
                        kind: ErrorKind::BadRequest("invalid Content-Length"),
                        offset: pos,
                    })?;
                    if content_length.is_some_and(|c| c != n) {
                        return bad("conflicting Content-Length", pos);
                    }
                    content_length = Some(n);
                }
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                saw_te = true;
                // Codings accumulate across fields; chunked must be last and only once (§6.1).
                for item in v.split(|&b| b == b',') {
                    let item = trim_ows(item);
                    if item.is_empty() {
                        continue;
                    }
                    if chunked {
                        return bad("chunked is not the final transfer coding", pos);
                    }
                    if item.eq_ignore_ascii_case(b"chunked") {
                        chunked = true;
                    } else {
                        return err(
                            ErrorKind::NotImplemented("unsupported transfer coding"),
                            pos,
                        );
                    }
                }
            }
            10 if name.eq_ignore_ascii_case(b"connection") => {
                for item in v.split(|&b| b == b',') {
                    let item = trim_ows(item);
                    if item.eq_ignore_ascii_case(b"close") {
                        conn_close = true;
                    } else if item.eq_ignore_ascii_case(b"keep-alive") {
                        conn_keep_alive = true;
                    }
                }
            }
            6 if name.eq_ignore_ascii_case(b"expect") => {
                if v.eq_ignore_ascii_case(b"100-continue") {
                    expect_continue = true;
                } else {
                    return err(ErrorKind::ExpectationFailed, pos);
                }
            }
            _ => {}
        }
        pos = after;
    }

    if version == Version::Http11 && host.is_none() {
        return bad("missing Host", pos);
    }
    let body = match (saw_te, content_length) {
        (true, Some(_)) => return bad("both Content-Length and Transfer-Encoding", pos),
        // Transfer-Encoding in HTTP/1.0 cannot be framed reliably (RFC 9112 §6.1).
        (true, None) if version == Version::Http10 => {
            return bad("Transfer-Encoding in HTTP/1.0", pos)
        }
        (true, None) if !chunked => return bad("chunked is not the final transfer coding", pos),
        (true, None) => Body::Chunked,
        (false, Some(n)) if n > limits.max_body => return err(ErrorKind::PayloadTooLarge, pos),
        (false, Some(0)) | (false, None) => Body::None,
        (false, Some(n)) => Body::Length(n),
    };
    let keep_alive = match version {
        Version::Http11 => !conn_close,
        Version::Http10 => conn_keep_alive && !conn_close,
    };
    Ok(Status::Complete(Request {
        method,
        method_raw,
        target,
        version,
        headers: &storage[..count],
        head_len: pos,
        body,
        keep_alive,
        host,
        expect_continue,
    }))
}

/// A line still arriving is checked as far as it goes, so garbage (a TLS handshake, a binary
/// protocol) is rejected at once instead of waiting for a line end that never comes: the leading
/// token (method or field name) must be tchars up to its delimiter, and a CR may only be the last
/// byte so far (it may precede the LF).
fn check_partial_line(buf: &[u8], from: usize, delim: u8) -> Result<(), Error> {
    let tail = &buf[from..];
    if let Some(i) = tail.iter().position(|&b| b == b'\r') {
        if i + 1 != tail.len() {
            return bad("bare CR", from + i);
        }
    }
    let tok = tail
        .iter()
        .position(|&b| CLASS[b as usize] & TCHAR == 0)
        .unwrap_or(tail.len());
    match tail.get(tok) {
        None => Ok(()),
        Some(&b) if b == delim && tok > 0 => Ok(()),
        Some(b' ' | b'\t') if delim == b':' && tok == 0 => bad("obsolete line folding", from),
        Some(b'\r') if tok == 0 => Ok(()),
        Some(_) if delim == b' ' => bad("invalid method", from + tok),
        Some(_) => bad("invalid header name", from + tok),
    }
}

fn request_line(line: &[u8], at: usize) -> Result<(&[u8], &[u8], Version), Error> {
    let m_len = line
        .iter()
        .position(|&b| CLASS[b as usize] & TCHAR == 0)
        .unwrap_or(line.len());
    if m_len == 0 {
        return bad("invalid method", at);
    }
    if line.get(m_len) != Some(&b' ') {
        return bad(
            if line.get(m_len) == Some(&b'\r') {
                "bare CR"
            } else {
                "invalid method"
            },
            at + m_len,
        );
    }
    let rest = &line[m_len + 1..];
    let t_len = rest
        .iter()
        .position(|&b| CLASS[b as usize] & TARGET == 0)
        .unwrap_or(rest.len());
    if t_len == 0 {
        return bad("invalid request target", at + m_len + 1);
    }
    if rest.get(t_len) != Some(&b' ') {
        return bad("invalid request target", at + m_len + 1 + t_len);
    }
    let target = &rest[..t_len];
    let v = &rest[t_len + 1..];
    let version = match v {
        b"HTTP/1.1" => Version::Http11,
        b"HTTP/1.0" => Version::Http10,
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            return err(ErrorKind::VersionNotSupported, at + m_len + t_len + 2);
        }
        _ => return bad("invalid HTTP version", at + m_len + t_len + 2),
    };
    // Only origin-form, absolute-form and asterisk-form reach us (authority-form is CONNECT's).
    if !(target[0] == b'/'
        || target == b"*"
        || target.len() > 7 && target[..7].eq_ignore_ascii_case(b"http://")
        || target.len() > 8 && target[..8].eq_ignore_ascii_case(b"https://"))
    {
        return bad("invalid request target", at + m_len + 1);
    }
    Ok((&line[..m_len], target, version))
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// 1*DIGIT as a u64, None on anything else or overflow.
fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    Some(n)
}

#[cfg(test)]
mod tests;
