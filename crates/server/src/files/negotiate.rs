//! Request-header logic for files: conditional requests (RFC 9110 §13), byte ranges (§14) and
//! content-coding negotiation (§12.5.3). Pure functions over header values.

use ringhttpd_http::{parse_decimal, trim_ows, Request};

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

/// Does an If-Match / If-None-Match list match `etag` (a quoted strong tag)?
/// `weak` selects the weak comparison (If-None-Match), else the strong one (If-Match).
pub fn etag_matches(list: &[u8], etag: &[u8], weak: bool) -> bool {
    let list = trim_ows(list);
    if list == b"*" {
        return true;
    }
    list.split(|&b| b == b',').any(|item| {
        let item = trim_ows(item);
        match item.strip_prefix(b"W/") {
            Some(tag) => weak && tag == etag,
            None => item == etag,
        }
    })
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) as Unix seconds. The obsolete RFC 850 and
/// asctime forms are not accepted: the condition is then ignored, which is always safe.
pub fn parse_http_date(v: &[u8]) -> Option<i64> {
    let v = trim_ows(v);
    if v.len() != 29 || &v[3..5] != b", " || &v[25..] != b" GMT" {
        return None;
    }
    let num = |s: &[u8]| parse_decimal(s).map(|n| n as i64);
    let day = num(&v[5..7])?;
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == &v[8..11])? as i64 + 1;
    let year = num(&v[12..16])?;
    let (h, m, s) = (num(&v[17..19])?, num(&v[20..22])?, num(&v[23..25])?);
    if v[7] != b' ' || v[11] != b' ' || v[16] != b' ' || v[19] != b':' || v[22] != b':' {
        return None;
    }
    if !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + m * 60 + s)
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

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Coding {
    Identity,
    Gzip,
    Deflate,
}

/// Pick a coding from Accept-Encoding (with q-values); gzip preferred over deflate at equal q.
pub fn choose_coding(accept: Option<&[u8]>, have_gzip: bool, have_deflate: bool) -> Coding {
    let Some(accept) = accept else {
        return Coding::Identity;
    };
    let (mut gz, mut df, mut star) = (None::<u32>, None::<u32>, None::<u32>);
    for item in accept.split(|&b| b == b',') {
        let mut parts = item.split(|&b| b == b';');
        let name = trim_ows(parts.next().unwrap_or(b""));
        let mut q = 1000;
        for p in parts {
            let p = trim_ows(p);
            if p.len() >= 2 && p[..2].eq_ignore_ascii_case(b"q=") {
                q = parse_q(&p[2..]).unwrap_or(0);
            }
        }
        if name.eq_ignore_ascii_case(b"gzip") || name.eq_ignore_ascii_case(b"x-gzip") {
            gz = Some(q);
        } else if name.eq_ignore_ascii_case(b"deflate") {
            df = Some(q);
        } else if name == b"*" {
            star = Some(q);
        }
    }
    let qg = if have_gzip {
        gz.or(star).unwrap_or(0)
    } else {
        0
    };
    let qd = if have_deflate {
        df.or(star).unwrap_or(0)
    } else {
        0
    };
    if qg > 0 && qg >= qd {
        Coding::Gzip
    } else if qd > 0 {
        Coding::Deflate
    } else {
        Coding::Identity
    }
}

/// A qvalue (`0`, `0.5`, `1.000`) in thousandths.
fn parse_q(v: &[u8]) -> Option<u32> {
    let v = trim_ows(v);
    let (int, frac) = match v.iter().position(|&b| b == b'.') {
        Some(i) => (&v[..i], &v[i + 1..]),
        None => (v, &b""[..]),
    };
    if int.len() != 1 || frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut q = match int[0] {
        b'0' => 0,
        b'1' => 1000,
        _ => return None,
    };
    let mut scale = 100;
    for &d in frac {
        q += u32::from(d - b'0') * scale;
        scale /= 10;
    }
    (q <= 1000).then_some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(
            parse_http_date(b"Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date(b"Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date(b"Tue, 29 Feb 2000 00:00:00 GMT"),
            Some(951_782_400)
        );
        assert_eq!(parse_http_date(b"Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_http_date(b"Sun, 06 Nov 1994 08:49:37 UTC"), None);
        assert_eq!(parse_http_date(b"garbage"), None);
    }

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
    fn etags_and_preconditions() {
        let etag = b"\"abc\"";
        assert!(etag_matches(b"\"x\", \"abc\"", etag, false));
        assert!(etag_matches(b"*", etag, false));
        assert!(etag_matches(b"W/\"abc\"", etag, true));
        assert!(!etag_matches(b"W/\"abc\"", etag, false));
        assert!(!etag_matches(b"\"abcd\"", etag, true));

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

    #[test]
    fn codings() {
        use Coding::*;
        assert_eq!(choose_coding(Some(b"gzip, deflate, br"), true, true), Gzip);
        assert_eq!(choose_coding(Some(b"deflate"), true, true), Deflate);
        assert_eq!(
            choose_coding(Some(b"gzip;q=0.5, deflate;q=0.8"), true, true),
            Deflate
        );
        assert_eq!(choose_coding(Some(b"gzip;q=0"), true, true), Identity);
        assert_eq!(choose_coding(Some(b"*"), true, false), Gzip);
        assert_eq!(
            choose_coding(Some(b"*;q=0, identity"), true, true),
            Identity
        );
        assert_eq!(choose_coding(Some(b"br"), true, true), Identity);
        assert_eq!(choose_coding(None, true, true), Identity);
        assert_eq!(choose_coding(Some(b"gzip"), false, true), Identity);
        assert_eq!(choose_coding(Some(b"gzip;q=1.0001"), true, true), Identity);
    }
}
