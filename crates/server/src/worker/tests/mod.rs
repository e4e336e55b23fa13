//! Unit tests of the connection state machine on the scripted driver: every completion the
//! kernel could deliver is queued by hand, so races (EOF during a write, a cancel losing to
//! data, a short write, a timeout while a write is in flight) are a few lines each.

mod deferred;
mod timers;
use std::io::Read;
use std::os::fd::IntoRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use ringhttpd_http::Limits;
use ringhttpd_ring::script::{Op, ScriptDriver};
use ringhttpd_ring::{Completion, Errno, OpKind, Token};

use super::{Seat, Shared, Worker, ACCEPT_SLOT, TICK_SLOT, WAKE_SLOT};
use crate::conn::{Phase, Recv, Timeouts};
use crate::files::FileCache;
use crate::router::RouterBuilder;

const HELLO: &[u8] = b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n";
const TIMEOUTS: Timeouts = Timeouts {
    keepalive: Duration::from_secs(75),
    header: Duration::from_secs(60),
    body: Duration::from_secs(50),
    write: Duration::from_secs(40),
    linger: Duration::from_secs(5),
    handler: Duration::from_secs(30),
};

struct H {
    w: Worker<ScriptDriver>,
    events: Vec<Completion>,
}

/// One accepted connection: its slot, its receive token, and the peer's end of the socket.
struct C {
    key: usize,
    recv: Token,
    peer: UnixStream,
}

/// The binary's routes: `/hello` and the bundled site.
fn site() -> RouterBuilder {
    let mut b = RouterBuilder::default();
    b.handle(
        ringhttpd_http::Method::Get,
        "/hello",
        Box::new(|_, res| res.bytes("text/plain", b"Hello, World!")),
    );
    b.files(
        "/",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../www").into(),
    );
    b
}

fn harness() -> H {
    harness_with(site())
}

fn harness_with(routes: RouterBuilder) -> H {
    let router = routes.build().unwrap();
    let files = router
        .mounts
        .iter()
        .map(|m| FileCache::new(&m.dir, 1 << 20).unwrap())
        .collect();
    let seat = Seat {
        listeners: vec![crate::sys::eventfd().unwrap()], // never used by the scripted driver
        wake: crate::sys::eventfd().unwrap(),
        cap: 16,
        mail: Arc::new(crate::api::Mailbox::new(crate::sys::eventfd().unwrap())),
        index: 0,
    };
    let shared = Arc::new(Shared {
        limits: Limits::default(),
        timeouts: TIMEOUTS,
        router,
        locals: Vec::new(),
        budget: 32 << 20,
        max_deferred: 4,
        ws_max_queue: 1 << 20,
    });
    let mut h = H {
        w: Worker::new(ScriptDriver::new(16, 4096), seat, shared, files),
        events: Vec::new(),
    };
    h.w.start();
    let ops = h.w.d.take_ops();
    assert!(matches!(ops[0], Op::Accept { .. }), "{ops:?}");
    assert!(ops.iter().any(|o| o.token().slot == TICK_SLOT));
    h
}

impl H {
    /// Operations submitted since the last call, less the tick re-arming itself.
    fn ops(&mut self) -> Vec<Op> {
        let mut ops = self.w.d.take_ops();
        ops.retain(|o| !matches!(o, Op::Timeout { token, .. } if token.slot == TICK_SLOT));
        ops
    }

    /// Run one loop turn over what is queued; returns whether the worker goes on.
    fn turn(&mut self) -> bool {
        self.w.turn(&mut self.events).unwrap()
    }

    fn accept(&mut self) -> C {
        let (ours, peer) = UnixStream::pair().unwrap();
        let accept = Token::new(ACCEPT_SLOT, 0, OpKind::Accept);
        let fd = ours.into_raw_fd() as u32;
        self.w
            .d
            .complete(Completion::progress(accept, Ok(fd), None));
        self.turn();
        let ops = self.ops();
        let [Op::Recv { token, .. }] = ops[..] else {
            panic!("accept should arm one receive: {ops:?}")
        };
        C {
            key: token.slot as usize,
            recv: token,
            peer,
        }
    }

    fn send(&mut self, c: &C, data: &[u8]) {
        self.w.d.recv(c.recv, data, true);
        self.turn();
    }

    fn complete(&mut self, token: Token, result: Result<u32, Errno>) {
        self.w.d.complete(Completion::last(token, result));
        self.turn();
    }

    fn phase(&self, c: &C) -> Phase {
        self.w.conns[c.key].state.phase()
    }

    /// Move the clock `secs` forward and deliver the tick.
    fn tick_after(&mut self, secs: u32) {
        self.w.ctx.clock.skew += secs;
        self.complete(Token::new(TICK_SLOT, 0, OpKind::Timeout), Ok(0));
    }

    fn gone(&self, c: &C) -> bool {
        !self.w.conns.contains(c.key)
    }
}

/// The single write among `ops`: (token, bytes).
fn write_of(ops: &[Op]) -> (Token, Vec<u8>) {
    let writes: Vec<_> = ops
        .iter()
        .filter_map(|o| match o {
            Op::Write { token, data, .. } => Some((*token, data.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(writes.len(), 1, "{ops:?}");
    writes.into_iter().next().unwrap()
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

fn has(ops: &[Op], f: impl Fn(&Op) -> bool) -> bool {
    ops.iter().any(f)
}

fn is_close(o: &Op) -> bool {
    matches!(o, Op::Close { .. })
}

fn cancels(o: &Op, kind: OpKind) -> bool {
    matches!(o, Op::Cancel { target, .. } if target.kind == kind)
}

/// Answer the close and check the slot is freed with nothing left in flight.
fn finish_close(h: &mut H, c: &C, ops: &[Op]) {
    let Some(Op::Close { token, .. }) = ops.iter().find(|o| is_close(o)) else {
        panic!("expected a close: {ops:?}")
    };
    assert_eq!(h.phase(c), Phase::Closed);
    h.complete(*token, Ok(0));
    assert!(h.gone(c), "slot freed after the close completes");
    assert_eq!(h.w.d.buffers_in_use(), 0, "every receive buffer released");
}

#[test]
fn request_answered_connection_kept_and_idle_state_pooled() {
    let mut h = harness();
    let c = h.accept();
    assert_eq!(h.phase(&c), Phase::New);
    assert_eq!(
        h.w.conns[c.key].deadline, 61,
        "a new connection has the header timeout"
    );
    h.send(&c, HELLO);
    let (wt, data) = write_of(&h.ops());
    assert!(data.starts_with(b"HTTP/1.1 200 OK\r\n") && data.ends_with(b"Hello, World!"));
    assert!(h.w.conns[c.key].state.writing());
    assert_eq!(h.w.conns[c.key].ops, 2, "receive and write in flight");
    h.complete(wt, Ok(data.len() as u32));
    let conn = &h.w.conns[c.key];
    assert_eq!(conn.state.phase(), Phase::Open);
    assert_eq!(conn.state.recv(), Recv::Armed);
    assert!(
        conn.act.is_none(),
        "an idle connection holds no per-request state"
    );
    assert_eq!(conn.deadline, 76, "keep-alive timeout once idle");
    assert_eq!(h.w.ctx.outcomes.by_class[1], 1);
    assert!(h.ops().is_empty(), "the multishot receive stays armed");
    assert_eq!(h.w.d.buffers_in_use(), 0);
}

#[test]
fn short_write_resumes_where_it_stopped() {
    let mut h = harness();
    let c = h.accept();
    h.send(&c, HELLO);
    let (wt, data) = write_of(&h.ops());
    h.complete(wt, Ok(10));
    let (wt2, rest) = write_of(&h.ops());
    assert_eq!(rest, data[10..]);
    h.complete(wt2, Ok(rest.len() as u32));
    assert!(h.ops().is_empty());
    assert!(h.w.conns[c.key].act.is_none());
}

#[test]
fn pipelining_with_backpressure_answers_every_request_in_order() {
    let mut h = harness();
    let c = h.accept();
    h.send(&c, HELLO);
    let (mut wt, first) = write_of(&h.ops());
    let mut written = first.clone();
    // 128 requests per 4 KiB receive; 9 receives stash 36 KiB behind the write in flight.
    let batch: Vec<u8> = HELLO.repeat(128);
    let mut sent = 1;
    for _ in 0..9 {
        h.send(&c, &batch);
        sent += 128;
    }
    let ops = h.ops();
    assert!(has(&ops, |o| cancels(o, OpKind::Recv)), "paused: {ops:?}");
    assert_eq!(h.w.conns[c.key].state.recv(), Recv::Pausing);
    // The cancel ends the receive; the connection stays paused.
    h.complete(c.recv, Err(Errno::ECANCELED));
    h.complete(Token::new(c.key as u32, 0, OpKind::Cancel), Ok(0));
    assert_eq!(h.w.conns[c.key].state.recv(), Recv::Paused);
    // Drain: each completed write lets the stashed requests go on; receiving resumes once the
    // stash is below the mark.
    let mut len = first.len();
    let mut resumed = false;
    for _ in 0..100 {
        h.complete(wt, Ok(len as u32));
        let ops = h.ops();
        resumed |= has(&ops, |o| matches!(o, Op::Recv { .. }));
        if !has(&ops, |o| matches!(o, Op::Write { .. })) {
            break;
        }
        let (t, data) = write_of(&ops);
        assert!(data.len() <= 80 * 1024, "output per write is bounded");
        written.extend_from_slice(&data);
        (wt, len) = (t, data.len());
    }
    assert!(resumed, "receiving resumed after the backlog drained");
    assert_eq!(count(&written, b"HTTP/1.1 200 OK\r\n"), sent);
    assert_eq!(count(&written, b"Hello, World!"), sent);
    assert_eq!(h.w.conns[c.key].state.recv(), Recv::Armed);
    assert!(h.w.conns[c.key].act.is_none());
}

#[test]
fn peer_eof_when_idle_closes() {
    let mut h = harness();
    let c = h.accept();
    h.complete(c.recv, Ok(0));
    let ops = h.ops();
    finish_close(&mut h, &c, &ops);
}

#[test]
fn peer_eof_during_a_write_closes_after_it() {
    let mut h = harness();
    let c = h.accept();
    h.send(&c, HELLO);
    let (wt, data) = write_of(&h.ops());
    h.complete(c.recv, Ok(0));
    assert!(
        h.ops().is_empty(),
        "the response in flight is finished first"
    );
    assert!(h.w.conns[c.key].state.peer_eof());
    h.complete(wt, Ok(data.len() as u32));
    let ops = h.ops();
    finish_close(&mut h, &c, &ops);
}

#[test]
fn peer_eof_with_a_partial_head_closes() {
    let mut h = harness();
    let c = h.accept();
    h.send(&c, b"GET /hello HT");
    assert_eq!(h.w.conns[c.key].input_len(), 13);
    h.complete(c.recv, Ok(0));
    let ops = h.ops();
    finish_close(&mut h, &c, &ops);
}

#[test]
fn last_response_lingers_until_eof() {
    let mut h = harness();
    let mut c = h.accept();
    h.send(
        &c,
        b"GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    let (wt, data) = write_of(&h.ops());
    assert!(count(&data, b"Connection: close\r\n") == 1);
    // Bytes after the last request are discarded, not answered.
    h.send(&c, HELLO);
    assert!(h.ops().is_empty());
    h.complete(wt, Ok(data.len() as u32));
    assert_eq!(h.phase(&c), Phase::Lingering);
    assert_eq!(h.w.conns[c.key].deadline, 6, "linger timeout");
    // Our side is shut: the peer sees EOF.
    let mut rest = Vec::new();
    c.peer
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    c.peer.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    h.send(&c, b"late bytes are drained");
    assert!(h.ops().is_empty());
    h.complete(c.recv, Ok(0));
    let ops = h.ops();
    finish_close(&mut h, &c, &ops);
}

#[test]
fn bad_request_is_answered_then_lingers() {
    let mut h = harness();
    let c = h.accept();
    h.send(&c, b"GET /hello HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n");
    let (wt, data) = write_of(&h.ops());
    assert!(data.starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
    assert!(h.w.conns[c.key].state.is_last());
    assert_eq!(
        h.w.ctx.outcomes.by_route[2], 1,
        "recorded as an error outcome"
    );
    h.complete(wt, Ok(data.len() as u32));
    assert_eq!(h.phase(&c), Phase::Lingering);
}

#[test]
fn cancel_losing_to_data_keeps_the_data_and_the_count() {
    let mut h = harness();
    let c = h.accept();
    h.send(&c, HELLO);
    let (wt, data) = write_of(&h.ops());
    let batch: Vec<u8> = HELLO.repeat(128);
    for _ in 0..9 {
        h.send(&c, &batch);
    }
    assert!(has(&h.ops(), |o| cancels(o, OpKind::Recv)));
    // The receive completes with data (final) before the cancel reaches it; the cancel then
    // finds nothing (ENOENT).
    let before = h.w.conns[c.key].input_len();
    h.w.d.recv(c.recv, HELLO, false);
    h.turn();
    assert_eq!(h.w.conns[c.key].input_len(), before + HELLO.len());
    assert_eq!(h.w.conns[c.key].state.recv(), Recv::Paused);
    h.complete(
        Token::new(c.key as u32, 0, OpKind::Cancel),
        Err(Errno(libc::ENOENT)),
    );
    assert_eq!(h.w.conns[c.key].ops, 1, "only the write is in flight");
    h.complete(wt, Ok(data.len() as u32));
    assert!(has(&h.ops(), |o| matches!(o, Op::Write { .. })));
}

#[test]
fn stop_during_a_write_finishes_it_then_closes() {
    let mut h = harness();
    let c = h.accept();
    let idle = h.accept();
    h.send(&c, HELLO);
    let (wt, data) = write_of(&h.ops());
    h.complete(Token::new(WAKE_SLOT, 0, OpKind::Poll), Ok(1));
    let ops = h.ops();
    assert!(has(&ops, |o| cancels(o, OpKind::Accept)), "stops accepting");
    assert!(has(
        &ops,
        |o| matches!(o, Op::Cancel { target, .. } if *target == idle.recv)
    ));
    assert!(
        h.w.conns[c.key].state.is_last(),
        "the busy one finishes first"
    );
    h.complete(idle.recv, Err(Errno::ECANCELED));
    h.complete(Token::new(idle.key as u32, 0, OpKind::Cancel), Ok(0));
    let ops = h.ops();
    finish_close(&mut h, &idle, &ops);
    // Accepts after the stop are refused.
    h.complete(wt, Ok(data.len() as u32));
    assert_eq!(h.phase(&c), Phase::Lingering);
    h.complete(c.recv, Ok(0));
    let ops = h.ops();
    let Some(Op::Close { token, .. }) = ops.iter().find(|o| is_close(o)) else {
        panic!("{ops:?}")
    };
    h.w.d.complete(Completion::last(*token, Ok(0)));
    assert!(!h.turn(), "the worker ends once its connections are gone");
}

#[test]
fn stale_completion_is_counted_and_dropped() {
    let mut h = harness();
    let c = h.accept();
    h.complete(c.recv, Ok(0));
    let ops = h.ops();
    finish_close(&mut h, &c, &ops);
    // A late receive under the old generation: its buffer goes back, nothing is dispatched.
    h.w.d.recv(c.recv, b"late", true);
    h.turn();
    assert_eq!(h.w.stats.stale, 1);
    assert_eq!(h.w.d.buffers_in_use(), 0);
    // The slot is reused under a new generation.
    let c2 = h.accept();
    assert_eq!(c2.key, c.key);
    assert_ne!(c2.recv.generation, c.recv.generation);
}

#[test]
fn pool_exhaustion_rearms_the_receive_after_the_batch() {
    let mut h = harness();
    let c = h.accept();
    h.complete(c.recv, Err(Errno::ENOBUFS));
    let ops = h.ops();
    assert!(
        matches!(ops[..], [Op::Recv { token, .. }] if token == c.recv),
        "{ops:?}"
    );
}

#[test]
fn connection_limit_refuses_extra_accepts() {
    let mut h = harness();
    let conns: Vec<C> = (0..16).map(|_| h.accept()).collect();
    let (ours, mut peer) = UnixStream::pair().unwrap();
    let accept = Token::new(ACCEPT_SLOT, 0, OpKind::Accept);
    h.w.d.complete(Completion::progress(
        accept,
        Ok(ours.into_raw_fd() as u32),
        None,
    ));
    h.turn();
    assert!(h.ops().is_empty());
    assert_eq!(h.w.stats.rejected, 1);
    let mut buf = [0u8; 1];
    assert_eq!(
        peer.read(&mut buf).unwrap(),
        0,
        "the refused socket is closed"
    );
    assert_eq!(conns.len(), h.w.conns.len());
}

#[test]
fn peer_eof_racing_a_pause_answers_everything_then_closes() {
    let mut h = harness();
    let c = h.accept();
    h.send(&c, HELLO);
    let (mut wt, first) = write_of(&h.ops());
    let mut written = first.clone();
    for _ in 0..9 {
        h.send(&c, &HELLO.repeat(128));
    }
    assert!(has(&h.ops(), |o| cancels(o, OpKind::Recv)));
    // The FIN arrives before the cancel: final, and the cancel finds nothing.
    h.complete(c.recv, Ok(0));
    assert!(h.w.conns[c.key].state.peer_eof());
    h.complete(
        Token::new(c.key as u32, 0, OpKind::Cancel),
        Err(Errno(libc::ENOENT)),
    );
    let mut len = first.len();
    let ops = loop {
        h.complete(wt, Ok(len as u32));
        let ops = h.ops();
        if !has(&ops, |o| matches!(o, Op::Write { .. })) {
            break ops;
        }
        let (t, data) = write_of(&ops);
        written.extend_from_slice(&data);
        (wt, len) = (t, data.len());
    };
    assert!(
        !has(&ops, |o| matches!(o, Op::Recv { .. })),
        "never re-armed after EOF"
    );
    assert_eq!(count(&written, b"Hello, World!"), 1 + 9 * 128);
    finish_close(&mut h, &c, &ops);
}
