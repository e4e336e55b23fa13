//! WebSocket (RFC 6455), sans-I/O: the opening handshake's checks and accept key, an
//! incremental frame decoder that assembles messages, and server frame heads.
//!
//! [`Decoder::feed`] is given whatever bytes have arrived. It unmasks data payloads into the
//! caller's message buffer (the only copy, which unmasking needs anyway), keeps control-frame
//! payloads (at most 125 bytes) itself, validates text incrementally (across frames and across
//! reads), and reports one [`Event`] at a time: a complete message, a ping, a pong, or a close.
//! Every violation is an [`Error`] carrying the close code RFC 6455 §7.4.1 names for it; the
//! caller sends that close and ends the connection.
//!
//! Choices: client frames must be masked (§5.1); reserved bits must be zero unless an extension
//! claims RSV1 ([`Decoder::allow_rsv1`], for permessage-deflate, RFC 7692); a message larger than
//! the configured maximum is 1009 as soon as its size is known to exceed it.

/// Close codes (RFC 6455 §7.4.1).
pub mod code {
    /// Normal closure.
    pub const NORMAL: u16 = 1000;
    /// The endpoint is going away (server shutdown).
    pub const GOING_AWAY: u16 = 1001;
    /// A protocol error.
    pub const PROTOCOL: u16 = 1002;
    /// A data type the endpoint cannot accept.
    pub const UNSUPPORTED: u16 = 1003;
    /// Data inconsistent with the message type (invalid UTF-8 in text).
    pub const INVALID_DATA: u16 = 1007;
    /// A policy violation (for example a subscriber too slow to keep up).
    pub const POLICY: u16 = 1008;
    /// A message too big to process.
    pub const TOO_BIG: u16 = 1009;
    /// An unexpected condition on the server.
    pub const INTERNAL: u16 = 1011;
}

/// Frame opcodes (RFC 6455 §5.2).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Opcode {
    Continuation = 0,
    Text = 1,
    Binary = 2,
    Close = 8,
    Ping = 9,
    Pong = 10,
}

impl Opcode {
    fn from_bits(b: u8) -> Option<Opcode> {
        Some(match b {
            0 => Opcode::Continuation,
            1 => Opcode::Text,
            2 => Opcode::Binary,
            8 => Opcode::Close,
            9 => Opcode::Ping,
            10 => Opcode::Pong,
            _ => return None,
        })
    }

    fn is_control(self) -> bool {
        self as u8 >= 8
    }
}

/// A violation, with the close code to answer it with and a short reason.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub code: u16,
    pub reason: &'static str,
}

fn fail<T>(code: u16, reason: &'static str) -> Result<T, Error> {
    Err(Error { code, reason })
}

/// What a complete message holds.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Binary,
}

/// What [`Decoder::feed`] found.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Nothing complete yet: feed more bytes.
    None,
    /// A whole message is in the caller's buffer. `compressed`: its first frame had RSV1 set
    /// (permessage-deflate), so the buffer holds the compressed payload.
    Message { kind: Kind, compressed: bool },
    /// A ping; its payload is [`Decoder::control_payload`] (answer with a pong carrying it).
    Ping,
    /// A pong; its payload is [`Decoder::control_payload`].
    Pong,
    /// The peer's close: its status code (1005, "no status", when it sent none) and the reason
    /// (in [`Decoder::control_payload`] from byte 2 on).
    Close { code: u16 },
}

/// The result of one [`Decoder::feed`] call.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of the input used.
    pub consumed: usize,
    pub event: Event,
}

/// Incremental UTF-8 validation: bytes may end in the middle of a character.
#[derive(Copy, Clone, Debug, Default)]
struct Utf8 {
    pending: [u8; 4],
    n: u8,
}

/// The length of the sequence a lead byte starts (0 for a byte that cannot lead).
fn utf8_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 0,
    }
}

impl Utf8 {
    /// Validate the next bytes of a text message.
    fn feed(&mut self, mut b: &[u8]) -> Result<(), Error> {
        const BAD: Error = Error {
            code: code::INVALID_DATA,
            reason: "invalid UTF-8 in a text message",
        };
        if self.n > 0 {
            let need = utf8_len(self.pending[0]);
            let take = (need - self.n as usize).min(b.len());
            let n = self.n as usize;
            self.pending[n..n + take].copy_from_slice(&b[..take]);
            self.n += take as u8;
            b = &b[take..];
            match std::str::from_utf8(&self.pending[..self.n as usize]) {
                Ok(_) => self.n = 0,
                Err(e) if e.error_len().is_none() => return Ok(()), // still incomplete
                Err(_) => return Err(BAD),
            }
        }
        match std::str::from_utf8(b) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let tail = &b[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.n = tail.len() as u8;
                Ok(())
            }
            Err(_) => Err(BAD),
        }
    }

    /// The message ended: no character may be left open.
    fn finish(&mut self) -> Result<(), Error> {
        if self.n != 0 {
            self.n = 0;
            return fail(code::INVALID_DATA, "a text message ends inside a character");
        }
        Ok(())
    }
}

/// Where the decoder is inside the frame it is reading.
#[derive(Copy, Clone, Debug)]
struct Frame {
    fin: bool,
    opcode: Opcode,
    mask: [u8; 4],
    /// Payload bytes still to come, and how many have come (the mask's phase).
    left: u64,
    done: u64,
}

/// The message being assembled from data frames.
#[derive(Copy, Clone, Debug)]
struct Message {
    kind: Kind,
    compressed: bool,
    len: u64,
}

/// Assembles messages from client frames (see the module docs). Small: an idle connection need
/// not keep one (a fresh decoder is as good as one between messages).
#[derive(Clone, Debug)]
pub struct Decoder {
    max_message: u64,
    rsv1: bool,
    head: [u8; 14],
    head_len: u8,
    frame: Option<Frame>,
    message: Option<Message>,
    utf8: Utf8,
    control: [u8; 125],
    control_len: u8,
    closed: bool,
}

impl Decoder {
    /// A decoder for messages of at most `max_message` bytes.
    pub fn new(max_message: u64) -> Decoder {
        Decoder {
            max_message,
            rsv1: false,
            head: [0; 14],
            head_len: 0,
            frame: None,
            message: None,
            utf8: Utf8::default(),
            control: [0; 125],
            control_len: 0,
            closed: false,
        }
    }

    /// Back to a fresh state (between connections), keeping the settings.
    pub fn reset(&mut self) {
        *self = Decoder {
            rsv1: self.rsv1,
            ..Decoder::new(self.max_message)
        };
    }

    /// Change the largest message accepted.
    pub fn set_max_message(&mut self, max: u64) {
        self.max_message = max;
    }

    /// Accept RSV1 on a message's first frame (permessage-deflate was negotiated).
    pub fn allow_rsv1(&mut self, on: bool) {
        self.rsv1 = on;
    }

    /// Between frames and messages: nothing partial is held.
    pub fn is_idle(&self) -> bool {
        self.head_len == 0 && self.frame.is_none() && self.message.is_none()
    }

    /// The payload of the last control frame reported.
    pub fn control_payload(&self) -> &[u8] {
        &self.control[..self.control_len as usize]
    }

    /// Feed received bytes; data payloads are appended, unmasked, to `message` (the caller
    /// clears it after each [`Event::Message`]). Call again with the rest of the input while
    /// `consumed` is short of it or an event was reported.
    pub fn feed(&mut self, input: &[u8], message: &mut Vec<u8>) -> Result<Progress, Error> {
        if self.closed {
            if input.is_empty() {
                return Ok(Progress {
                    consumed: 0,
                    event: Event::None,
                });
            }
            return fail(code::PROTOCOL, "data after a close frame");
        }
        let mut pos = 0;
        loop {
            if self.frame.is_none() {
                // The frame head: 2 to 14 bytes (the first two say how many).
                while (self.head_len as usize) < self.head_need() {
                    if pos == input.len() {
                        return Ok(Progress {
                            consumed: pos,
                            event: Event::None,
                        });
                    }
                    let need = self.head_need() - self.head_len as usize;
                    let take = need.min(input.len() - pos);
                    let h = self.head_len as usize;
                    self.head[h..h + take].copy_from_slice(&input[pos..pos + take]);
                    self.head_len += take as u8;
                    pos += take;
                }
                self.start_frame()?;
            }
            let f = self.frame.as_mut().expect("a frame is open");
            let take = f.left.min((input.len() - pos) as u64) as usize;
            let piece = &input[pos..pos + take];
            pos += take;
            if f.opcode.is_control() {
                let at = self.control_len as usize;
                for (i, &b) in piece.iter().enumerate() {
                    self.control[at + i] = b ^ f.mask[(f.done as usize + i) & 3];
                }
                self.control_len += take as u8;
            } else {
                let start = message.len();
                message.extend(
                    piece
                        .iter()
                        .enumerate()
                        .map(|(i, &b)| b ^ f.mask[(f.done as usize + i) & 3]),
                );
                let m = self
                    .message
                    .as_ref()
                    .expect("a data frame belongs to a message");
                if m.kind == Kind::Text && !m.compressed {
                    self.utf8.feed(&message[start..])?;
                }
            }
            f.left -= take as u64;
            f.done += take as u64;
            if f.left > 0 {
                return Ok(Progress {
                    consumed: pos,
                    event: Event::None,
                });
            }
            let f = self.frame.take().expect("open");
            let event = self.end_frame(f)?;
            if event != Event::None {
                return Ok(Progress {
                    consumed: pos,
                    event,
                });
            }
            if pos == input.len() {
                return Ok(Progress {
                    consumed: pos,
                    event: Event::None,
                });
            }
        }
    }

    /// Bytes the current frame head needs, given what has come of it.
    fn head_need(&self) -> usize {
        if self.head_len < 2 {
            return 2;
        }
        let len7 = self.head[1] & 0x7f;
        let ext = match len7 {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask = if self.head[1] & 0x80 != 0 { 4 } else { 0 };
        2 + ext + mask
    }

    fn start_frame(&mut self) -> Result<(), Error> {
        let h = &self.head;
        let fin = h[0] & 0x80 != 0;
        let rsv = (h[0] >> 4) & 0x7;
        let Some(opcode) = Opcode::from_bits(h[0] & 0x0f) else {
            return fail(code::PROTOCOL, "unknown opcode");
        };
        if h[1] & 0x80 == 0 {
            return fail(code::PROTOCOL, "client frames must be masked");
        }
        let len7 = (h[1] & 0x7f) as u64;
        let (len, at) = match len7 {
            126 => (u16::from_be_bytes([h[2], h[3]]) as u64, 4),
            127 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&h[2..10]);
                let n = u64::from_be_bytes(b);
                if n >> 63 != 0 {
                    return fail(code::PROTOCOL, "a 64-bit length with its top bit set");
                }
                (n, 10)
            }
            n => (n, 2),
        };
        let mut mask = [0u8; 4];
        mask.copy_from_slice(&h[at..at + 4]);
        self.head_len = 0;
        let rsv1 = rsv & 0x4 != 0;
        if rsv & 0x3 != 0 || (rsv1 && (!self.rsv1 || opcode.is_control())) {
            return fail(code::PROTOCOL, "reserved bits set");
        }
        if opcode.is_control() {
            if !fin {
                return fail(code::PROTOCOL, "a fragmented control frame");
            }
            if len > 125 {
                return fail(code::PROTOCOL, "a control frame over 125 bytes");
            }
            self.control_len = 0;
        } else {
            match (opcode, self.message.as_mut()) {
                (Opcode::Continuation, None) => {
                    return fail(code::PROTOCOL, "a continuation without a message")
                }
                (Opcode::Continuation, Some(m)) => {
                    if rsv1 {
                        return fail(code::PROTOCOL, "RSV1 on a continuation frame");
                    }
                    m.len += len;
                }
                (_, Some(_)) => {
                    return fail(code::PROTOCOL, "a new message inside a fragmented one")
                }
                (op, None) => {
                    self.message = Some(Message {
                        kind: if op == Opcode::Text {
                            Kind::Text
                        } else {
                            Kind::Binary
                        },
                        compressed: rsv1,
                        len,
                    });
                }
            }
            if self
                .message
                .as_ref()
                .is_some_and(|m| m.len > self.max_message)
            {
                return fail(code::TOO_BIG, "message too big");
            }
        }
        self.frame = Some(Frame {
            fin,
            opcode,
            mask,
            left: len,
            done: 0,
        });
        Ok(())
    }

    fn end_frame(&mut self, f: Frame) -> Result<Event, Error> {
        Ok(match f.opcode {
            Opcode::Ping => Event::Ping,
            Opcode::Pong => Event::Pong,
            Opcode::Close => {
                self.closed = true;
                let p = self.control_payload();
                match p.len() {
                    0 => Event::Close { code: 1005 },
                    1 => return fail(code::PROTOCOL, "a close payload of one byte"),
                    _ => {
                        let c = u16::from_be_bytes([p[0], p[1]]);
                        if !close_code_valid(c) {
                            return fail(code::PROTOCOL, "an invalid close code");
                        }
                        if std::str::from_utf8(&p[2..]).is_err() {
                            return fail(code::INVALID_DATA, "a close reason that is not UTF-8");
                        }
                        Event::Close { code: c }
                    }
                }
            }
            _ if !f.fin => Event::None,
            _ => {
                let m = self
                    .message
                    .take()
                    .expect("a data frame belongs to a message");
                if m.kind == Kind::Text && !m.compressed {
                    self.utf8.finish()?;
                }
                Event::Message {
                    kind: m.kind,
                    compressed: m.compressed,
                }
            }
        })
    }
}

/// Whether a peer may send `c` in a close frame (RFC 6455 §7.4).
pub fn close_code_valid(c: u16) -> bool {
    matches!(c, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// A server frame head (unmasked) for a frame of `len` bytes; returns the bytes to write
/// before the payload (2, 4 or 10 of the array).
pub fn frame_head(opcode: Opcode, fin: bool, rsv1: bool, len: u64) -> ([u8; 10], usize) {
    let mut h = [0u8; 10];
    h[0] = (fin as u8) << 7 | (rsv1 as u8) << 6 | opcode as u8;
    let n = if len < 126 {
        h[1] = len as u8;
        2
    } else if len <= u16::MAX as u64 {
        h[1] = 126;
        h[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        4
    } else {
        h[1] = 127;
        h[2..10].copy_from_slice(&len.to_be_bytes());
        10
    };
    (h, n)
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455 §4.2.2): base64 of the SHA-1 of
/// the key and the protocol's GUID.
pub fn accept_key(key: &[u8]) -> [u8; 28] {
    let mut h = sha1_smol::Sha1::new();
    h.update(key);
    h.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64_20(&h.digest().bytes())
}

fn base64_20(b: &[u8; 20]) -> [u8; 28] {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = [b'='; 28];
    for (i, c) in b.chunks(3).enumerate() {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        out[i * 4] = A[(n >> 18) as usize & 63];
        out[i * 4 + 1] = A[(n >> 12) as usize & 63];
        if c.len() > 1 {
            out[i * 4 + 2] = A[(n >> 6) as usize & 63];
        }
        if c.len() > 2 {
            out[i * 4 + 3] = A[n as usize & 63];
        }
    }
    out
}

/// Whether a comma-separated header value holds `token` (ASCII case-insensitive).
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| crate::trim_ows(t).eq_ignore_ascii_case(token))
}

/// Why an opening handshake was refused: the status (400, or 426 for a version other than 13,
/// which must be answered with `Sec-WebSocket-Version: 13`) and a reason.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: &'static str,
}

/// What a valid opening handshake asks for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Handshake<'a> {
    pub key: &'a [u8],
    /// `Sec-WebSocket-Protocol`, if sent (a comma-separated list).
    pub protocols: Option<&'a [u8]>,
    /// `Sec-WebSocket-Extensions`, if sent.
    pub extensions: Option<&'a [u8]>,
}

/// Whether `req` asks to upgrade to WebSocket at all (`Upgrade: websocket`).
pub fn is_upgrade(req: &crate::Request<'_, '_>) -> bool {
    req.header("upgrade")
        .is_some_and(|v| has_token(v, b"websocket"))
}

/// Check an opening handshake (RFC 6455 §4.2.1).
pub fn check_handshake<'a>(req: &crate::Request<'a, '_>) -> Result<Handshake<'a>, Refusal> {
    let refuse = |status, reason| Err(Refusal { status, reason });
    if req.method != crate::Method::Get {
        return refuse(400, "a WebSocket handshake is a GET");
    }
    if req.version != crate::Version::Http11 {
        return refuse(400, "a WebSocket handshake needs HTTP/1.1");
    }
    if !is_upgrade(req) {
        return refuse(426, "this resource needs Upgrade: websocket");
    }
    if !req
        .header("connection")
        .is_some_and(|v| has_token(v, b"upgrade"))
    {
        return refuse(400, "Connection must include upgrade");
    }
    if req.header("sec-websocket-version") != Some(b"13") {
        return refuse(426, "only WebSocket version 13 is supported");
    }
    let Some(key) = req.header("sec-websocket-key") else {
        return refuse(400, "Sec-WebSocket-Key is missing");
    };
    // 16 random bytes in base64: 22 characters and "==".
    if key.len() != 24
        || !key.ends_with(b"==")
        || !key[..22]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    {
        return refuse(400, "Sec-WebSocket-Key is not 16 bytes in base64");
    }
    Ok(Handshake {
        key,
        protocols: req.header("sec-websocket-protocol"),
        extensions: req.header("sec-websocket-extensions"),
    })
}

/// An accepted `permessage-deflate` offer (RFC 7692): what the `101` answers with.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DeflateAccept {
    /// The offer limited the server's window to 15 bits (the only size this server compresses
    /// with), so the answer must say so.
    pub server_max_window_bits: bool,
}

impl DeflateAccept {
    /// The `Sec-WebSocket-Extensions` value: neither side keeps a compression context between
    /// messages (so an idle connection keeps no window).
    pub fn response(self) -> &'static [u8] {
        if self.server_max_window_bits {
            b"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15"
        } else {
            b"permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        }
    }
}

/// The first `permessage-deflate` offer in a `Sec-WebSocket-Extensions` value that this server
/// accepts (RFC 7692 §7.1): every parameter known, none repeated, values valid, and a
/// `server_max_window_bits` (if offered) of 15, since a smaller window is not produced. `None`
/// when there is no such offer (the connection then goes on uncompressed).
pub fn accept_deflate(extensions: &[u8]) -> Option<DeflateAccept> {
    'offers: for offer in extensions.split(|&b| b == b',') {
        let mut parts = offer.split(|&b| b == b';');
        let name = crate::trim_ows(parts.next().unwrap_or(b""));
        if !name.eq_ignore_ascii_case(b"permessage-deflate") {
            continue;
        }
        let mut seen = [false; 4];
        let mut max_bits = false;
        for p in parts {
            let p = crate::trim_ows(p);
            let (key, value) = match p.iter().position(|&b| b == b'=') {
                Some(i) => {
                    let v = crate::trim_ows(&p[i + 1..]);
                    let v = v
                        .strip_prefix(b"\"")
                        .and_then(|v| v.strip_suffix(b"\""))
                        .unwrap_or(v);
                    (crate::trim_ows(&p[..i]), Some(v))
                }
                None => (p, None),
            };
            let bits = |v: Option<&[u8]>| {
                v.and_then(|v| std::str::from_utf8(v).ok())
                    .filter(|v| {
                        !v.is_empty() && v.len() <= 2 && v.bytes().all(|b| b.is_ascii_digit())
                    })
                    .and_then(|v| v.parse::<u8>().ok())
                    .filter(|b| (8..=15).contains(b))
            };
            let i = if key.eq_ignore_ascii_case(b"server_no_context_takeover") && value.is_none() {
                0
            } else if key.eq_ignore_ascii_case(b"client_no_context_takeover") && value.is_none() {
                1
            } else if key.eq_ignore_ascii_case(b"server_max_window_bits") {
                if bits(value) != Some(15) {
                    continue 'offers;
                }
                max_bits = true;
                2
            } else if key.eq_ignore_ascii_case(b"client_max_window_bits") {
                if value.is_some() && bits(value).is_none() {
                    continue 'offers;
                }
                3
            } else {
                continue 'offers;
            };
            if std::mem::replace(&mut seen[i], true) {
                continue 'offers;
            }
        }
        return Some(DeflateAccept {
            server_max_window_bits: max_bits,
        });
    }
    None
}

#[cfg(test)]
mod tests;
