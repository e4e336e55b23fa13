//! A scripted [`Driver`] for unit tests of code built on the driver: it performs no I/O, records
//! every operation submitted and returns the completions the test queues, in order.
//!
//! A test drives its subject like this: let it submit (e.g. arm a receive), take the recorded
//! [`Op`]s with [`ScriptDriver::take_ops`], queue the completions the kernel could produce
//! ([`ScriptDriver::recv`], [`ScriptDriver::complete`]), and let the subject call
//! [`Driver::wait`]. Races that are hard to provoke for real (EOF during a write, a cancel that
//! loses to the data, a short write) are a few queued completions.
//!
//! Write data is copied when the write is submitted, so a test can assert on the bytes.
//! Descriptors handed to [`Driver::close`] are really closed (they are owned).

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

use crate::{BufId, Completion, Driver, Errno, Token};

/// One operation submitted to the scripted driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// [`Driver::accept_multi`].
    Accept { listener: RawFd, token: Token },
    /// [`Driver::recv_multi`].
    Recv { fd: RawFd, token: Token },
    /// [`Driver::writev`], with the bytes the iovecs held at submission.
    Write {
        fd: RawFd,
        token: Token,
        data: Vec<u8>,
    },
    /// [`Driver::close`] (the descriptor number it had).
    Close { fd: RawFd, token: Token },
    /// [`Driver::cancel`].
    Cancel {
        fd: RawFd,
        target: Token,
        token: Token,
    },
    /// [`Driver::timeout`].
    Timeout { after: Duration, token: Token },
    /// [`Driver::poll_readable`].
    Poll { fd: RawFd, token: Token },
}

impl Op {
    /// The token the operation was submitted under.
    pub fn token(&self) -> Token {
        match self {
            Op::Accept { token, .. }
            | Op::Recv { token, .. }
            | Op::Write { token, .. }
            | Op::Close { token, .. }
            | Op::Cancel { token, .. }
            | Op::Timeout { token, .. }
            | Op::Poll { token, .. } => *token,
        }
    }
}

/// The scripted driver. See the module documentation.
pub struct ScriptDriver {
    ops: Vec<Op>,
    queued: VecDeque<Completion>,
    bufs: Vec<Vec<u8>>,
    free: Vec<u16>,
    size: usize,
}

impl ScriptDriver {
    /// A driver with `count` receive buffers of `size` bytes.
    pub fn new(count: u16, size: usize) -> ScriptDriver {
        ScriptDriver {
            ops: Vec::new(),
            queued: VecDeque::new(),
            bufs: vec![vec![0; size]; count as usize],
            free: (0..count).rev().collect(),
            size,
        }
    }

    /// Every operation submitted since the last call, oldest first.
    pub fn take_ops(&mut self) -> Vec<Op> {
        std::mem::take(&mut self.ops)
    }

    /// Queue a completion for the next [`Driver::wait`].
    pub fn complete(&mut self, c: Completion) {
        self.queued.push_back(c);
    }

    /// Queue a successful receive of `data` (at most one buffer's worth) under `token`, in a
    /// pool buffer. With no free buffer, the receive ends with `ENOBUFS` instead, as the kernel
    /// does.
    pub fn recv(&mut self, token: Token, data: &[u8], more: bool) {
        assert!(data.len() <= self.size, "more than one receive buffer");
        assert!(!data.is_empty(), "an empty receive is EOF: use complete()");
        match self.free.pop() {
            Some(id) => {
                self.bufs[id as usize][..data.len()].copy_from_slice(data);
                let result = Ok(data.len() as u32);
                self.queued.push_back(Completion {
                    token,
                    result,
                    more,
                    buf: Some(BufId(id)),
                });
            }
            None => self
                .queued
                .push_back(Completion::last(token, Err(Errno::ENOBUFS))),
        }
    }

    /// Receive buffers handed out and not yet released.
    pub fn buffers_in_use(&self) -> usize {
        self.bufs.len() - self.free.len()
    }

    /// Completions queued and not yet returned by `wait`.
    pub fn queued(&self) -> usize {
        self.queued.len()
    }
}

impl Driver for ScriptDriver {
    fn accept_multi(&mut self, listener: RawFd, token: Token) {
        self.ops.push(Op::Accept { listener, token });
    }

    fn recv_multi(&mut self, fd: RawFd, token: Token) {
        self.ops.push(Op::Recv { fd, token });
    }

    unsafe fn writev(&mut self, fd: RawFd, iov: *const libc::iovec, iovcnt: u32, token: Token) {
        let mut data = Vec::new();
        for i in 0..iovcnt as usize {
            // SAFETY: the caller guarantees `iov` points to `iovcnt` valid iovecs whose buffers
            // stay valid until the write completes (the Driver contract); we read them now.
            let v = unsafe { &*iov.add(i) };
            // SAFETY: as above, each iovec describes `iov_len` readable bytes.
            let bytes = unsafe { std::slice::from_raw_parts(v.iov_base as *const u8, v.iov_len) };
            data.extend_from_slice(bytes);
        }
        self.ops.push(Op::Write { fd, token, data });
    }

    fn close(&mut self, fd: OwnedFd, token: Token) {
        let raw = fd.as_raw_fd();
        drop(fd); // closed now, exactly once
        self.ops.push(Op::Close { fd: raw, token });
    }

    fn cancel(&mut self, fd: RawFd, target: Token, token: Token) {
        self.ops.push(Op::Cancel { fd, target, token });
    }

    fn timeout(&mut self, after: Duration, token: Token) {
        self.ops.push(Op::Timeout { after, token });
    }

    fn poll_readable(&mut self, fd: RawFd, token: Token) {
        self.ops.push(Op::Poll { fd, token });
    }

    fn wait(&mut self, out: &mut Vec<Completion>) -> std::io::Result<usize> {
        let n = self.queued.len();
        out.extend(self.queued.drain(..));
        Ok(n)
    }

    fn buffer(&self, id: BufId, len: usize) -> &[u8] {
        &self.bufs[id.0 as usize][..len]
    }

    fn release(&mut self, id: BufId) {
        assert!(!self.free.contains(&id.0), "buffer {} released twice", id.0);
        self.free.push(id.0);
    }

    fn describe(&self) -> String {
        "backend=script".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OpKind;

    #[test]
    fn records_and_replays() {
        let mut d = ScriptDriver::new(1, 16);
        let t = Token::new(3, 1, OpKind::Recv);
        d.recv_multi(5, t);
        assert_eq!(d.take_ops(), vec![Op::Recv { fd: 5, token: t }]);
        d.recv(t, b"abc", true);
        d.recv(t, b"def", true); // no buffer left: ENOBUFS, final
        let mut out = Vec::new();
        assert_eq!(d.wait(&mut out).unwrap(), 2);
        let id = out[0].buf.unwrap();
        assert_eq!(d.buffer(id, 3), b"abc");
        assert_eq!(out[1].result, Err(Errno::ENOBUFS));
        assert!(!out[1].more);
        assert_eq!(d.buffers_in_use(), 1);
        d.release(id);
        assert_eq!(d.buffers_in_use(), 0);
    }

    #[test]
    fn copies_write_data() {
        let mut d = ScriptDriver::new(1, 16);
        let (a, b) = (b"he".to_vec(), b"llo".to_vec());
        let iov = [
            libc::iovec {
                iov_base: a.as_ptr() as *mut _,
                iov_len: 2,
            },
            libc::iovec {
                iov_base: b.as_ptr() as *mut _,
                iov_len: 3,
            },
        ];
        let t = Token::new(1, 0, OpKind::Write);
        // SAFETY: iov and its buffers live across the call; the driver copies them at once.
        unsafe { d.writev(9, iov.as_ptr(), 2, t) };
        assert_eq!(
            d.take_ops(),
            vec![Op::Write {
                fd: 9,
                token: t,
                data: b"hello".to_vec()
            }]
        );
    }
}
