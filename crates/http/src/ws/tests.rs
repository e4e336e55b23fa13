use super::*;

/// A masked client frame.
fn frame(fin: bool, rsv: u8, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut v = vec![(fin as u8) << 7 | rsv << 4 | opcode];
    let n = payload.len();
    if n < 126 {
        v.push(0x80 | n as u8);
    } else if n <= 0xffff {
        v.push(0x80 | 126);
        v.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        v.push(0x80 | 127);
        v.extend_from_slice(&(n as u64).to_be_bytes());
    }
    v.extend_from_slice(&mask);
    v.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    v
}

/// Feed `input` in pieces of `step` bytes; collect events (with message contents).
fn run(d: &mut Decoder, input: &[u8], step: usize) -> Result<Vec<(Event, Vec<u8>)>, Error> {
    let mut out = Vec::new();
    let mut msg = Vec::new();
    for piece in input.chunks(step.max(1)) {
        let mut at = 0;
        loop {
            let p = d.feed(&piece[at..], &mut msg)?;
            at += p.consumed;
            match p.event {
                Event::None => {}
                Event::Message { .. } => out.push((p.event, std::mem::take(&mut msg))),
                e => out.push((e, d.control_payload().to_vec())),
            }
            if at == piece.len() && p.event == Event::None {
                break;
            }
        }
    }
    Ok(out)
}

fn text() -> Event {
    Event::Message {
        kind: Kind::Text,
        compressed: false,
    }
}

#[test]
fn messages_control_frames_and_fragments_at_every_split() {
    let mut input = frame(true, 0, 1, "héllo".as_bytes());
    input.extend(frame(false, 0, 2, b"bin"));
    input.extend(frame(true, 0, 9, b"ping!")); // a control frame inside a fragmented message
    input.extend(frame(false, 0, 0, b"ary"));
    input.extend(frame(true, 0, 0, &[0u8; 300]));
    input.extend(frame(true, 0, 10, b""));
    input.extend(frame(true, 0, 1, "€uro".as_bytes()));
    let mut close = 1000u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"bye");
    input.extend(frame(true, 0, 8, &close));
    let mut want_bin = b"binary".to_vec();
    want_bin.extend_from_slice(&[0u8; 300]);
    for step in [1, 2, 3, 7, 64, input.len()] {
        let mut d = Decoder::new(1 << 20);
        let ev = run(&mut d, &input, step).unwrap();
        assert_eq!(ev.len(), 6, "step {step}: {ev:?}");
        assert_eq!(ev[0], (text(), "héllo".as_bytes().to_vec()));
        assert_eq!(ev[1], (Event::Ping, b"ping!".to_vec()));
        assert_eq!(
            ev[2],
            (
                Event::Message {
                    kind: Kind::Binary,
                    compressed: false
                },
                want_bin.clone()
            )
        );
        assert_eq!(ev[3], (Event::Pong, vec![]));
        assert_eq!(ev[4], (text(), "€uro".as_bytes().to_vec()));
        assert_eq!(ev[5], (Event::Close { code: 1000 }, close.clone()));
        assert!(d.is_idle());
    }
    // Long lengths: 16- and 64-bit.
    let big = vec![b'x'; 70_000];
    let mut d = Decoder::new(1 << 20);
    let ev = run(&mut d, &frame(true, 0, 2, &big), 4096).unwrap();
    assert_eq!(ev[0].1.len(), 70_000);
}

#[test]
fn violations_get_their_close_codes() {
    let unmasked = {
        let mut f = frame(true, 0, 1, b"hi");
        f[1] &= 0x7f;
        f.drain(2..6);
        f
    };
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (unmasked, code::PROTOCOL),
        (frame(true, 0x4, 1, b"x"), code::PROTOCOL), // RSV1 without an extension
        (frame(true, 0x1, 1, b"x"), code::PROTOCOL), // RSV3
        (frame(true, 0, 3, b"x"), code::PROTOCOL),   // reserved opcode
        (frame(false, 0, 9, b"x"), code::PROTOCOL),  // fragmented ping
        (frame(true, 0, 9, &[0; 126]), code::PROTOCOL), // control over 125
        (frame(true, 0, 0, b"x"), code::PROTOCOL),   // continuation first
        (
            [frame(false, 0, 1, b"a"), frame(true, 0, 1, b"b")].concat(),
            code::PROTOCOL,
        ),
        (frame(true, 0, 1, &[0xff]), code::INVALID_DATA),
        (frame(true, 0, 1, &[0xe2, 0x82]), code::INVALID_DATA), // ends inside a character
        // Invalid UTF-8 split across fragments: é as C3 | 28.
        (
            [
                frame(false, 0, 1, &[b'a', 0xc3]),
                frame(true, 0, 0, &[0x28]),
            ]
            .concat(),
            code::INVALID_DATA,
        ),
        (frame(true, 0, 8, &[3]), code::PROTOCOL), // close payload of one byte
        (frame(true, 0, 8, &1005u16.to_be_bytes()), code::PROTOCOL), // invalid close code
        (frame(true, 0, 8, &999u16.to_be_bytes()), code::PROTOCOL),
        (frame(true, 0, 8, &[0x03, 0xe8, 0xff]), code::INVALID_DATA), // reason not UTF-8
        (frame(true, 0, 2, &[0; 1001]), code::TOO_BIG),
        (
            [frame(false, 0, 2, &[0; 600]), frame(true, 0, 0, &[0; 600])].concat(),
            code::TOO_BIG,
        ),
        (
            [frame(true, 0, 8, &[]), frame(true, 0, 1, b"x")].concat(),
            code::PROTOCOL,
        ), // after close
    ];
    for (i, (input, want)) in cases.iter().enumerate() {
        for step in [1, input.len()] {
            let mut d = Decoder::new(1000);
            let got = run(&mut d, input, step);
            assert_eq!(
                got.map_err(|e| e.code).err(),
                Some(*want),
                "case {i} step {step}"
            );
        }
    }
    // Invalid UTF-8 is found as soon as it arrives, not at the end of the message.
    let mut d = Decoder::new(1 << 20);
    let mut msg = Vec::new();
    let f = frame(false, 0, 1, &[b'o', b'k', 0xc0, 0x80]);
    assert_eq!(d.feed(&f, &mut msg).unwrap_err().code, code::INVALID_DATA);
}

#[test]
fn rsv1_is_accepted_once_negotiated() {
    let mut d = Decoder::new(1 << 20);
    d.allow_rsv1(true);
    // Compressed payloads are not UTF-8 checked (the caller inflates and checks).
    let ev = run(&mut d, &frame(true, 0x4, 1, &[0xff, 0x00]), 1).unwrap();
    assert_eq!(
        ev[0].0,
        Event::Message {
            kind: Kind::Text,
            compressed: true
        }
    );
    let e = run(&mut d, &frame(true, 0x4, 9, b""), 1).unwrap_err();
    assert_eq!(e.code, code::PROTOCOL, "never on control frames");
}

#[test]
fn frame_heads_and_the_accept_key() {
    assert_eq!(
        frame_head(Opcode::Text, true, false, 5),
        ([0x81, 5, 0, 0, 0, 0, 0, 0, 0, 0], 2)
    );
    let (h, n) = frame_head(Opcode::Binary, true, false, 300);
    assert_eq!(&h[..n], &[0x82, 126, 1, 44]);
    let (h, n) = frame_head(Opcode::Binary, false, true, 70_000);
    assert_eq!(n, 10);
    assert_eq!(h[0], 0x42);
    assert_eq!(u64::from_be_bytes(h[2..10].try_into().unwrap()), 70_000);
    // RFC 6455 §1.3's example.
    assert_eq!(
        &accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
        b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    for c in [1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999] {
        assert!(close_code_valid(c), "{c}");
    }
    for c in [0, 999, 1004, 1005, 1006, 1015, 2000, 2999, 5000] {
        assert!(!close_code_valid(c), "{c}");
    }
}

#[test]
fn handshakes() {
    use crate::{parse, Header, Limits, Status};
    let ok = b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\r\n";
    let mut hs = [Header::EMPTY; 16];
    let Ok(Status::Complete(req)) = parse(ok, &mut hs, &Limits::default()) else {
        panic!()
    };
    let h = check_handshake(&req).unwrap();
    assert_eq!(h.key, b"dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(h.protocols, Some(&b"chat, superchat"[..]));
    let text = String::from_utf8(ok.to_vec()).unwrap();
    for (from, to, status) in [
        ("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8", 426),
        ("Upgrade: WebSocket", "Upgrade: h2c", 426),
        ("keep-alive, Upgrade", "keep-alive", 400),
        ("dGhlIHNhbXBsZSBub25jZQ==", "short==", 400),
        ("GET /chat", "POST /chat", 400),
        ("HTTP/1.1\r\nHost: a", "HTTP/1.0\r\nHost: a", 400),
    ] {
        let bad = text.replace(from, to);
        let mut hs = [Header::EMPTY; 16];
        let Ok(Status::Complete(req)) = parse(bad.as_bytes(), &mut hs, &Limits::default()) else {
            panic!("{bad}")
        };
        assert_eq!(check_handshake(&req).unwrap_err().status, status, "{to}");
    }
}

#[test]
fn deflate_offers() {
    let plain = Some(DeflateAccept {
        server_max_window_bits: false,
    });
    let bits = Some(DeflateAccept {
        server_max_window_bits: true,
    });
    for (offer, want) in [
        (&b"permessage-deflate"[..], plain),
        (b"permessage-deflate; client_max_window_bits", plain),
        (b"Permessage-Deflate ; client_max_window_bits=10", plain),
        (
            b"permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            plain,
        ),
        (b"permessage-deflate; server_max_window_bits=15", bits),
        (b"permessage-deflate; server_max_window_bits=\"15\"", bits),
        // A smaller window than ours: that offer is declined, the next one taken.
        (
            b"permessage-deflate; server_max_window_bits=10, permessage-deflate",
            plain,
        ),
        (b"permessage-deflate; server_max_window_bits=10", None),
        (b"permessage-deflate; server_max_window_bits", None),
        (b"permessage-deflate; client_max_window_bits=16", None),
        (b"permessage-deflate; client_max_window_bits=7", None),
        (b"permessage-deflate; client_max_window_bits=+9", None),
        (b"permessage-deflate; mystery", None),
        (
            b"permessage-deflate; client_no_context_takeover; client_no_context_takeover",
            None,
        ),
        (b"permessage-deflate; server_no_context_takeover=1", None),
        (b"x-webkit-deflate-frame", None),
        (b"foo, permessage-deflate; client_max_window_bits", plain),
        (b"", None),
    ] {
        assert_eq!(
            accept_deflate(offer),
            want,
            "{}",
            String::from_utf8_lossy(offer)
        );
    }
    let (plain, bits) = (
        DeflateAccept {
            server_max_window_bits: false,
        },
        DeflateAccept {
            server_max_window_bits: true,
        },
    );
    assert!(plain
        .response()
        .starts_with(b"permessage-deflate; server_no_context_takeover"));
    assert!(bits.response().ends_with(b"server_max_window_bits=15"));
}
