//! WebSocket connections (RFC 6455) after the upgrade: frames in (the http crate's decoder),
//! messages to the route's handler, frames out through the connection's output queue.
//!
//! Owns: the upgrade answer (`101` with the accept key, or the refusal), the per-message path
//! ([`feed`] / [`resume`], the same shape as `h1`), close frames, pings. A WebSocket connection
//! is an ordinary connection in the state machine (same slab, timers, backends) whose state has
//! the WebSocket bit: between messages it holds no buffer, like an idle keep-alive connection.

use std::panic::{catch_unwind, AssertUnwindSafe};

use ringhttpd_http::ws::{self, code, Event, Kind, Opcode};
use ringhttpd_http::Request;

use crate::h1::{stash, Active, Cx, Fed, OUT_HIGH};
use crate::out::OutBuf;
use crate::respond::Response;

/// A message handler: runs on the worker that owns the connection, must not block.
pub type WsHandler = dyn Fn(&Message<'_>, &mut Session<'_>) + Send + Sync + 'static;

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

    /// The payload.
    pub fn bytes(&self) -> &'a [u8] {
        self.data
    }
}

/// What a message handler may do with its connection: send messages, or close it.
pub struct Session<'a> {
    out: &'a mut OutBuf,
    close: Option<u16>,
}

impl Session<'_> {
    /// Send a text message.
    pub fn send_text(&mut self, text: &str) {
        frame(self.out, Opcode::Text, text.as_bytes());
    }

    /// Send a binary message.
    pub fn send_binary(&mut self, data: &[u8]) {
        frame(self.out, Opcode::Binary, data);
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

/// Answer a WebSocket route's request: `101 Switching Protocols` (returns true: the
/// connection is upgraded once it is queued) or the refusal (400, or 426 with the version and
/// upgrade the resource needs).
pub fn upgrade(req: &Request<'_, '_>, res: &mut Response<'_>) -> (u16, bool) {
    match ws::check_handshake(req) {
        Ok(h) => {
            let accept = ws::accept_key(h.key);
            res.start(101);
            res.header(&[
                b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
                &accept,
                b"\r\n\r\n",
            ]);
            (101, true)
        }
        Err(r) if r.status == 426 => (
            res.status(
                426,
                &[b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"],
                r.reason.as_bytes(),
            ),
            false,
        ),
        Err(r) => (res.status(r.status, &[], r.reason.as_bytes()), false),
    }
}

/// Bytes arrived on WebSocket connection (route `id`). `writing`: a write is in flight, so
/// nothing may be appended to the output and the bytes wait in the stash.
pub fn feed(act: &mut Active, cx: &mut Cx, data: &[u8], writing: bool, id: u16) -> Fed {
    let mut fed = Fed::default();
    if writing || !act.input.is_empty() {
        stash(act, data);
        if !writing {
            fed = resume(act, cx, id);
        }
        return fed;
    }
    let used = process(act, cx, data, id, &mut fed);
    if used < data.len() && !fed.last {
        stash(act, &data[used..]);
    }
    fed
}

/// A write finished: go on with the frames stashed behind it.
pub fn resume(act: &mut Active, cx: &mut Cx, id: u16) -> Fed {
    let mut fed = Fed::default();
    let input = std::mem::take(&mut act.input);
    let used = process(act, cx, &input, id, &mut fed);
    act.input = input;
    act.input.drain(..used);
    fed
}

/// Decode frames and answer them while the output is under the mark pipelined HTTP requests
/// also stop at (`h1::OUT_HIGH`; the rest waits in the stash); returns the bytes used.
fn process(act: &mut Active, cx: &mut Cx, data: &[u8], id: u16, fed: &mut Fed) -> usize {
    let held = act.out.held();
    act.ws.set_max_message(cx.limits.max_body);
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
            Event::Message { kind, .. } => {
                cx.outcomes.ws_messages += 1;
                let handler = cx.sv.router.ws_handler(id);
                let snap = act.out.snapshot();
                let msg = Message {
                    kind,
                    data: &act.gather.body,
                };
                let mut session = Session {
                    out: &mut act.out,
                    close: None,
                };
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
