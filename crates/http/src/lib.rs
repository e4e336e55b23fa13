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

#![deny(unsafe_code)] // one audited exception: `scan::ctl_mask16` (SSE2 intrinsics)

mod chunked;
mod coding;
mod conditional;
mod date;
mod fields;
mod request;
mod response;
mod scan;
mod target;
pub mod ws;

pub use chunked::{ChunkedDecoder, Progress, MAX_LINE};
pub use coding::{choose_coding, Coding};
pub use conditional::{evaluate, if_range_holds, parse_range, Conditions, Precondition, Range};
pub use date::{parse_http_date, HttpDate};
pub use fields::{etag_matches, hex_digit, parse_decimal, parse_q, trim_ows, write_decimal};
pub use request::parse;
pub use response::{reason, status_digits, write_status_line};
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
        &self.target[..self.query_start()]
    }

    /// The target's query with its leading `?`, or empty.
    pub fn query(&self) -> &'a [u8] {
        &self.target[self.query_start()..]
    }

    fn query_start(&self) -> usize {
        self.target
            .iter()
            .position(|&b| b == b'?')
            .unwrap_or(self.target.len())
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

pub(crate) fn err<T>(kind: ErrorKind, offset: usize) -> Result<T, Error> {
    Err(Error { kind, offset })
}

pub(crate) fn bad<T>(why: &'static str, offset: usize) -> Result<T, Error> {
    err(ErrorKind::BadRequest(why), offset)
}

#[cfg(test)]
mod tests;
