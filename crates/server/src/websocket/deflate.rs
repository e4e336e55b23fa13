//! permessage-deflate (RFC 7692) without context takeover: every message is compressed and
//! decompressed on its own, so a connection keeps no compression window between messages and
//! the codec state is one per core, reused.

use miniz_oxide::deflate::core::{
    compress, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush, TDEFLStatus,
};
use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

/// The four bytes a sync flush ends with, which a sender strips from each message and the
/// receiver puts back (RFC 7692 §7.2.1, §7.2.2).
const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];
/// Messages shorter than this are sent uncompressed (the frame says which).
pub const MIN_COMPRESS: usize = 64;
/// Scratch capacity kept between messages.
const KEEP_CAPACITY: usize = 64 * 1024;

/// Why a compressed message was refused: the close code and a reason.
pub struct Refused {
    pub code: u16,
    pub reason: &'static str,
}

/// A core's codec: created on first use (the compressor holds about 300 KB of tables).
#[derive(Default)]
pub struct Deflate {
    comp: Option<Box<CompressorOxide>>,
    inflater: Option<Box<DecompressorOxide>>,
    /// A compressed message.
    scratch: Vec<u8>,
}

impl Deflate {
    /// Decompress one message into `out` (at most `max` bytes: 1009 beyond).
    pub fn inflate(&mut self, data: &[u8], max: usize, out: &mut Vec<u8>) -> Result<(), Refused> {
        let r = self.inflater.get_or_insert_with(Default::default);
        r.init();
        out.clear();
        if out.capacity() > KEEP_CAPACITY {
            out.shrink_to(KEEP_CAPACITY);
        }
        let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF
            | inflate_flags::TINFL_FLAG_HAS_MORE_INPUT;
        let mut pos = 0;
        // The message, then the tail the sender stripped.
        for (i, mut input) in [data, &TAIL[..]].into_iter().enumerate() {
            loop {
                if out.len() == pos {
                    let grow = (data.len() * 2).clamp(4096, 1 << 20);
                    let len = (pos + grow).min(max.saturating_add(1));
                    if len <= pos {
                        return Err(Refused {
                            code: ringhttpd_http::ws::code::TOO_BIG,
                            reason: "message too big once decompressed",
                        });
                    }
                    out.resize(len, 0);
                }
                let (status, used, made) = decompress(r, input, out, pos, flags);
                pos += made;
                input = &input[used..];
                if pos > max {
                    return Err(Refused {
                        code: ringhttpd_http::ws::code::TOO_BIG,
                        reason: "message too big once decompressed",
                    });
                }
                match status {
                    TINFLStatus::NeedsMoreInput if input.is_empty() => break,
                    TINFLStatus::HasMoreOutput | TINFLStatus::NeedsMoreInput => {}
                    // A final block ends the stream: only the stripped tail may follow it.
                    TINFLStatus::Done if i == 1 || input.is_empty() => break,
                    _ => {
                        return Err(Refused {
                            code: ringhttpd_http::ws::code::INVALID_DATA,
                            reason: "bad compressed data",
                        })
                    }
                }
            }
        }
        out.truncate(pos);
        Ok(())
    }

    /// Compress `payload` as one message into `self.scratch` (the sync flush's tail stripped).
    pub fn deflate(&mut self, payload: &[u8]) -> &[u8] {
        let d = self.comp.get_or_insert_with(|| {
            Box::new(CompressorOxide::new(create_comp_flags_from_zip_params(
                1, -15, 0,
            )))
        });
        d.reset();
        let out = &mut self.scratch;
        out.clear();
        if out.capacity() > KEEP_CAPACITY {
            out.shrink_to(KEEP_CAPACITY);
        }
        // Room for the worst case (stored blocks) so one call does it all (a sync flush must
        // not be repeated for lack of space).
        out.resize(payload.len() + payload.len() / 8 + 64, 0);
        let mut input = payload;
        let mut pos = 0;
        loop {
            let (status, used, made) = compress(d, input, &mut out[pos..], TDEFLFlush::Sync);
            input = &input[used..];
            pos += made;
            if status != TDEFLStatus::Okay || (input.is_empty() && pos < out.len()) {
                break;
            }
            let len = out.len() * 2;
            out.resize(len, 0);
        }
        out.truncate(pos);
        if out.ends_with(&TAIL) {
            out.truncate(pos - 4);
        }
        &out[..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate(c: &mut Deflate, data: &[u8], max: usize) -> Result<Vec<u8>, u16> {
        let mut out = Vec::new();
        c.inflate(data, max, &mut out).map_err(|e| e.code)?;
        assert!(out.capacity() <= max + 1 + (1 << 20));
        Ok(out)
    }

    #[test]
    fn round_trip_and_limits() {
        let mut c = Deflate::default();
        let text = b"hello, compressible world; hello, compressible world! ".repeat(100);
        let z = c.deflate(&text).to_vec();
        assert!(z.len() < text.len() / 4, "{}", z.len());
        assert!(!z.ends_with(&TAIL));
        assert_eq!(inflate(&mut c, &z, 1 << 20).unwrap(), text);
        // Twice in a row: no state kept between messages.
        assert_eq!(c.deflate(&text), &z[..]);
        assert_eq!(inflate(&mut c, &z, text.len()).unwrap(), text);
        assert_eq!(inflate(&mut c, &z, text.len() - 1), Err(1009));
        // A bomb: 16 MiB of zeros in under 1% of that is refused at the limit, not decompressed.
        let zeros = vec![0u8; 16 << 20];
        let bomb = c.deflate(&zeros).to_vec();
        assert!(bomb.len() < zeros.len() / 100, "{}", bomb.len());
        assert_eq!(inflate(&mut c, &bomb, 1 << 20), Err(1009));
        // Garbage.
        assert_eq!(inflate(&mut c, &[0xff, 0xff, 0xff], 1000), Err(1007));
        // Incompressible data round-trips too.
        let noise: Vec<u8> = (0..10_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let z = c.deflate(&noise).to_vec();
        assert_eq!(inflate(&mut c, &z, 1 << 20).unwrap(), noise);
        // The empty message.
        let z = c.deflate(b"").to_vec();
        assert_eq!(inflate(&mut c, &z, 10).unwrap(), b"");
        assert_eq!(inflate(&mut c, b"", 10).unwrap(), b"");
    }
}
