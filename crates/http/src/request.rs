//! Request-head parsing (RFC 9112 §2-§6): [`parse`] reads the request line, then one header
//! field at a time, then decides the framing. Each step is its own function; the byte scanning
//! they share lives in `scan`.

use crate::fields::{parse_decimal, trim_ows};
use crate::scan::{eol, host_is_bad, scan, scan_name, scan_target, scan_value, word, TCHAR};
use crate::{
    bad, err, Body, Error, ErrorKind, Header, Limits, Method, Request, Status, Version,
    MAX_LEADING_EMPTY_LINES,
};

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

/// A complete request line.
struct Line<'a> {
    method: Method,
    method_raw: &'a [u8],
    target: &'a [u8],
    version: Version,
    /// Offset just past the line ending.
    next: usize,
}

/// What one step found: a complete item, or more bytes needed (the caller checks the limit
/// against the offset reached).
enum Step<T> {
    Done(T),
    Partial(usize),
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
    let Some(start) = skip_empty_lines(buf) else {
        return Ok(Status::Partial);
    };
    let line = match request_line(buf, start, limits)? {
        Step::Done(l) => l,
        Step::Partial(at) if at - start > limits.max_request_line => {
            return err(ErrorKind::UriTooLong, at)
        }
        Step::Partial(_) => return Ok(Status::Partial),
    };
    let mut pos = line.next;
    let mut count = 0;
    let mut framing = Framing::default();
    loop {
        let (name, value, after) = match field_line(buf, pos)? {
            Step::Done((None, after)) => {
                pos = after;
                break;
            }
            Step::Done((Some((name, value)), after)) => (name, value, after),
            Step::Partial(at) if at - start > limits.max_head => {
                return err(ErrorKind::HeaderFieldsTooLarge, at)
            }
            Step::Partial(_) => return Ok(Status::Partial),
        };
        if after - start > limits.max_head {
            return err(ErrorKind::HeaderFieldsTooLarge, after);
        }
        if count == storage.len() {
            return err(ErrorKind::HeaderFieldsTooLarge, pos);
        }
        storage[count] = Header { name, value };
        count += 1;
        framing.field(name, value, pos)?;
        pos = after;
    }
    let (body, keep_alive) = framing.decide(line.version, limits, pos)?;
    Ok(Status::Complete(Request {
        method: line.method,
        method_raw: line.method_raw,
        target: line.target,
        version: line.version,
        headers: &storage[..count],
        head_len: pos,
        body,
        keep_alive,
        host: framing.host,
        // RFC 9110 §10.1.1: a 100-continue expectation in an HTTP/1.0 request is ignored.
        expect_continue: framing.expect_continue && line.version == Version::Http11,
    }))
}

/// Skip leading empty lines (RFC 9112 §2.2); `None` while the LF of one is still to come.
#[inline(always)]
fn skip_empty_lines(buf: &[u8]) -> Option<usize> {
    let mut pos = 0;
    for _ in 0..MAX_LEADING_EMPTY_LINES {
        match buf.get(pos..pos + 2) {
            Some(b"\r\n") => pos += 2,
            _ if buf.get(pos) == Some(&b'\n') => pos += 1,
            _ => break,
        }
    }
    (&buf[pos..] != b"\r").then_some(pos)
}

/// Request line: method SP request-target SP HTTP-version (RFC 9112 §3).
#[inline(always)]
fn request_line<'a>(buf: &'a [u8], start: usize, limits: &Limits) -> Result<Step<Line<'a>>, Error> {
    // The common methods are recognised by one comparison each.
    let (m_end, known) = match buf.get(start..start + 5) {
        Some([b'G', b'E', b'T', b' ', _]) => (start + 3, Some(Method::Get)),
        Some(b"HEAD ") => (start + 4, Some(Method::Head)),
        Some(b"POST ") => (start + 4, Some(Method::Post)),
        _ => (scan(buf, start, TCHAR), None),
    };
    match buf.get(m_end) {
        None => return Ok(Step::Partial(m_end)),
        Some(b' ') if m_end > start => {}
        Some(_) => return bad("invalid method", m_end),
    }
    let t_start = m_end + 1;
    let t_end = scan_target(buf, t_start);
    match buf.get(t_end) {
        None => return Ok(Step::Partial(t_end)),
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
        return Ok(Step::Partial(buf.len()));
    };
    let version = version_of(v, v_start)?;
    if v_start + 8 - start > limits.max_request_line {
        return err(ErrorKind::UriTooLong, v_start + 8);
    }
    let Some(next) = eol(buf, v_start + 8, "invalid HTTP version")? else {
        return Ok(Step::Partial(start)); // only the line ending is missing
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
    Ok(Step::Done(Line {
        method: known.unwrap_or_else(|| method_of(method_raw)),
        method_raw,
        target,
        version,
        next,
    }))
}

/// HTTP/1.1 and HTTP/1.0 by one comparison each; any other well-formed version is 505.
#[inline(always)]
fn version_of(v: &[u8], at: usize) -> Result<Version, Error> {
    const HTTP11: u64 = u64::from_le_bytes(*b"HTTP/1.1");
    const HTTP10: u64 = u64::from_le_bytes(*b"HTTP/1.0");
    match (word(v, 0), v) {
        (HTTP11, _) => Ok(Version::Http11),
        (HTTP10, _) => Ok(Version::Http10),
        (_, [b'H', b'T', b'T', b'P', b'/', major, b'.', minor])
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            err(ErrorKind::VersionNotSupported, at)
        }
        _ => bad("invalid HTTP version", at),
    }
}

/// A field line `name: value` at `pos` (RFC 9112 §5) and the offset after it; no field at the
/// empty line that ends the head.
type Field<'a> = (Option<(&'a [u8], &'a [u8])>, usize);

#[inline(always)]
fn field_line(buf: &[u8], pos: usize) -> Result<Step<Field<'_>>, Error> {
    match buf.get(pos) {
        None => return Ok(Step::Partial(pos)),
        Some(b'\r' | b'\n') => {
            return Ok(match eol(buf, pos, "")? {
                Some(after) => Step::Done((None, after)),
                None => Step::Partial(pos),
            })
        }
        // obs-fold (RFC 9112 §5.2): reject.
        Some(b' ' | b'\t') => return bad("obsolete line folding", pos),
        Some(_) => {}
    }
    let name_end = scan_name(buf, pos);
    match buf.get(name_end) {
        None => return Ok(Step::Partial(name_end)),
        Some(b':') if name_end > pos => {}
        // No whitespace between name and colon (RFC 9112 §5.1): a smuggling vector.
        Some(b' ' | b'\t') if name_end > pos => return bad("whitespace before colon", name_end),
        Some(_) => return bad("invalid header name", name_end),
    }
    let v_end = scan_value(buf, name_end + 1);
    let Some(after) = eol(buf, v_end, "control character in header value")? else {
        return Ok(Step::Partial(v_end));
    };
    let name = &buf[pos..name_end];
    let value = trim_ows(&buf[name_end + 1..v_end]);
    Ok(Step::Done((Some((name, value)), after)))
}

/// The fields that decide framing and connection reuse, gathered as they are parsed.
#[derive(Default)]
struct Framing<'a> {
    content_length: Option<u64>,
    chunked: bool,
    saw_te: bool,
    host: Option<&'a [u8]>,
    conn_close: bool,
    conn_keep_alive: bool,
    expect_continue: bool,
}

impl<'a> Framing<'a> {
    /// Look at one field (`pos`: its offset, for errors).
    #[inline(always)]
    fn field(&mut self, name: &[u8], v: &'a [u8], pos: usize) -> Result<(), Error> {
        match name.len() {
            4 if name.eq_ignore_ascii_case(b"host") => {
                // Exactly one Host (RFC 9112 §3.2).
                if self.host.is_some() {
                    return bad("several Host fields", pos);
                }
                if host_is_bad(v) {
                    return bad("invalid Host", pos);
                }
                self.host = Some(v);
            }
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                // One value, or a list of identical values (RFC 9110 §8.6).
                for item in v.split(|&b| b == b',') {
                    let Some(n) = parse_decimal(trim_ows(item)) else {
                        return bad("invalid Content-Length", pos);
                    };
                    if self.content_length.is_some_and(|c| c != n) {
                        return bad("conflicting Content-Length", pos);
                    }
                    self.content_length = Some(n);
                }
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                self.saw_te = true;
                // Codings accumulate across fields; chunked must be last and only once (§6.1).
                for item in v.split(|&b| b == b',') {
                    let item = trim_ows(item);
                    if item.is_empty() {
                        continue;
                    }
                    if self.chunked {
                        return bad("chunked is not the final transfer coding", pos);
                    }
                    if !item.eq_ignore_ascii_case(b"chunked") {
                        return err(
                            ErrorKind::NotImplemented("unsupported transfer coding"),
                            pos,
                        );
                    }
                    self.chunked = true;
                }
            }
            10 if name.eq_ignore_ascii_case(b"connection") => {
                for item in v.split(|&b| b == b',') {
                    let item = trim_ows(item);
                    if item.eq_ignore_ascii_case(b"close") {
                        self.conn_close = true;
                    } else if item.eq_ignore_ascii_case(b"keep-alive") {
                        self.conn_keep_alive = true;
                    }
                }
            }
            6 if name.eq_ignore_ascii_case(b"expect") => {
                if !v.eq_ignore_ascii_case(b"100-continue") {
                    return err(ErrorKind::ExpectationFailed, pos);
                }
                self.expect_continue = true;
            }
            _ => {}
        }
        Ok(())
    }

    /// The body's framing (RFC 9112 §6.3) and whether the connection may be reused.
    #[inline(always)]
    fn decide(&self, version: Version, limits: &Limits, pos: usize) -> Result<(Body, bool), Error> {
        if version == Version::Http11 && self.host.is_none() {
            return bad("missing Host", pos);
        }
        let body = match (self.saw_te, self.content_length) {
            (true, Some(_)) => return bad("both Content-Length and Transfer-Encoding", pos),
            // Transfer-Encoding in HTTP/1.0 cannot be framed reliably (RFC 9112 §6.1).
            (true, None) if version == Version::Http10 => {
                return bad("Transfer-Encoding in HTTP/1.0", pos)
            }
            (true, None) if !self.chunked => {
                return bad("chunked is not the final transfer coding", pos)
            }
            (true, None) => Body::Chunked,
            (false, Some(n)) if n > limits.max_body => return err(ErrorKind::PayloadTooLarge, pos),
            (false, Some(0)) | (false, None) => Body::None,
            (false, Some(n)) => Body::Length(n),
        };
        let keep_alive = match version {
            Version::Http11 => !self.conn_close,
            Version::Http10 => self.conn_keep_alive && !self.conn_close,
        };
        Ok((body, keep_alive))
    }
}
