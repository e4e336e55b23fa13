//! Any bytes, fed in two pieces at an arbitrary split: the chunked decoder never panics, and
//! consumes and yields exactly what it does when fed the bytes in one piece.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringhttpd_http::{ChunkedDecoder, Limits};

fn run(pieces: &[&[u8]]) -> Result<(Vec<u8>, usize, bool), u16> {
    let mut d = ChunkedDecoder::new(&Limits { max_request_line: 256, max_head: 512, max_body: 1 << 16 });
    let mut body = Vec::new();
    let mut used = 0;
    for p in pieces {
        let r = d.feed(p, |s| body.extend_from_slice(s)).map_err(|e| e.status())?;
        used += r.consumed;
        if r.done {
            return Ok((body, used, true));
        }
        assert_eq!(r.consumed, p.len());
    }
    Ok((body, used, false))
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let split = data[0] as usize % data.len();
    let data = &data[1..];
    let split = split.min(data.len());
    let one = run(&[data]);
    let two = run(&[&data[..split], &data[split..]]);
    match (&one, &two) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        // An error may be seen earlier or later, but both runs must fail.
        (Err(_), Err(_)) => {}
        // A split can only make an incomplete body; it can never turn an error into success.
        _ => panic!("split changed the outcome: {one:?} vs {two:?}"),
    }
});
