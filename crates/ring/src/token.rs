//! Typed tokens packed into the kernel's 64-bit `user_data`.
//!
//! Layout: bits 0..32 slot, 32..48 generation, 48..56 kind. Kind 0 is invalid, so a zeroed
//! `user_data` never decodes to a real operation. Encoding and decoding live only here.

/// What an operation was, so its completion can be dispatched without decoding raw bits.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum OpKind {
    Accept = 1,
    Recv = 2,
    Write = 3,
    Close = 4,
    Cancel = 5,
    Timeout = 6,
    Poll = 7,
    /// Driver-internal bookkeeping (buffer provision); never returned to the caller.
    Internal = 8,
}

impl OpKind {
    fn from_u8(v: u8) -> Option<OpKind> {
        Some(match v {
            1 => OpKind::Accept,
            2 => OpKind::Recv,
            3 => OpKind::Write,
            4 => OpKind::Close,
            5 => OpKind::Cancel,
            6 => OpKind::Timeout,
            7 => OpKind::Poll,
            8 => OpKind::Internal,
            _ => return None,
        })
    }
}

/// One in-flight operation: which slot it belongs to, that slot's generation when it was issued,
/// and the kind of operation.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct Token {
    pub slot: u32,
    pub generation: u16,
    pub kind: OpKind,
}

impl Token {
    pub const fn new(slot: u32, generation: u16, kind: OpKind) -> Token {
        Token {
            slot,
            generation,
            kind,
        }
    }

    pub(crate) fn encode(self) -> u64 {
        self.slot as u64 | (self.generation as u64) << 32 | (self.kind as u64) << 48
    }

    /// `None` for user_data that no [`Token`] produced (kind 0 or unknown, stray high bits).
    pub(crate) fn decode(v: u64) -> Option<Token> {
        if v >> 56 != 0 {
            return None;
        }
        let kind = OpKind::from_u8((v >> 48) as u8)?;
        Some(Token {
            slot: v as u32,
            generation: (v >> 32) as u16,
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [OpKind; 8] = [
        OpKind::Accept,
        OpKind::Recv,
        OpKind::Write,
        OpKind::Close,
        OpKind::Cancel,
        OpKind::Timeout,
        OpKind::Poll,
        OpKind::Internal,
    ];

    #[test]
    fn round_trips_edges() {
        for kind in KINDS {
            for slot in [0, 1, 0x7fff_ffff, u32::MAX] {
                for generation in [0, 1, 0x8000, u16::MAX] {
                    let t = Token::new(slot, generation, kind);
                    assert_eq!(Token::decode(t.encode()), Some(t));
                }
            }
        }
    }

    #[test]
    fn round_trips_pseudorandom() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let t = Token::new(x as u32, (x >> 32) as u16, KINDS[(x >> 50) as usize % 8]);
            assert_eq!(Token::decode(t.encode()), Some(t));
        }
    }

    #[test]
    fn zero_and_garbage_do_not_decode() {
        assert_eq!(Token::decode(0), None);
        assert_eq!(Token::decode(42), None);
        assert_eq!(Token::decode(9 << 48), None);
        assert_eq!(Token::decode(1 << 60 | 1 << 48), None);
    }
}
