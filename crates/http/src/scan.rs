//! Byte scanners for the request parser: one class table (each byte classified once), SWAR
//! for targets and field values, SSE2 for long field values (the crate's one audited unsafe
//! block, `ctl_mask16`), word-wise field-name ends and Host checks.

use crate::{bad, Error};

/// tchar (RFC 9110 §5.6.2).
pub(crate) const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
        | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// Byte classes, one table lookup per byte on the hot loops.
pub(crate) const TCHAR: u8 = 1;
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
pub(crate) fn scan(buf: &[u8], mut i: usize, bit: u8) -> usize {
    while i < buf.len() && CLASS[buf[i] as usize] & bit != 0 {
        i += 1;
    }
    i
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

#[inline(always)]
pub(crate) fn word(buf: &[u8], i: usize) -> u64 {
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
pub(crate) fn scan_value(buf: &[u8], mut i: usize) -> usize {
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
pub(crate) fn scan_target(buf: &[u8], mut i: usize) -> usize {
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
pub(crate) fn host_is_bad(v: &[u8]) -> bool {
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
pub(crate) fn scan_name(buf: &[u8], start: usize) -> usize {
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
pub(crate) fn eol(buf: &[u8], i: usize, what: &'static str) -> Result<Option<usize>, Error> {
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
