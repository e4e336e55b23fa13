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

#![deny(unsafe_code)] // one audited exception: `ctl_mask16` (SSE2 intrinsics)

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

impl Header<'_> {
    /// An empty field, to fill header storage with: `[Header::EMPTY; 64]`.
    pub const EMPTY: Header<'static> = Header {
        name: b"",
        value: b"",
    };
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
/// Not allowed in a Host value: path, userinfo and whitespace characters.
const HOST_BAD: u8 = 8;

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
        if matches!(b, b'/' | b'\\' | b'@' | b' ' | b'\t') {
            c |= HOST_BAD;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// Index of the first byte at or after `from` whose class lacks `bit` (or `buf.len()`).
#[inline(always)]
fn scan(buf: &[u8], mut i: usize, bit: u8) -> usize {
    while i < buf.len() && CLASS[buf[i] as usize] & bit != 0 {
        i += 1;
    }
    i
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

#[inline(always)]
fn word(buf: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(buf[i..i + 8].try_into().expect("8 bytes"))
}

/// Flags (high bit of the byte) where a byte may be a control byte: below 0x20 or 0x7f. Never
/// misses one; may flag a neighbour (borrows), callers then look byte by byte.
#[inline(always)]
fn ctl_flags(x: u64) -> u64 {
    let y = x ^ (LO * 0x7f);
    (x.wrapping_sub(LO * 0x20) & !x | y.wrapping_sub(LO) & !y) & HI
}

/// Flags bytes outside 0x21..=0x7e (request-target bytes), same contract as [`ctl_flags`].
#[inline(always)]
fn non_target_flags(x: u64) -> u64 {
    // Below 0x21, or 0x7f and above (adding 1 sets the high bit of 0x7f; 0x80+ have it).
    (x.wrapping_sub(LO * 0x21) & !x | x | x.wrapping_add(LO)) & HI
}

/// Index of the lowest flagged byte in a word of flags. Exact: borrows and carries only ever
/// move towards higher bytes, so the lowest flag is a real one.
#[inline(always)]
fn first_flag(f: u64) -> usize {
    (f.trailing_zeros() / 8) as usize
}

/// Field-value bytes (VCHAR, obs-text, SP, HTAB) from `i`: the first other byte, or `buf.len()`.
#[inline(always)]
fn scan_value(buf: &[u8], mut i: usize) -> usize {
    // Thirty-two bytes per step (two SSE2 vectors on x86-64) while no control byte shows up.
    while i + 32 <= buf.len() {
        let m = ctl_mask16(buf, i) | ctl_mask16(buf, i + 16) << 16;
        if m == 0 {
            i += 32;
            continue;
        }
        let j = i + m.trailing_zeros() as usize;
        if buf[j] != b'\t' {
            return j;
        }
        i = j + 1; // HTAB is allowed in values
    }
    while i + 8 <= buf.len() {
        let f = ctl_flags(word(buf, i));
        if f == 0 {
            i += 8;
            continue;
        }
        let j = i + first_flag(f);
        if buf[j] != b'\t' {
            return j;
        }
        i = j + 1;
    }
    scan(buf, i, VALUE)
}

/// One bit per byte of `buf[i..i + 16]`: is it a control byte (below 0x20, or 0x7f)? Exact.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
#[allow(unsafe_code)]
fn ctl_mask16(buf: &[u8], i: usize) -> u32 {
    use std::arch::x86_64::*;
    // Bounds-checked here; the load below reads exactly these 16 bytes.
    let bytes: &[u8; 16] = buf[i..i + 16].try_into().expect("16 bytes");
    // SAFETY: these intrinsics only require the SSE2 target feature, which this function is
    // compiled with (the cfg above: it is part of the x86-64 baseline). The one load reads the
    // 16 bytes of `bytes`, a live, in-bounds array reference; loadu needs no alignment.
    unsafe {
        let v = _mm_loadu_si128(bytes.as_ptr().cast());
        let low = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));
        let del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f));
        _mm_movemask_epi8(_mm_or_si128(low, del)) as u32
    }
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
fn ctl_mask16(buf: &[u8], i: usize) -> u32 {
    (i..i + 16).fold(0, |m, k| {
        m | (u32::from(buf[k] < 0x20 || buf[k] == 0x7f) << (k - i))
    })
}

/// request-target bytes (visible ASCII) from `i`: the first other byte, or `buf.len()`.
#[inline(always)]
fn scan_target(buf: &[u8], mut i: usize) -> usize {
    while i + 8 <= buf.len() {
        let f = non_target_flags(word(buf, i));
        if f != 0 {
            return i + first_flag(f);
        }
        i += 8;
    }
    scan(buf, i, TARGET)
}

/// Does a Host value hold a byte that cannot be in one (whitespace or control, `/`, `\\`, `@`)?
/// Eight bytes at a time.
#[inline(always)]
fn host_is_bad(v: &[u8]) -> bool {
    let mut i = 0;
    while i + 8 <= v.len() {
        let x = word(v, i);
        let eq = |b: u8| {
            let y = x ^ (LO * u64::from(b));
            y.wrapping_sub(LO) & !y
        };
        if (x.wrapping_sub(LO * 0x21) & !x | eq(b'/') | eq(b'@') | eq(b'\\')) & HI != 0 {
            break; // something (maybe) odd here: check exactly
        }
        i += 8;
    }
    v[i..]
        .iter()
        .any(|&b| CLASS[b as usize] & HOST_BAD != 0 || b < 0x20)
}

/// A field name from `i`: the first byte that is not a tchar, or `buf.len()`. The end (the first
/// byte at or below SP, or `:`) is found eight bytes at a time; the name's bytes are then checked
/// against the tchar table in one pass without an early exit.
#[inline(always)]
fn scan_name(buf: &[u8], start: usize) -> usize {
    let mut i = start;
    while i + 8 <= buf.len() {
        let x = word(buf, i);
        let y = x ^ (LO * u64::from(b':'));
        let f = (x.wrapping_sub(LO * 0x21) & !x | y.wrapping_sub(LO) & !y) & HI;
        if f == 0 {
            i += 8;
            continue;
        }
        let end = i + first_flag(f);
        let ok = buf[start..end]
            .iter()
            .fold(TCHAR, |acc, &b| acc & CLASS[b as usize]);
        return if ok != 0 {
            end
        } else {
            scan(buf, start, TCHAR)
        };
    }
    scan(buf, start, TCHAR)
}

/// After a line's content at `i`: `Ok(Some(next line start))` for CRLF or LF, `Ok(None)` when
/// the line end has not fully arrived, an error for anything else.
#[inline(always)]
fn eol(buf: &[u8], i: usize, what: &'static str) -> Result<Option<usize>, Error> {
    match buf.get(i) {
        None => Ok(None),
        Some(b'\n') => Ok(Some(i + 1)),
        Some(b'\r') => match buf.get(i + 1) {
            None => Ok(None),
            Some(b'\n') => Ok(Some(i + 2)),
            Some(_) => bad("bare CR", i),
        },
        Some(_) => bad(what, i),
    }
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
///
/// One pass: every byte is classified once, and a line still arriving is checked as far as it
/// goes, so garbage (a TLS handshake, a binary protocol) is rejected at once instead of waiting
/// for a line end that never comes.
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
    if &buf[pos..] == b"\r" {
        return Ok(Status::Partial); // the LF of an empty line is still to come
    }
    let start = pos;
    let line_too_long = |at: usize| at - start > limits.max_request_line;
    let partial_line = |at: usize| -> Result<Status<Request<'a, 'h>>, Error> {
        if line_too_long(at) {
            err(ErrorKind::UriTooLong, at)
        } else {
            Ok(Status::Partial)
        }
    };

    // Request line: method SP request-target SP HTTP-version (RFC 9112 §3).
    // The common methods are recognised by one comparison each.
    let (m_end, known) = match buf.get(start..start + 5) {
        Some([b'G', b'E', b'T', b' ', _]) => (start + 3, Some(Method::Get)),
        Some(b"HEAD ") => (start + 4, Some(Method::Head)),
        Some(b"POST ") => (start + 4, Some(Method::Post)),
        _ => (scan(buf, start, TCHAR), None),
    };
    match buf.get(m_end) {
        None => return partial_line(m_end),
        Some(b' ') if m_end > start => {}
        Some(_) => return bad("invalid method", m_end),
    }
    let t_start = m_end + 1;
    let t_end = scan_target(buf, t_start);
    match buf.get(t_end) {
        None => return partial_line(t_end),
        Some(b' ') if t_end > t_start => {}
        Some(_) => return bad("invalid request target", t_end),
    }
    let v_start = t_end + 1;
    let Some(v) = buf.get(v_start..v_start + 8) else {
        // Check what has arrived of the version against "HTTP/".
        let got = &buf[v_start..];
        let n = got.len().min(5);
        if got[..n] != b"HTTP/"[..n] {
            return bad("invalid HTTP version", v_start);
        }
        return partial_line(buf.len());
    };
    const HTTP11: u64 = u64::from_le_bytes(*b"HTTP/1.1");
    const HTTP10: u64 = u64::from_le_bytes(*b"HTTP/1.0");
    let version = match (word(v, 0), v) {
        (HTTP11, _) => Version::Http11,
        (HTTP10, _) => Version::Http10,
        (_, [b'H', b'T', b'T', b'P', b'/', major, b'.', minor])
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            return err(ErrorKind::VersionNotSupported, v_start);
        }
        (_, _) => return bad("invalid HTTP version", v_start),
    };
    if line_too_long(v_start + 8) {
        return err(ErrorKind::UriTooLong, v_start + 8);
    }
    let Some(next) = eol(buf, v_start + 8, "invalid HTTP version")? else {
        return Ok(Status::Partial);
    };
    let method_raw = &buf[start..m_end];
    let target = &buf[t_start..t_end];
    // Only origin-form, absolute-form and asterisk-form reach us (authority-form is CONNECT's).
    if !(target[0] == b'/'
        || target == b"*"
        || target.len() > 7 && target[..7].eq_ignore_ascii_case(b"http://")
        || target.len() > 8 && target[..8].eq_ignore_ascii_case(b"https://"))
    {
        return bad("invalid request target", t_start);
    }
    let method = known.unwrap_or_else(|| method_of(method_raw));
    pos = next;
    let partial_head = |at: usize| -> Result<Status<Request<'a, 'h>>, Error> {
        if at - start > limits.max_head {
            err(ErrorKind::HeaderFieldsTooLarge, at)
        } else {
            Ok(Status::Partial)
        }
    };

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
        match buf.get(pos) {
            None => return partial_head(pos),
            Some(b'\r' | b'\n') => match eol(buf, pos, "")? {
                Some(after) => {
                    pos = after;
                    break;
                }
                None => return partial_head(pos),
            },
            // obs-fold (RFC 9112 §5.2): reject.
            Some(b' ' | b'\t') => return bad("obsolete line folding", pos),
            Some(_) => {}
        }
        let name_end = scan_name(buf, pos);
        match buf.get(name_end) {
            None => return partial_head(name_end),
            Some(b':') if name_end > pos => {}
            // No whitespace between name and colon (RFC 9112 §5.1): a smuggling vector.
            Some(b' ' | b'\t') if name_end > pos => {
                return bad("whitespace before colon", name_end)
            }
            Some(_) => return bad("invalid header name", name_end),
        }
        let v_end = scan_value(buf, name_end + 1);
        let after = match eol(buf, v_end, "control character in header value")? {
            Some(a) => a,
            None => return partial_head(v_end),
        };
        if after - start > limits.max_head {
            return err(ErrorKind::HeaderFieldsTooLarge, after);
        }
        let name = &buf[pos..name_end];
        let v = trim_ows(&buf[name_end + 1..v_end]);
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
                if host_is_bad(v) {
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

/// `s` without leading and trailing optional whitespace (SP, HTAB; RFC 9110 §5.6.3).
pub fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// 1*DIGIT as a u64, None on anything else or overflow.
pub fn parse_decimal(s: &[u8]) -> Option<u64> {
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
