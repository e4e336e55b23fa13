//! WebSocket connections (RFC 6455) after the upgrade: frames in (the http crate's decoder),
//! messages to the route's handler, frames out through the connection's output queue.
//!
//! Owns: the upgrade answer (`101` with the accept key, or the refusal), the per-message path
//! ([`feed`] / [`resume`], the same shape as `h1`), close frames, pings. A WebSocket connection
//! is an ordinary connection in the state machine (same slab, timers, backends) whose state has
//! the WebSocket bit: between messages it holds no buffer, like an idle keep-alive connection.

mod deflate;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use ringhttpd_http::ws::{self, code, Event, Kind, Opcode};

use crate::h1::{stash, Active, Cx, Fed, OUT_HIGH};
use crate::out::OutBuf;
use crate::pubsub::{Frames, Published, Topics};
use crate::respond::Response;
use deflate::Deflate;

/// A message handler: runs on the worker that owns the connection, must not block.
pub type WsHandler = dyn Fn(&Message<'_>, &mut Session<'_>) + Send + Sync + 'static;
/// An opening handler: accepts the connection (`Ok`) or refuses it with an HTTP status.
pub type OpenHandler =
    dyn Fn(&crate::Request<'_>, &mut Session<'_>) -> Result<(), u16> + Send + Sync + 'static;

/// What a WebSocket route does (see [`crate::Server::websocket_route`]): its message handler,
/// and optionally an opening handler, the subprotocols it speaks, and compression.
pub struct WebSocket {
    message: Box<WsHandler>,
    open: Option<Box<OpenHandler>>,
    deflate: bool,
    protocols: Vec<String>,
}

impl WebSocket {
    /// A route whose messages go to `on_message`.
    pub fn new<H>(on_message: H) -> WebSocket
    where
        H: Fn(&Message<'_>, &mut Session<'_>) + Send + Sync + 'static,
    {
        WebSocket {
            message: Box::new(on_message),
            open: None,
            deflate: false,
            protocols: Vec::new(),
        }
    }

    /// Run `on_open` for each valid opening handshake, before the `101` is sent: it may read
    /// the request (path parameters, query, headers), subscribe the connection to topics and
    /// send first messages, or refuse with an HTTP status (`Err(403)`), which is then the
    /// answer instead of the upgrade.
    pub fn on_open<F>(mut self, on_open: F) -> WebSocket
    where
        F: Fn(&crate::Request<'_>, &mut Session<'_>) -> Result<(), u16> + Send + Sync + 'static,
    {
        self.open = Some(Box::new(on_open));
        self
    }

    /// Offer `permessage-deflate` (RFC 7692) to clients that ask for it, without context
    /// takeover on either side (an idle connection keeps no compression window). Off by
    /// default. Messages of 64 bytes or more that the handler sends are compressed; messages
    /// published to topics are sent uncompressed.
    pub fn deflate(mut self, on: bool) -> WebSocket {
        self.deflate = on;
        self
    }

    /// The subprotocols this route speaks, in order of preference: the first of them the
    /// client lists in `Sec-WebSocket-Protocol` is selected and named in the `101` (none
    /// when there is no match; the client decides whether to go on).
    pub fn protocols(mut self, list: &[&str]) -> WebSocket {
        self.protocols = list.iter().map(|p| p.to_string()).collect();
        self
    }

    /// The subprotocol to select for the client's comma-separated list.
    fn choose(&self, offered: &[u8]) -> Option<&str> {
        self.protocols.iter().map(String::as_str).find(|p| {
            offered
                .split(|&b| b == b',')
                .any(|o| ringhttpd_http::trim_ows(o) == p.as_bytes())
        })
    }
}

/// A connection just upgraded: its route, and whether its messages may be compressed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Upgrade {
    pub route: u16,
    pub deflate: bool,
    /// The opening handler closed it already (a close frame follows the `101`).
    pub closing: bool,
}

impl Upgrade {
    /// What an upgraded connection keeps of its upgrade: the route (in `Conn`'s spare byte)
    /// and the deflate bit of its state.
    pub fn of(route: u8, state: crate::conn::State) -> Upgrade {
        Upgrade {
            route: u16::from(route),
            deflate: state.deflate(),
            closing: false,
        }
    }
}

/// Per-core WebSocket state: subscriptions, encoded frames, the compression codec, scratch.
pub struct WsCore {
    pub topics: Topics,
    pub frames: Frames,
    codec: Deflate,
    /// A decompressed message.
    inflated: Vec<u8>,
    /// The fan-out in progress (see `worker::push`): messages taken from the mailbox and the
    /// next one to start, the frame being delivered and the subscribers it has yet to reach
    /// (slot, generation), and scratch for a topic's subscribers.
    pub published: Vec<Arc<Published>>,
    pub next_published: usize,
    pub current: Option<std::rc::Rc<crate::pubsub::Frame>>,
    pub fanout: std::collections::VecDeque<(u32, u16)>,
    pub subs: Vec<u32>,
    /// Unsent bytes a subscriber may have queued before it is closed with 1008.
    pub max_queue: usize,
}

impl WsCore {
    pub fn new(cap: usize, max_queue: usize) -> WsCore {
        WsCore {
            topics: Topics::new(cap),
            frames: Frames::default(),
            codec: Deflate::default(),
            inflated: Vec::new(),
            published: Vec::new(),
            next_published: 0,
            current: None,
            fanout: std::collections::VecDeque::new(),
            subs: Vec::new(),
            max_queue,
        }
    }
}

/// A complete message from the client.
pub struct Message<'a> {
    kind: Kind,
    data: &'a [u8],
}

impl<'a> Message<'a> {
    /// A text message (its bytes are valid UTF-8, checked as they arrived).
    pub fn is_text(&self) -> bool {
        self.kind == Kind::Text
    }

    /// The text of a text message.
    pub fn text(&self) -> Option<&'a str> {
        if self.kind == Kind::Text {
            std::str::from_utf8(self.data).ok()
        } else {
            None
        }
    }

    /// The payload (decompressed, if it came compressed).
    pub fn bytes(&self) -> &'a [u8] {
        self.data
    }
}

/// What a handler may do with its connection: send messages, subscribe it to topics, close it.
pub struct Session<'a> {
    out: &'a mut OutBuf,
    close: Option<u16>,
    conn: u32,
    topics: &'a mut Topics,
    codec: &'a mut Deflate,
    deflate: bool,
}

impl Session<'_> {
    /// Send a text message.
    pub fn send_text(&mut self, text: &str) {
        self.send(Opcode::Text, text.as_bytes());
    }

    /// Send a binary message.
    pub fn send_binary(&mut self, data: &[u8]) {
        self.send(Opcode::Binary, data);
    }

    fn send(&mut self, op: Opcode, payload: &[u8]) {
        if self.deflate && payload.len() >= deflate::MIN_COMPRESS {
            let z = self.codec.deflate(payload);
            let (head, n) = ws::frame_head(op, true, true, z.len() as u64);
            self.out.data.extend_from_slice(&head[..n]);
            self.out.data.extend_from_slice(z);
        } else {
            frame(self.out, op, payload);
        }
    }

    /// Close the connection with `status` (a code a server may send: 1000-1003, 1007-1014,
    /// 3000-4999; others become 1011) after what was sent.
    pub fn close(&mut self, status: u16) {
        self.close = Some(if ws::close_code_valid(status) {
            status
        } else {
            code::INTERNAL
        });
    }

    /// Subscribe this connection to `topic`: what is published there (see
    /// [`crate::Publisher`]) is sent to it until it unsubscribes or goes. False when the
    /// connection has 64 subscriptions already.
    pub fn subscribe(&mut self, topic: &str) -> bool {
        self.topics.subscribe(self.conn, topic).is_ok()
    }

    /// Unsubscribe this connection from `topic`; false if it was not subscribed.
    pub fn unsubscribe(&mut self, topic: &str) -> bool {
        self.topics.unsubscribe(self.conn, topic)
    }
}

/// Append one unfragmented server frame.
fn frame(out: &mut OutBuf, op: Opcode, payload: &[u8]) {
    let (head, n) = ws::frame_head(op, true, false, payload.len() as u64);
    out.data.extend_from_slice(&head[..n]);
    out.data.extend_from_slice(payload);
}

/// Append a close frame: `status` (none for 1005, "no status received") and a reason.
fn close_frame(out: &mut OutBuf, status: u16, reason: &[u8]) {
    if status == 1005 {
        frame(out, Opcode::Close, b"");
        return;
    }
    let reason = &reason[..reason.len().min(123)];
    let (head, n) = ws::frame_head(Opcode::Close, true, false, 2 + reason.len() as u64);
    out.data.extend_from_slice(&head[..n]);
    out.data.extend_from_slice(&status.to_be_bytes());
    out.data.extend_from_slice(reason);
}

/// The close frame for a subscriber whose queue passed its limit (1008, policy violation).
pub static OVERFLOW_CLOSE: &[u8] = b"\x88\x15\x03\xf0subscriber too slow";

/// Answer a WebSocket route's request: `101 Switching Protocols` (with the accept key, the
/// selected subprotocol and extensions; the opening handler run) or the refusal (400, or 426
/// with the version and upgrade the resource needs, or the opening handler's status).
/// Returns the status, the upgrade, and whether the opening handler panicked.
pub fn upgrade(
    req: &crate::Request<'_>,
    res: &mut Response<'_>,
    route: &WebSocket,
    id: u16,
    core: &mut WsCore,
    conn: u32,
) -> (u16, Option<Upgrade>, bool) {
    let h = match ws::check_handshake(req.head) {
        Ok(h) => h,
        Err(r) if r.status == 426 => {
            let status = res.status(
                426,
                &[b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"],
                r.reason.as_bytes(),
            );
            return (status, None, false);
        }
        Err(r) => return (res.status(r.status, &[], r.reason.as_bytes()), None, false),
    };
    let deflate = if route.deflate {
        h.extensions.and_then(ws::accept_deflate)
    } else {
        None
    };
    let snap = res.out.snapshot();
    let accept = ws::accept_key(h.key);
    res.start(101);
    res.header(&[
        b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
        &accept,
        b"\r\n",
    ]);
    if let Some(p) = h.protocols.and_then(|p| route.choose(p)) {
        res.header(&[b"Sec-WebSocket-Protocol: ", p.as_bytes(), b"\r\n"]);
    }
    if let Some(d) = deflate {
        res.header(&[b"Sec-WebSocket-Extensions: ", d.response(), b"\r\n"]);
    }
    res.header(&[b"\r\n"]);
    let mut up = Upgrade {
        route: id,
        deflate: deflate.is_some(),
        closing: false,
    };
    let Some(open) = &route.open else {
        return (101, Some(up), false);
    };
    let mut session = Session {
        out: &mut *res.out,
        close: None,
        conn,
        topics: &mut core.topics,
        codec: &mut core.codec,
        deflate: up.deflate,
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| open(req, &mut session)));
    let close = session.close;
    match outcome {
        Ok(Ok(())) => {
            if let Some(status) = close {
                close_frame(res.out, status, b"");
                up.closing = true;
            }
            (101, Some(up), false)
        }
        Ok(Err(status)) => {
            res.out.restore(snap);
            core.topics.drop_conn(conn);
            let status = if (400..600).contains(&status) {
                status
            } else {
                500
            };
            (res.status(status, &[], b""), None, false)
        }
        Err(_) => {
            res.out.restore(snap);
            core.topics.drop_conn(conn);
            (res.status(500, &[], b"the handler panicked"), None, true)
        }
    }
}

/// Bytes arrived on WebSocket connection (route `id`). `writing`: a write is in flight, so
/// nothing may be appended to the output and the bytes wait in the stash.
pub fn feed(act: &mut Active, cx: &mut Cx, data: &[u8], writing: bool, up: Upgrade) -> Fed {
    let mut fed = Fed::default();
    if writing || !act.input.is_empty() {
        stash(act, data);
        if !writing {
            fed = resume(act, cx, up);
        }
        return fed;
    }
    let used = process(act, cx, data, up, &mut fed);
    if used < data.len() && !fed.last {
        stash(act, &data[used..]);
    }
    fed
}

/// A write finished: go on with the frames stashed behind it.
pub fn resume(act: &mut Active, cx: &mut Cx, up: Upgrade) -> Fed {
    let mut fed = Fed::default();
    let input = std::mem::take(&mut act.input);
    let used = process(act, cx, &input, up, &mut fed);
    act.input = input;
    act.input.drain(..used);
    fed
}

/// Decode frames and answer them while the output is under the mark pipelined HTTP requests
/// also stop at (`h1::OUT_HIGH`; the rest waits in the stash); returns the bytes used.
fn process(act: &mut Active, cx: &mut Cx, data: &[u8], up: Upgrade, fed: &mut Fed) -> usize {
    let (id, deflate) = (up.route, up.deflate);
    let held = act.out.held();
    act.ws.set_max_message(cx.limits.max_body);
    act.ws.allow_rsv1(deflate);
    let mut pos = 0;
    while !fed.last && act.out.total() < OUT_HIGH {
        let p = match act.ws.feed(&data[pos..], &mut act.gather.body) {
            Ok(p) => p,
            Err(e) => {
                close_frame(&mut act.out, e.code, e.reason.as_bytes());
                cx.outcomes.ws_errors += 1;
                fed.last = true;
                break;
            }
        };
        pos += p.consumed;
        match p.event {
            Event::None => break,
            Event::Message { kind, compressed } => {
                cx.outcomes.ws_messages += 1;
                let core = &mut *cx.sv.ws;
                let data: &[u8] = if compressed {
                    let max = cx.limits.max_body as usize;
                    match core
                        .codec
                        .inflate(&act.gather.body, max, &mut core.inflated)
                    {
                        Ok(())
                            if kind == Kind::Text
                                && std::str::from_utf8(&core.inflated).is_err() =>
                        {
                            close_frame(&mut act.out, code::INVALID_DATA, b"text is not UTF-8");
                            cx.outcomes.ws_errors += 1;
                            fed.last = true;
                            break;
                        }
                        Ok(()) => &core.inflated,
                        Err(e) => {
                            close_frame(&mut act.out, e.code, e.reason.as_bytes());
                            cx.outcomes.ws_errors += 1;
                            fed.last = true;
                            break;
                        }
                    }
                } else {
                    &act.gather.body
                };
                let route = cx.sv.router.ws_route(id);
                let snap = act.out.snapshot();
                let msg = Message { kind, data };
                let mut session = Session {
                    out: &mut act.out,
                    close: None,
                    conn: cx.conn.key,
                    topics: &mut core.topics,
                    codec: &mut core.codec,
                    deflate,
                };
                let handler = &route.message;
                let close = match catch_unwind(AssertUnwindSafe(|| handler(&msg, &mut session))) {
                    Ok(()) => session.close,
                    Err(_) => {
                        cx.outcomes.panics += 1;
                        act.out.restore(snap);
                        Some(code::INTERNAL)
                    }
                };
                act.gather.body.clear();
                if let Some(status) = close {
                    close_frame(&mut act.out, status, b"");
                    fed.last = true;
                }
            }
            Event::Ping => {
                let payload = act.ws.control_payload();
                frame(&mut act.out, Opcode::Pong, payload);
            }
            Event::Pong => {}
            Event::Close { code: status } => {
                // Echo the status (RFC 6455 §5.5.1), then the connection ends.
                close_frame(&mut act.out, status, b"");
                fed.last = true;
            }
        }
    }
    cx.budget.held += act.out.held() - held;
    fed.answered = true;
    if fed.last {
        data.len()
    } else {
        pos
    }
}

/// The server is stopping: close with 1001 ("going away").
pub fn going_away(out: &mut OutBuf) {
    close_frame(out, code::GOING_AWAY, b"server stopping");
}

/// A ping for an idle connection (the keep-alive timeout passed without a frame).
pub fn ping(out: &mut OutBuf) {
    frame(out, Opcode::Ping, b"");
}
