//! Any bytes as client WebSocket frames, fed whole and in two pieces at an arbitrary split: the
//! decoder never panics, reports the same events (and message bytes) or the same close code
//! either way, and every error's code is one RFC 6455 §7.4.1 names for a violation. The same
//! bytes as a permessage-deflate offer never panic the negotiation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringhttpd_http::ws::{accept_deflate, code, Decoder, Event};

fn run(pieces: &[&[u8]], rsv1: bool) -> Result<Vec<(Event, Vec<u8>)>, u16> {
    let mut d = Decoder::new(1 << 14);
    d.allow_rsv1(rsv1);
    let mut msg = Vec::new();
    let mut out = Vec::new();
    for p in pieces {
        let mut at = 0;
        loop {
            let r = d.feed(&p[at..], &mut msg).map_err(|e| e.code)?;
            assert!(r.consumed <= p.len() - at);
            at += r.consumed;
            match r.event {
                Event::None if at == p.len() => break,
                Event::None => assert!(r.consumed > 0, "no progress"),
                Event::Message { .. } => out.push((r.event, std::mem::take(&mut msg))),
                e => out.push((e, d.control_payload().to_vec())),
            }
        }
    }
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let rsv1 = data[0] & 0x80 != 0;
    let split = (data[0] & 0x7f) as usize;
    let data = &data[1..];
    let split = split.min(data.len());
    // The same bytes as a Sec-WebSocket-Extensions value: never a panic, and an accepted
    // offer names the extension.
    if accept_deflate(data).is_some() {
        let lower = data.to_ascii_lowercase();
        assert!(lower.windows(18).any(|w| w == b"permessage-deflate"));
    }
    let one = run(&[data], rsv1);
    let two = run(&[&data[..split], &data[split..]], rsv1);
    assert_eq!(one, two);
    if let Err(c) = one {
        assert!([code::PROTOCOL, code::INVALID_DATA, code::TOO_BIG].contains(&c), "{c}");
    }
});
