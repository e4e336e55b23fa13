//! Request-target helpers for the file server: percent-decoding and dot-segment removal that
//! cannot climb above the root.
//!
//! The path is decoded exactly once (so `%252e` stays the literal name `%2e`), then split on `/`
//! (a decoded `%2f` separates segments like a literal one: there is no way to name a file with
//! a slash in it), then `.` and `..` are resolved (RFC 3986 §5.2.4) against a stack that may not
//! go below the root. Rejected: malformed escapes, NUL, backslashes (never a separator on Linux,
//! but a traversal vector wherever paths are re-interpreted), and bytes that are not UTF-8
//! (which also rejects overlong encodings such as `%c0%ae`).

use crate::fields::hex_digit;

/// Why a path was refused. All of them are answered 400.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PathError {
    BadEscape,
    Nul,
    Backslash,
    NotUtf8,
    /// `..` above the root.
    EscapesRoot,
    /// The decoded path does not fit the caller's buffer.
    TooLong,
    /// Not an origin-form path (does not start with `/`).
    NotAbsolute,
}

impl PathError {
    pub fn detail(self) -> &'static str {
        match self {
            PathError::BadEscape => "malformed percent-encoding in path",
            PathError::Nul => "NUL byte in path",
            PathError::Backslash => "backslash in path",
            PathError::NotUtf8 => "path is not valid UTF-8",
            PathError::EscapesRoot => "path climbs above the root",
            PathError::TooLong => "path too long",
            PathError::NotAbsolute => "path must start with /",
        }
    }
}

/// A normalised path: relative to the root, segments joined by `/`, no empty, `.` or `..`
/// segments. `dir` is true when the request named a directory (trailing `/`, or a final `.`/`..`).
#[derive(Debug, PartialEq, Eq)]
pub struct NormalPath {
    pub len: usize,
    pub dir: bool,
}

/// Decode and normalise the path part of a target (no query) into `out`.
///
/// `scratch` must be at least as long as `out`; both live on the caller's stack.
pub fn normalize_path(
    path: &[u8],
    scratch: &mut [u8],
    out: &mut [u8],
) -> Result<NormalPath, PathError> {
    if path.first() != Some(&b'/') {
        return Err(PathError::NotAbsolute);
    }
    // 1. Percent-decode into scratch.
    let mut n = 0;
    let mut i = 0;
    while i < path.len() {
        let mut b = path[i];
        if b == b'%' {
            let (Some(h), Some(l)) = (
                path.get(i + 1).copied().and_then(hex_digit),
                path.get(i + 2).copied().and_then(hex_digit),
            ) else {
                return Err(PathError::BadEscape);
            };
            b = h << 4 | l;
            i += 3;
        } else {
            i += 1;
        }
        match b {
            0 => return Err(PathError::Nul),
            b'\\' => return Err(PathError::Backslash),
            _ => {}
        }
        if n == scratch.len() {
            return Err(PathError::TooLong);
        }
        scratch[n] = b;
        n += 1;
    }
    let decoded = &scratch[..n];
    if std::str::from_utf8(decoded).is_err() {
        return Err(PathError::NotUtf8);
    }
    // 2. Resolve segments into out.
    let mut len = 0;
    let mut dir = decoded.ends_with(b"/");
    for seg in decoded.split(|&b| b == b'/') {
        match seg {
            b"" => {}
            b"." => dir = true,
            b".." => {
                if len == 0 {
                    return Err(PathError::EscapesRoot);
                }
                // Pop the last segment (and its separator).
                len = out[..len].iter().rposition(|&b| b == b'/').unwrap_or(0);
                dir = true;
            }
            _ => {
                let need = seg.len() + usize::from(len > 0);
                if len + need > out.len() {
                    return Err(PathError::TooLong);
                }
                if len > 0 {
                    out[len] = b'/';
                    len += 1;
                }
                out[len..len + seg.len()].copy_from_slice(seg);
                len += seg.len();
                dir = false;
            }
        }
    }
    dir |= decoded.ends_with(b"/");
    Ok(NormalPath { len, dir })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(p: &str) -> Result<(String, bool), PathError> {
        let mut scratch = [0u8; 256];
        let mut out = [0u8; 256];
        let r = normalize_path(p.as_bytes(), &mut scratch, &mut out)?;
        Ok((String::from_utf8(out[..r.len].to_vec()).unwrap(), r.dir))
    }

    #[test]
    fn normalises() {
        let ok: &[(&str, &str, bool)] = &[
            ("/", "", true),
            ("/index.html", "index.html", false),
            ("/a/b/", "a/b", true),
            ("//a///b", "a/b", false),
            ("/a/./b", "a/b", false),
            ("/a/../b", "b", false),
            ("/a/b/..", "a", true),
            ("/a/.", "a", true),
            ("/a%20b.txt", "a b.txt", false),
            ("/caf%C3%A9.html", "café.html", false),
            ("/a%2fb", "a/b", false),
            ("/%252e%252e/x", "%2e%2e/x", false), // decoded once only
            ("/a/%2e%2e/b", "b", false),
            ("/.env", ".env", false), // dotfiles are the file server's policy, not an error here
        ];
        for (input, want, dir) in ok {
            assert_eq!(norm(input), Ok((want.to_string(), *dir)), "{input}");
        }
    }

    #[test]
    fn refuses_escapes_and_bad_bytes() {
        let bad: &[(&str, PathError)] = &[
            ("/..", PathError::EscapesRoot),
            ("/../etc/passwd", PathError::EscapesRoot),
            ("/a/../../b", PathError::EscapesRoot),
            ("/%2e%2e/etc/passwd", PathError::EscapesRoot),
            ("/%2E%2E%2fetc", PathError::EscapesRoot),
            ("/a%2f..%2f..%2fb", PathError::EscapesRoot),
            ("/a\\..\\b", PathError::Backslash),
            ("/a%5c..%5cb", PathError::Backslash),
            ("/a%00.html", PathError::Nul),
            ("/%c0%ae%c0%ae/x", PathError::NotUtf8), // overlong '.'
            ("/%ff", PathError::NotUtf8),
            ("/%zz", PathError::BadEscape),
            ("/%4", PathError::BadEscape),
            ("relative", PathError::NotAbsolute),
            ("*", PathError::NotAbsolute),
        ];
        for (input, want) in bad {
            assert_eq!(norm(input), Err(*want), "{input}");
        }
        assert_eq!(
            norm(&format!("/{}", "a".repeat(300))),
            Err(PathError::TooLong)
        );
    }
}
