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
    /// After the size: extensions until CR.
    Ext,
    /// Saw CR at the end of a size line.
    SizeLf,
    /// Inside chunk data.
    Data,
    /// After chunk data: expecting CR, then LF.
    DataCr,
    DataLf,
    /// At the start of a trailer line (an empty one ends the body).
    TrailerStart,
    /// Inside a trailer line.
    Trailer,
    /// Saw CR at the end of a trailer line (or of the final empty line).
    TrailerLf,
    FinalLf,
    Done,
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
                            self.state = State::Ext;
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
                State::Ext => {
                    match b {
                        b'\r' => self.state = State::SizeLf,
                        // chunk-ext is tokens, quoted strings, `;`, `=` and whitespace: any
                        // visible byte or whitespace; never a control byte.
                        b'\t' | b' '..=b'~' | 0x80..=0xff => {}
                        _ => return Err(bad("invalid chunk extension", i)),
                    }
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
                        self.state = State::Trailer;
                        self.line = 1;
                        self.trailers += 1;
                    }
                    _ => return Err(bad("invalid trailer field", i)),
                },
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
