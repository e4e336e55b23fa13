//! IMF-fixdate (RFC 9110 §5.6.7): formatting (cached per second) and parsing.

use crate::fields::{parse_decimal, trim_ows};

/// The current `Date` value, reformatted only when the second changes.
#[derive(Clone)]
pub struct HttpDate {
    secs: u64,
    text: [u8; 29],
}

const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

impl HttpDate {
    pub fn new(unix_secs: u64) -> HttpDate {
        let mut d = HttpDate {
            secs: u64::MAX,
            text: [b' '; 29],
        };
        d.update(unix_secs);
        d
    }

    /// Set the time; returns whether the text changed.
    pub fn update(&mut self, unix_secs: u64) -> bool {
        if unix_secs == self.secs {
            return false;
        }
        self.secs = unix_secs;
        self.text = format(unix_secs);
        true
    }

    pub fn as_bytes(&self) -> &[u8; 29] {
        &self.text
    }
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
    let month = MONTHS.iter().position(|m| m[..] == v[8..11])? as i64 + 1;
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

fn two(out: &mut [u8], n: u64) {
    out[0] = b'0' + (n / 10) as u8;
    out[1] = b'0' + (n % 10) as u8;
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`
fn format(secs: u64) -> [u8; 29] {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm), days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as usize;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as u64;

    let mut t = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    t[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    two(&mut t[5..7], day);
    t[8..11].copy_from_slice(MONTHS[month - 1]);
    let y = year.min(9999);
    two(&mut t[12..14], y / 100);
    two(&mut t[14..16], y % 100);
    two(&mut t[17..19], rem / 3600);
    two(&mut t[20..22], rem / 60 % 60);
    two(&mut t[23..25], rem % 60);
    t
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
    fn known_dates() {
        let cases: &[(u64, &str)] = &[
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
            (1_700_000_000, "Tue, 14 Nov 2023 22:13:20 GMT"),
            (4_107_542_399, "Sun, 28 Feb 2100 23:59:59 GMT"),
            (4_133_980_799, "Fri, 31 Dec 2100 23:59:59 GMT"),
        ];
        for &(secs, want) in cases {
            assert_eq!(
                std::str::from_utf8(HttpDate::new(secs).as_bytes()).unwrap(),
                want,
                "{secs}"
            );
        }
    }

    #[test]
    fn update_reports_change() {
        let mut d = HttpDate::new(10);
        assert!(!d.update(10));
        assert!(d.update(11));
        assert_eq!(&d.as_bytes()[23..25], b"11");
    }
}
