//! Fan-out, black-box, with the `push` example (a gotify-like server): subscribers on tokens
//! and on everyone get exactly their messages, in order; a subscriber that does not read is
//! closed with 1008 while the others go on; `permessage-deflate` on `/echo` with Python's
//! `websockets` client and with raw frames (bad compressed data, a bomb, RSV1 where it was not
//! negotiated); opening handlers refuse bad tokens; subprotocol selection. On every backend mode.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::FromRawFd;
use std::process::Command;
use std::time::{Duration, Instant};

use common::ws::{expect_close, frame, handshake_at, read_frame, KEY};
use common::{read_response, Mode, Server};

fn subscribe(s: &Server, token: &str) -> TcpStream {
    handshake_at(s, &format!("/stream?token={token}"), "").0
}

/// POST /message on a keep-alive connection; returns the message's id.
fn publish(c: &mut TcpStream, body: &str) -> u64 {
    let req = format!(
        "POST /message HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    c.write_all(req.as_bytes()).unwrap();
    let r = read_response(c, false).unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    v["id"].as_u64().unwrap()
}

/// A published message as a subscriber sees it: (id, text).
fn next_message(c: &mut TcpStream) -> (u64, String) {
    let (op, p) = read_frame(c);
    assert_eq!(op, 0x81, "a text frame");
    let v: serde_json::Value = serde_json::from_slice(&p).unwrap();
    (
        v["id"].as_u64().unwrap(),
        v["message"].as_str().unwrap().to_string(),
    )
}

fn fan_out_to_tokens_and_everyone(mode: Mode) {
    let s = Server::start_example("push", mode, &[]);
    let tokens = ["t0", "t1", "t2", "t3"];
    let mut subs: Vec<(usize, TcpStream)> = (0..40)
        .map(|i| (i % 4, subscribe(&s, tokens[i % 4])))
        .collect();
    let mut http = s.connect();
    // Subscriptions are made before the 101 is sent, so publishing may start at once.
    let mut want: Vec<Vec<(u64, String)>> = vec![Vec::new(); 4];
    for i in 0..200 {
        if i % 2 == 0 {
            let text = format!("everyone {i}");
            let id = publish(
                &mut http,
                &format!(r#"{{"topic": "all", "message": "{text}"}}"#),
            );
            want.iter_mut().for_each(|w| w.push((id, text.clone())));
        } else {
            let t = (i / 2) % 4;
            let text = format!("only {} ☃ {i}", tokens[t]);
            let id = publish(
                &mut http,
                &format!(r#"{{"token": "{}", "message": "{text}"}}"#, tokens[t]),
            );
            want[t].push((id, text));
        }
    }
    for (t, c) in &mut subs {
        for w in &want[*t] {
            assert_eq!(&next_message(c), w, "subscriber of {}", tokens[*t]);
        }
    }
    // Nothing more for anyone: a last broadcast is the next frame each one reads.
    let id = publish(&mut http, r#"{"topic": "all", "message": "last"}"#);
    for (_, c) in &mut subs {
        assert_eq!(next_message(c), (id, "last".to_string()));
    }
    // Bad publishes are refused with a reason.
    for bad in [
        r#"{"message": "no address"}"#,
        r#"{"token": "has space", "message": "x"}"#,
        r#"{"topic": "news", "message": "x"}"#,
        r#"not json"#,
    ] {
        let req = format!(
            "POST /message HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{bad}",
            bad.len()
        );
        http.write_all(req.as_bytes()).unwrap();
        assert_eq!(
            read_response(&mut http, false).unwrap().status,
            400,
            "{bad}"
        );
    }
}

fn fan_out_in_batches_reaches_thousands(mode: Mode) {
    // One worker: 2,500 subscribers are more than one loop turn's batch (1,024), so each
    // publish is delivered over several turns; a plain request is served in between.
    let s = Server::start_example("push", mode, &["--threads", "1"]);
    let mut subs: Vec<TcpStream> = (0..2500).map(|i| subscribe(&s, &format!("b{i}"))).collect();
    let mut http = s.connect();
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(publish(
            &mut http,
            &format!(r#"{{"topic": "all", "message": "wave {i}"}}"#),
        ));
    }
    http.write_all(b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut http, false).unwrap().status, 200);
    for c in &mut subs {
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(next_message(c), (*id, format!("wave {i}")));
        }
    }
    // Subscribers that went during a fan-out are skipped, the others still served.
    subs.truncate(1000);
    let id = publish(&mut http, r#"{"topic": "all", "message": "after"}"#);
    for c in &mut subs {
        assert_eq!(next_message(c), (id, "after".to_string()));
    }
}

/// A connection to `port` with a small receive buffer (so a reader that stops stalls soon).
fn connect_small_window(port: u16) -> TcpStream {
    // SAFETY: plain socket calls on a descriptor this function owns; it is handed to
    // TcpStream (which closes it) once connected.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let size: libc::c_int = 4096;
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            &size as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as u32,
        );
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as u16,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be(),
            },
            sin_zero: [0; 8],
        };
        let r = libc::connect(
            fd,
            &addr as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as u32,
        );
        assert_eq!(r, 0, "connect");
        TcpStream::from_raw_fd(fd)
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

fn a_subscriber_that_does_not_read_is_closed_with_1008(mode: Mode) {
    // One worker, so both subscribers are on the same core as the slow one's queue.
    let s = Server::start_example("push", mode, &["--threads", "1", "--ws-max-queue", "256"]);
    let mut slow = connect_small_window(s.port);
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let req = format!(
        "GET /stream?token=slow HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    slow.write_all(req.as_bytes()).unwrap();
    let mut fast = subscribe(&s, "fast");
    let mut http = s.connect();
    let text = "x".repeat(16 * 1024);
    let body = format!(r#"{{"topic": "all", "message": "{text}"}}"#);
    let rss_before = rss_kib(s.child.id());
    // 16 KiB messages to everyone: the slow subscriber reads nothing, the fast one everything.
    // More than the kernel's socket buffers and the 256 KiB queue limit together (here the
    // slow one had 187 messages, 3 MB, when it was closed).
    let mut ids = Vec::new();
    for _ in 0..500 {
        ids.push(publish(&mut http, &body));
        let (id, m) = next_message(&mut fast);
        assert_eq!((id, m.len()), (*ids.last().unwrap(), text.len()));
    }
    let grown = rss_kib(s.child.id()).saturating_sub(rss_before);
    assert!(
        grown < 8 * 1024,
        "the server grew by {grown} KiB for one subscriber that does not read"
    );
    // The slow one now reads: the 101, whole messages in order, then the close with 1008.
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        slow.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "));
    let mut got = 0;
    loop {
        let (op, p) = read_frame(&mut slow);
        if op == 0x88 {
            assert_eq!(u16::from_be_bytes([p[0], p[1]]), 1008);
            assert_eq!(&p[2..], b"subscriber too slow");
            break;
        }
        let v: serde_json::Value = serde_json::from_slice(&p).unwrap();
        assert_eq!(
            v["id"].as_u64(),
            Some(ids[got]),
            "in order, none lost before the close"
        );
        got += 1;
    }
    assert!(
        got > 0 && got < ids.len(),
        "{got} of {} before the close",
        ids.len()
    );
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    assert!(rest.is_empty());
    // The fast subscriber goes on.
    let id = publish(&mut http, r#"{"topic": "all", "message": "still here"}"#);
    assert_eq!(next_message(&mut fast), (id, "still here".to_string()));
}

/// A raw frame with RSV1 set (a compressed message).
fn compressed_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = frame(true, opcode, payload);
    f[0] |= 0x40;
    f
}

/// Raw deflate with the sync flush's tail stripped, as RFC 7692 senders do.
fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec(data, 6)
}

fn compression_with_raw_frames(mode: Mode) {
    let s = Server::start_example("push", mode, &["--max-body", "100000"]);
    let offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
    let (mut c, head) = handshake_at(&s, "/echo", offer);
    assert!(
        head.contains(
            "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; \
             client_no_context_takeover\r\n"
        ),
        "{head}"
    );
    // A compressed text message in, its echo compressed out (RSV1), and it inflates back.
    let text = "compress me, compress me, compress me! ".repeat(50);
    c.write_all(&compressed_frame(1, &deflate(text.as_bytes())))
        .unwrap();
    let (op, p) = read_frame(&mut c);
    assert_eq!(op, 0xc1, "FIN, RSV1, text");
    let mut z = p.clone();
    // The stripped tail, then an empty final block to end the stream for a plain inflater.
    z.extend_from_slice(&[0, 0, 0xff, 0xff, 0x03, 0x00]);
    let back = miniz_oxide::inflate::decompress_to_vec(&z).unwrap();
    assert_eq!(back, text.as_bytes());
    // Short messages go out uncompressed.
    c.write_all(&compressed_frame(1, &deflate(b"hi"))).unwrap();
    assert_eq!(read_frame(&mut c), (0x81, b"hi".to_vec()));
    // Uncompressed messages are fine too.
    c.write_all(&frame(true, 2, b"\x01\x02")).unwrap();
    assert_eq!(read_frame(&mut c), (0x82, vec![1, 2]));

    // Bad input, each on a fresh connection: the close code RFC 6455 §7.4.1 / RFC 7692 name.
    let cases: [(&str, Vec<u8>, u16); 4] = [
        (
            "garbage",
            compressed_frame(2, &[0xff, 0xfe, 0xfd, 0x00]),
            1007,
        ),
        (
            "invalid UTF-8",
            compressed_frame(1, &deflate(b"ok \xff\xfe")),
            1007,
        ),
        (
            "a bomb",
            compressed_frame(2, &deflate(&vec![0u8; 1 << 20])),
            1009,
        ),
        (
            "RSV1 on a continuation",
            [compressed_frame(1, &deflate(b"a")), {
                let mut f = frame(true, 0, b"b");
                f[0] |= 0x40;
                f
            }]
            .concat(),
            1002,
        ),
    ];
    for (what, bytes, code) in cases {
        let (mut c, _) = handshake_at(&s, "/echo", offer);
        let mut bytes = bytes;
        if what == "RSV1 on a continuation" {
            bytes[0] &= 0x7f; // the first frame is not final
        }
        c.write_all(&bytes).unwrap();
        expect_close(&mut c, code);
    }
    // Without the extension negotiated (no offer; or a route without it), RSV1 is a violation.
    let (mut c, head) = handshake_at(&s, "/echo", "");
    assert!(!head.contains("Extensions"), "{head}");
    c.write_all(&compressed_frame(1, &deflate(b"hello")))
        .unwrap();
    expect_close(&mut c, 1002);
    let (mut c, head) = handshake_at(&s, "/stream?token=a", offer);
    assert!(!head.contains("Extensions"), "{head}");
    c.write_all(&compressed_frame(1, &deflate(b"hello")))
        .unwrap();
    expect_close(&mut c, 1002);
    // An offer the server cannot honour (a smaller window than it compresses with) is declined.
    let (_, head) = handshake_at(
        &s,
        "/echo",
        "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n",
    );
    assert!(!head.contains("Extensions"), "{head}");
}

fn opening_handlers_and_subprotocols(mode: Mode) {
    let s = Server::start_example("push", mode, &[]);
    for target in [
        "/stream",
        "/stream?token=",
        "/stream?token=a%20b",
        "/stream?token=*",
    ] {
        let mut c = s.connect();
        let req = format!(
            "GET {target} HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        c.write_all(req.as_bytes()).unwrap();
        assert_eq!(
            read_response(&mut c, false).unwrap().status,
            401,
            "{target}"
        );
        // The connection stays HTTP: a plain request works after the refusal.
        c.write_all(b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(&mut c, false).unwrap().status, 200);
    }
    let (_, head) = handshake_at(&s, "/echo", "Sec-WebSocket-Protocol: chat, echo\r\n");
    assert!(
        head.contains("\r\nSec-WebSocket-Protocol: echo\r\n"),
        "{head}"
    );
    let (_, head) = handshake_at(&s, "/echo", "Sec-WebSocket-Protocol: chat\r\n");
    assert!(!head.contains("Sec-WebSocket-Protocol"), "{head}");
}

fn python_compression(mode: Mode) {
    common::python_websockets();
    let s = Server::start_example("push", mode, &["--max-body", "1000000"]);
    let script = r#"
import asyncio, sys
from websockets.asyncio.client import connect

async def main(port):
    async with connect(f"ws://127.0.0.1:{port}/echo", max_size=2**21) as ws:
        ext = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        assert ext.startswith("permessage-deflate"), ext
        for msg in ["hello", "compressible " * 5000, b"\x00" * 300_000, "☃ unicode " * 100]:
            await ws.send(msg)
            assert await ws.recv() == msg
        await ws.send(["frag", "mented " * 100, "☃"])  # a compressed message in fragments
        assert await ws.recv() == "frag" + "mented " * 100 + "☃"
        for i in range(100):
            await ws.send(f"m{i} " * 40)
        for i in range(100):
            assert await ws.recv() == f"m{i} " * 40
    print("ok")

asyncio.run(main(int(sys.argv[1])))
"#;
    common::python_ok(script, &[&s.port.to_string()]);
}

/// The example page in headless Chromium receives a message published while it is open, and
/// a screenshot of it is saved (`target/push-page.png`).
#[test]
fn browser_page_shows_published_messages() {
    let chromium = common::chromium();
    common::python_websockets();
    let s = Server::start_example("push", Mode::UringAll, &[]);
    let shot = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/push-page.png");
    let _ = std::fs::remove_file(shot);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser.py");
    let started = Instant::now();
    let out = Command::new("python3")
        .args([script, &chromium, &s.port.to_string(), shot])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("received: #"),
        "browser test ({:?}): {stdout} {}",
        started.elapsed(),
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(shot).expect("the screenshot was written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1000);
}

per_mode!(
    fan_out_to_tokens_and_everyone,
    fan_out_in_batches_reaches_thousands,
    a_subscriber_that_does_not_read_is_closed_with_1008,
    compression_with_raw_frames,
    opening_handlers_and_subprotocols,
    python_compression,
);
