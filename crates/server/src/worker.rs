//! One worker thread: a driver, a listener, and a slab of connections advanced by completions.
//!
//! Owns: every connection accepted on this thread's listener, from accept to close, and their
//! buffers (taken from per-thread free lists). Nothing here is shared with other threads except
//! the immutable [`Shared`] settings and the stop flag.
//!
//! A connection's life: accept -> recv armed -> bytes parsed in place from the driver's buffer
//! -> responses appended to its output buffer -> one writev -> back to reading (keep-alive) or a
//! lingering close. Bytes that cannot be parsed yet (a partial request, or requests that arrive
//! while a write is in flight) are copied into the connection's input buffer.
//!
//! INVARIANT (slot lifetime): a slab slot is freed only when `ops == 0`, i.e. every operation
//! submitted under its token has delivered its final completion (cancel included). The
//! generation is bumped on free, so a completion that still names the old slot is dropped.
//!
//! INVARIANT (output stability): while `WRITING` is set, the connection's `OutBuf` (a `Box`, so
//! its iovec does not move) and the bytes of its `data` are neither moved nor modified.

use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringhttpd_http::{parse, Body, ChunkedDecoder, Header, HttpDate, Limits, Status};
use ringhttpd_ring::{Completion, Driver, Errno, OpKind, Token};
use slab::Slab;

use crate::files::FileCache;
use crate::out::OutBuf;
use crate::respond::{respond, respond_error, After};
use crate::wheel::{Entry, Wheel};

/// Settings every worker reads; immutable after start.
pub struct Shared {
    pub limits: Limits,
    pub keepalive_timeout: Duration,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub write_timeout: Duration,
}

/// Worker-level operations use slots above any connection's.
const ACCEPT_SLOT: u32 = u32::MAX;
const TICK_SLOT: u32 = u32::MAX - 1;
const BACKOFF_SLOT: u32 = u32::MAX - 2;
const WAKE_SLOT: u32 = u32::MAX - 3;
const NOTIFY_SLOT: u32 = u32::MAX - 4;

/// Header fields per request (431 beyond).
const MAX_HEADERS: usize = 64;
/// Stop parsing pipelined requests once this much output is queued; the rest waits in the input
/// buffer until the write completes.
const OUT_HIGH: usize = 64 * 1024;
/// Stop receiving (cancel the recv) once this much input is stashed behind a write in flight.
const IN_HIGH: usize = 32 * 1024;
/// A peer that keeps sending past this while we hold its input is cut off.
const IN_HARD: usize = 1 << 20;
/// Per-request states kept pooled per core; more in use at once are allocated and then freed.
const ACT_POOL: usize = 256;
/// Freed per-request states after which the next tick returns free heap memory to the system.
const TRIM_AFTER: usize = 256;
/// Buffers kept on the free lists are trimmed back to this capacity.
const KEEP_CAPACITY: usize = 64 * 1024;
/// Time for a closing peer to finish sending.
const LINGER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long in-flight requests may take to finish after a stop request.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// Wait before re-arming accept after EMFILE/ENFILE.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

mod flag {
    pub const RECV_ARMED: u16 = 1 << 0;
    pub const WRITING: u16 = 1 << 1;
    /// Close requested: cancels issued, `close` follows once nothing else is in flight.
    pub const CLOSING: u16 = 1 << 2;
    pub const CLOSE_SENT: u16 = 1 << 3;
    /// The response being written is the last one.
    pub const CLOSE_AFTER_WRITE: u16 = 1 << 4;
    /// The peer sent FIN.
    pub const PEER_EOF: u16 = 1 << 5;
    /// Receiving stopped on purpose (input backed up behind a write).
    pub const PAUSED: u16 = 1 << 6;
    /// Our side is shut down; input is read and discarded until EOF (lingering close).
    pub const LINGER: u16 = 1 << 7;
    /// A cancel for the armed recv is in flight.
    pub const RECV_CANCELLING: u16 = 1 << 8;
}

enum BodyLeft {
    None,
    Length(u64),
    Chunked(Box<ChunkedDecoder>),
}

/// Per-request state, held only by a connection in the middle of a request (input or body still
/// arriving, or output queued) and returned to the worker's free list as soon as it is idle
/// again: an idle keep-alive connection owns no buffer at all.
struct Active {
    out: OutBuf,
    /// Unparsed input (partial request, or requests waiting behind a write). Usually empty.
    input: Vec<u8>,
    /// The rest of the current request's body, discarded before the next request starts.
    body: BodyLeft,
}

impl Active {
    fn idle(&self) -> bool {
        self.out.pending() == 0 && self.input.is_empty() && matches!(self.body, BodyLeft::None)
    }
}

/// Per-connection state: 24 bytes. Budget (issue 5): an idle connection costs at most 128 bytes
/// of server memory, including its slab entry and generation counter.
struct Conn {
    fd: RawFd,
    flags: u16,
    /// Operations in flight under this slot's token.
    ops: u8,
    /// Coarse deadline in seconds since the worker started.
    deadline: u32,
    /// When this connection's live timer-wheel entry is due (0: none filed).
    filed: u32,
    act: Option<Box<Active>>,
}

const _: () = assert!(std::mem::size_of::<Conn>() <= 24);

impl Conn {
    fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }

    fn input_len(&self) -> usize {
        self.act.as_ref().map_or(0, |a| a.input.len())
    }

    fn pending(&self) -> usize {
        self.act.as_ref().map_or(0, |a| a.out.pending())
    }
}

/// Per-thread buffers and clocks, split from the driver so both can be borrowed at once.
struct Ctx {
    shared: Arc<Shared>,
    date: HttpDate,
    start: Instant,
    /// Seconds since `start`, refreshed once per loop iteration.
    now: u32,
    files: FileCache,
    // Boxes on purpose: an Active's OutBuf address is handed to the kernel (output stability).
    #[allow(clippy::vec_box)]
    act_free: Vec<Box<Active>>,
    /// Per-request states freed (beyond the pool) since the heap was last trimmed.
    freed_since_trim: usize,
    wheel: Wheel,
}

impl Ctx {
    fn refresh_clock(&mut self) {
        self.now = self.start.elapsed().as_secs() as u32;
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes only the timespec we pass.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
        self.date.update(ts.tv_sec.max(0) as u64);
    }

    fn deadline(&self, after: Duration) -> u32 {
        self.now.saturating_add(after.as_secs().max(1) as u32)
    }

    fn take_act(&mut self) -> Box<Active> {
        self.act_free.pop().unwrap_or_else(|| {
            Box::new(Active {
                out: OutBuf::new(),
                input: Vec::new(),
                body: BodyLeft::None,
            })
        })
    }

    fn give_act(&mut self, mut a: Box<Active>) {
        if self.act_free.len() >= ACT_POOL {
            self.freed_since_trim += 1;
            return; // enough pooled for this core's usual concurrency: free it
        }
        a.out.clear(); // drops references to file bodies
        a.out.data.shrink_to(KEEP_CAPACITY);
        a.input.clear();
        a.input.shrink_to(KEEP_CAPACITY);
        a.body = BodyLeft::None;
        self.act_free.push(a);
    }

    /// Set a connection's deadline, filing a wheel entry when it moves earlier than the one filed.
    fn set_deadline(&mut self, conn: &mut Conn, key: usize, generation: u16, after: Duration) {
        let at = self.deadline(after);
        conn.deadline = at;
        if conn.filed == 0 || at < conn.filed {
            conn.filed = at;
            self.wheel.file(Entry {
                key: key as u32,
                generation,
                at,
            });
        }
    }
}

/// Counters for the exit report.
#[derive(Default, Debug)]
pub struct Stats {
    pub accepted: u64,
    pub rejected: u64,
    pub requests: u64,
    pub timeouts: u64,
    pub stale: u64,
}

pub struct Worker<D: Driver> {
    d: D,
    listener: RawFd,
    wake: RawFd,
    conns: Slab<Conn>,
    gens: Vec<u16>,
    cap: usize,
    ctx: Ctx,
    starved: Vec<u32>,
    accept_armed: bool,
    accept_backoff: bool,
    stopping: Option<Instant>,
    /// Scratch for due wheel entries (kept to avoid allocating every tick).
    due: Vec<Entry>,
    pub stats: Stats,
}

impl<D: Driver> Worker<D> {
    /// `listener` is a bound, listening, non-blocking socket; `wake` an eventfd that is written
    /// once to ask this worker to stop. The worker owns and closes both.
    pub fn new(
        d: D,
        listener: RawFd,
        wake: RawFd,
        cap: usize,
        shared: Arc<Shared>,
        files: FileCache,
    ) -> Self {
        let now = Instant::now();
        let mut ctx = Ctx {
            shared,
            date: HttpDate::new(0),
            start: now,
            now: 0,
            files,
            act_free: Vec::new(),
            freed_since_trim: 0,
            wheel: Wheel::new(0),
        };
        ctx.refresh_clock();
        Worker {
            d,
            listener,
            wake,
            conns: Slab::with_capacity(cap),
            gens: vec![0; cap],
            cap,
            ctx,
            starved: Vec::new(),
            accept_armed: false,
            accept_backoff: false,
            stopping: None,
            due: Vec::new(),
            stats: Stats::default(),
        }
    }

    /// One line of counters for the exit report.
    pub fn report(&self) -> String {
        let s = &self.stats;
        format!(
            "accepted={} rejected={} requests={} timeouts={} stale={} wheel_entries={} {}",
            s.accepted,
            s.rejected,
            s.requests,
            s.timeouts,
            s.stale,
            self.ctx.wheel.len(),
            self.ctx.files.report()
        )
    }

    fn token(&self, key: usize, kind: OpKind) -> Token {
        Token::new(key as u32, self.gens[key], kind)
    }

    pub fn run(&mut self) -> io::Result<()> {
        self.arm_accept();
        self.d.timeout(
            Duration::from_secs(1),
            Token::new(TICK_SLOT, 0, OpKind::Timeout),
        );
        self.d
            .poll_readable(self.wake, Token::new(WAKE_SLOT, 0, OpKind::Poll));
        if let Some(fd) = self.ctx.files.notify_fd() {
            self.d
                .poll_readable(fd, Token::new(NOTIFY_SLOT, 0, OpKind::Poll));
        }
        let mut events: Vec<Completion> = Vec::with_capacity(1024);
        loop {
            self.d.wait(&mut events)?;
            self.ctx.refresh_clock();
            for c in events.drain(..) {
                self.dispatch(c);
            }
            // Receives that ran out of pool buffers are re-armed now that this batch's buffers
            // have been released.
            for key in std::mem::take(&mut self.starved) {
                let key = key as usize;
                if let Some(conn) = self.conns.get(key) {
                    if !conn.has(flag::CLOSING | flag::RECV_ARMED | flag::PAUSED | flag::PEER_EOF) {
                        self.arm_recv(key);
                    }
                }
            }
            if let Some(since) = self.stopping {
                if self.conns.is_empty() || since.elapsed() > STOP_GRACE {
                    break;
                }
            }
        }
        Ok(())
    }

    fn dispatch(&mut self, c: Completion) {
        let t = c.token;
        match t.slot {
            ACCEPT_SLOT => {
                if t.kind == OpKind::Accept {
                    self.on_accept(c)
                }
            }
            TICK_SLOT => self.on_tick(),
            BACKOFF_SLOT => {
                self.accept_backoff = false;
                self.arm_accept();
            }
            WAKE_SLOT => self.begin_stop(),
            NOTIFY_SLOT => {
                self.ctx.files.on_notify();
                if let Some(fd) = self.ctx.files.notify_fd() {
                    self.d
                        .poll_readable(fd, Token::new(NOTIFY_SLOT, 0, OpKind::Poll));
                }
            }
            slot => {
                let key = slot as usize;
                if key >= self.cap || self.gens[key] != t.generation || !self.conns.contains(key) {
                    // A completion for a slot already freed and reused (cannot happen while the
                    // slot-lifetime INVARIANT holds; counted, never dispatched).
                    self.stats.stale += 1;
                    if let Some(id) = c.buf {
                        self.d.release(id);
                    }
                    return;
                }
                match t.kind {
                    OpKind::Recv => self.on_recv(key, c),
                    OpKind::Write => self.on_write(key, c),
                    OpKind::Cancel => self.conns[key].ops -= 1,
                    OpKind::Close => self.conns[key].ops -= 1,
                    _ => {}
                }
                self.settle(key);
            }
        }
    }

    // ---- accepting ----

    fn arm_accept(&mut self) {
        if !self.accept_armed && !self.accept_backoff && self.stopping.is_none() {
            self.accept_armed = true;
            self.d
                .accept_multi(self.listener, Token::new(ACCEPT_SLOT, 0, OpKind::Accept));
        }
    }

    fn on_accept(&mut self, c: Completion) {
        if !c.more {
            self.accept_armed = false;
        }
        match c.result {
            Ok(fd) => {
                let fd = fd as RawFd;
                if self.stopping.is_some() || self.conns.len() >= self.cap {
                    // Over the limit: close at once, existing connections are not disturbed.
                    self.stats.rejected += 1;
                    // SAFETY: fd was just accepted and is owned by nobody else.
                    unsafe { libc::close(fd) };
                } else {
                    self.stats.accepted += 1;
                    let key = self.conns.insert(Conn {
                        fd,
                        flags: 0,
                        ops: 0,
                        deadline: 0,
                        filed: 0,
                        act: None,
                    });
                    let timeout = self.ctx.shared.header_timeout;
                    self.ctx
                        .set_deadline(&mut self.conns[key], key, self.gens[key], timeout);
                    self.arm_recv(key);
                }
            }
            Err(Errno::EMFILE) | Err(Errno::ENFILE) | Err(Errno(libc::ENOBUFS | libc::ENOMEM)) => {
                // Out of descriptors or memory: back off instead of spinning on the error.
                if !self.accept_backoff {
                    self.accept_backoff = true;
                    self.d
                        .timeout(ACCEPT_BACKOFF, Token::new(BACKOFF_SLOT, 0, OpKind::Timeout));
                }
            }
            Err(_) => {}
        }
        if !c.more {
            self.arm_accept();
        }
    }

    // ---- receiving ----

    fn arm_recv(&mut self, key: usize) {
        let t = self.token(key, OpKind::Recv);
        let conn = &mut self.conns[key];
        conn.flags |= flag::RECV_ARMED;
        conn.flags &= !flag::PAUSED;
        conn.ops += 1;
        self.d.recv_multi(conn.fd, t);
    }

    fn cancel_recv(&mut self, key: usize) {
        let (target, t) = (
            self.token(key, OpKind::Recv),
            self.token(key, OpKind::Cancel),
        );
        let conn = &mut self.conns[key];
        if conn.has(flag::RECV_ARMED) && !conn.has(flag::RECV_CANCELLING) {
            conn.flags |= flag::RECV_CANCELLING;
            conn.ops += 1;
            self.d.cancel(conn.fd, target, t);
        }
    }

    fn on_recv(&mut self, key: usize, c: Completion) {
        let generation = self.gens[key];
        let conn = &mut self.conns[key];
        if !c.more {
            conn.flags &= !(flag::RECV_ARMED | flag::RECV_CANCELLING);
            conn.ops -= 1;
        }
        match c.result {
            Ok(0) => {
                conn.flags |= flag::PEER_EOF;
                return;
            }
            Ok(n) => {
                let id = c.buf.expect("a successful receive carries a buffer");
                if !conn.has(flag::CLOSING | flag::LINGER) {
                    let data = self.d.buffer(id, n as usize);
                    Self::take_input(conn, key, generation, &mut self.ctx, &mut self.stats, data);
                }
                self.d.release(id);
            }
            Err(Errno::ENOBUFS) => {
                self.starved.push(key as u32);
                return;
            }
            Err(Errno::ECANCELED) => return,
            Err(_) => {
                self.begin_close(key, true);
                return;
            }
        }
        let conn = &mut self.conns[key];
        let input = conn.input_len();
        if input > IN_HARD {
            self.begin_close(key, true);
            return;
        }
        if conn.has(flag::WRITING) && input > IN_HIGH && !conn.has(flag::PAUSED) {
            // Backpressure: stop reading until the peer reads what we have for it.
            conn.flags |= flag::PAUSED;
            self.cancel_recv(key);
        }
        if !c.more {
            let conn = &self.conns[key];
            if !conn.has(flag::CLOSING | flag::PAUSED | flag::PEER_EOF | flag::RECV_ARMED) {
                self.arm_recv(key);
            }
        }
    }

    /// Handle freshly received bytes: parse them in place when nothing is pending, otherwise
    /// append them to the connection's input.
    fn take_input(
        conn: &mut Conn,
        key: usize,
        generation: u16,
        ctx: &mut Ctx,
        stats: &mut Stats,
        mut data: &[u8],
    ) {
        if conn.has(flag::CLOSE_AFTER_WRITE) {
            return;
        }
        let mut act = conn.act.take().unwrap_or_else(|| ctx.take_act());
        if act.input.is_empty() && !matches!(act.body, BodyLeft::None) {
            match Self::skip_body(&mut act.body, data) {
                Ok(k) => data = &data[k..],
                // Malformed body after the response went out: the framing is lost.
                Err(_) => conn.flags |= flag::CLOSE_AFTER_WRITE,
            }
            if !matches!(act.body, BodyLeft::None) && !conn.has(flag::WRITING) {
                // Still arriving: each piece must follow the last within the body timeout.
                let timeout = ctx.shared.body_timeout;
                ctx.set_deadline(conn, key, generation, timeout);
            }
        }
        if !data.is_empty() && !conn.has(flag::CLOSE_AFTER_WRITE) {
            if conn.has(flag::WRITING) || !act.input.is_empty() {
                Self::stash(conn, key, generation, &mut act, ctx, data);
                if !conn.has(flag::WRITING) {
                    Self::process_stashed(&mut conn.flags, &mut act, ctx, stats);
                }
            } else {
                let used = Self::process(&mut conn.flags, &mut act, ctx, stats, data);
                if used < data.len() && !conn.has(flag::CLOSE_AFTER_WRITE) {
                    Self::stash(conn, key, generation, &mut act, ctx, &data[used..]);
                }
            }
        }
        conn.act = Some(act);
    }

    fn stash(
        conn: &mut Conn,
        key: usize,
        generation: u16,
        act: &mut Active,
        ctx: &mut Ctx,
        data: &[u8],
    ) {
        if act.input.is_empty() && !conn.has(flag::WRITING) {
            // A request starts arriving: the head must be complete by the header deadline
            // (slowloris), however slowly it trickles in.
            let timeout = ctx.shared.header_timeout;
            ctx.set_deadline(conn, key, generation, timeout);
        }
        if act.input.capacity() == 0 {
            act.input.reserve(4096);
        }
        act.input.extend_from_slice(data);
    }

    fn process_stashed(flags: &mut u16, act: &mut Active, ctx: &mut Ctx, stats: &mut Stats) {
        let mut input = std::mem::take(&mut act.input);
        match Self::skip_body(&mut act.body, &input) {
            Ok(k) => drop(input.drain(..k)),
            Err(_) => *flags |= flag::CLOSE_AFTER_WRITE,
        }
        let used = if *flags & flag::CLOSE_AFTER_WRITE != 0 {
            input.len()
        } else {
            Self::process(flags, act, ctx, stats, &input)
        };
        input.drain(..used);
        act.input = input;
    }

    /// Discard request-body bytes at the start of `data`; returns how many belonged to the body.
    fn skip_body(body: &mut BodyLeft, data: &[u8]) -> Result<usize, ringhttpd_http::Error> {
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

    /// Parse and answer every complete request at the start of `data`; returns bytes consumed.
    /// Responses are appended to the connection's output buffer.
    fn process(
        flags: &mut u16,
        act: &mut Active,
        ctx: &mut Ctx,
        stats: &mut Stats,
        data: &[u8],
    ) -> usize {
        let mut pos = 0;
        while pos < data.len() && *flags & flag::CLOSE_AFTER_WRITE == 0 {
            if act.out.queued() >= OUT_HIGH {
                break;
            }
            let mut headers = [Header::EMPTY; MAX_HEADERS];
            let parsed = parse(&data[pos..], &mut headers, &ctx.shared.limits);
            match parsed {
                Ok(Status::Partial) => break,
                Ok(Status::Complete(req)) => {
                    stats.requests += 1;
                    pos += req.head_len;
                    let mut must_close = false;
                    act.body = match req.body {
                        Body::None => BodyLeft::None,
                        // The client waits for 100 Continue before sending the body; we answer
                        // without reading it, so the body may or may not follow: the framing is
                        // ambiguous and the connection must end after the response.
                        _ if req.expect_continue => {
                            must_close = true;
                            BodyLeft::None
                        }
                        Body::Length(n) => BodyLeft::Length(n),
                        Body::Chunked => {
                            BodyLeft::Chunked(Box::new(ChunkedDecoder::new(&ctx.shared.limits)))
                        }
                    };
                    match Self::skip_body(&mut act.body, &data[pos..]) {
                        Ok(k) => pos += k,
                        Err(e) => {
                            respond_error(&mut act.out, &ctx.date, &e);
                            *flags |= flag::CLOSE_AFTER_WRITE;
                            pos = data.len();
                            break;
                        }
                    }
                    let after = respond(
                        &mut act.out,
                        &ctx.date,
                        &mut ctx.files,
                        ctx.now,
                        &req,
                        must_close,
                    );
                    if after == After::Close {
                        *flags |= flag::CLOSE_AFTER_WRITE;
                    }
                }
                Err(e) => {
                    respond_error(&mut act.out, &ctx.date, &e);
                    *flags |= flag::CLOSE_AFTER_WRITE;
                    pos = data.len();
                }
            }
            if !matches!(act.body, BodyLeft::None) {
                break; // the rest of the body has not arrived yet
            }
        }
        pos
    }

    // ---- writing ----

    fn start_write(&mut self, key: usize) {
        let t = self.token(key, OpKind::Write);
        let generation = self.gens[key];
        let conn = &mut self.conns[key];
        let Some(act) = conn.act.as_mut() else { return };
        if act.out.pending() == 0 {
            return;
        }
        let (iov, count) = act.out.prepare();
        conn.flags |= flag::WRITING;
        conn.ops += 1;
        let fd = conn.fd;
        let timeout = self.ctx.shared.write_timeout;
        self.ctx.set_deadline(conn, key, generation, timeout);
        // SAFETY: output-stability INVARIANT: the boxed Active (and so its OutBuf, iovecs and
        // bytes) stays in place and untouched while WRITING is set, which lasts until this
        // write's completion is dispatched; the slot (and so the box) is not freed before then
        // (slot-lifetime INVARIANT).
        unsafe { self.d.writev(fd, iov, count, t) };
    }

    fn on_write(&mut self, key: usize, c: Completion) {
        let generation = self.gens[key];
        let conn = &mut self.conns[key];
        conn.flags &= !flag::WRITING;
        conn.ops -= 1;
        let n = match c.result {
            Ok(n) if n > 0 => n as usize,
            _ => {
                // Peer reset, or our cancel: nothing more can be written.
                self.begin_close(key, true);
                return;
            }
        };
        let Conn { act, flags, .. } = conn;
        let act = act
            .as_mut()
            .expect("a write in flight has an output buffer");
        if !act.out.advance(n) {
            self.start_write(key); // partial write: resume where it stopped
            return;
        }
        act.out.clear();
        if *flags & flag::CLOSE_AFTER_WRITE != 0 {
            self.linger(key);
            return;
        }
        // Requests that arrived while we were writing.
        if !act.input.is_empty() {
            Self::process_stashed(flags, act, &mut self.ctx, &mut self.stats);
        }
        if act.input.is_empty() {
            let timeout = if matches!(act.body, BodyLeft::None) {
                self.ctx.shared.keepalive_timeout
            } else {
                self.ctx.shared.body_timeout
            };
            self.ctx.set_deadline(conn, key, generation, timeout);
        }
    }

    /// Graceful close after the last response: shut our side, read until the peer's FIN so
    /// unread input does not turn into a reset that destroys the response in flight.
    fn linger(&mut self, key: usize) {
        let generation = self.gens[key];
        let conn = &mut self.conns[key];
        if let Some(act) = conn.act.take() {
            self.ctx.give_act(act);
        }
        if conn.has(flag::PEER_EOF) {
            self.begin_close(key, false);
            return;
        }
        // SAFETY: shutdown on a socket we own; no memory involved.
        unsafe { libc::shutdown(conn.fd, libc::SHUT_WR) };
        conn.flags |= flag::LINGER;
        self.ctx.set_deadline(conn, key, generation, LINGER_TIMEOUT);
        if !conn.has(flag::RECV_ARMED) {
            self.arm_recv(key);
        }
    }

    // ---- closing ----

    /// Start closing: cancel what is armed; `settle` submits the close once nothing is in flight.
    /// `abort` also cancels a write in flight (peer gone, timeout, stop).
    fn begin_close(&mut self, key: usize, abort: bool) {
        if self.conns[key].has(flag::CLOSING) {
            return;
        }
        self.conns[key].flags |= flag::CLOSING;
        self.cancel_recv(key);
        if abort && self.conns[key].has(flag::WRITING) {
            let (target, t) = (
                self.token(key, OpKind::Write),
                self.token(key, OpKind::Cancel),
            );
            let conn = &mut self.conns[key];
            conn.ops += 1;
            self.d.cancel(conn.fd, target, t);
        }
    }

    /// After any completion for `key`: start the next step the connection is ready for.
    fn settle(&mut self, key: usize) {
        let conn = &mut self.conns[key];
        if conn.has(flag::CLOSING) {
            if !conn.has(flag::CLOSE_SENT) && !conn.has(flag::RECV_ARMED | flag::WRITING) {
                conn.flags |= flag::CLOSE_SENT;
                conn.ops += 1;
                let t = self.token(key, OpKind::Close);
                let fd = self.conns[key].fd;
                self.d.close(fd, t);
            } else if conn.has(flag::CLOSE_SENT) && conn.ops == 0 {
                let conn = self.conns.remove(key);
                if let Some(act) = conn.act {
                    self.ctx.give_act(act);
                }
                self.gens[key] = self.gens[key].wrapping_add(1);
            }
            return;
        }
        if conn.has(flag::LINGER) {
            if conn.has(flag::PEER_EOF) {
                self.begin_close(key, false);
                self.settle(key);
            }
            return;
        }
        if !conn.has(flag::WRITING) && conn.pending() > 0 {
            self.start_write(key);
            return;
        }
        let conn = &mut self.conns[key];
        if conn.has(flag::PAUSED) && conn.input_len() < IN_HIGH && !conn.has(flag::RECV_ARMED) {
            self.arm_recv(key);
            return;
        }
        if !conn.has(flag::WRITING) {
            // Idle again: the per-request state goes back to the free list.
            if conn.act.as_ref().is_some_and(|a| a.idle()) {
                let act = conn.act.take().expect("checked");
                self.ctx.give_act(act);
            }
            if conn.has(flag::CLOSE_AFTER_WRITE) {
                self.linger(key);
            } else if conn.has(flag::PEER_EOF) {
                // The peer is done sending and everything it asked for has been answered.
                self.begin_close(key, false);
                self.settle(key);
            } else if self.stopping.is_some() && conn.input_len() == 0 {
                self.begin_close(key, false);
                self.settle(key);
            }
        }
    }

    // ---- timers and stopping ----

    fn on_tick(&mut self) {
        let now = self.ctx.now;
        if self.ctx.freed_since_trim > TRIM_AFTER {
            // A burst of concurrent requests has passed: hand the freed memory back to the system
            // (glibc keeps it otherwise), so RSS follows the load down. At most once a second.
            self.ctx.freed_since_trim = 0;
            // SAFETY: malloc_trim only releases free heap pages; it touches no live allocation.
            unsafe { libc::malloc_trim(0) };
        }
        let mut due = std::mem::take(&mut self.due);
        self.ctx.wheel.advance(now, |e| due.push(e));
        for e in due.drain(..) {
            let key = e.key as usize;
            if self.gens[key] != e.generation {
                continue; // the connection is gone; the slot was reused
            }
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            if conn.filed != e.at || conn.has(flag::CLOSING) {
                continue; // a stale entry: a newer one is filed
            }
            if conn.deadline <= now {
                conn.filed = 0;
                self.stats.timeouts += 1;
                self.begin_close(key, true);
                self.settle(key);
            } else {
                // The deadline moved later since this entry was filed: file it there.
                conn.filed = conn.deadline;
                self.ctx.wheel.file(Entry {
                    key: e.key,
                    generation: e.generation,
                    at: conn.deadline,
                });
            }
        }
        self.due = due;
        if self.stopping.is_none() || !self.conns.is_empty() {
            self.d.timeout(
                Duration::from_secs(1),
                Token::new(TICK_SLOT, 0, OpKind::Timeout),
            );
        }
    }

    fn begin_stop(&mut self) {
        if self.stopping.is_some() {
            return;
        }
        self.stopping = Some(Instant::now());
        // Stop accepting: closing the listener ends its accept (ECANCELED or an error).
        if self.accept_armed {
            self.d.cancel(
                self.listener,
                Token::new(ACCEPT_SLOT, 0, OpKind::Accept),
                Token::new(ACCEPT_SLOT, 0, OpKind::Cancel),
            );
        }
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            let conn = &mut self.conns[key];
            if conn.has(flag::WRITING) || conn.input_len() > 0 {
                conn.flags |= flag::CLOSE_AFTER_WRITE; // finish what is in flight, then close
            } else {
                self.begin_close(key, false);
            }
            self.settle(key);
        }
    }
}

impl<D: Driver> Drop for Worker<D> {
    fn drop(&mut self) {
        // SAFETY: the worker owns both fds and closes them once. The driver (dropped after this)
        // tears down whatever is still in flight.
        unsafe {
            libc::close(self.listener);
            libc::close(self.wake);
        }
    }
}

/// Ask a worker to stop by writing its eventfd.
pub fn wake(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live u64 to an eventfd.
    unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_connection_fits_the_budget() {
        // Budget (issue 5): 128 bytes of server memory per idle keep-alive connection. In the
        // process that is its slab entry plus its generation counter; it holds no buffer.
        let conn = std::mem::size_of::<Conn>();
        let slab_entry = std::mem::size_of::<Option<Conn>>().max(conn + 8);
        let per_idle = slab_entry + std::mem::size_of::<u16>();
        eprintln!("size_of::<Conn>() = {conn}, slab entry <= {slab_entry}, per idle connection {per_idle}");
        assert!(conn <= 24, "Conn grew to {conn} bytes");
        assert!(per_idle <= 128);
    }
}
