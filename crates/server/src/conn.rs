//! A connection's lifecycle as small typed states, packed into two bytes, changed only by the
//! transition methods here.
//!
//! Owns: [`Conn`] (24 bytes: descriptor, state, operations in flight, deadline, wheel entry,
//! per-request state) and [`State`] — which states exist, which moves between them are legal,
//! and which timeout applies in each ([`State::timeout`]). Does not own: I/O (the worker submits
//! operations and reports completions through these methods) or HTTP (see `h1`).
//!
//! The states, in the style of hyper's `Reading`/`Writing`/`KA`:
//! - [`Phase`] — where the connection is in its life: `New` (accepted, no request yet) -> `Open`
//!   (keep-alive) -> `Last` (the response queued is the last) -> `Lingering` (our side shut,
//!   input drained until EOF) -> `Closing` (cancels issued) -> `Closed` (close submitted).
//!   `Closing` can be entered from any earlier phase (peer gone, timeout, stop).
//! - [`Recv`] — the receive side: `Idle`, `Armed`, `Pausing`/`Paused` (backpressure: input is
//!   backed up behind a write), `Cancelling` (for the close), `Eof` (the peer sent FIN; final).
//! - `writing` — a write is in flight (output stability INVARIANT, see `worker`).
//! - [`TransportKind`] — which transport moves bytes for this connection (see `transport`).
//! - `waiting` — its requests wait for the core's response budget (see `h1::Budget`); its
//!   receive is paused meanwhile, and stays paused until the worker gives it its turn.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

use crate::h1::Active;

/// Where a connection is in its life. See the module documentation.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Phase {
    New = 0,
    Open = 1,
    Last = 2,
    Lingering = 3,
    Closing = 4,
    Closed = 5,
}

/// The receive side. See the module documentation.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Recv {
    Idle = 0,
    Armed = 1,
    /// Cancelled for backpressure; becomes `Paused` when the receive ends.
    Pausing = 2,
    Paused = 3,
    /// Cancelled for the close; becomes `Idle` when the receive ends.
    Cancelling = 4,
    Eof = 5,
}

/// Which transport a connection uses (one today; the TLS issue adds the others).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum TransportKind {
    Plain = 0,
}

/// Which timeout applies in a state.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Timeout {
    KeepAlive = 0,
    Header = 1,
    Body = 2,
    Write = 3,
    Linger = 4,
    /// A handler deferred its answer and it has not come.
    Handler = 5,
}

/// The timeouts a state can choose from.
#[derive(Copy, Clone, Debug)]
pub struct Timeouts {
    pub keepalive: Duration,
    pub header: Duration,
    pub body: Duration,
    pub write: Duration,
    pub linger: Duration,
    pub handler: Duration,
}

impl Timeouts {
    /// Whole seconds (at least 1) per [`Timeout`], indexed by it: what the timer wheel files.
    pub fn secs(&self) -> [u32; 6] {
        [
            self.keepalive,
            self.header,
            self.body,
            self.write,
            self.linger,
            self.handler,
        ]
        .map(|d| d.as_secs().clamp(1, u32::MAX as u64) as u32)
    }
}

/// Phase, receive side, writing, transport, waiting and WebSocket in two bytes:
/// bits 0-2 phase, 3-5 receive side, 6 writing, 7-8 transport, 9 waiting, 10 WebSocket, 11 pinged,
/// 12 permessage-deflate.
#[derive(Copy, Clone, PartialEq, Eq)]
pub struct State(u16);

const PHASE: u16 = 0b111;
const RECV_SHIFT: u16 = 3;
const RECV: u16 = 0b111 << RECV_SHIFT;
const WRITING: u16 = 1 << 6;
const TRANSPORT_SHIFT: u16 = 7;
const WAITING: u16 = 1 << 9;
/// The connection speaks WebSocket (after `101 Switching Protocols`).
const WEBSOCKET: u16 = 1 << 10;
/// A ping went out for an idle WebSocket connection and nothing has come back since.
const PINGED: u16 = 1 << 11;
/// The WebSocket connection negotiated permessage-deflate.
const DEFLATE: u16 = 1 << 12;

impl State {
    /// A freshly accepted connection.
    pub fn new(transport: TransportKind) -> State {
        State((transport as u16) << TRANSPORT_SHIFT)
    }

    pub fn phase(self) -> Phase {
        match self.0 & PHASE {
            0 => Phase::New,
            1 => Phase::Open,
            2 => Phase::Last,
            3 => Phase::Lingering,
            4 => Phase::Closing,
            _ => Phase::Closed,
        }
    }

    pub fn recv(self) -> Recv {
        match (self.0 & RECV) >> RECV_SHIFT {
            0 => Recv::Idle,
            1 => Recv::Armed,
            2 => Recv::Pausing,
            3 => Recv::Paused,
            4 => Recv::Cancelling,
            _ => Recv::Eof,
        }
    }

    pub fn writing(self) -> bool {
        self.0 & WRITING != 0
    }

    pub fn transport(self) -> TransportKind {
        TransportKind::Plain
    }

    fn set_phase(&mut self, p: Phase) {
        self.0 = (self.0 & !PHASE) | p as u16;
    }

    fn set_recv(&mut self, r: Recv) {
        self.0 = (self.0 & !RECV) | (r as u16) << RECV_SHIFT;
    }

    // ---- questions ----

    /// The connection is on its way out (close decided or submitted).
    pub fn closing(self) -> bool {
        matches!(self.phase(), Phase::Closing | Phase::Closed)
    }

    /// A receive operation is in flight (armed, or cancelled and not yet ended).
    pub fn recv_in_flight(self) -> bool {
        matches!(self.recv(), Recv::Armed | Recv::Pausing | Recv::Cancelling)
    }

    /// A receive may be armed now: not closing, not paused on purpose, no EOF, none armed.
    pub fn may_arm_recv(self) -> bool {
        !self.closing() && self.recv() == Recv::Idle
    }

    /// Received bytes are requests to parse (not discarded: lingering, last response queued).
    pub fn takes_requests(self) -> bool {
        matches!(self.phase(), Phase::New | Phase::Open)
    }

    /// Closing, and nothing but cancels is in flight: the close can be submitted.
    pub fn ready_to_close(self) -> bool {
        self.phase() == Phase::Closing && !self.recv_in_flight() && !self.writing()
    }

    /// The timeout that applies in this state, or `None` when none does (closing).
    /// `input` (part of a request head is buffered), `body` (a request body is still
    /// arriving) and `deferred` (a handler's answer is awaited) come from the per-request state.
    #[inline]
    pub fn timeout(self, input: bool, body: bool, deferred: bool) -> Option<Timeout> {
        Some(match self.phase() {
            Phase::Closing | Phase::Closed => return None,
            Phase::Lingering => Timeout::Linger,
            _ if self.writing() => Timeout::Write,
            _ if deferred => Timeout::Handler,
            _ if body => Timeout::Body,
            // Slowloris: the whole head must arrive within one header timeout.
            Phase::New => Timeout::Header,
            _ if input => Timeout::Header,
            _ => Timeout::KeepAlive,
        })
    }

    // ---- transitions ----

    /// A receive was submitted.
    pub fn recv_armed(&mut self) {
        debug_assert!(matches!(self.recv(), Recv::Idle | Recv::Paused), "{self:?}");
        self.set_recv(Recv::Armed);
    }

    /// Stop receiving for backpressure (resumable). Returns whether a cancel must be submitted
    /// (a receive is armed).
    pub fn pause(&mut self) -> bool {
        match self.recv() {
            Recv::Armed => {
                self.set_recv(Recv::Pausing);
                true
            }
            Recv::Idle => {
                self.set_recv(Recv::Paused);
                false
            }
            _ => false,
        }
    }

    /// Stop receiving for good (closing). Returns whether a cancel must be submitted (a receive
    /// is armed and no cancel is in flight for it yet).
    pub fn stop_recv(&mut self) -> bool {
        match self.recv() {
            Recv::Armed => {
                self.set_recv(Recv::Cancelling);
                true
            }
            // The pause's cancel is already in flight; it serves the close too.
            Recv::Pausing => {
                self.set_recv(Recv::Cancelling);
                false
            }
            Recv::Paused => {
                self.set_recv(Recv::Idle);
                false
            }
            _ => false,
        }
    }

    /// A receive may be armed to resume after a pause, or to drain while lingering.
    pub fn may_resume_recv(self) -> bool {
        !self.closing() && matches!(self.recv(), Recv::Idle | Recv::Paused)
    }

    /// The receive delivered its final completion; `eof` when that was the peer's FIN.
    pub fn recv_ended(&mut self, eof: bool) {
        let next = match self.recv() {
            _ if eof => Recv::Eof,
            Recv::Pausing => Recv::Paused,
            Recv::Eof => Recv::Eof,
            _ => Recv::Idle,
        };
        self.set_recv(next);
    }

    /// The peer sent FIN.
    pub fn peer_eof(self) -> bool {
        self.recv() == Recv::Eof
    }

    /// Requests wait in the stash for the core's response budget (its receive paused).
    pub fn waiting(self) -> bool {
        self.0 & WAITING != 0
    }

    /// The connection speaks WebSocket.
    pub fn websocket(self) -> bool {
        self.0 & WEBSOCKET != 0
    }

    /// `101 Switching Protocols` is queued: what follows is WebSocket frames.
    pub fn upgrade(&mut self) {
        self.0 |= WEBSOCKET;
    }

    /// A ping for an idle WebSocket connection is unanswered.
    pub fn pinged(self) -> bool {
        self.0 & PINGED != 0
    }

    /// The WebSocket connection negotiated permessage-deflate.
    pub fn deflate(self) -> bool {
        self.0 & DEFLATE != 0
    }

    pub fn set_deflate(&mut self, on: bool) {
        if on {
            self.0 |= DEFLATE;
        } else {
            self.0 &= !DEFLATE;
        }
    }

    pub fn set_pinged(&mut self, on: bool) {
        if on {
            self.0 |= PINGED;
        } else {
            self.0 &= !PINGED;
        }
    }

    pub fn set_waiting(&mut self, on: bool) {
        if on {
            self.0 |= WAITING;
        } else {
            self.0 &= !WAITING;
        }
    }

    pub fn write_started(&mut self) {
        debug_assert!(!self.writing());
        self.0 |= WRITING;
    }

    pub fn write_ended(&mut self) {
        self.0 &= !WRITING;
    }

    /// A request was parsed: a new connection becomes a keep-alive one.
    pub fn request_started(&mut self) {
        if self.phase() == Phase::New {
            self.set_phase(Phase::Open);
        }
    }

    /// The response queued is the last one: close after writing it.
    pub fn last_response(&mut self) {
        if matches!(self.phase(), Phase::New | Phase::Open) {
            self.set_phase(Phase::Last);
        }
    }

    /// Whether a last response was decided (and not yet followed by the linger).
    pub fn is_last(self) -> bool {
        self.phase() == Phase::Last
    }

    /// Our side is shut down; drain input until EOF.
    pub fn linger(&mut self) {
        debug_assert!(!self.closing());
        self.set_phase(Phase::Lingering);
    }

    /// Decide to close. Returns false when already closing.
    pub fn close(&mut self) -> bool {
        if self.closing() {
            return false;
        }
        self.set_phase(Phase::Closing);
        true
    }

    /// The close operation was submitted.
    pub fn close_submitted(&mut self) {
        debug_assert!(self.ready_to_close());
        self.set_phase(Phase::Closed);
    }
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?}/{:?}{}",
            self.phase(),
            self.recv(),
            if self.writing() { "/writing" } else { "" }
        )
    }
}

/// Per-connection state: 24 bytes. Budget (issue 5): an idle connection costs at most 128 bytes
/// of server memory, including its slab entry and generation counter.
pub struct Conn {
    /// The socket; `None` once its close has been submitted (the driver owns it then).
    fd: Option<OwnedFd>,
    pub state: State,
    /// Operations in flight under this slot's token (see `worker::Worker::submit`).
    pub ops: u8,
    /// The WebSocket route of an upgraded connection (in what would be padding).
    pub ws_route: u8,
    /// Coarse deadline in seconds since the worker started.
    pub deadline: u32,
    /// When this connection's live timer-wheel entry is due (0: none filed).
    pub filed: u32,
    /// Per-request state, held only while a request is in flight.
    pub act: Option<Box<Active>>,
}

const _: () = assert!(std::mem::size_of::<Conn>() <= 24);

impl Conn {
    pub fn new(fd: OwnedFd, transport: TransportKind) -> Conn {
        Conn {
            fd: Some(fd),
            state: State::new(transport),
            ops: 0,
            ws_route: 0,
            deadline: 0,
            filed: 0,
            act: None,
        }
    }

    /// The socket's number for submitting operations (-1 once closed, which the kernel rejects).
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_ref().map_or(-1, |f| f.as_raw_fd())
    }

    /// Hand the socket over for closing.
    pub fn take_fd(&mut self) -> Option<OwnedFd> {
        self.fd.take()
    }

    /// Bytes of unparsed input held.
    pub fn input_len(&self) -> usize {
        self.act.as_ref().map_or(0, |a| a.input.len())
    }

    /// Bytes of output queued and not yet written.
    pub fn pending(&self) -> usize {
        self.act.as_ref().map_or(0, |a| a.out.pending())
    }

    /// The timeout that applies now (see [`State::timeout`]).
    #[inline]
    pub fn timeout(&self) -> Option<Timeout> {
        let (input, body, deferred) = self.act.as_ref().map_or((false, false, false), |a| {
            (!a.input.is_empty(), a.body_pending(), a.awaiting())
        });
        self.state.timeout(input, body, deferred)
    }

    /// A handler's answer is awaited or waits to be written.
    #[inline]
    pub fn deferred(&self) -> bool {
        self.act.as_ref().is_some_and(|a| a.deferred())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts {
        keepalive: Duration::from_secs(75),
        header: Duration::from_secs(60),
        body: Duration::from_secs(50),
        write: Duration::from_secs(40),
        linger: Duration::from_secs(5),
        handler: Duration::from_secs(30),
    };

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

    #[test]
    fn packing_round_trips_every_state() {
        let phases = [
            Phase::New,
            Phase::Open,
            Phase::Last,
            Phase::Lingering,
            Phase::Closing,
            Phase::Closed,
        ];
        let recvs = [
            Recv::Idle,
            Recv::Armed,
            Recv::Pausing,
            Recv::Paused,
            Recv::Cancelling,
            Recv::Eof,
        ];
        for p in phases {
            for r in recvs {
                for w in [false, true] {
                    let mut s = State::new(TransportKind::Plain);
                    s.set_phase(p);
                    s.set_recv(r);
                    if w {
                        s.write_started();
                    }
                    s.set_waiting(w);
                    assert_eq!((s.phase(), s.recv(), s.writing()), (p, r, w));
                    assert_eq!((s.transport(), s.waiting()), (TransportKind::Plain, w));
                    s.set_waiting(false);
                    assert_eq!(
                        (s.phase(), s.recv(), s.writing(), s.waiting()),
                        (p, r, w, false)
                    );
                }
            }
        }
    }

    #[test]
    fn receive_side_transitions() {
        let mut s = State::new(TransportKind::Plain);
        assert!(s.may_arm_recv());
        s.recv_armed();
        assert!(!s.may_arm_recv() && s.recv_in_flight());
        // Pause, then the receive ends: paused, resumable but not re-armed on its own.
        assert!(s.pause());
        assert!(!s.pause(), "one cancel in flight at a time");
        s.recv_ended(false);
        assert_eq!(s.recv(), Recv::Paused);
        assert!(!s.may_arm_recv() && s.may_resume_recv());
        s.recv_armed(); // resumed
                        // Close while a pause's cancel is in flight: no second cancel, ends Idle.
        assert!(s.pause());
        assert!(!s.stop_recv());
        assert_eq!(s.recv(), Recv::Cancelling);
        s.recv_ended(false);
        assert_eq!(s.recv(), Recv::Idle);
        // Pausing with nothing armed (single-shot receive between completions) records it.
        assert!(!s.pause());
        assert_eq!(s.recv(), Recv::Paused);
        // EOF is final whatever was in flight.
        s.recv_armed();
        assert!(s.stop_recv());
        s.recv_ended(true);
        assert!(s.peer_eof() && !s.may_arm_recv() && !s.may_resume_recv());
        s.recv_ended(false);
        assert!(s.peer_eof());
        assert!(!s.pause() && !s.stop_recv());
        assert!(s.peer_eof());
        // Closing a paused connection needs no cancel.
        let mut p = State::new(TransportKind::Plain);
        p.pause();
        assert!(!p.stop_recv());
        assert_eq!(p.recv(), Recv::Idle);
    }

    #[test]
    fn phase_transitions() {
        let mut s = State::new(TransportKind::Plain);
        assert_eq!(s.phase(), Phase::New);
        s.request_started();
        assert_eq!(s.phase(), Phase::Open);
        s.request_started();
        assert_eq!(s.phase(), Phase::Open);
        s.last_response();
        assert!(s.is_last() && !s.takes_requests());
        s.linger();
        assert_eq!(s.phase(), Phase::Lingering);
        s.last_response(); // no way back
        assert_eq!(s.phase(), Phase::Lingering);
        assert!(s.close());
        assert!(!s.close(), "closing twice is a no-op");
        s.recv_armed();
        assert!(!s.ready_to_close(), "a receive is armed");
        s.stop_recv();
        assert!(!s.ready_to_close(), "its cancel has not ended it yet");
        s.recv_ended(false);
        s.write_started();
        assert!(!s.ready_to_close(), "a write is in flight");
        s.write_ended();
        assert!(s.ready_to_close());
        s.close_submitted();
        assert_eq!(s.phase(), Phase::Closed);
        assert!(s.closing() && !s.may_arm_recv());
    }

    #[test]
    fn each_state_has_its_timeout() {
        use Timeout::*;
        let mut s = State::new(TransportKind::Plain);
        assert_eq!(
            s.timeout(false, false, false),
            Some(Header),
            "new: header timeout"
        );
        s.request_started();
        assert_eq!(
            s.timeout(false, false, false),
            Some(KeepAlive),
            "idle keep-alive"
        );
        assert_eq!(
            s.timeout(true, false, false),
            Some(Header),
            "part of a head buffered"
        );
        assert_eq!(s.timeout(false, true, false), Some(Body), "body arriving");
        assert_eq!(
            s.timeout(true, false, true),
            Some(Handler),
            "an answer is awaited"
        );
        s.write_started();
        assert_eq!(s.timeout(true, true, false), Some(Write), "writing wins");
        assert_eq!(
            s.timeout(true, true, true),
            Some(Write),
            "writing wins over a deferral"
        );
        s.write_ended();
        s.last_response();
        s.linger();
        assert_eq!(s.timeout(false, false, false), Some(Linger), "lingering");
        s.close();
        assert_eq!(s.timeout(false, false, false), None, "closing has none");
        let secs = T.secs();
        assert_eq!(secs[KeepAlive as usize], 75);
        assert_eq!(secs[Linger as usize], 5);
        let zero = Timeouts {
            keepalive: Duration::ZERO,
            ..T
        };
        assert_eq!(zero.secs()[KeepAlive as usize], 1, "at least one second");
    }
}
