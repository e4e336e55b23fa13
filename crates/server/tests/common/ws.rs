//! WebSocket helpers for the black-box tests: the opening handshake, masked client frames,
//! reading server frames.

use std::io::{Read, Write};
use std::net::TcpStream;

use super::Server;

pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

pub fn handshake(s: &Server) -> TcpStream {
    handshake_at(s, "/ws", "").0
}

/// The opening handshake for `path` with `extra` header lines; the connection and the `101`'s head.
pub fn handshake_at(s: &Server, path: &str, extra: &str) -> (TcpStream, String) {
    let mut c = s.connect();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    );
    c.write_all(req.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(c.read(&mut b).unwrap(), 1);
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert!(
        head.contains("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\nUpgrade: websocket\r\n"), "{head}");
    (c, head)
}

/// A masked client frame (payloads under 64 KiB).
pub fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [1, 2, 3, 4];
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

/// One server frame: (opcode, payload).
pub fn read_frame(c: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    c.read_exact(&mut h).unwrap();
    assert_eq!(h[1] & 0x80, 0, "server frames are not masked");
    let mut n = (h[1] & 0x7f) as usize;
    if n == 126 {
        let mut b = [0u8; 2];
        c.read_exact(&mut b).unwrap();
        n = u16::from_be_bytes(b) as usize;
    } else if n == 127 {
        let mut b = [0u8; 8];
        c.read_exact(&mut b).unwrap();
        n = u64::from_be_bytes(b) as usize;
    }
    let mut p = vec![0; n];
    c.read_exact(&mut p).unwrap();
    (h[0], p)
}

/// The close frame's status, then EOF.
pub fn expect_close(c: &mut TcpStream, status: u16) {
    let (op, p) = read_frame(c);
    assert_eq!(op, 0x88, "a close frame");
    assert_eq!(u16::from_be_bytes([p[0], p[1]]), status);
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest);
    assert!(rest.is_empty(), "nothing after the close: {rest:?}");
}
