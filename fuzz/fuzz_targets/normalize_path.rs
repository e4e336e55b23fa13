//! Any path: normalisation never panics and never yields a path that climbs out of the root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringhttpd_http::normalize_path;

fuzz_target!(|data: &[u8]| {
    let mut scratch = [0u8; 512];
    let mut out = [0u8; 512];
    if let Ok(n) = normalize_path(data, &mut scratch, &mut out) {
        let p = &out[..n.len];
        assert!(!p.starts_with(b"/"));
        for seg in p.split(|&b| b == b'/') {
            assert!(seg != b".." && seg != b"." && !seg.is_empty() || p.is_empty());
            assert!(!seg.contains(&0) && !seg.contains(&b'\\'));
        }
        assert!(std::str::from_utf8(p).is_ok());
    }
});
