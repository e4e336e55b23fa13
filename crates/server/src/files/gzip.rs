//! gzip (RFC 1952) and HTTP deflate (zlib, RFC 1950) encodings on top of miniz_oxide.

const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

pub fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

pub fn gzip(data: &[u8], level: u8) -> Vec<u8> {
    let deflated = miniz_oxide::deflate::compress_to_vec(data, level);
    let mut out = Vec::with_capacity(deflated.len() + 18);
    // Magic, CM=deflate, no flags, mtime 0, XFL 0, OS=Unix.
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    out.extend_from_slice(&deflated);
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// HTTP's "deflate" coding is the zlib format (RFC 9110 §8.4.1.2).
pub fn deflate(data: &[u8], level: u8) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, level)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_known_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn round_trips() {
        let data = b"hello hello hello hello, compressible world".repeat(20);
        let z = deflate(&data, 6);
        assert_eq!(
            miniz_oxide::inflate::decompress_to_vec_zlib(&z).unwrap(),
            data
        );
        let g = gzip(&data, 6);
        assert_eq!(&g[..3], &[0x1f, 0x8b, 8]);
        let inner = &g[10..g.len() - 8];
        assert_eq!(
            miniz_oxide::inflate::decompress_to_vec(inner).unwrap(),
            data
        );
        assert_eq!(
            u32::from_le_bytes(g[g.len() - 8..g.len() - 4].try_into().unwrap()),
            crc32(&data)
        );
        assert!(g.len() < data.len() / 4);
    }
}
