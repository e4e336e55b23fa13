//! Content-coding negotiation (RFC 9110 §12.5.3): Accept-Encoding with quality values.

use crate::fields::{parse_q, trim_ows};

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

#[cfg(test)]
mod tests {
    use super::*;

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
