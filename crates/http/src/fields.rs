//! Small RFC 9110 field-value helpers shared by the parser, the chunked decoder and the
//! conditional-request code: whitespace, decimal and hex numbers, entity tags, quality values.

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

/// 1*DIGIT (at most 19 digits, so it cannot overflow) as a u64; `None` on anything else.
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

/// Append the decimal digits of `n` (the one decimal writer of the workspace).
#[inline(always)]
pub fn write_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

/// The value of one hex digit (either case).
pub const fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Does an If-Match / If-None-Match list match `etag` (a quoted strong tag)?
/// `weak` selects the weak comparison (If-None-Match), else the strong one (If-Match)
/// (RFC 9110 §8.8.3.2).
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

/// A qvalue (`0`, `0.5`, `1.000`) in thousandths (RFC 9110 §12.4.2).
pub fn parse_q(v: &[u8]) -> Option<u32> {
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
    fn numbers() {
        for n in [0, 7, 10, 99, 1234567890, 9_999_999_999_999_999_999] {
            let mut v = Vec::new();
            write_decimal(&mut v, n);
            assert_eq!(v, n.to_string().as_bytes());
            assert_eq!(parse_decimal(&v), Some(n));
        }
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(parse_decimal(b"1a"), None);
        assert_eq!(parse_decimal(b"18446744073709551615"), None, "20 digits");
        assert_eq!(hex_digit(b'f'), Some(15));
        assert_eq!(hex_digit(b'F'), Some(15));
        assert_eq!(hex_digit(b'g'), None);
        assert_eq!(trim_ows(b" \tx y\t "), b"x y");
        assert_eq!(parse_q(b"0.5"), Some(500));
        assert_eq!(parse_q(b"1.0001"), None);
        assert_eq!(parse_q(b"2"), None);
    }

    #[test]
    fn etags() {
        let etag = b"\"abc\"";
        assert!(etag_matches(b"\"x\", \"abc\"", etag, false));
        assert!(etag_matches(b"*", etag, false));
        assert!(etag_matches(b"W/\"abc\"", etag, true));
        assert!(!etag_matches(b"W/\"abc\"", etag, false));
        assert!(!etag_matches(b"\"abcd\"", etag, true));
    }
}
