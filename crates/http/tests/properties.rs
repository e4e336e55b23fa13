//! Properties: a request split at any byte boundaries parses exactly as the whole; random bytes
//! never panic; chunked bodies decode the same however they are cut.

use proptest::prelude::*;
use ringhttpd_http::{parse, ChunkedDecoder, Header, Limits, Status};

#[derive(Debug, PartialEq)]
struct Parsed {
    method: Vec<u8>,
    target: Vec<u8>,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    head_len: usize,
    keep_alive: bool,
}

fn parse_owned(buf: &[u8]) -> Result<Option<Parsed>, u16> {
    let mut hs = [Header::default(); 64];
    match parse(buf, &mut hs, &Limits::default()) {
        Ok(Status::Complete(r)) => Ok(Some(Parsed {
            method: r.method_raw.to_vec(),
            target: r.target.to_vec(),
            headers: r
                .headers
                .iter()
                .map(|h| (h.name.to_vec(), h.value.to_vec()))
                .collect(),
            head_len: r.head_len,
            keep_alive: r.keep_alive,
        })),
        Ok(Status::Partial) => Ok(None),
        Err(e) => Err(e.status()),
    }
}

/// Feed `buf` as it would arrive in `cuts` pieces, re-parsing the accumulated bytes each time
/// (what the server does with a partial request).
fn parse_incrementally(buf: &[u8], cuts: &[usize]) -> Result<Option<Parsed>, u16> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (buf.len() + 1)).collect();
    points.push(buf.len());
    points.sort_unstable();
    for &end in &points {
        if let Some(p) = parse_owned(&buf[..end])? {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}"
}

fn request() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![Just("GET".to_string()), Just("POST".to_string()), token()],
        "/[A-Za-z0-9._~%/?=&-]{0,40}",
        prop::collection::vec((token(), "[ -~]{0,30}"), 0..12),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(m, t, hs, lf, close)| {
            let eol = if lf { "\n" } else { "\r\n" };
            let mut s = format!("{m} {t} HTTP/1.1{eol}Host: example{eol}");
            for (n, v) in hs {
                // Keep the generated request valid: no second Host, no framing headers.
                let lower = n.to_ascii_lowercase();
                if [
                    "host",
                    "content-length",
                    "transfer-encoding",
                    "expect",
                    "connection",
                ]
                .contains(&lower.as_str())
                {
                    continue;
                }
                s.push_str(&format!("{n}: {}{eol}", v.trim()));
            }
            if close {
                s.push_str(&format!("Connection: close{eol}"));
            }
            s.push_str(eol);
            s.into_bytes()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn split_anywhere_same_result(req in request(), cuts in prop::collection::vec(any::<usize>(), 0..6)) {
        let whole = parse_owned(&req);
        prop_assert!(matches!(whole, Ok(Some(_))), "generated request must parse: {:?}", whole);
        prop_assert_eq!(parse_incrementally(&req, &cuts), whole);
    }

    #[test]
    fn pipelined_pairs_split_anywhere(a in request(), b in request(), cut in any::<usize>()) {
        let mut both = a.clone();
        both.extend_from_slice(&b);
        let first = parse_owned(&both).unwrap().unwrap();
        prop_assert_eq!(first.head_len, a.len());
        let second = parse_incrementally(&both[first.head_len..], &[cut]).unwrap().unwrap();
        prop_assert_eq!(Some(second), parse_owned(&b).unwrap());
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let mut hs = [Header::default(); 8];
        match parse(&bytes, &mut hs, &Limits { max_request_line: 128, max_head: 256, max_body: 1000 }) {
            Ok(Status::Complete(r)) => prop_assert!(r.head_len <= bytes.len()),
            Ok(Status::Partial) => {}
            Err(e) => prop_assert!(e.offset <= bytes.len() && (400..=505).contains(&e.status())),
        }
    }

    #[test]
    fn mutated_requests_never_panic(req in request(), pos in any::<usize>(), byte in any::<u8>()) {
        let mut m = req.clone();
        let i = pos % m.len();
        m[i] = byte;
        let _ = parse_owned(&m);
        let _ = parse_incrementally(&m, &[pos]);
    }

    #[test]
    fn chunked_round_trip(body in prop::collection::vec(any::<u8>(), 0..3000),
                          sizes in prop::collection::vec(1usize..700, 1..20),
                          cuts in prop::collection::vec(any::<usize>(), 0..8)) {
        // Encode with the given chunk sizes (cycled), then decode from arbitrary pieces.
        let mut enc = Vec::new();
        let mut rest = &body[..];
        let mut k = 0;
        while !rest.is_empty() {
            let n = sizes[k % sizes.len()].min(rest.len());
            enc.extend_from_slice(format!("{n:x}\r\n").as_bytes());
            enc.extend_from_slice(&rest[..n]);
            enc.extend_from_slice(b"\r\n");
            rest = &rest[n..];
            k += 1;
        }
        enc.extend_from_slice(b"0\r\nX-T: v\r\n\r\nNEXT");
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (enc.len() + 1)).collect();
        points.push(enc.len());
        points.sort_unstable();
        let mut d = ChunkedDecoder::new(&Limits::default());
        let mut out = Vec::new();
        let mut pos = 0;
        let mut done = false;
        for end in points {
            if end < pos { continue; }
            let p = d.feed(&enc[pos..end], |s| out.extend_from_slice(s)).unwrap();
            pos += p.consumed;
            if p.done { done = true; break; }
        }
        prop_assert!(done);
        prop_assert_eq!(&out, &body);
        prop_assert_eq!(&enc[pos..], b"NEXT");
    }

    #[test]
    fn chunk_extensions_from_the_grammar_are_accepted(
        exts in prop::collection::vec(
            ("[ \t]{0,2}", "[a-z0-9!#$%&'*+.^_`|~-]{1,6}", prop::option::of(prop_oneof![
                "[A-Za-z0-9-]{1,5}".prop_map(|t| t),
                "[ !#-\\[\\]-~]{0,5}".prop_map(|q| format!("\"{q}\\\"\"")),
            ])),
            0..4),
        cut in any::<usize>()) {
        // chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ), value a token or a
        // quoted-string (here with a quoted-pair); the body decodes the same.
        let mut line = String::from("5");
        for (bws, name, value) in &exts {
            line.push_str(bws);
            line.push(';');
            line.push_str(bws);
            line.push_str(name);
            if let Some(v) = value {
                line.push_str(bws);
                line.push('=');
                line.push_str(bws);
                line.push_str(v);
            }
        }
        let enc = format!("{line}\r\nhello\r\n0\r\nT: x\r\n\r\n").into_bytes();
        let cut = cut % (enc.len() + 1);
        let mut d = ChunkedDecoder::new(&Limits::default());
        let mut out = Vec::new();
        let a = d.feed(&enc[..cut], |s| out.extend_from_slice(s)).unwrap();
        let b = d.feed(&enc[a.consumed..], |s| out.extend_from_slice(s)).unwrap();
        prop_assert!(b.done);
        prop_assert_eq!(a.consumed + b.consumed, enc.len());
        prop_assert_eq!(&out, b"hello");
    }

    #[test]
    fn text_after_a_chunk_size_without_a_semicolon_is_rejected(
        junk in "[ \t]{1,3}[!-:<-~][ -~]{0,8}") {
        // `5 garbage` style lines: after BWS only `;` (or the line end) may follow.
        let enc = format!("5{junk}\r\nhello\r\n0\r\n\r\n").into_bytes();
        let mut d = ChunkedDecoder::new(&Limits::default());
        let r = d.feed(&enc, |_| ());
        prop_assert!(r.is_err(), "{:?} accepted", junk);
    }

    #[test]
    fn trailer_lines_need_a_name_and_a_colon(line in "[ -~]{1,20}") {
        let well_formed = {
            let (name, _) = line.split_once(':').unwrap_or(("", ""));
            !name.is_empty() && name.bytes().all(|b| b"!#$%&'*+-.^_`|~".contains(&b) || b.is_ascii_alphanumeric())
        };
        let enc = format!("0\r\n{line}\r\n\r\n").into_bytes();
        let mut d = ChunkedDecoder::new(&Limits::default());
        let r = d.feed(&enc, |_| ());
        prop_assert_eq!(r.is_ok(), well_formed, "{:?}", line);
    }
}

// ---- WebSocket frames ----

use ringhttpd_http::ws::{self, Decoder, Event};

/// A masked client frame.
fn ws_frame(fin: bool, opcode: u8, mask: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut v = vec![(fin as u8) << 7 | opcode];
    let n = payload.len();
    if n < 126 {
        v.push(0x80 | n as u8);
    } else {
        v.push(0x80 | 126);
        v.extend_from_slice(&(n as u16).to_be_bytes());
    }
    v.extend_from_slice(&mask);
    v.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    v
}

/// Every event (with its bytes) from feeding `input` cut at `cuts`; the error code if any.
fn ws_events(input: &[u8], cuts: &[usize]) -> Result<Vec<(String, Vec<u8>)>, u16> {
    let mut d = Decoder::new(1 << 16);
    let mut msg = Vec::new();
    let mut out = Vec::new();
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.push(0);
    points.push(input.len());
    points.sort_unstable();
    for w in points.windows(2) {
        let piece = &input[w[0]..w[1]];
        let mut at = 0;
        loop {
            let p = d.feed(&piece[at..], &mut msg).map_err(|e| e.code)?;
            at += p.consumed;
            match p.event {
                Event::None if at == piece.len() => break,
                Event::None => {}
                Event::Message { .. } => {
                    out.push((format!("{:?}", p.event), std::mem::take(&mut msg)))
                }
                e => out.push((format!("{e:?}"), d.control_payload().to_vec())),
            }
        }
    }
    Ok(out)
}

fn ws_message() -> impl Strategy<Value = Vec<u8>> {
    // A message of 1-3 fragments, text (valid UTF-8) or binary, with a ping between fragments.
    (
        any::<bool>(),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..4),
        any::<[u8; 4]>(),
        "[a-zé€😀 ]{0,40}",
    )
        .prop_map(|(text, parts, mask, s)| {
            let parts: Vec<Vec<u8>> = if text {
                // Split valid UTF-8 at arbitrary byte offsets (inside characters too).
                let b = s.into_bytes();
                let mid = b.len() / 2;
                vec![b[..mid].to_vec(), b[mid..].to_vec()]
            } else {
                parts
            };
            let mut v = Vec::new();
            for (i, p) in parts.iter().enumerate() {
                let op = if i == 0 {
                    if text {
                        1
                    } else {
                        2
                    }
                } else {
                    0
                };
                v.extend(ws_frame(i + 1 == parts.len(), op, mask, p));
                if i == 0 {
                    v.extend(ws_frame(true, 9, mask, b"p"));
                }
            }
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn ws_split_anywhere_same_events(msgs in prop::collection::vec(ws_message(), 1..4),
                                     cuts in prop::collection::vec(any::<usize>(), 0..8)) {
        let input = msgs.concat();
        let whole = ws_events(&input, &[]);
        prop_assert!(whole.is_ok(), "generated frames must decode: {:?}", whole);
        prop_assert_eq!(ws_events(&input, &cuts), whole);
    }

    #[test]
    fn ws_random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512),
                                   cuts in prop::collection::vec(any::<usize>(), 0..4)) {
        if let Err(code) = ws_events(&bytes, &cuts) {
            prop_assert!([ws::code::PROTOCOL, ws::code::INVALID_DATA, ws::code::TOO_BIG].contains(&code));
        }
    }
}
