//! One worker thread: the per-core loop — a driver, its listeners, and a slab of connections
//! advanced by completions.
//!
//! Owns: accepting, the 1 s tick (timeouts, heap trim), stopping, and dispatching each
//! completion to its connection. What a connection does with a completion is in `io` (receive,
//! write, linger, close) on top of the typed state in `conn`; what bytes mean is in `h1`.
//! Nothing here is shared with other threads except the immutable [`Shared`] settings.
//!
//! INVARIANT (slot lifetime): a slab slot is freed only when `ops == 0`, i.e. every operation
//! submitted under its token has delivered its final completion (cancel included). The
//! generation is bumped on free, so a completion that still names the old slot is dropped.
//!
//! INVARIANT (output stability): while a connection's state says `writing`, its `OutBuf` (in a
//! `Box`, so its iovecs do not move) and the bytes of its `data` are neither moved nor modified.

mod io;
mod push;
#[cfg(test)]
mod tests;

use std::io as stdio;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringhttpd_http::{HttpDate, Limits};
use ringhttpd_ring::{Completion, Driver, Errno, OpKind, Token};
use slab::Slab;

use crate::api::{LocalFactory, Locals, Mail, Mailbox};
use crate::conn::{Conn, Timeout, Timeouts, TransportKind};
use crate::files::FileCache;
use crate::h1::{ActPool, Cx};
use crate::outcome::Outcomes;
use crate::pubsub::Frame;
use crate::route::{ConnRef, Scratch, Services};
use crate::router::Router;
use crate::transport::Transports;
use crate::websocket::WsCore;
use crate::wheel::{Entry, Wheel};
use std::rc::Rc;

/// Settings and routes every worker reads; immutable after start.
pub struct Shared {
    pub limits: Limits,
    pub timeouts: Timeouts,
    pub router: Router,
    /// Factories of per-core handler state.
    pub locals: Vec<LocalFactory>,
    /// Heap bytes the requests in flight may hold per core (see `h1::Budget`).
    pub budget: usize,
    /// Deferred answers awaited per core at most.
    pub max_deferred: u32,
    /// Unsent bytes a WebSocket subscriber may have queued (closed with 1008 beyond).
    pub ws_max_queue: usize,
}

/// Worker-level operations use slots above any connection's.
const ACCEPT_SLOT: u32 = u32::MAX;
const TICK_SLOT: u32 = u32::MAX - 1;
const BACKOFF_SLOT: u32 = u32::MAX - 2;
const WAKE_SLOT: u32 = u32::MAX - 3;
const NOTIFY_SLOT: u32 = u32::MAX - 4;
const MAIL_SLOT: u32 = u32::MAX - 5;

/// Freed per-request states after which the next tick returns free heap memory to the system.
const TRIM_AFTER: usize = 256;
/// How long in-flight requests may take to finish after a stop request.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// Wait before re-arming accept after EMFILE/ENFILE.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A fault a test can inject (`RINGHTTPD_TEST_FAULT`), at the worker's first tick.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The worker thread panics.
    Panic,
    /// The loop returns an error.
    Error,
}

/// What one worker is given to serve: its listeners, its stop eventfd, its connection limit.
pub struct Seat {
    /// Bound, listening, non-blocking sockets: one per listening address.
    pub listeners: Vec<OwnedFd>,
    /// An eventfd written once (see [`wake`]) to ask this worker to stop.
    pub wake: OwnedFd,
    /// Connections this worker holds at most.
    pub cap: usize,
    /// Where deferred answers and published messages are posted to this worker.
    pub mail: Arc<Mailbox>,
    /// This worker's index (handed to per-core state factories).
    pub index: usize,
}

/// The worker's coarse clocks, read once per loop turn.
struct Clock {
    start: Instant,
    /// When the current loop turn began.
    turn: Instant,
    /// Seconds since `start` at this turn.
    now: u32,
    /// Added to `now` (tests move time forward without waiting).
    skew: u32,
}

/// Per-thread buffers and clocks, split from the driver and the slab so all can be borrowed at
/// once.
struct Ctx {
    shared: Arc<Shared>,
    /// `shared.timeouts` in whole seconds, by [`crate::conn::Timeout`].
    timeout_secs: [u32; 6],
    date: HttpDate,
    clock: Clock,
    /// One file cache per mount.
    files: Vec<FileCache>,
    acts: ActPool,
    wheel: Wheel,
    outcomes: Outcomes,
    scratch: Scratch,
    locals: Locals,
    mailbox: Arc<Mailbox>,
    next_seq: u32,
    ws: WsCore,
}

impl Ctx {
    fn refresh_clock(&mut self) {
        let c = &mut self.clock;
        c.turn = Instant::now();
        c.now = (c.turn - c.start).as_secs() as u32 + c.skew;
        self.date.update(crate::sys::unix_time_coarse());
    }

    /// The request path's view of this worker, serving connection `conn`.
    fn cx(&mut self, conn: ConnRef) -> Cx<'_> {
        Cx {
            limits: &self.shared.limits,
            date: &self.date,
            sv: Services {
                files: &mut self.files,
                now: self.clock.now,
                router: &self.shared.router,
                scratch: &mut self.scratch,
                locals: &self.locals,
                mailbox: &self.mailbox,
                next_seq: &mut self.next_seq,
                ws: &mut self.ws,
            },
            outcomes: &mut self.outcomes,
            budget: &mut self.acts.budget,
            turn: self.clock.turn,
            conn,
        }
    }

    /// Restart a connection's timer with the timeout its state calls for, filing a wheel entry
    /// when the deadline moves earlier than the one filed (a later one is re-filed lazily).
    #[inline]
    fn rearm(&mut self, conn: &mut Conn, key: usize, generation: u16) {
        let Some(t) = conn.timeout() else {
            return;
        };
        // `now` is whole seconds and the wheel ticks once a second: one second more, so a
        // timeout never fires early (it fires between T and T + 1 s after it starts).
        let at = self
            .clock
            .now
            .saturating_add(self.timeout_secs[t as usize] + 1);
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

/// Published frames being written straight from the shared frame (no output queue), by
/// connection slot, each held until its write completes. Only connections in the middle of
/// such a write have an entry, so an idle WebSocket connection costs nothing here.
type FramesOut = std::collections::HashMap<u32, Rc<Frame>, std::hash::BuildHasherDefault<SlotHash>>;

/// Hashes a slot number (a multiplicative hash: slots are small dense integers).
#[derive(Default)]
struct SlotHash(u64);

impl std::hash::Hasher for SlotHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_u32(&mut self, v: u32) {
        self.0 = u64::from(v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// Counters for the exit report.
#[derive(Default, Debug)]
pub struct Stats {
    pub accepted: u64,
    pub rejected: u64,
    pub timeouts: u64,
    pub stale: u64,
    /// Deferred answers that came for a request no longer awaited (timed out, or its
    /// connection gone).
    pub late: u64,
}

pub struct Worker<D: Driver> {
    d: D,
    listeners: Vec<OwnedFd>,
    wake: OwnedFd,
    conns: Slab<Conn>,
    gens: Vec<u16>,
    /// Published frames being written without an output queue.
    frames_out: FramesOut,
    cap: usize,
    ctx: Ctx,
    transports: Transports,
    /// Connections whose receive ran out of pool buffers, re-armed after the batch.
    starved: Vec<u32>,
    /// Connections whose requests wait for the response budget, oldest first (key, generation).
    waiting: std::collections::VecDeque<(u32, u16)>,
    /// An accept is armed on each listener (by index; the accept token's generation).
    accept_armed: Vec<bool>,
    accept_backoff: bool,
    stopping: Option<Instant>,
    /// Scratch for due wheel entries (kept to avoid allocating every tick).
    due: Vec<Entry>,
    /// Scratch for deferred answers taken from the mailbox.
    mails: Vec<Mail>,
    fault: Option<Fault>,
    /// An injected `Fault::Error` fired: the loop returns an error after this turn.
    failed: bool,
    pub stats: Stats,
}

impl<D: Driver> Worker<D> {
    pub fn new(d: D, seat: Seat, shared: Arc<Shared>, files: Vec<FileCache>) -> Self {
        let held_limit = shared.budget.max(1 << 20);
        let max_deferred = shared.max_deferred;
        let ws_max_queue = shared.ws_max_queue;
        let locals = Locals(shared.locals.iter().map(|f| f(seat.index)).collect());
        let now = Instant::now();
        let mut ctx = Ctx {
            timeout_secs: shared.timeouts.secs(),
            shared,
            date: HttpDate::new(0),
            clock: Clock {
                start: now,
                turn: now,
                now: 0,
                skew: 0,
            },
            files,
            acts: ActPool::new(held_limit, max_deferred),
            wheel: Wheel::new(0),
            outcomes: Outcomes::default(),
            scratch: Scratch::new(),
            locals,
            mailbox: seat.mail,
            next_seq: 0,
            ws: WsCore::new(seat.cap, ws_max_queue),
        };
        ctx.refresh_clock();
        Worker {
            d,
            accept_armed: vec![false; seat.listeners.len()],
            listeners: seat.listeners,
            wake: seat.wake,
            conns: Slab::with_capacity(seat.cap),
            gens: vec![0; seat.cap],
            frames_out: FramesOut::default(),
            cap: seat.cap,
            ctx,
            transports: Transports::new(),
            starved: Vec::new(),
            waiting: std::collections::VecDeque::new(),
            accept_backoff: false,
            stopping: None,
            due: Vec::new(),
            mails: Vec::new(),
            fault: None,
            failed: false,
            stats: Stats::default(),
        }
    }

    /// Arm a fault for the first tick (tests of what happens when a worker dies).
    pub fn inject(&mut self, fault: Option<Fault>) {
        self.fault = fault;
    }

    /// One line of counters for the exit report.
    pub fn report(&self) -> String {
        let s = &self.stats;
        let mut r = format!(
            "accepted={} rejected={} {} timeouts={} stale={} late={} wheel_entries={} ws_topics={}",
            s.accepted,
            s.rejected,
            self.ctx.outcomes.report(),
            s.timeouts,
            s.stale,
            s.late,
            self.ctx.wheel.len(),
            self.ctx.ws.topics.len(),
        );
        for f in &self.ctx.files {
            r.push(' ');
            r.push_str(&f.report());
        }
        r
    }

    pub fn run(&mut self) -> stdio::Result<()> {
        self.start();
        let mut events = Vec::with_capacity(1024);
        while self.turn(&mut events)? {}
        Ok(())
    }

    /// Arm the worker's own operations: accept, the tick, the stop eventfd, the mailbox, file
    /// notifications (one per mount; the token's generation names the mount).
    fn start(&mut self) {
        self.arm_accept();
        self.arm_tick();
        let wake = self.wake.as_raw_fd();
        self.d
            .poll_readable(wake, Token::new(WAKE_SLOT, 0, OpKind::Poll));
        self.arm_mail();
        for i in 0..self.ctx.files.len() {
            self.arm_notify(i);
        }
    }

    fn arm_mail(&mut self) {
        let fd = self.ctx.mailbox.efd.as_raw_fd();
        self.d
            .poll_readable(fd, Token::new(MAIL_SLOT, 0, OpKind::Poll));
    }

    fn arm_notify(&mut self, mount: usize) {
        if let Some(fd) = self.ctx.files[mount].notify_fd() {
            self.d
                .poll_readable(fd, Token::new(NOTIFY_SLOT, mount as u16, OpKind::Poll));
        }
    }

    fn arm_tick(&mut self) {
        self.d.timeout(
            Duration::from_secs(1),
            Token::new(TICK_SLOT, 0, OpKind::Timeout),
        );
    }

    /// One loop turn: wait, dispatch every completion, re-arm starved receives. Returns false
    /// once the worker has stopped.
    fn turn(&mut self, events: &mut Vec<Completion>) -> stdio::Result<bool> {
        self.d.wait(events)?;
        self.ctx.refresh_clock();
        for f in &mut self.ctx.files {
            f.new_turn();
        }
        for c in events.drain(..) {
            self.dispatch(c);
        }
        if self.failed {
            return Err(stdio::Error::other(
                "injected fault (RINGHTTPD_TEST_FAULT=error)",
            ));
        }
        self.wake_waiting();
        // Receives that ran out of pool buffers are re-armed now that this batch's buffers
        // have been released.
        for key in std::mem::take(&mut self.starved) {
            let key = key as usize;
            if self.conns.get(key).is_some_and(|c| c.state.may_arm_recv()) {
                self.submit(key, io::Op::Recv);
            }
        }
        Ok(match self.stopping {
            Some(since) => !self.conns.is_empty() && since.elapsed() <= STOP_GRACE,
            None => true,
        })
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
                let mount = t.generation as usize;
                if let Some(f) = self.ctx.files.get_mut(mount) {
                    f.on_notify();
                    self.arm_notify(mount);
                }
            }
            MAIL_SLOT => self.on_mail(),
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
                self.on_conn(key, c);
            }
        }
    }

    // ---- accepting ----

    /// Arm an accept on every listener that has none.
    fn arm_accept(&mut self) {
        if self.accept_backoff || self.stopping.is_some() {
            return;
        }
        for (i, l) in self.listeners.iter().enumerate() {
            if !self.accept_armed[i] {
                self.accept_armed[i] = true;
                self.d.accept_multi(
                    l.as_raw_fd(),
                    Token::new(ACCEPT_SLOT, i as u16, OpKind::Accept),
                );
            }
        }
    }

    fn on_accept(&mut self, c: Completion) {
        let Some(armed) = self.accept_armed.get_mut(c.token.generation as usize) else {
            return;
        };
        if !c.more {
            *armed = false;
        }
        match c.result {
            Ok(fd) => {
                // SAFETY: an accept completion delivers a new descriptor exactly once, and
                // nothing else holds it: it becomes owned here.
                let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
                if self.stopping.is_some() || self.conns.len() >= self.cap {
                    // Over the limit: closed at once (dropped); other connections are not
                    // disturbed.
                    self.stats.rejected += 1;
                } else {
                    self.stats.accepted += 1;
                    let key = self.conns.insert(Conn::new(fd, TransportKind::Plain));
                    self.rearm(key);
                    self.submit(key, io::Op::Recv);
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

    // ---- timers and stopping ----

    fn on_tick(&mut self) {
        match self.fault.take() {
            Some(Fault::Panic) => panic!("injected fault (RINGHTTPD_TEST_FAULT=panic)"),
            Some(Fault::Error) => self.failed = true,
            None => {}
        }
        let now = self.ctx.clock.now;
        if self.ctx.acts.freed_since_trim > TRIM_AFTER {
            // A burst of concurrent requests has passed: hand the freed memory back to the system
            // (glibc keeps it otherwise), so RSS follows the load down. At most once a second.
            self.ctx.acts.freed_since_trim = 0;
            crate::sys::trim_heap();
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
            if conn.filed != e.at || conn.state.closing() {
                continue; // a stale entry: a newer one is filed
            }
            if conn.deadline <= now {
                conn.filed = 0;
                if conn.state.websocket()
                    && conn.timeout() == Some(Timeout::KeepAlive)
                    && !conn.state.pinged()
                {
                    // An idle WebSocket connection: ask it whether it is still there.
                    conn.state.set_pinged(true);
                    let act = conn.act.get_or_insert_with(|| self.ctx.acts.take());
                    crate::websocket::ping(&mut act.out);
                    self.rearm(key);
                    self.settle(key);
                    continue;
                }
                if conn.timeout() == Some(Timeout::Handler) {
                    // The handler did not answer in time: 504, and the connection goes on.
                    if let Some(act) = conn.act.as_mut() {
                        act.deliver(crate::api::Answer::Expired);
                    }
                    self.answer_ready(key);
                    continue;
                }
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
            self.arm_tick();
        }
    }

    // ---- deferred answers ----

    /// Deferred answers were posted: hand each to its connection.
    fn on_mail(&mut self) {
        crate::sys::eventfd_drain(&self.ctx.mailbox.efd);
        let mut mails = std::mem::take(&mut self.mails);
        self.ctx.mailbox.take(&mut mails);
        for m in mails.drain(..) {
            let key = m.key as usize;
            let live = key < self.cap && self.gens[key] == m.generation;
            let act = self
                .conns
                .get_mut(key)
                .filter(|_| live)
                .and_then(|c| c.act.as_mut())
                .filter(|a| a.awaited_seq() == Some(m.seq));
            match act {
                Some(act) => {
                    act.deliver(m.answer);
                    self.answer_ready(key);
                }
                None => {
                    if let crate::api::Answer::Start { flow, .. } = &m.answer {
                        flow.close(); // its producer learns there is no one to stream to
                    }
                    self.stats.late += 1;
                }
            }
        }
        self.mails = mails;
        self.on_published();
        self.arm_mail();
    }

    fn begin_stop(&mut self) {
        if self.stopping.is_some() {
            return;
        }
        self.stopping = Some(Instant::now());
        // Stop accepting: the cancel ends the accept (ECANCELED).
        for (i, l) in self.listeners.iter().enumerate() {
            if self.accept_armed[i] {
                self.d.cancel(
                    l.as_raw_fd(),
                    Token::new(ACCEPT_SLOT, i as u16, OpKind::Accept),
                    Token::new(ACCEPT_SLOT, i as u16, OpKind::Cancel),
                );
            }
        }
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            let conn = &mut self.conns[key];
            if conn.deferred() {
                continue; // its answer is awaited: it closes once that is written (`settle`)
            }
            if conn.state.websocket() && conn.state.takes_requests() && !conn.state.writing() {
                // Tell the client why (RFC 6455 §7.4.1: 1001), then close as after a last
                // response.
                let act = conn.act.get_or_insert_with(|| self.ctx.acts.take());
                let held = act.out.held();
                crate::websocket::going_away(&mut act.out);
                self.ctx.acts.budget.held += act.out.held() - held;
                conn.state.last_response();
            } else if conn.state.writing() || conn.input_len() > 0 {
                conn.state.last_response(); // finish what is in flight, then close
            } else {
                self.begin_close(key, false);
            }
            self.settle(key);
        }
    }
}

/// Ask a worker to stop by writing its eventfd.
pub fn wake(fd: &OwnedFd) {
    crate::sys::eventfd_signal(fd);
}
