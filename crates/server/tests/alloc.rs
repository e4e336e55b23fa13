//! No heap allocation per request on the `/hello` and cached-file paths, on handler routes
//! (parameters, query, the body writer, per-core state, request bodies read in place and
//! gathered, chunked), and on the seed's JSON endpoint (serde_json serialising into the output
//! buffer): the server's counting allocator (reported on SIGUSR1) must not move across 10,000
//! requests after warm-up.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{example, read_response, Mode, BIN};

fn allocations(child: &std::process::Child, err: &mut impl BufRead) -> u64 {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGUSR1) };
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "server stderr closed"
        );
        if let Some(n) = line.trim().strip_prefix("ringhttpd: allocations=") {
            return n.parse().unwrap();
        }
    }
}

const FILES: [&[u8]; 4] = [
    b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n",
    b"HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n",
];

const HANDLERS: [&[u8]; 4] = [
    b"GET /users/42?verbose=1 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /count HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /files/a/b HTTP/1.1\r\nHost: x\r\n\r\n",
    b"HEAD /users/7 HTTP/1.1\r\nHost: x\r\n\r\n",
];

const BODIES: [&[u8]; 4] = [
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    b"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok",
];

const JSON: [&[u8]; 4] = [b"GET /api/v1/users HTTP/1.1\r\nHost: x\r\n\r\n"; 4];

fn no_allocation_per_request(mode: Mode) {
    run_program(std::path::Path::new(BIN), mode, &FILES, 1);
}

fn handlers(mode: Mode) {
    run_program(&example("hello"), mode, &HANDLERS, 1);
    run_program(&example("echo"), mode, &BODIES, 1);
}

fn json_endpoint(mode: Mode) {
    // 100 KB per response: fewer rounds (1,250 requests) keep the test short.
    run_program(&example("users_api"), mode, &JSON, 8);
}

/// Start `program` with one worker; returns it, its port and its stderr.
fn spawn(
    program: &std::path::Path,
    mode: Mode,
) -> (
    std::process::Child,
    u16,
    BufReader<std::process::ChildStderr>,
) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../www");
    let mut child = Command::new(program)
        .args(["--listen", "127.0.0.1:0", "--threads", "1", "--root", root])
        .args(mode.args())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    let port: u16 = banner
        .split("127.0.0.1:")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let err = BufReader::new(child.stderr.take().unwrap());
    (child, port, err)
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// A WebSocket connection to `path` (after its `101`), with `extra` header lines.
fn upgrade(port: u16, path: &str, extra: &str) -> TcpStream {
    let mut s = connect(port);
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101 "),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s
}

/// A masked client frame (payload under 126 bytes); `rsv1` marks it compressed.
fn client_frame(opcode: u8, rsv1: bool, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mask = [9, 8, 7, 6];
    let mut frame = vec![
        0x80 | (rsv1 as u8) << 6 | opcode,
        0x80 | payload.len() as u8,
    ];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    frame
}

/// Read one server frame's (first byte, payload).
fn server_frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).unwrap();
    let mut n = (h[1] & 0x7f) as usize;
    if n == 126 {
        let mut b = [0u8; 2];
        s.read_exact(&mut b).unwrap();
        n = u16::from_be_bytes(b) as usize;
    }
    let mut p = vec![0; n];
    s.read_exact(&mut p).unwrap();
    (h[0], p)
}

/// Fan-out (`examples/push`): messages published by `POST /message` to everyone and to one
/// token reach 8 subscribers; and `/echo` with permessage-deflate, compressed both ways.
fn fan_out_and_compression(mode: Mode) {
    let (mut child, port, mut err) = spawn(&example("push"), mode);
    let mut subs: Vec<TcpStream> = (0..8)
        .map(|i| upgrade(port, &format!("/stream?token=t{}", i % 2), ""))
        .collect();
    let mut http = connect(port);
    let mut buf = Vec::new();
    let mut publish = |i: usize| {
        let body = if i % 2 == 0 {
            r#"{"topic": "all", "message": "to everyone"}"#
        } else {
            r#"{"token": "t1", "message": "to t1 only"}"#
        };
        let req = format!(
            "POST /message HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        http.write_all(req.as_bytes()).unwrap();
        let r = read_response(&mut http, false).unwrap();
        assert_eq!(r.status, 200);
        for (k, s) in subs.iter_mut().enumerate() {
            if i % 2 == 0 || k % 2 == 1 {
                let (op, p) = server_frame(s);
                assert_eq!(op, 0x81);
                buf.clear();
                buf.extend_from_slice(&p);
                assert!(buf.ends_with(if i % 2 == 0 {
                    b"everyone\"}"
                } else {
                    b"t1 only\"}"
                }));
            }
        }
    };
    for i in 0..500 {
        publish(i);
    }
    let before = allocations(&child, &mut err);
    for i in 0..2000 {
        publish(i);
    }
    let after = allocations(&child, &mut err);
    assert_eq!(
        after - before,
        0,
        "{} allocations during 2,000 publishes to 8 subscribers",
        after - before
    );

    let offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    let mut echo = upgrade(port, "/echo", offer);
    // "compressible " x 10, deflated at level 6 (RFC 7692: the sync flush tail stripped).
    let text = "compressible ".repeat(10);
    let z = miniz_oxide::deflate::compress_to_vec(text.as_bytes(), 6);
    let frame = client_frame(1, true, &z);
    let mut run = |n: usize| {
        for _ in 0..n {
            echo.write_all(&frame).unwrap();
            let (op, _) = server_frame(&mut echo);
            assert_eq!(op, 0xc1, "a compressed text frame");
        }
    };
    run(200);
    let before = allocations(&child, &mut err);
    run(2000);
    let after = allocations(&child, &mut err);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        after - before,
        0,
        "{} allocations during 2,000 compressed echoes",
        after - before
    );
}

/// WebSocket echo (`examples/echo`, `/ws`): messages one at a time and four per write, over
/// 8 connections.
fn websocket_echo(mode: Mode) {
    let (mut child, port, mut err) = spawn(&example("echo"), mode);
    let mut conns: Vec<TcpStream> = (0..8).map(|_| upgrade(port, "/ws", "")).collect();
    // A masked text frame, and room for its (unmasked) echo.
    let msg = b"hello, sockets";
    let mask = [9, 8, 7, 6];
    let mut frame = vec![0x81, 0x80 | msg.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(msg.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    let mut echo = vec![0u8; 2 + msg.len()];
    let mut run = |rounds: usize| {
        for i in 0..rounds {
            let s = &mut conns[i % 8];
            let n = if i % 2 == 0 { 1 } else { 4 };
            s.write_all(&frame.repeat(n)).unwrap();
            for _ in 0..n {
                s.read_exact(&mut echo).unwrap();
                assert_eq!(&echo[2..], msg);
            }
        }
    };
    run(1000);
    let before = allocations(&child, &mut err);
    run(4000);
    let after = allocations(&child, &mut err);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        after - before,
        0,
        "{} allocations during 10,000 messages",
        after - before
    );
}

/// `requests` one at a time and pipelined four at a time over 8 connections; `div` divides
/// the number of rounds.
fn run_program(program: &std::path::Path, mode: Mode, requests: &[&[u8]; 4], div: usize) {
    let (mut child, port, mut err) = spawn(program, mode);

    let mut conns: Vec<TcpStream> = (0..8).map(|_| connect(port)).collect();
    let mut run = |rounds: usize| {
        for i in 0..rounds {
            let s = &mut conns[i % 8];
            // Alternate single requests and pipelined batches of four.
            if i % 2 == 0 {
                let r = requests[i / 2 % 4];
                s.write_all(r).unwrap();
                read_response(s, r.starts_with(b"HEAD")).unwrap();
            } else {
                s.write_all(&requests.concat()).unwrap();
                for r in requests {
                    read_response(s, r.starts_with(b"HEAD")).unwrap();
                }
            }
        }
    };
    run(1000 / div); // warm-up: caches filled, free lists and scratch vectors at their working size
    let before = allocations(&child, &mut err);
    run(4000 / div); // 2,000 single + 2,000 x 4 pipelined = 10,000 requests
    let after = allocations(&child, &mut err);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        after - before,
        0,
        "{}: {} heap allocations during {} requests",
        program.display(),
        after - before,
        10_000 / div
    );
}

per_mode!(
    no_allocation_per_request,
    handlers,
    json_endpoint,
    websocket_echo,
    fan_out_and_compression
);
