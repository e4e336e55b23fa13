//! WebSocket, black-box: the `echo` example's `/ws` route driven with raw frames (handshake,
//! echo, fragments, ping/pong, the close handshake, each protocol violation's close code) and
//! with Python's `websockets` client (installed from PyPI if missing), on every backend mode.

mod common;

use std::io::Write;

use common::ws::{expect_close, frame, handshake, read_frame, KEY};
use common::{read_response, Mode, Server};

fn echo_and_control_frames(mode: Mode) {
    let s = Server::start_example("echo", mode, &["--max-body", "100000"]);
    let mut c = handshake(&s);
    c.write_all(&frame(true, 1, "héllo".as_bytes())).unwrap();
    assert_eq!(read_frame(&mut c), (0x81, "héllo".as_bytes().to_vec()));
    // Fragments with a ping between them, sent a byte at a time.
    let mut v = frame(false, 2, b"bin");
    v.extend(frame(true, 9, b"are you there"));
    v.extend(frame(true, 0, &[7u8; 300]));
    for b in v {
        c.write_all(&[b]).unwrap();
    }
    assert_eq!(
        read_frame(&mut c),
        (0x8a, b"are you there".to_vec()),
        "the pong"
    );
    let (op, p) = read_frame(&mut c);
    assert_eq!(op, 0x82);
    assert_eq!(&p[..3], b"bin");
    assert_eq!(p.len(), 303);
    // A large message.
    let big = vec![b'z'; 60_000];
    c.write_all(&frame(true, 2, &big)).unwrap();
    assert_eq!(read_frame(&mut c).1, big);
    // The close handshake: our status echoed, then the end.
    let mut close = 1000u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"done");
    c.write_all(&frame(true, 8, &close)).unwrap();
    expect_close(&mut c, 1000);

    // The handler closes.
    let mut c = handshake(&s);
    c.write_all(&frame(true, 1, b"close")).unwrap();
    expect_close(&mut c, 1000);
    // HTTP still works beside it.
    let mut h = s.connect();
    h.write_all(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok")
        .unwrap();
    assert_eq!(read_response(&mut h, false).unwrap().body, b"ok");
}

fn violations_get_their_close_codes(mode: Mode) {
    let s = Server::start_example("echo", mode, &["--max-body", "1000"]);
    let mut unmasked = vec![0x81, 2];
    unmasked.extend_from_slice(b"hi");
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (unmasked, 1002),
        (frame(true, 0x41, b"x"), 1002), // RSV1 without permessage-deflate
        (frame(true, 3, b"x"), 1002),
        (frame(false, 9, b"x"), 1002),
        (frame(true, 9, &[0; 126]), 1002),
        (frame(true, 0, b"x"), 1002),
        (frame(true, 1, &[0xff, 0xfe]), 1007),
        (
            [frame(false, 1, &[b'a', 0xc3]), frame(true, 0, &[0x28])].concat(),
            1007,
        ),
        (frame(true, 2, &[0; 1001]), 1009),
        (frame(true, 8, &1005u16.to_be_bytes()), 1002),
    ];
    for (i, (bytes, status)) in cases.into_iter().enumerate() {
        let mut c = handshake(&s);
        c.write_all(&bytes).unwrap();
        let (op, p) = read_frame(&mut c);
        assert_eq!(op, 0x88, "case {i}");
        assert_eq!(u16::from_be_bytes([p[0], p[1]]), status, "case {i}");
    }
    // Bad handshakes are plain HTTP answers.
    let r = common::exchange(
        &s,
        format!(
            "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 8\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 426);
    assert_eq!(r.header("sec-websocket-version"), Some("13"));
    let r = common::exchange(&s, b"GET /ws HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.status, 426);
    let r = common::exchange(
        &s,
        b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: nope\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    assert_eq!(r.status, 400);
}

fn python_client(mode: Mode) {
    common::python_websockets();
    let s = Server::start_example("echo", mode, &["--max-body", "1000000"]);
    let script = r#"
import asyncio, sys
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

async def main(port):
    async with connect(f"ws://127.0.0.1:{port}/ws", max_size=2**21, compression=None) as ws:
        await ws.send("hello")
        assert await ws.recv() == "hello"
        await ws.send(b"\x00\x01\x02")
        assert await ws.recv() == b"\x00\x01\x02"
        await ws.send(["frag", "mented", " ☃"])  # one message in three fragments
        assert await ws.recv() == "fragmented ☃"
        big = "x" * 500_000
        await ws.send(big)
        assert await ws.recv() == big
        pong = await ws.ping(b"ping data")
        await asyncio.wait_for(pong, 5)
        for i in range(200):
            await ws.send(f"m{i}")
        for i in range(200):
            assert await ws.recv() == f"m{i}"
        await ws.close(code=1000, reason="bye")
        assert ws.close_code == 1000, ws.close_code
    async with connect(f"ws://127.0.0.1:{port}/ws", compression=None) as ws:
        await ws.send("close")
        try:
            await ws.recv()
            raise AssertionError("expected the server to close")
        except ConnectionClosed as e:
            assert e.rcvd.code == 1000, e
    print("ok")

asyncio.run(main(int(sys.argv[1])))
"#;
    common::python_ok(script, &[&s.port.to_string()]);
}

fn a_stopping_server_says_going_away(mode: Mode) {
    let mut s = Server::start_example("echo", mode, &[]);
    let mut c = handshake(&s);
    c.write_all(&frame(true, 1, b"still here")).unwrap();
    assert_eq!(read_frame(&mut c).1, b"still here");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(s.child.id() as i32, libc::SIGTERM) };
    expect_close(&mut c, 1001);
    drop(c);
    assert_eq!(s.stop().and_then(|st| st.code()), Some(0));
}

per_mode!(
    a_stopping_server_says_going_away,
    echo_and_control_frames,
    violations_get_their_close_codes,
    python_client,
);
