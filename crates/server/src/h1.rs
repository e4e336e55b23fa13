//! HTTP/1 request input: framing, the stash of unparsed bytes, request bodies (skipped or
//! gathered), deferred answers, and answering.
//!
//! Owns: [`Active`] (per-request state: output queue, stashed input, the rest of the current
//! body, a body being gathered, a deferred answer awaited), its per-core pool ([`ActPool`]),
//! and [`feed`] / [`resume`], the two entry points from the connection: bytes arrived, or a
//! write finished (or a deferred answer came) and stashed requests can go on. Both end in
//! [`process`], the one loop that writes a deferred answer that is ready, goes on with what is
//! left of a body, then parses and answers every complete request. Does not own: the socket,
//! timeouts or the connection's lifecycle (the caller acts on the returned [`Fed`]), nor what
//! answers a request (`route`).
//!
//! Bytes are parsed in place in the driver's buffer when nothing is pending; only a partial
//! request, or requests that arrive while a write is in flight or a deferred answer is awaited,
//! are copied into the stash. A request whose whole body is in the buffer is handed to its
//! handler in place; one whose body is still arriving has its head copied aside and its body
//! gathered into a pooled buffer (a chunked body is always decoded into that buffer).

use std::time::Instant;

use ringhttpd_http::{
    parse, Body, ChunkedDecoder, Error, Header, HttpDate, Limits, Request, Status, Version,
};

use std::collections::VecDeque;
use std::sync::Arc;

use crate::api::{Answer, Flow};
use crate::out::OutBuf;
use crate::outcome::{Outcome, Outcomes, RouteId};
use crate::respond::{Connection, Response};
use crate::route::{self, ConnRef, Routed, Services};
use crate::router::BodyUse;

/// Header fields per request (431 beyond).
const MAX_HEADERS: usize = 64;
/// Stop parsing pipelined requests once this much output is queued; the rest waits in the
/// stash until the write completes.
pub const OUT_HIGH: usize = 64 * 1024;
/// Per-request states kept pooled per core; more in use at once are allocated and then freed.
const POOL: usize = 256;
/// Buffers kept in the pool are trimmed back to this capacity...
const KEEP_CAPACITY: usize = 64 * 1024;
/// ...except the output buffers of a few pooled states, which keep up to this much, so that
/// handlers generating large responses (the seed's 100 KB of JSON) do not grow a buffer for
/// every request: at most `KEEP_BIG * BIG_CAPACITY` (2 MiB) more held per core while idle.
const BIG_CAPACITY: usize = 256 * 1024;
const KEEP_BIG: usize = 8;

/// The rest of the current request's body.
enum BodyLeft {
    None,
    Length(u64),
    Chunked(ChunkedDecoder),
}

/// A request whose body is being gathered for its handler.
#[derive(Default)]
pub struct Gather {
    on: bool,
    /// The request's head, copied out of the receive buffer (parsed again when the body is
    /// complete).
    head: Vec<u8>,
    /// The decoded body so far (for a WebSocket connection: the message being assembled).
    pub body: Vec<u8>,
    /// Bytes taken from the core's budget for this body.
    reserved: usize,
}

/// A request whose handler deferred its answer.
pub struct Pending {
    seq: u32,
    conn: Connection,
    head_only: bool,
    close: bool,
    /// What has come for it and is not written yet (written when no write is in flight): one
    /// answer, or the pieces of a stream.
    queue: VecDeque<Answer>,
    /// A stream's status once its head is written, and whether its body is chunked (HTTP/1.1;
    /// an HTTP/1.0 client gets the bare body and the close).
    started: Option<u16>,
    chunked: bool,
    http11: bool,
    /// A stream's shared accounting with its producer.
    flow: Option<Arc<Flow>>,
    /// Bytes written for it so far (its outcome record).
    bytes: u64,
}

/// Per-request state, held only by a connection in the middle of a request (input or body still
/// arriving, output queued, or an answer deferred) and returned to the pool as soon as it is idle
/// again: an idle keep-alive connection owns no buffer at all.
pub struct Active {
    pub out: OutBuf,
    /// Unparsed input (partial request, or requests waiting behind a write). Usually empty.
    pub input: Vec<u8>,
    body: BodyLeft,
    pub gather: Gather,
    pending: Option<Pending>,
    /// A WebSocket connection's frame decoder (fresh, and so idle, for HTTP connections).
    pub ws: ringhttpd_http::ws::Decoder,
}

impl Active {
    fn new() -> Active {
        Active {
            out: OutBuf::new(),
            input: Vec::new(),
            body: BodyLeft::None,
            gather: Gather::default(),
            pending: None,
            ws: ringhttpd_http::ws::Decoder::new(0),
        }
    }

    /// Nothing queued, stashed, still arriving or awaited.
    pub fn idle(&self) -> bool {
        self.out.pending() == 0
            && self.input.is_empty()
            && !self.body_pending()
            && !self.gather.on
            && self.pending.is_none()
            && self.ws.is_idle()
            && self.gather.body.is_empty()
    }

    /// A deferred answer (or a stream's next piece) is awaited: nothing is queued to write.
    #[inline]
    pub fn awaiting(&self) -> bool {
        self.pending.as_ref().is_some_and(|p| p.queue.is_empty())
    }

    /// A deferred answer is awaited or waits to be written.
    #[inline]
    pub fn deferred(&self) -> bool {
        self.pending.is_some()
    }

    /// The sequence number of the deferred request, if any.
    pub fn awaited_seq(&self) -> Option<u32> {
        self.pending.as_ref().map(|p| p.seq)
    }

    /// A deferred answer (or a piece of a stream) has come, or the wait timed out: it is written
    /// at the next `resume`.
    pub fn deliver(&mut self, answer: Answer) {
        if let Some(p) = self.pending.as_mut() {
            if let Answer::Start { flow, .. } = &answer {
                p.flow = Some(flow.clone());
            }
            p.queue.push_back(answer);
        }
    }

    /// Part of a request body is still to arrive.
    #[inline]
    pub fn body_pending(&self) -> bool {
        !matches!(self.body, BodyLeft::None)
    }
}

/// The per-core bound on the work in flight: heap memory kept alive by queued responses
/// (generated heads and bodies, and bodies of cache entries, evicted ones included, referenced
/// until their write completes) and by request bodies being gathered, and the number of
/// deferred answers awaited. While it is spent no new request is started on this core:
/// requests wait in their connection's stash (its receive paused) and are answered, in arrival
/// order, as writes complete. What is already under way finishes, so the memory is at most the
/// bound plus what the requests already started add (one response or body each).
#[derive(Debug)]
pub struct Budget {
    pub held: usize,
    pub limit: usize,
    pub deferred: u32,
    pub max_deferred: u32,
}

impl Budget {
    #[inline]
    pub fn full(&self) -> bool {
        self.held >= self.limit || self.deferred >= self.max_deferred
    }

    pub fn release(&mut self, n: usize) {
        debug_assert!(n <= self.held);
        self.held = self.held.saturating_sub(n);
    }
}

/// The per-core pool of [`Active`]s, and the budget of what their output holds.
pub struct ActPool {
    // Boxes on purpose: an Active's OutBuf address is handed to the kernel (output stability).
    #[allow(clippy::vec_box)]
    free: Vec<Box<Active>>,
    /// Freed beyond the pool since the heap was last trimmed.
    pub freed_since_trim: usize,
    /// Pooled states whose output buffer kept more than `KEEP_CAPACITY`.
    big: usize,
    pub budget: Budget,
}

impl ActPool {
    /// A pool whose requests in flight may hold `limit` heap bytes and await `max_deferred`
    /// deferred answers.
    pub fn new(limit: usize, max_deferred: u32) -> ActPool {
        ActPool {
            free: Vec::new(),
            freed_since_trim: 0,
            big: 0,
            budget: Budget {
                held: 0,
                limit: limit.max(1),
                deferred: 0,
                max_deferred: max_deferred.max(1),
            },
        }
    }

    pub fn take(&mut self) -> Box<Active> {
        match self.free.pop() {
            Some(a) => {
                if a.out.data.capacity() > KEEP_CAPACITY {
                    self.big -= 1;
                }
                a
            }
            None => Box::new(Active::new()),
        }
    }

    /// Drop everything `out` has queued (its references to file bodies) and give the heap bytes
    /// it held back to the budget.
    pub fn clear_output(&mut self, out: &mut OutBuf) {
        let held = out.clear();
        self.budget.release(held);
    }

    pub fn give(&mut self, mut a: Box<Active>) {
        self.clear_output(&mut a.out);
        if let Some(p) = a.pending.take() {
            self.budget.deferred -= 1;
            if let Some(f) = p.flow {
                f.close(); // the producer learns the connection is gone
            }
        }
        a.ws.reset();
        let g = &mut a.gather;
        self.budget.release(std::mem::take(&mut g.reserved));
        g.on = false;
        g.head.clear();
        g.body.clear();
        g.head.shrink_to(KEEP_CAPACITY);
        g.body.shrink_to(KEEP_CAPACITY);
        if self.free.len() >= POOL {
            self.freed_since_trim += 1;
            return; // enough pooled for this core's usual concurrency: free it
        }
        let cap = a.out.data.capacity();
        if cap > KEEP_CAPACITY && cap <= BIG_CAPACITY && self.big < KEEP_BIG {
            self.big += 1;
        } else {
            a.out.data.shrink_to(KEEP_CAPACITY);
        }
        a.input.clear();
        a.input.shrink_to(KEEP_CAPACITY);
        a.body = BodyLeft::None;
        self.free.push(a);
    }
}

/// What the request path reads and writes besides the connection's own state.
pub struct Cx<'a> {
    pub limits: &'a Limits,
    pub date: &'a HttpDate,
    pub sv: Services<'a>,
    pub outcomes: &'a mut Outcomes,
    pub budget: &'a mut Budget,
    /// When this loop turn began (outcome records measure from it).
    pub turn: Instant,
    /// The connection being served.
    pub conn: ConnRef,
}

/// What feeding bytes changed, for the connection to act on.
#[derive(Copy, Clone, Default, Debug, PartialEq, Eq)]
pub struct Fed {
    /// At least one request was answered.
    pub answered: bool,
    /// The last response is queued (or the framing is lost): close after writing.
    pub last: bool,
    /// A request started arriving into an empty stash (its head timeout starts now).
    pub head_started: bool,
    /// Body bytes arrived and more are due (the body timeout restarts).
    pub body_progress: bool,
    /// Requests wait in the stash for the core's response budget (see [`Budget`]).
    pub waiting: bool,
    /// A handler deferred its answer (the handler timeout starts now).
    pub deferred: bool,
    /// `101 Switching Protocols` is queued for WebSocket route `id`: what follows is frames.
    pub upgrade: Option<crate::websocket::Upgrade>,
}

/// Bytes arrived. `writing`: a write is in flight, so nothing may be appended to the output
/// (output stability) and requests wait in the stash.
#[inline]
pub fn feed(act: &mut Active, cx: &mut Cx, mut data: &[u8], writing: bool) -> Fed {
    let mut fed = Fed::default();
    if writing || !act.input.is_empty() || act.deferred() {
        if act.input.is_empty() && !act.gather.on {
            // Body bytes are dropped now rather than stashed.
            match skip_body(&mut act.body, data) {
                Ok(k) => data = &data[k..],
                // Malformed body after its response went out: the framing is lost.
                Err(_) => {
                    fed.last = true;
                    return fed;
                }
            }
        }
        if !data.is_empty() {
            stash(act, data);
            if !writing {
                fed = resume(act, cx);
            }
        }
        return fed;
    }
    let used = process(act, cx, data, &mut fed);
    if used < data.len() && !fed.last {
        fed.head_started = true;
        stash(act, &data[used..]);
    }
    fed.body_progress = act.body_pending();
    fed
}

/// A write finished: answer the requests stashed behind it.
pub fn resume(act: &mut Active, cx: &mut Cx) -> Fed {
    let mut fed = Fed::default();
    let input = std::mem::take(&mut act.input);
    let used = process(act, cx, &input, &mut fed);
    act.input = input;
    act.input.drain(..used);
    fed.body_progress = act.body_pending();
    fed
}

/// Keep `data` in the connection's stash of unparsed input.
pub fn stash(act: &mut Active, data: &[u8]) {
    if act.input.capacity() == 0 {
        act.input.reserve(4096);
    }
    act.input.extend_from_slice(data);
}

/// Write a deferred answer that is ready, go on with what is left of a body at the start of
/// `data`, then parse and answer every complete request; returns the bytes consumed. Sets
/// `fed.last` when the connection must close after the responses queued (and then consumes
/// everything).
fn process(act: &mut Active, cx: &mut Cx, data: &[u8], fed: &mut Fed) -> usize {
    if act.pending.is_some() {
        if !write_deferred(act, cx, fed) {
            return 0; // requests behind a deferred one wait for it, in order
        }
        if fed.last {
            return data.len();
        }
    }
    // The rest of a body: gathered for its handler, or skipped (its request was answered
    // already; if it is malformed the framing is lost, and only the close is left).
    let mut pos = 0;
    if act.body_pending() {
        if act.gather.on {
            match gather(act, cx, data) {
                Ok(k) => pos = k,
                Err(e) => {
                    answer_error(act, cx, &e);
                    fed.last = true;
                    return data.len();
                }
            }
        } else {
            let Ok(k) = skip_body(&mut act.body, data) else {
                fed.last = true;
                return data.len();
            };
            pos = k;
        }
    }
    if act.gather.on && !act.body_pending() {
        answer_gathered(act, cx, fed);
    }
    // One field array for every request in `data` (filling it costs 2 KiB of stores): a parse
    // exposes only the fields it wrote, `req.headers`.
    let mut headers = [Header::EMPTY; MAX_HEADERS];
    while !fed.last
        && fed.upgrade.is_none()
        && act.pending.is_none()
        && !act.body_pending()
        && pos < data.len()
        && act.out.total() < OUT_HIGH
    {
        if cx.budget.full() {
            fed.waiting = true;
            break;
        }
        let req = match parse(&data[pos..], &mut headers, cx.limits) {
            Ok(Status::Partial) => break,
            Ok(Status::Complete(req)) => req,
            Err(e) => {
                answer_error(act, cx, &e);
                fed.last = true;
                break;
            }
        };
        let start = pos;
        pos += req.head_len;
        let routed = route::route(&req, &mut cx.sv);
        if routed.responder.body() == BodyUse::Gather {
            match req.body {
                Body::None => answer(act, cx, &req, &routed, b"", false, fed),
                Body::Length(n) if (data.len() - pos) as u64 >= n => {
                    // The whole body is here: the handler reads it in place.
                    let body = &data[pos..pos + n as usize];
                    pos += n as usize;
                    answer(act, cx, &req, &routed, body, false, fed);
                }
                _ => {
                    act.body = match req.body {
                        Body::Length(n) => {
                            reserve(act, cx, n as usize);
                            BodyLeft::Length(n)
                        }
                        _ => BodyLeft::Chunked(ChunkedDecoder::new(cx.limits)),
                    };
                    act.gather.on = true;
                    match gather(act, cx, &data[pos..]) {
                        Ok(k) => pos += k,
                        Err(e) => {
                            answer_error(act, cx, &e);
                            fed.last = true;
                            break;
                        }
                    }
                    if act.body_pending() {
                        // More is to come: keep the head aside (the receive buffer goes back to
                        // the pool), and ask for the body if the client waits to be asked.
                        act.gather
                            .head
                            .extend_from_slice(&data[start..start + req.head_len]);
                        if req.expect_continue && req.version == Version::Http11 {
                            continue_100(act, cx);
                        }
                    } else {
                        // A chunked body complete in this buffer: its head is still here.
                        let body = std::mem::take(&mut act.gather.body);
                        answer(act, cx, &req, &routed, &body, false, fed);
                        act.gather.body = body;
                        end_gather(act, cx);
                    }
                }
            }
            continue;
        }
        // The client waits for 100 Continue before sending the body; we answer without reading
        // it, so the body may or may not follow: the framing is ambiguous and the connection
        // must end after the response.
        let must_close = req.expect_continue && req.body != Body::None;
        act.body = match req.body {
            Body::None => BodyLeft::None,
            _ if must_close => BodyLeft::None,
            Body::Length(n) => BodyLeft::Length(n),
            Body::Chunked => BodyLeft::Chunked(ChunkedDecoder::new(cx.limits)),
        };
        // This responder discards the body: skip what has arrived, answer at once.
        if act.body_pending() {
            match skip_body(&mut act.body, &data[pos..]) {
                Ok(k) => pos += k,
                Err(e) => {
                    answer_error(act, cx, &e);
                    fed.last = true;
                    break;
                }
            }
        }
        answer(act, cx, &req, &routed, b"", must_close, fed);
    }
    if fed.last {
        data.len()
    } else {
        pos
    }
}

/// Take `n` bytes of the core's budget for a body being gathered.
fn reserve(act: &mut Active, cx: &mut Cx, n: usize) {
    act.gather.reserved += n;
    cx.budget.held += n;
}

/// Gather body bytes at the start of `data` into the pooled body buffer; returns how many
/// belonged to the body. A chunked body's growth is charged to the budget as it comes.
fn gather(act: &mut Active, cx: &mut Cx, data: &[u8]) -> Result<usize, Error> {
    let g = &mut act.gather;
    let used = match &mut act.body {
        BodyLeft::None => return Ok(0),
        BodyLeft::Length(n) => {
            let k = (*n).min(data.len() as u64) as usize;
            if g.body.capacity() == 0 {
                g.body.reserve(g.reserved.min(64 * 1024));
            }
            g.body.extend_from_slice(&data[..k]);
            *n -= k as u64;
            if *n == 0 {
                act.body = BodyLeft::None;
            }
            k
        }
        BodyLeft::Chunked(d) => {
            let body = &mut g.body;
            match d.feed(data, |piece| body.extend_from_slice(piece)) {
                Ok(p) => {
                    if p.done {
                        act.body = BodyLeft::None;
                    }
                    p.consumed
                }
                Err(e) => {
                    act.body = BodyLeft::None;
                    return Err(e);
                }
            }
        }
    };
    if g.body.len() > g.reserved {
        let more = g.body.len() - g.reserved;
        reserve(act, cx, more);
    }
    Ok(used)
}

/// `100 Continue` (RFC 9110 §10.1.1): the client may send the body now.
fn continue_100(act: &mut Active, cx: &mut Cx) {
    let held = act.out.held();
    act.out
        .data
        .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
    cx.budget.held += act.out.held() - held;
}

/// The body of the request whose head was kept aside is complete: answer it.
fn answer_gathered(act: &mut Active, cx: &mut Cx, fed: &mut Fed) {
    let head = std::mem::take(&mut act.gather.head);
    let body = std::mem::take(&mut act.gather.body);
    let mut headers = [Header::EMPTY; MAX_HEADERS];
    match parse(&head, &mut headers, cx.limits) {
        Ok(Status::Complete(req)) => {
            let routed = route::route(&req, &mut cx.sv);
            answer(act, cx, &req, &routed, &body, false, fed);
        }
        // It parsed before; it is the same bytes.
        _ => unreachable!("a kept head parses again"),
    }
    act.gather.head = head;
    act.gather.body = body;
    end_gather(act, cx);
}

fn end_gather(act: &mut Active, cx: &mut Cx) {
    let g = &mut act.gather;
    g.on = false;
    g.head.clear();
    g.body.clear();
    cx.budget.release(std::mem::take(&mut g.reserved));
}

/// Answer one request and record its outcome (unless its handler deferred the answer).
#[allow(clippy::too_many_arguments)]
fn answer(
    act: &mut Active,
    cx: &mut Cx,
    req: &Request<'_, '_>,
    routed: &Routed,
    body: &[u8],
    must_close: bool,
    fed: &mut Fed,
) {
    let close = must_close || !req.keep_alive;
    let (before, held) = (act.out.total(), act.out.held());
    let res = Response::to(&mut act.out, cx.date, req, close);
    let conn = res.connection();
    let done = route::answer(routed, req, res, &mut cx.sv, body, cx.conn);
    cx.budget.held += act.out.held() - held;
    fed.answered = true;
    if let Some(seq) = done.deferred {
        cx.budget.deferred += 1;
        cx.outcomes.deferred += 1;
        fed.deferred = true;
        act.pending = Some(Pending {
            seq,
            conn,
            head_only: req.method == ringhttpd_http::Method::Head,
            close,
            queue: VecDeque::new(),
            started: None,
            chunked: false,
            http11: req.version == Version::Http11,
            flow: None,
            bytes: 0,
        });
        return;
    }
    if done.panicked {
        cx.outcomes.panics += 1;
    }
    fed.upgrade = fed.upgrade.or(done.upgrade);
    let close = close || done.panicked || done.upgrade.is_some_and(|u| u.closing);
    record(act, cx, before, done.status, routed.responder.id(), close);
    fed.last |= close;
}

/// Write what has come for the deferred request: a whole answer (or its 500/504), or the
/// pieces of a stream while the output has room. Returns true when the request is finished
/// (its outcome recorded), false while more is awaited.
fn write_deferred(act: &mut Active, cx: &mut Cx, fed: &mut Fed) -> bool {
    let p = act.pending.as_mut().expect("checked by the caller");
    let held = act.out.held();
    let before = act.out.total();
    let mut finished = None;
    while finished.is_none() {
        let Some(answer) = p.queue.pop_front() else {
            break;
        };
        let mut res = Response::resumed(&mut act.out, cx.date, p.conn, p.head_only);
        match (answer, p.started) {
            (
                Answer::Ready {
                    status,
                    headers,
                    body,
                },
                None,
            ) => {
                res.start(status);
                res.header(&[&headers]);
                if status == 204 || status == 304 {
                    res.finish_without_length();
                } else {
                    res.finish(body.len() as u64);
                    res.body(&[&body]);
                }
                finished = Some(status);
            }
            (Answer::Dropped, None) => {
                cx.outcomes.deferred_dropped += 1;
                finished = Some(res.status(500, &[], b"the handler dropped its deferred response"));
            }
            (Answer::Expired, None) => {
                cx.outcomes.deferred_expired += 1;
                finished = Some(res.status(504, &[], b"the handler did not answer in time"));
            }
            (Answer::Bad(why), None) => finished = Some(res.status(500, &[], why.as_bytes())),
            (
                Answer::Start {
                    status, headers, ..
                },
                None,
            ) => {
                // HTTP/1.1: chunked. HTTP/1.0: the body runs to the close.
                p.chunked = p.http11;
                if !p.chunked {
                    p.close = true;
                    res = Response::resumed(res.out, cx.date, Connection::Close, p.head_only);
                }
                res.start(status);
                res.header(&[&headers]);
                if p.chunked {
                    res.header(&[b"Transfer-Encoding: chunked\r\n"]);
                }
                res.finish_without_length();
                p.started = Some(status);
            }
            (Answer::Chunk(piece), Some(_)) => {
                if res.out.total() >= OUT_HIGH {
                    // The client has not taken what is queued: the piece waits (and counts
                    // against the producer's bound) until the write completes.
                    p.queue.push_front(Answer::Chunk(piece));
                    break;
                }
                if let Some(f) = &p.flow {
                    f.taken(piece.len());
                }
                if !p.head_only {
                    if p.chunked {
                        write_hex(&mut res.out.data, piece.len());
                        res.out.data.extend_from_slice(b"\r\n");
                        res.out.data.extend_from_slice(&piece);
                        res.out.data.extend_from_slice(b"\r\n");
                    } else {
                        res.out.data.extend_from_slice(&piece);
                    }
                }
            }
            (Answer::End, Some(status)) => {
                if p.chunked && !p.head_only {
                    res.out.data.extend_from_slice(b"0\r\n\r\n");
                }
                finished = Some(status);
            }
            // Mid-stream: the producer gave up, or stopped sending for a handler timeout. The
            // body cannot be completed: close without the final chunk.
            (Answer::Abort | Answer::Dropped | Answer::Expired, Some(status)) => {
                p.close = true;
                finished = Some(status);
            }
            // A stream's pieces before its head, or a second answer: a producer bug that the
            // types make hard to reach; the response cannot be trusted, so it ends here.
            (_, started) => {
                p.close = true;
                finished = Some(started.unwrap_or(500));
            }
        }
    }
    cx.budget.held += act.out.held() - held;
    let p = act.pending.as_mut().expect("still there");
    p.bytes += (act.out.total() - before) as u64;
    let Some(status) = finished else {
        return false;
    };
    let p = act.pending.take().expect("still there");
    cx.budget.deferred -= 1;
    if let Some(f) = &p.flow {
        f.close();
    }
    cx.outcomes.record(&Outcome {
        status,
        bytes: p.bytes,
        started: cx.turn,
        route: RouteId::Handler,
        site: 0,
        close: p.close,
    });
    fed.answered = true;
    fed.last |= p.close;
    true
}

/// A chunk size in hex (RFC 9112 §7.1).
fn write_hex(out: &mut Vec<u8>, n: usize) {
    let mut digits = [0u8; 16];
    let mut k = digits.len();
    let mut v = n;
    loop {
        k -= 1;
        digits[k] = b"0123456789abcdef"[v & 15];
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[k..]);
}

/// Answer a request that could not be parsed (the connection closes after it).
fn answer_error(act: &mut Active, cx: &mut Cx, e: &Error) {
    let (before, held) = (act.out.total(), act.out.held());
    let status =
        Response::closing(&mut act.out, cx.date).status(e.status(), &[], e.detail().as_bytes());
    cx.budget.held += act.out.held() - held;
    record(act, cx, before, status, RouteId::Error, true);
}

/// The one place outcome records are produced.
fn record(act: &Active, cx: &mut Cx, before: usize, status: u16, route: RouteId, close: bool) {
    cx.outcomes.record(&Outcome {
        status,
        bytes: (act.out.total() - before) as u64,
        started: cx.turn,
        route,
        site: 0,
        close,
    });
}

/// Discard request-body bytes at the start of `data`; returns how many belonged to the body.
fn skip_body(body: &mut BodyLeft, data: &[u8]) -> Result<usize, Error> {
    let (used, done) = match body {
        BodyLeft::None => return Ok(0),
        BodyLeft::Length(n) => {
            let k = (*n).min(data.len() as u64);
            *n -= k;
            (k as usize, *n == 0)
        }
        BodyLeft::Chunked(d) => match d.feed(data, |_| {}) {
            Ok(p) => (p.consumed, p.done),
            Err(e) => {
                *body = BodyLeft::None;
                return Err(e);
            }
        },
    };
    if done {
        *body = BodyLeft::None;
    }
    Ok(used)
}
