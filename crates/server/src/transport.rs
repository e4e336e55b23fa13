//! The transport seam: what sits between the driver's receive buffers and the HTTP parser, and
//! between a connection's output queue and `writev`. The connection state machine calls only
//! these four functions, so it never knows which transport a connection has.
//!
//! Today there is one transport, plaintext: received bytes are the protocol's bytes, and the
//! output queue's iovecs go to the kernel as they are. The TLS issue adds a userspace-TLS
//! transport (records in -> plaintext, plaintext out -> records, handshake bytes of its own) and
//! a kernel-TLS one (plaintext recv/writev once the handshake is done); their per-connection
//! state lives in [`Transports`], indexed by slot, so `Conn` keeps its 24 bytes.

use crate::conn::TransportKind;
use crate::out::OutBuf;

/// A transport failed for this connection (bad record, handshake failure): close it.
#[derive(Debug)]
pub struct TransportError;

/// Per-worker transport state for the connections that need any (none for plaintext).
#[derive(Default)]
pub struct Transports {}

impl Transports {
    pub fn new() -> Transports {
        Transports {}
    }

    /// Bytes received on connection `key`; returns the plaintext for the protocol.
    pub fn input<'a>(
        &'a mut self,
        kind: TransportKind,
        _key: usize,
        raw: &'a [u8],
    ) -> Result<&'a [u8], TransportError> {
        match kind {
            TransportKind::Plain => Ok(raw),
        }
    }

    /// The iovecs of the next write for connection `key`, whose plaintext output is `out`.
    ///
    /// INVARIANT (output stability, see `worker`): the returned iovecs stay valid until the
    /// write completes, as long as `out` is neither moved nor modified meanwhile.
    pub fn prepare(
        &mut self,
        kind: TransportKind,
        _key: usize,
        out: &mut OutBuf,
    ) -> (*const libc::iovec, u32) {
        match kind {
            TransportKind::Plain => out.prepare(),
        }
    }

    /// `n` bytes of the prepared write went out; returns true when `out` is fully written.
    pub fn written(
        &mut self,
        kind: TransportKind,
        _key: usize,
        out: &mut OutBuf,
        n: usize,
    ) -> bool {
        match kind {
            TransportKind::Plain => out.advance(n),
        }
    }

    /// Connection `key` is gone: drop its transport state.
    pub fn closed(&mut self, kind: TransportKind, _key: usize) {
        match kind {
            TransportKind::Plain => {}
        }
    }
}
