//! Completion-style I/O driver for one thread.
//!
//! Owns: the kernel interface (an io_uring, or an epoll instance that emulates one), the per-core
//! receive buffer pool, and the encoding of [`Token`]s into kernel `user_data`.
//! Does not own: sockets' lifetimes (the caller submits `close`), connection state, parsing.
//!
//! The caller queues operations ([`Driver::accept_multi`], [`Driver::recv_multi`],
//! [`Driver::writev`], ...) and then calls [`Driver::wait`], which submits everything queued in
//! one go and returns typed [`Completion`]s. Both backends have identical semantics:
//!
//! - `accept_multi` and `recv_multi` are *multishot*: they complete many times with `more == true`
//!   and end with one completion whose `more == false` (error, EOF, cancel, or a kernel that only
//!   has single-shot operations). The caller re-arms when it still wants the operation.
//! - A successful receive carries a [`BufId`] into the driver's pool. The caller reads it with
//!   [`Driver::buffer`] and must hand it back with [`Driver::release`] before its next `wait`.
//! - `recv_multi` may end with `Err(ENOBUFS)` when the pool is empty: re-arm after releasing.
//!
//! INVARIANT (buffers outlive their operation): memory passed by pointer to an operation (the
//! iovec array of [`Driver::writev`] and the bytes it points to) stays valid and unmoved until that
//! operation's final completion has been returned by `wait`, cancel included.

#![deny(unsafe_op_in_unsafe_fn)]

mod epoll;
mod features;
mod pool;
pub mod script;
pub mod sys;
mod token;
mod uring;

use std::fmt;
use std::os::fd::{OwnedFd, RawFd};
use std::time::Duration;

pub use epoll::EpollDriver;
pub use token::{OpKind, Token};
pub use uring::{UringConfig, UringDriver, UringFeatures};

/// A raw `errno` value from a failed operation.
#[derive(Copy, Clone, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    pub const ECANCELED: Errno = Errno(libc::ECANCELED);
    pub const ENOBUFS: Errno = Errno(libc::ENOBUFS);
    pub const EMFILE: Errno = Errno(libc::EMFILE);
    pub const ENFILE: Errno = Errno(libc::ENFILE);
}

impl From<std::io::Error> for Errno {
    /// The OS error of `e` (`EIO` for an error that carries none).
    fn from(e: std::io::Error) -> Errno {
        Errno(e.raw_os_error().unwrap_or(libc::EIO))
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Errno({}: {})",
            self.0,
            std::io::Error::from_raw_os_error(self.0)
        )
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&std::io::Error::from_raw_os_error(self.0), f)
    }
}

/// Index of a receive buffer in the driver's pool.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct BufId(pub u16);

/// One finished (or, for multishot operations, one progressed) operation.
#[derive(Copy, Clone, Debug)]
pub struct Completion {
    pub token: Token,
    /// Bytes moved, the accepted fd, poll mask, or 0; or the error.
    pub result: Result<u32, Errno>,
    /// The operation stays armed and will complete again.
    pub more: bool,
    /// The receive buffer holding the data, for a successful receive.
    pub buf: Option<BufId>,
}

impl Completion {
    /// The final completion of an operation (no buffer).
    pub fn last(token: Token, result: Result<u32, Errno>) -> Completion {
        Completion {
            token,
            result,
            more: false,
            buf: None,
        }
    }

    /// One step of a multishot operation that stays armed.
    pub fn progress(token: Token, result: Result<u32, Errno>, buf: Option<BufId>) -> Completion {
        Completion {
            token,
            result,
            more: true,
            buf,
        }
    }
}

/// Sizes of the per-core receive buffer pool.
#[derive(Copy, Clone, Debug)]
pub struct PoolConfig {
    /// Number of buffers (a power of two, at most 32768).
    pub count: u16,
    /// Bytes per buffer.
    pub size: u32,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            count: 256,
            size: 8192,
        }
    }
}

/// The completion interface shared by the io_uring and epoll backends.
pub trait Driver {
    /// Accept connections on `listener` until cancelled or an error ends it.
    /// Each completion's result is a new non-blocking, close-on-exec socket.
    fn accept_multi(&mut self, listener: RawFd, token: Token);

    /// Receive into pool buffers until cancelled, EOF (`Ok(0)`, final) or an error.
    fn recv_multi(&mut self, fd: RawFd, token: Token);

    /// Gather-write `iovcnt` iovecs starting at `iov`.
    ///
    /// # Safety
    /// `iov` and every buffer it points to must stay valid and unmoved until the final completion
    /// for `token` has been returned by [`Driver::wait`] (see the crate INVARIANT).
    unsafe fn writev(&mut self, fd: RawFd, iov: *const libc::iovec, iovcnt: u32, token: Token);

    /// Close `fd` (the driver takes it over; it is closed exactly once, when the operation
    /// runs). Operations still armed on it must have been cancelled first.
    fn close(&mut self, fd: OwnedFd, token: Token);

    /// Cancel the operation `target`, which was issued on `fd`. `target` then completes with
    /// `Err(ECANCELED)` (unless it finished first); the cancel itself completes under `token`.
    fn cancel(&mut self, fd: RawFd, target: Token, token: Token);

    /// Complete with `Ok(0)` after `after` has elapsed, or `Err(ECANCELED)` when cancelled.
    fn timeout(&mut self, after: Duration, token: Token);

    /// Complete once `fd` is readable (single-shot).
    fn poll_readable(&mut self, fd: RawFd, token: Token);

    /// Submit everything queued, wait for at least one completion and append all available ones
    /// to `out`. Returns the number appended.
    fn wait(&mut self, out: &mut Vec<Completion>) -> std::io::Result<usize>;

    /// The first `len` bytes of a receive buffer.
    fn buffer(&self, id: BufId, len: usize) -> &[u8];

    /// Give a receive buffer back to the pool.
    fn release(&mut self, id: BufId);

    /// One line describing the backend and the features in use.
    fn describe(&self) -> String;
}
