//! Conditional and range requests (RFC 9110 §13 and §14): the request fields they use, the
//! precondition evaluation order, single byte ranges and If-Range. Pure functions over field
//! values; the caller supplies the representation's validators.

use crate::date::parse_http_date;
use crate::fields::{etag_matches, parse_decimal, trim_ows};
use crate::Request;

/// The request fields the file server looks at, gathered in one pass over the headers.
#[derive(Default, Debug)]
pub struct Conditions<'a> {
    pub if_match: Option<&'a [u8]>,
    pub if_none_match: Option<&'a [u8]>,
    pub if_modified_since: Option<&'a [u8]>,
    pub if_unmodified_since: Option<&'a [u8]>,
    pub if_range: Option<&'a [u8]>,
    pub range: Option<&'a [u8]>,
    pub accept_encoding: Option<&'a [u8]>,
}

impl<'a> Conditions<'a> {
    pub fn of(req: &Request<'a, '_>) -> Conditions<'a> {
        let mut c = Conditions::default();
        for h in req.headers {
            let n = h.name;
            let slot = match n.len() {
                5 if n.eq_ignore_ascii_case(b"range") => &mut c.range,
                8 if n.eq_ignore_ascii_case(b"if-match") => &mut c.if_match,
                8 if n.eq_ignore_ascii_case(b"if-range") => &mut c.if_range,
                13 if n.eq_ignore_ascii_case(b"if-none-match") => &mut c.if_none_match,
                15 if n.eq_ignore_ascii_case(b"accept-encoding") => &mut c.accept_encoding,
                17 if n.eq_ignore_ascii_case(b"if-modified-since") => &mut c.if_modified_since,
                19 if n.eq_ignore_ascii_case(b"if-unmodified-since") => &mut c.if_unmodified_since,
                _ => continue,
            };
            *slot = Some(h.value);
        }
        c
    }
}

/// The outcome of the preconditions.
#[derive(Debug, PartialEq, Eq)]
pub enum Precondition {
    Proceed,
    NotModified,
    Failed,
}

/// RFC 9110 §13.2.2 order. `get_or_head` selects 304 over 412 for a matching If-None-Match.
pub fn evaluate(c: &Conditions<'_>, etag: &[u8], mtime: i64, get_or_head: bool) -> Precondition {
    if let Some(im) = c.if_match {
        if !etag_matches(im, etag, false) {
            return Precondition::Failed;
        }
    } else if let Some(d) = c.if_unmodified_since.and_then(parse_http_date) {
        if mtime > d {
            return Precondition::Failed;
        }
    }
    if let Some(inm) = c.if_none_match {
        if etag_matches(inm, etag, true) {
            return if get_or_head {
                Precondition::NotModified
            } else {
                Precondition::Failed
            };
        }
    } else if let (true, Some(d)) = (get_or_head, c.if_modified_since.and_then(parse_http_date)) {
        if mtime <= d {
            return Precondition::NotModified;
        }
    }
    Precondition::Proceed
}

#[derive(Debug, PartialEq, Eq)]
pub enum Range {
    /// Serve the whole representation (no Range, an invalid one, or several ranges).
    Full,
    /// Inclusive byte positions.
    Part(u64, u64),
    Unsatisfiable,
}

/// A single `bytes=` range against a representation of `size` bytes (RFC 9110 §14.1.2).
pub fn parse_range(v: &[u8], size: u64) -> Range {
    let v = trim_ows(v);
    if v.len() < 6 || !v[..6].eq_ignore_ascii_case(b"bytes=") {
        return Range::Full;
    }
    let spec = trim_ows(&v[6..]);
    if spec.contains(&b',') {
        return Range::Full; // several ranges: answered with the full 200
    }
    let Some(dash) = spec.iter().position(|&b| b == b'-') else {
        return Range::Full;
    };
    let num = parse_decimal;
    let (first, last) = (&spec[..dash], &spec[dash + 1..]);
    match (num(first), num(last)) {
        (Some(a), Some(b)) if a <= b => {
            if a >= size {
                Range::Unsatisfiable
            } else {
                Range::Part(a, b.min(size - 1))
            }
        }
        (Some(a), None) if last.is_empty() => {
            if a >= size {
                Range::Unsatisfiable
            } else {
                Range::Part(a, size - 1)
            }
        }
        (None, Some(n)) if first.is_empty() => {
            if n == 0 || size == 0 {
                Range::Unsatisfiable
            } else {
                Range::Part(size - n.min(size), size - 1)
            }
        }
        _ => Range::Full,
    }
}

/// Whether If-Range lets the Range apply: a strong ETag equal to ours, or our exact date.
pub fn if_range_holds(v: &[u8], etag: &[u8], last_modified: &[u8]) -> bool {
    let v = trim_ows(v);
    if v.first() == Some(&b'"') {
        v == etag
    } else {
        v == last_modified
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let cases: &[(&[u8], u64, Range)] = &[
            (b"bytes=0-99", 1000, Range::Part(0, 99)),
            (b"bytes=900-", 1000, Range::Part(900, 999)),
            (b"bytes=-100", 1000, Range::Part(900, 999)),
            (b"bytes=-5000", 1000, Range::Part(0, 999)),
            (b"bytes=990-5000", 1000, Range::Part(990, 999)),
            (b"bytes=1000-", 1000, Range::Unsatisfiable),
            (b"bytes=1000-2000", 1000, Range::Unsatisfiable),
            (b"bytes=-0", 1000, Range::Unsatisfiable),
            (b"bytes=0-0", 0, Range::Unsatisfiable),
            (b"bytes=5-1", 1000, Range::Full),
            (b"bytes=0-1,5-6", 1000, Range::Full),
            (b"items=0-1", 1000, Range::Full),
            (b"bytes=a-b", 1000, Range::Full),
            (b"bytes=-", 1000, Range::Full),
            (b"BYTES=1-2", 1000, Range::Part(1, 2)),
        ];
        for (v, size, want) in cases {
            assert_eq!(
                &parse_range(v, *size),
                want,
                "{}",
                String::from_utf8_lossy(v)
            );
        }
    }

    #[test]
    fn preconditions() {
        let etag = b"\"abc\"";

        let lm = 784_111_777;
        let c = |f: fn(&mut Conditions<'static>)| {
            let mut c = Conditions::default();
            f(&mut c);
            c
        };
        use Precondition::*;
        assert_eq!(
            evaluate(&c(|c| c.if_none_match = Some(b"\"abc\"")), etag, lm, true),
            NotModified
        );
        assert_eq!(
            evaluate(&c(|c| c.if_none_match = Some(b"\"abc\"")), etag, lm, false),
            Failed
        );
        assert_eq!(
            evaluate(&c(|c| c.if_none_match = Some(b"\"zzz\"")), etag, lm, true),
            Proceed
        );
        let same = Some(&b"Sun, 06 Nov 1994 08:49:37 GMT"[..]);
        let before = Some(&b"Sun, 06 Nov 1994 08:49:36 GMT"[..]);
        assert_eq!(
            evaluate(
                &Conditions {
                    if_modified_since: same,
                    ..Default::default()
                },
                etag,
                lm,
                true
            ),
            NotModified
        );
        assert_eq!(
            evaluate(
                &Conditions {
                    if_modified_since: before,
                    ..Default::default()
                },
                etag,
                lm,
                true
            ),
            Proceed
        );
        // If-None-Match wins over If-Modified-Since.
        let both = Conditions {
            if_none_match: Some(b"\"zzz\""),
            if_modified_since: same,
            ..Default::default()
        };
        assert_eq!(evaluate(&both, etag, lm, true), Proceed);
        assert_eq!(
            evaluate(&c(|c| c.if_match = Some(b"\"zzz\"")), etag, lm, true),
            Failed
        );
        assert_eq!(
            evaluate(&c(|c| c.if_match = Some(b"\"abc\"")), etag, lm, true),
            Proceed
        );
        assert_eq!(
            evaluate(
                &Conditions {
                    if_unmodified_since: before,
                    ..Default::default()
                },
                etag,
                lm,
                true
            ),
            Failed
        );
        assert_eq!(
            evaluate(
                &Conditions {
                    if_unmodified_since: same,
                    ..Default::default()
                },
                etag,
                lm,
                true
            ),
            Proceed
        );
    }
}
