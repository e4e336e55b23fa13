//! HTTP/1 request input: framing, the stash of unparsed bytes, body skipping, and answering.
//!
//! Owns: [`Active`] (per-request state: output queue, stashed input, the rest of the current
//! body), its per-core pool ([`ActPool`]), and [`feed`] / [`resume`], the two entry points from
//! the connection: bytes arrived, or a write finished and stashed requests can go on. Both end
//! in [`process`], the one loop that skips what is left of a body, then parses and answers
//! every complete request. Does not own: the socket, timeouts or the connection's lifecycle
//! (the caller acts on the returned [`Fed`]), nor what answers a request (`route`).
//!
//! Bytes are parsed in place in the driver's buffer when nothing is pending; only a partial
//! request, or requests that arrive while a write is in flight, are copied into the stash.

use std::time::Instant;

use ringhttpd_http::{parse, Body, ChunkedDecoder, Error, Header, HttpDate, Limits, Status};

use crate::out::OutBuf;
use crate::outcome::{Outcome, Outcomes, RouteId};
use crate::respond::Response;
use crate::route::{route, BodyUse, Services};

/// Header fields per request (431 beyond).
const MAX_HEADERS: usize = 64;
/// Stop parsing pipelined requests once this much output is queued; the rest waits in the
/// stash until the write completes.
const OUT_HIGH: usize = 64 * 1024;
/// Per-request states kept pooled per core; more in use at once are allocated and then freed.
const POOL: usize = 256;
/// Buffers kept in the pool are trimmed back to this capacity.
const KEEP_CAPACITY: usize = 64 * 1024;

/// The rest of the current request's body.
enum BodyLeft {
    None,
    Length(u64),
    Chunked(Box<ChunkedDecoder>),
}

/// Per-request state, held only by a connection in the middle of a request (input or body still
/// arriving, or output queued) and returned to the pool as soon as it is idle again: an idle
/// keep-alive connection owns no buffer at all.
pub struct Active {
    pub out: OutBuf,
    /// Unparsed input (partial request, or requests waiting behind a write). Usually empty.
    pub input: Vec<u8>,
    body: BodyLeft,
}

impl Active {
    fn new() -> Active {
        Active {
            out: OutBuf::new(),
            input: Vec::new(),
            body: BodyLeft::None,
        }
    }

    /// Nothing queued, stashed or still arriving.
    pub fn idle(&self) -> bool {
        self.out.pending() == 0 && self.input.is_empty() && !self.body_pending()
    }

    /// Part of a request body is still to arrive.
    #[inline]
    pub fn body_pending(&self) -> bool {
        !matches!(self.body, BodyLeft::None)
    }
}

/// The per-core bound on heap memory kept alive by queued responses (bodies of cache entries,
/// evicted ones included, referenced until their write completes). While it is spent no new
/// response is started on this core: requests wait in their connection's stash (its receive
/// paused) and are answered, in arrival order, as writes complete. A response may pass the
/// bound only when nothing else is held, so the memory is at most the bound plus one body.
#[derive(Debug)]
pub struct Budget {
    pub held: usize,
    pub limit: usize,
}

impl Budget {
    pub fn full(&self) -> bool {
        self.held >= self.limit
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
    pub budget: Budget,
}

impl ActPool {
    /// A pool whose queued responses may hold `limit` heap bytes.
    pub fn new(limit: usize) -> ActPool {
        ActPool {
            free: Vec::new(),
            freed_since_trim: 0,
            budget: Budget {
                held: 0,
                limit: limit.max(1),
            },
        }
    }

    pub fn take(&mut self) -> Box<Active> {
        self.free.pop().unwrap_or_else(|| Box::new(Active::new()))
    }

    /// Drop everything `out` has queued (its references to file bodies) and give the heap bytes
    /// it held back to the budget.
    pub fn clear_output(&mut self, out: &mut OutBuf) {
        let held = out.clear();
        self.budget.release(held);
    }

    pub fn give(&mut self, mut a: Box<Active>) {
        self.clear_output(&mut a.out);
        if self.free.len() >= POOL {
            self.freed_since_trim += 1;
            return; // enough pooled for this core's usual concurrency: free it
        }
        a.out.data.shrink_to(KEEP_CAPACITY);
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
}

/// Bytes arrived. `writing`: a write is in flight, so nothing may be appended to the output
/// (output stability) and requests wait in the stash.
#[inline]
pub fn feed(act: &mut Active, cx: &mut Cx, mut data: &[u8], writing: bool) -> Fed {
    let mut fed = Fed::default();
    if writing || !act.input.is_empty() {
        if act.input.is_empty() {
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

fn stash(act: &mut Active, data: &[u8]) {
    if act.input.capacity() == 0 {
        act.input.reserve(4096);
    }
    act.input.extend_from_slice(data);
}

/// Skip what is left of a body at the start of `data`, then parse and answer every complete
/// request; returns the bytes consumed. Sets `fed.last` when the connection must close after
/// the responses queued (and then consumes everything).
fn process(act: &mut Active, cx: &mut Cx, data: &[u8], fed: &mut Fed) -> usize {
    // The rest of a body whose request was answered already: if it is malformed the framing is
    // lost, and only the close is left.
    let mut pos = 0;
    if act.body_pending() {
        let Ok(k) = skip_body(&mut act.body, data) else {
            fed.last = true;
            return data.len();
        };
        pos = k;
    }
    // One field array for every request in `data` (filling it costs 2 KiB of stores): a parse
    // exposes only the fields it wrote, `req.headers`.
    let mut headers = [Header::EMPTY; MAX_HEADERS];
    while !fed.last && !act.body_pending() && pos < data.len() && act.out.total() < OUT_HIGH {
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
        pos += req.head_len;
        // The client waits for 100 Continue before sending the body; we answer without reading
        // it, so the body may or may not follow: the framing is ambiguous and the connection
        // must end after the response.
        let must_close = req.expect_continue && req.body != Body::None;
        act.body = match req.body {
            Body::None => BodyLeft::None,
            _ if must_close => BodyLeft::None,
            Body::Length(n) => BodyLeft::Length(n),
            Body::Chunked => BodyLeft::Chunked(Box::new(ChunkedDecoder::new(cx.limits))),
        };
        // The built-in responders discard bodies: skip what has arrived, answer at once.
        let responder = route(&req);
        debug_assert_eq!(responder.body(), BodyUse::Discard);
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
        fed.last |= answer(act, cx, &req, responder, must_close);
        fed.answered = true;
    }
    if fed.last {
        data.len()
    } else {
        pos
    }
}

/// Answer one request and record its outcome; returns whether the connection closes after it.
fn answer(
    act: &mut Active,
    cx: &mut Cx,
    req: &ringhttpd_http::Request<'_, '_>,
    responder: crate::route::Responder,
    must_close: bool,
) -> bool {
    let close = must_close || !req.keep_alive;
    let (before, held) = (act.out.total(), act.out.held());
    let mut res = Response::to(&mut act.out, cx.date, req, close);
    let status = responder.answer(req, &mut res, &mut cx.sv);
    cx.budget.held += act.out.held() - held;
    record(act, cx, before, status, responder.id(), close);
    close
}

/// Answer a request that could not be parsed (the connection closes after it).
fn answer_error(act: &mut Active, cx: &mut Cx, e: &Error) {
    let before = act.out.total();
    let status =
        Response::closing(&mut act.out, cx.date).status(e.status(), &[], e.detail().as_bytes());
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
