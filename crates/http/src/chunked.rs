//! Incremental decoding of a chunked request body (RFC 9112 §7.1), bounded and strict.
//!
//! The decoder is fed whatever bytes follow the request head, in as many pieces as they arrive.
//! It hands the body's data out as slices of the input (no copy) and says when the last chunk
//! and the trailer section have been read, so the next pipelined request starts at the right
//! byte. Framing lines must end in CRLF (no bare LF here: chunk framing is where front-ends and
//! back-ends disagreeing lets a request be smuggled). Limits: chunk-size at most 16 hex digits,
//! each framing line (size + extensions, or a trailer field) at most [`MAX_LINE`] bytes, the
//! trailer section at most `Limits::max_head`, and the decoded body at most `Limits::max_body`.

use crate::fields::hex_digit;
use crate::{Error, ErrorKind, Limits};

/// Longest chunk-size line (with extensions) or trailer line.
pub const MAX_LINE: usize = 4096;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum State {
    /// Reading hex digits of a chunk size.
    Size,
    /// In the chunk extensions (RFC 9112 §7.1.1); see [`ext_step`].
    Ext(Ext),
    /// Saw CR at the end of a size line.
    SizeLf,
    /// Inside chunk data.
    Data,
    /// After chunk data: expecting CR, then LF.
    DataCr,
    DataLf,
    /// At the start of a trailer line (an empty one ends the body).
    TrailerStart,
    /// Inside a trailer field's name (a token, then `:`).
    TrailerName,
    /// Inside a trailer field's value.
    Trailer,
    /// Saw CR at the end of a trailer line (or of the final empty line).
    TrailerLf,
    FinalLf,
    Done,
}

/// Where in `chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )` the decoder is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Ext {
    /// After the size, a name or a value: whitespace, `;` or the line end.
    Between,
    /// After `;`: whitespace, then a name.
    NameStart,
    Name,
    /// Whitespace after a name: `=`, `;` or the line end.
    AfterName,
    /// After `=`: whitespace, then a token or a quoted string.
    ValueStart,
    Token,
    Quoted,
    /// After a backslash inside a quoted string.
    QuotedPair,
}

/// One byte of chunk extensions: the next state, `Ok(None)` at the CR that ends the line, or
/// why the byte is not allowed there.
fn ext_step(at: Ext, b: u8) -> Result<Option<Ext>, &'static str> {
    use crate::scan::is_tchar;
    let ws = b == b' ' || b == b'\t';
    Ok(Some(match at {
        Ext::Between | Ext::AfterName | Ext::Token | Ext::Name if b == b'\r' => return Ok(None),
        Ext::Between | Ext::AfterName | Ext::Token | Ext::Name if b == b';' => Ext::NameStart,
        Ext::Between if ws => Ext::Between,
        Ext::NameStart if ws => Ext::NameStart,
        Ext::NameStart | Ext::Name if is_tchar(b) => Ext::Name,
        Ext::Name | Ext::AfterName if ws => Ext::AfterName,
        Ext::Name | Ext::AfterName if b == b'=' => Ext::ValueStart,
        Ext::ValueStart if ws => Ext::ValueStart,
        Ext::ValueStart if b == b'"' => Ext::Quoted,
        Ext::ValueStart | Ext::Token if is_tchar(b) => Ext::Token,
        Ext::Token if ws => Ext::Between,
        Ext::Quoted if b == b'"' => Ext::Between,
        Ext::Quoted if b == b'\\' => Ext::QuotedPair,
        // qdtext: HTAB, SP, VCHAR except DQUOTE and backslash, obs-text.
        Ext::Quoted if ws || matches!(b, 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff) => {
            Ext::Quoted
        }
        // quoted-pair: HTAB, SP, VCHAR, obs-text.
        Ext::QuotedPair if ws || matches!(b, 0x21..=0x7e | 0x80..=0xff) => Ext::Quoted,
        Ext::Quoted | Ext::QuotedPair => return Err("invalid quoted string in chunk extension"),
        _ => return Err("invalid chunk extension"),
    }))
}

#[derive(Clone, Debug)]
pub struct ChunkedDecoder {
    state: State,
    /// Size being read, or data bytes left in the current chunk.
    n: u64,
    digits: u8,
    line: usize,
    trailers: usize,
    total: u64,
    max_body: u64,
    max_trailers: usize,
}

/// What one call to [`ChunkedDecoder::feed`] did.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Input bytes consumed (framing and data).
    pub consumed: usize,
    /// The body and its trailers are complete; bytes after `consumed` belong to the next request.
    pub done: bool,
}

fn bad(why: &'static str, offset: usize) -> Error {
    Error {
        kind: ErrorKind::BadRequest(why),
        offset,
    }
}

impl ChunkedDecoder {
    pub fn new(limits: &Limits) -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::Size,
            n: 0,
            digits: 0,
            line: 0,
            trailers: 0,
            total: 0,
            max_body: limits.max_body,
            max_trailers: limits.max_head,
        }
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decoded body bytes so far.
    pub fn body_len(&self) -> u64 {
        self.total
    }

    /// Consume as much of `input` as belongs to the body, passing each run of data to `data`.
    /// Error offsets are relative to `input`.
    pub fn feed(&mut self, input: &[u8], mut data: impl FnMut(&[u8])) -> Result<Progress, Error> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Done => {
                    return Ok(Progress {
                        consumed: i,
                        done: true,
                    })
                }
                State::Data => {
                    let take = (self.n.min((input.len() - i) as u64)) as usize;
                    data(&input[i..i + take]);
                    i += take;
                    self.n -= take as u64;
                    if self.n == 0 {
                        self.state = State::DataCr;
                    }
                    continue;
                }
                State::Size => {
                    let v = match (hex_digit(b), b) {
                        (Some(v), _) => v,
                        _ if self.digits == 0 => return Err(bad("invalid chunk size", i)),
                        (_, b';' | b' ' | b'\t') => {
                            let first = if b == b';' {
                                Ext::NameStart
                            } else {
                                Ext::Between
                            };
                            self.state = State::Ext(first);
                            self.line += 1;
                            i += 1;
                            continue;
                        }
                        (_, b'\r') => {
                            self.state = State::SizeLf;
                            i += 1;
                            continue;
                        }
                        _ => return Err(bad("invalid chunk size", i)),
                    };
                    if self.digits == 16 {
                        return Err(bad("chunk size too large", i));
                    }
                    self.n = self.n << 4 | u64::from(v);
                    self.digits += 1;
                    self.line += 1;
                }
                State::Ext(at) => {
                    self.state = match ext_step(at, b) {
                        Ok(Some(next)) => State::Ext(next),
                        Ok(None) => State::SizeLf,
                        Err(why) => return Err(bad(why, i)),
                    };
                    self.line += 1;
                }
                State::SizeLf => {
                    if b != b'\n' {
                        return Err(bad("chunk size line not ended by CRLF", i));
                    }
                    self.line = 0;
                    self.digits = 0;
                    if self.n == 0 {
                        self.state = State::TrailerStart;
                    } else {
                        self.total = self.total.saturating_add(self.n);
                        if self.total > self.max_body {
                            return Err(Error {
                                kind: ErrorKind::PayloadTooLarge,
                                offset: i,
                            });
                        }
                        self.state = State::Data;
                    }
                }
                State::DataCr => {
                    if b != b'\r' {
                        return Err(bad("chunk data not followed by CRLF", i));
                    }
                    self.state = State::DataLf;
                }
                State::DataLf => {
                    if b != b'\n' {
                        return Err(bad("chunk data not followed by CRLF", i));
                    }
                    self.state = State::Size;
                }
                State::TrailerStart => match b {
                    b'\r' => self.state = State::FinalLf,
                    b' ' | b'\t' => return Err(bad("obsolete line folding", i)),
                    _ if crate::scan::is_tchar(b) => {
                        self.state = State::TrailerName;
                        self.line = 1;
                        self.trailers += 1;
                    }
                    _ => return Err(bad("invalid trailer field", i)),
                },
                // A trailer line is a field line (RFC 9112 §7.1.2): name, colon, value.
                State::TrailerName => {
                    match b {
                        b':' => self.state = State::Trailer,
                        _ if crate::scan::is_tchar(b) => {}
                        b' ' | b'\t' => return Err(bad("whitespace before colon in trailer", i)),
                        _ => return Err(bad("trailer line without a colon", i)),
                    }
                    self.line += 1;
                    self.trailers += 1;
                }
                State::Trailer => {
                    match b {
                        b'\r' => self.state = State::TrailerLf,
                        b'\t' | b' '..=b'~' | 0x80..=0xff => {}
                        _ => return Err(bad("control character in trailer", i)),
                    }
                    self.line += 1;
                    self.trailers += 1;
                    if self.trailers > self.max_trailers {
                        return Err(Error {
                            kind: ErrorKind::HeaderFieldsTooLarge,
                            offset: i,
                        });
                    }
                }
                State::TrailerLf => {
                    if b != b'\n' {
                        return Err(bad("trailer line not ended by CRLF", i));
                    }
                    self.state = State::TrailerStart;
                    self.line = 0;
                }
                State::FinalLf => {
                    if b != b'\n' {
                        return Err(bad("chunked body not ended by CRLF", i));
                    }
                    self.state = State::Done;
                    return Ok(Progress {
                        consumed: i + 1,
                        done: true,
                    });
                }
            }
            if self.line > MAX_LINE {
                return Err(bad("chunk line too long", i));
            }
            i += 1;
        }
        Ok(Progress {
            consumed: i,
            done: self.state == State::Done,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], step: usize) -> Result<(Vec<u8>, usize), Error> {
        let mut d = ChunkedDecoder::new(&Limits::default());
        let mut body = Vec::new();
        let mut pos = 0;
        while pos < input.len() {
            let end = (pos + step).min(input.len());
            let p = d.feed(&input[pos..end], |s| body.extend_from_slice(s))?;
            pos += p.consumed;
            if p.done {
                return Ok((body, pos));
            }
            assert_eq!(pos, end, "a partial feed consumes everything it was given");
        }
        Err(bad("incomplete", pos))
    }

    #[test]
    fn decodes_in_any_split() {
        let input = b"5\r\nhello\r\n6;name=\"v\"\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\nGET /next";
        for step in 1..input.len() {
            let (body, used) = decode_all(input, step).unwrap();
            assert_eq!(body, b"hello world", "step {step}");
            assert_eq!(&input[used..], b"GET /next", "step {step}");
        }
        let (body, _) = decode_all(b"A\r\n0123456789\r\n0\r\n\r\n", 3).unwrap();
        assert_eq!(body, b"0123456789");
        let (body, used) = decode_all(b"0\r\n\r\n", 100).unwrap();
        assert_eq!((body.len(), used), (0, 5));
    }

    #[test]
    fn extensions_and_trailers_follow_the_grammar() {
        // RFC 9112 §7.1.1 chunk-ext and §7.1.2 trailer field lines, each split every way.
        let ok: &[&[u8]] = &[
            b"5;a\r\nhello\r\n0\r\n\r\n",
            b"5;a=b\r\nhello\r\n0\r\n\r\n",
            b"5 ; a = b ;c\r\nhello\r\n0\r\n\r\n", // BWS everywhere it is allowed
            b"5;a=\"q \\\" ;\"\r\nhello\r\n0\r\n\r\n", // quoted-string with a quoted-pair
            b"5\t;a\r\nhello\r\n0;last\r\n\r\n",
            b"5\r\nhello\r\n0\r\nX-Sum: abc\r\nY:\r\n\r\n",
        ];
        for input in ok {
            for step in [1, 2, 3, input.len()] {
                let (data, used) = decode_all(input, step)
                    .unwrap_or_else(|e| panic!("{:?}: {e:?}", String::from_utf8_lossy(input)));
                assert_eq!((data.as_slice(), used), (&b"hello"[..], input.len()));
            }
        }
        let bad: &[&[u8]] = &[
            b"5 garbage \"x\r\nhello\r\n0\r\n\r\n", // the audit's example
            b"5 x\r\nhello\r\n0\r\n\r\n",           // text after BWS without `;`
            b"5;\r\nhello\r\n0\r\n\r\n",            // `;` without a name
            b"5;a=\r\nhello\r\n0\r\n\r\n",          // `=` without a value
            b"5;a b\r\nhello\r\n0\r\n\r\n",         // two names without `;`
            b"5;a=b c\r\nhello\r\n0\r\n\r\n",       // a second token after a value
            b"5;a=\"x\r\nhello\r\n0\r\n\r\n",       // unterminated quoted string
            b"5;a=\"x\x01\"\r\nhello\r\n0\r\n\r\n", // control byte in a quoted string
            b"5;(a)\r\nhello\r\n0\r\n\r\n",         // not a token
            b"5;a=b\"c\"\r\nhello\r\n0\r\n\r\n",    // quote inside a token
            b"5\r\nhello\r\n0\r\nno colon here\r\n\r\n",
            b"5\r\nhello\r\n0\r\nX :a\r\n\r\n", // whitespace before the colon
            b"5\r\nhello\r\n0\r\nX\r\n\r\n",
        ];
        for input in bad {
            for step in [1, input.len()] {
                let r = decode_all(input, step);
                assert!(
                    matches!(&r, Err(e) if e.status() == 400),
                    "{:?} (step {step}): {r:?}",
                    String::from_utf8_lossy(input)
                );
            }
        }
    }

    #[test]
    fn rejects_bad_framing() {
        let cases: &[(&[u8], u16)] = &[
            (b"x\r\n", 400),
            (b"\r\n", 400),
            (b"-1\r\n", 400),
            (b"5\nhello\r\n0\r\n\r\n", 400),    // bare LF
            (b"5\r\nhelloX\r\n0\r\n\r\n", 400), // data longer than declared
            (b"5\r\nhel\r\n0\r\n\r\n", 400),    // shorter (CRLF eaten as data, then junk)
            (b"5\r\nhello\n0\r\n\r\n", 400),
            (b"12345678901234567\r\n", 400),      // 17 hex digits
            (b"1;a\x00b\r\nx\r\n0\r\n\r\n", 400), // NUL in extension
            (b"0\r\n folded\r\n\r\n", 400),
            (b"0\r\nX: a\x01\r\n\r\n", 400),
            (b"0\r\n\rX", 400),
            (b"200000\r\n", 413), // 2 MiB > default 1 MiB limit
        ];
        for (input, want) in cases {
            match decode_all(input, 1) {
                Err(e) => assert_eq!(e.status(), *want, "{:?}", String::from_utf8_lossy(input)),
                Ok(r) => panic!("{:?} decoded to {r:?}", String::from_utf8_lossy(input)),
            }
        }
        let long_ext = format!("1;{}\r\nx\r\n0\r\n\r\n", "e".repeat(MAX_LINE + 1));
        assert!(decode_all(long_ext.as_bytes(), 64).is_err());
    }
}
