//! A connection's I/O: what each completion does to it, and the next step it is ready for.
//!
//! Every operation on a connection is submitted through [`Worker::submit`] and every final
//! completion is counted back in [`Worker::on_conn`]: the in-flight count (`Conn::ops`, the
//! slot-lifetime INVARIANT) changes in those two places only. State changes go through the
//! transition methods of `conn::State`; timeouts through `Ctx::rearm`, which asks the state.
//!
//! What happens when bytes arrive: [`Worker::on_recv`] -> transport -> `h1::feed` -> the
//! connection acts on what was fed (last response, timers) -> backpressure -> `settle` starts
//! the write.

use ringhttpd_ring::{Completion, Driver, Errno, OpKind, Token};

use super::Worker;
use crate::conn::{Phase, Recv};
use crate::h1::{self, Fed};
use crate::route::ConnRef;
use crate::websocket::{self, Upgrade};

/// Stop receiving (pause the receive) once this much input is stashed behind a write in flight.
const IN_HIGH: usize = 32 * 1024;
/// A peer that keeps sending past this while we hold its input is cut off.
const IN_HARD: usize = 1 << 20;

/// An operation on a connection.
#[derive(Copy, Clone, Debug)]
pub(super) enum Op {
    Recv,
    Write,
    /// Write the connection's published frame in `frames_out` (no output queue).
    WriteFrame,
    CancelRecv,
    CancelWrite,
    Close,
}

impl<D: Driver> Worker<D> {
    /// The identity of connection `key` for the request path.
    #[inline]
    fn conn_ref(&self, key: usize) -> ConnRef {
        ConnRef {
            key: key as u32,
            generation: self.gens[key],
            fd: self.conns[key].raw_fd(),
        }
    }

    /// Restart connection `key`'s timer for its current state.
    #[inline]
    pub(super) fn rearm(&mut self, key: usize) {
        self.ctx.rearm(&mut self.conns[key], key, self.gens[key]);
    }

    /// Submit `op` for connection `key` and count it in flight.
    pub(super) fn submit(&mut self, key: usize, op: Op) {
        let token = |kind| Token::new(key as u32, self.gens[key], kind);
        let (recv, write, cancel, close) = (
            token(OpKind::Recv),
            token(OpKind::Write),
            token(OpKind::Cancel),
            token(OpKind::Close),
        );
        let conn = &mut self.conns[key];
        let fd = conn.raw_fd();
        match op {
            Op::Recv => {
                conn.state.recv_armed();
                self.d.recv_multi(fd, recv);
            }
            Op::Write => {
                let kind = conn.state.transport();
                let act = conn.act.as_mut().expect("a write has an output queue");
                let (iov, count) = self.transports.prepare(kind, key, &mut act.out);
                conn.state.write_started();
                // SAFETY: output-stability INVARIANT: the boxed Active (and so its OutBuf,
                // iovecs and bytes) stays in place and untouched while the state says
                // `writing`, which lasts until this write's completion is dispatched; the slot
                // (and so the box) is not freed before then (slot-lifetime INVARIANT).
                unsafe { self.d.writev(fd, iov, count, write) };
            }
            Op::WriteFrame => {
                let f = self
                    .frames_out
                    .get(&(key as u32))
                    .expect("a frame write has its frame");
                conn.state.write_started();
                // SAFETY: the frame's iovec and bytes live in the `Rc` the slot holds until
                // this write's completion is dispatched (`on_write` takes it; `free` cannot
                // run before, by the slot-lifetime INVARIANT), and a frame is refilled only
                // when its pool holds the one reference left (`Frames::encode`).
                unsafe { self.d.writev(fd, f.iov(), 1, write) };
            }
            Op::CancelRecv => self.d.cancel(fd, recv, cancel),
            Op::CancelWrite => self.d.cancel(fd, write, cancel),
            Op::Close => {
                conn.state.close_submitted();
                let owned = conn.take_fd().expect("closed once");
                self.d.close(owned, close);
            }
        }
        conn.ops += 1;
    }

    /// A completion for live connection `key`.
    pub(super) fn on_conn(&mut self, key: usize, c: Completion) {
        if !c.more {
            self.conns[key].ops -= 1;
        }
        match c.token.kind {
            OpKind::Recv => self.on_recv(key, c),
            OpKind::Write => self.on_write(key, c),
            _ => {} // cancel and close: counted above
        }
        self.settle(key);
    }

    // ---- receiving ----

    fn on_recv(&mut self, key: usize, c: Completion) {
        let at = self.conn_ref(key);
        let conn = &mut self.conns[key];
        if !c.more {
            conn.state.recv_ended(c.result == Ok(0));
        }
        match c.result {
            Ok(0) => return, // the peer's FIN: `settle` decides what follows
            Ok(n) => {
                let id = c.buf.expect("a successful receive carries a buffer");
                if conn.state.takes_requests() {
                    let kind = conn.state.transport();
                    let raw = self.d.buffer(id, n as usize);
                    let fed = match self.transports.input(kind, key, raw) {
                        Ok(plain) => {
                            let act = conn.act.get_or_insert_with(|| self.ctx.acts.take());
                            let writing = conn.state.writing();
                            if conn.state.websocket() {
                                conn.state.set_pinged(false);
                                let up = Upgrade::of(conn.ws_route, conn.state);
                                websocket::feed(act, &mut self.ctx.cx(at), plain, writing, up)
                            } else {
                                h1::feed(act, &mut self.ctx.cx(at), plain, writing)
                            }
                        }
                        Err(_) => Fed {
                            last: true,
                            ..Fed::default()
                        },
                    };
                    self.d.release(id);
                    self.fed(key, fed);
                } else {
                    self.d.release(id); // lingering or last response queued: discarded
                }
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
        if (conn.state.writing() || conn.deferred()) && input > IN_HIGH && conn.state.pause() {
            // Backpressure: stop reading until the peer reads what we have for it.
            self.submit(key, Op::CancelRecv);
        }
        if !c.more && self.conns[key].state.may_arm_recv() {
            self.submit(key, Op::Recv);
        }
    }

    /// Act on what the request path reported.
    #[inline]
    fn fed(&mut self, key: usize, fed: Fed) {
        let conn = &mut self.conns[key];
        if fed.answered {
            conn.state.request_started();
        }
        if fed.last {
            conn.state.last_response();
        }
        if let Some(up) = fed.upgrade {
            conn.state.upgrade();
            conn.ws_route = up.route as u8;
            conn.state.set_deflate(up.deflate);
        }
        if fed.waiting && !conn.state.waiting() {
            self.start_waiting(key);
        }
        let conn = &mut self.conns[key];
        let writing = conn.state.writing();
        if fed.head_started
            || fed.deferred
            || (fed.body_progress && !writing)
            || (conn.state.websocket() && !writing)
        {
            self.rearm(key);
        }
    }

    // ---- writing ----

    fn start_write(&mut self, key: usize) {
        if self.conns[key].pending() == 0 {
            return;
        }
        self.submit(key, Op::Write);
        self.rearm(key);
    }

    fn on_write(&mut self, key: usize, c: Completion) {
        let at = self.conn_ref(key);
        let conn = &mut self.conns[key];
        let frame = if conn.state.websocket() {
            self.frames_out.remove(&(key as u32))
        } else {
            None
        };
        conn.state.write_ended();
        if conn.state.closing() {
            // The close (a timeout, the peer gone) raced this write: nothing more is written,
            // or a peer that never reads would hold the slot with no timer left to free it.
            return;
        }
        let n = match c.result {
            Ok(n) if n > 0 => n as usize,
            _ => {
                // Peer reset, or our cancel: nothing more can be written.
                self.begin_close(key, true);
                return;
            }
        };
        let mut all_out = false;
        if let Some(frame) = frame {
            // A published frame written from the shared frame. If more was queued behind it,
            // the queue begins with this frame (`push`), so the write is the queue's.
            let queued = conn.act.as_ref().is_some_and(|a| a.out.total() > 0);
            if !queued {
                if n >= frame.bytes().len() {
                    all_out = true;
                } else {
                    let act = conn.act.get_or_insert_with(|| self.ctx.acts.take());
                    act.out.push_shared(frame);
                }
            }
        }
        let kind = conn.state.transport();
        if !all_out {
            let act = conn
                .act
                .as_mut()
                .expect("a write in flight has an output queue");
            if !self.transports.written(kind, key, &mut act.out, n) {
                self.start_write(key); // partial write: resume where it stopped
                return;
            }
            self.ctx.acts.clear_output(&mut act.out);
        }
        if conn.state.is_last() {
            self.linger(key);
            return;
        }
        let Some(act) = conn.act.as_mut() else {
            self.rearm(key);
            return;
        };
        // Requests that arrived while we were writing, or a deferred answer that came.
        if (!act.input.is_empty() || act.deferred()) && conn.state.takes_requests() {
            let fed = if conn.state.websocket() {
                let up = Upgrade::of(conn.ws_route, conn.state);
                websocket::resume(act, &mut self.ctx.cx(at), up)
            } else {
                h1::resume(act, &mut self.ctx.cx(at))
            };
            self.fed(key, fed);
        }
        self.rearm(key);
    }

    /// A deferred answer came (or timed out) for `key`: write it now unless a write is in
    /// flight (then `on_write` does).
    pub(super) fn answer_ready(&mut self, key: usize) {
        let at = self.conn_ref(key);
        let conn = &mut self.conns[key];
        if !conn.state.writing() && conn.state.takes_requests() {
            if let Some(act) = conn.act.as_mut() {
                let fed = h1::resume(act, &mut self.ctx.cx(at));
                self.fed(key, fed);
            }
        }
        self.rearm(key);
        self.settle(key);
    }

    /// Graceful close after the last response: shut our side, read until the peer's FIN so
    /// unread input does not turn into a reset that destroys the response in flight.
    fn linger(&mut self, key: usize) {
        let conn = &mut self.conns[key];
        if let Some(act) = conn.act.take() {
            self.ctx.acts.give(act);
        }
        if conn.state.peer_eof() {
            self.begin_close(key, false);
            return;
        }
        crate::sys::shutdown_write(conn.raw_fd());
        conn.state.linger();
        self.rearm(key);
        if self.conns[key].state.may_resume_recv() {
            self.submit(key, Op::Recv);
        }
    }

    // ---- closing ----

    /// Start closing: cancel what is armed; `settle` submits the close once nothing but the
    /// cancels is in flight. `abort` also cancels a write in flight (peer gone, timeout).
    pub(super) fn begin_close(&mut self, key: usize, abort: bool) {
        let conn = &mut self.conns[key];
        if !conn.state.close() {
            return;
        }
        if conn.state.stop_recv() {
            self.submit(key, Op::CancelRecv);
        }
        if abort && self.conns[key].state.writing() {
            self.submit(key, Op::CancelWrite);
        }
    }

    /// After any event on `key`: start the next step the connection is ready for.
    pub(super) fn settle(&mut self, key: usize) {
        let conn = &mut self.conns[key];
        match conn.state.phase() {
            Phase::Closing => {
                if conn.state.ready_to_close() {
                    self.submit(key, Op::Close);
                }
                return;
            }
            Phase::Closed => {
                if conn.ops == 0 {
                    self.free(key);
                }
                return;
            }
            Phase::Lingering => {
                if conn.state.peer_eof() {
                    self.begin_close(key, false);
                    self.settle(key);
                }
                return;
            }
            Phase::New | Phase::Open | Phase::Last => {}
        }
        if conn.state.writing() {
            return;
        }
        if conn.pending() > 0 {
            self.start_write(key);
            return;
        }
        if conn.state.recv() == Recv::Paused && !conn.state.waiting() && !conn.deferred() {
            // Nothing is queued or being written, so what the stash holds is one incomplete
            // request: receiving must go on for it to complete (or to reach the head limit and
            // get its 431), however far it is past the pause mark.
            self.submit(key, Op::Recv); // resume after backpressure
        }
        let conn = &mut self.conns[key];
        // Idle again: the per-request state goes back to the pool.
        if conn.act.as_ref().is_some_and(|a| a.idle()) {
            let act = conn.act.take().expect("checked");
            self.ctx.acts.give(act);
        }
        if conn.state.is_last() {
            self.linger(key);
            self.settle(key);
        } else if (conn.state.peer_eof()
            || (self.stopping.is_some() && self.conns[key].input_len() == 0))
            && !self.conns[key].deferred()
        {
            // The peer is done sending and everything it asked for has been answered, or we
            // are stopping and this connection is between requests.
            self.begin_close(key, false);
            self.settle(key);
        }
    }

    /// Out of response budget: stop reading this client and queue it for a turn.
    #[cold]
    fn start_waiting(&mut self, key: usize) {
        let conn = &mut self.conns[key];
        conn.state.set_waiting(true);
        if conn.state.pause() {
            self.submit(key, Op::CancelRecv);
        }
        self.waiting.push_back((key as u32, self.gens[key]));
    }

    /// Give waiting connections their turn while the response budget lasts, oldest first.
    #[inline]
    pub(super) fn wake_waiting(&mut self) {
        if self.waiting.is_empty() {
            return;
        }
        self.wake_waiting_slow();
    }

    #[cold]
    fn wake_waiting_slow(&mut self) {
        while !self.ctx.acts.budget.full() {
            let Some((key, generation)) = self.waiting.pop_front() else {
                return;
            };
            let key = key as usize;
            if self.gens[key] != generation || !self.conns.contains(key) {
                continue; // closed meanwhile
            }
            let at = self.conn_ref(key);
            let conn = &mut self.conns[key];
            conn.state.set_waiting(false);
            // A connection still writing goes on when its write completes (`on_write`).
            if !conn.state.writing() && conn.state.takes_requests() {
                if let Some(act) = conn.act.as_mut() {
                    let fed = h1::resume(act, &mut self.ctx.cx(at));
                    self.fed(key, fed);
                }
            }
            self.settle(key);
        }
    }

    /// Free the slot: every operation has delivered its final completion.
    fn free(&mut self, key: usize) {
        let conn = self.conns.remove(key);
        // Subscriptions are dropped whatever the state says (a bounds check when there are
        // none); a frame write exists only on a WebSocket connection.
        self.ctx.ws.topics.drop_conn(key as u32);
        if conn.state.websocket() {
            self.frames_out.remove(&(key as u32));
        }
        self.transports.closed(conn.state.transport(), key);
        if let Some(act) = conn.act {
            self.ctx.acts.give(act);
        }
        self.gens[key] = self.gens[key].wrapping_add(1);
    }
}
