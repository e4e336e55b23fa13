//! The epoll backend: readiness turned into completions, with the same semantics as io_uring.
//!
//! Every fd is registered once, edge-triggered, for input and output. Armed operations are kept
//! per fd; when the fd is known to be ready the operation is performed with a plain system call and
//! its result becomes a [`Completion`]. Readiness is cached (`readable`/`writable`) and cleared
//! only on EAGAIN or a short read, so no edge is lost.
//!
//! Does not own: the fds (the caller closes them through [`Driver::close`]).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::pool::{FreeList, Pool};
use crate::sys::{cvt, SyscallReturn};
use crate::{syscall, BufId, Completion, Driver, Errno, PoolConfig, Token};

/// Completions produced per `wait` at most (the io_uring backend's CQ bounds it there).
const MAX_BATCH: usize = 1024;
/// Accepts performed for one listener before other fds get a turn.
const ACCEPT_BATCH: usize = 64;

#[derive(Copy, Clone)]
struct WriteOp {
    token: Token,
    iov: *const libc::iovec,
    iovcnt: u32,
}

#[derive(Default)]
struct FdState {
    registered: bool,
    readable: bool,
    writable: bool,
    /// The peer shut down (or the socket failed): no further edge will come, so a short read
    /// must not clear `readable`.
    hup: bool,
    queued: bool,
    accept: Option<Token>,
    recv: Option<Token>,
    poll: Option<Token>,
    write: Option<WriteOp>,
}

impl FdState {
    fn wants_work(&self) -> bool {
        (self.readable && (self.accept.is_some() || self.recv.is_some() || self.poll.is_some()))
            || (self.writable && self.write.is_some())
    }
}

pub struct EpollDriver {
    epfd: OwnedFd,
    fds: Vec<FdState>,
    ready: Vec<RawFd>,
    scratch: Vec<RawFd>,
    pool: Pool,
    free: FreeList,
    timers: Vec<(Instant, Token)>,
    /// Completions produced at submission (close, cancel), returned by the next `wait`.
    immediate: Vec<Completion>,
    events: Vec<libc::epoll_event>,
}

/// A system call's result as a completion result.
fn ok<T: SyscallReturn + TryInto<u32>>(r: T) -> Result<u32, Errno> {
    cvt(r)
        .map(|n| n.try_into().unwrap_or(u32::MAX))
        .map_err(Errno::from)
}

impl EpollDriver {
    pub fn new(pool: PoolConfig) -> io::Result<EpollDriver> {
        // SAFETY: epoll_create1 has no memory preconditions.
        let epfd = syscall!(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: the descriptor was just created and is owned by nobody else.
        let epfd = unsafe { OwnedFd::from_raw_fd(epfd) };
        let pool = Pool::new(pool)?;
        Ok(EpollDriver {
            epfd,
            fds: Vec::new(),
            ready: Vec::with_capacity(1024),
            scratch: Vec::with_capacity(1024),
            free: FreeList::full(pool.count),
            pool,
            timers: Vec::new(),
            immediate: Vec::new(),
            events: vec![libc::epoll_event { events: 0, u64: 0 }; 1024],
        })
    }

    fn state(&mut self, fd: RawFd) -> &mut FdState {
        let i = fd as usize;
        if i >= self.fds.len() {
            // Grow in steps of 1024 entries: every entry is written (and so resident), so
            // doubling would make thousands of descriptors cost twice what they use.
            self.fds
                .resize_with((i + 1).next_multiple_of(1024), FdState::default);
        }
        &mut self.fds[i]
    }

    /// Register `fd` on first use; errors become a failed completion of `token`.
    fn arm(&mut self, fd: RawFd, token: Token) -> bool {
        if fd < 0 {
            self.immediate
                .push(Completion::last(token, Err(Errno(libc::EBADF))));
            return false;
        }
        let epfd = self.epfd.as_raw_fd();
        let st = self.state(fd);
        if !st.registered {
            let mut ev = libc::epoll_event {
                events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
                u64: fd as u64,
            };
            // SAFETY: ev is a valid epoll_event for the duration of the call.
            let added =
                syscall!(unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &mut ev) });
            if let Err(e) = added {
                self.immediate
                    .push(Completion::last(token, Err(Errno::from(e))));
                return false;
            }
            st.registered = true;
        }
        true
    }

    fn enqueue(&mut self, fd: RawFd) {
        let st = &mut self.fds[fd as usize];
        if !st.queued && st.wants_work() {
            st.queued = true;
            self.ready.push(fd);
        }
    }

    /// Work through the ready fds, at most [`MAX_BATCH`] completions per call (like a bounded
    /// completion queue): the rest stay queued for the next call, so a burst on thousands of
    /// connections does not grow the caller's completion vector without bound.
    fn run_ready(&mut self, out: &mut Vec<Completion>) {
        let start = out.len();
        let mut list = std::mem::take(&mut self.scratch);
        std::mem::swap(&mut list, &mut self.ready);
        let mut done = 0;
        for &fd in &list {
            if out.len() - start >= MAX_BATCH {
                break;
            }
            done += 1;
            self.fds[fd as usize].queued = false;
            self.perform(fd, out);
            self.enqueue(fd);
        }
        // Not reached this time: back to the front of the queue, still marked queued.
        let rest = list.len() - done;
        if rest > 0 {
            self.ready.splice(0..0, list[done..].iter().copied());
        }
        list.clear();
        self.scratch = list;
    }

    /// One round of work on a ready fd: a batch of accepts, one receive, one write, one poll.
    fn perform(&mut self, fd: RawFd, out: &mut Vec<Completion>) {
        let i = fd as usize;
        if let (true, Some(token)) = (self.fds[i].readable, self.fds[i].accept) {
            for _ in 0..ACCEPT_BATCH {
                // SAFETY: null addr/addrlen are allowed by accept4.
                let r = unsafe {
                    libc::accept4(
                        fd,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                    )
                };
                match ok(r as isize) {
                    Ok(nfd) => out.push(Completion::progress(token, Ok(nfd), None)),
                    Err(Errno(libc::EAGAIN)) => {
                        self.fds[i].readable = false;
                        break;
                    }
                    Err(Errno(libc::EINTR | libc::ECONNABORTED)) => {}
                    Err(e) => {
                        // Like io_uring's multishot accept: an error ends the operation.
                        self.fds[i].accept = None;
                        out.push(Completion::last(token, Err(e)));
                        break;
                    }
                }
            }
        }
        if let (true, Some(token)) = (self.fds[i].readable, self.fds[i].recv) {
            if let Some(id) = self.free.pop() {
                let size = self.pool.size as usize;
                // SAFETY: the buffer is ours (taken from the free list) and `size` bytes long.
                let r = unsafe { libc::recv(fd, self.pool.ptr(id).cast(), size, 0) };
                match ok(r) {
                    Ok(0) => {
                        self.free.push(id);
                        self.fds[i].recv = None;
                        out.push(Completion::last(token, Ok(0)));
                    }
                    Ok(n) => {
                        // A short read drained the socket; a new edge will come with new data.
                        if (n as usize) < size && !self.fds[i].hup {
                            self.fds[i].readable = false;
                        }
                        out.push(Completion::progress(token, Ok(n), Some(id)));
                    }
                    Err(Errno(libc::EAGAIN)) => {
                        self.free.push(id);
                        self.fds[i].readable = false;
                    }
                    Err(Errno(libc::EINTR)) => self.free.push(id),
                    Err(e) => {
                        self.free.push(id);
                        self.fds[i].recv = None;
                        out.push(Completion::last(token, Err(e)));
                    }
                }
            } else {
                self.fds[i].recv = None;
                out.push(Completion::last(token, Err(Errno::ENOBUFS)));
            }
        }
        if let (true, Some(w)) = (self.fds[i].writable, self.fds[i].write) {
            // SAFETY: the caller of `writev` guaranteed iov/iovcnt stay valid until completion.
            let r = unsafe { libc::writev(fd, w.iov, w.iovcnt as i32) };
            match ok(r) {
                Err(Errno(libc::EAGAIN)) => self.fds[i].writable = false,
                Err(Errno(libc::EINTR)) => {}
                result => {
                    self.fds[i].write = None;
                    out.push(Completion::last(w.token, result));
                }
            }
        }
        if let (true, Some(token)) = (self.fds[i].readable, self.fds[i].poll) {
            // The cached readiness may be stale (the caller consumed the data itself): ask.
            let mut p = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one pollfd that lives across the call.
            let n = unsafe { libc::poll(&mut p, 1, 0) };
            if n > 0 {
                self.fds[i].poll = None;
                out.push(Completion::last(token, Ok(p.revents as u32)));
            } else {
                self.fds[i].readable = false;
            }
        }
    }

    fn expire(&mut self, out: &mut Vec<Completion>) {
        if self.timers.is_empty() {
            return;
        }
        let now = Instant::now();
        self.timers.retain(|&(at, token)| {
            if at <= now {
                out.push(Completion::last(token, Ok(0)));
                false
            } else {
                true
            }
        });
    }

    fn next_timeout_ms(&self) -> i32 {
        match self.timers.iter().map(|t| t.0).min() {
            None => -1,
            Some(at) => {
                let d = at.saturating_duration_since(Instant::now());
                // Round up so we never wake before the deadline and spin.
                d.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
            }
        }
    }
}

impl Driver for EpollDriver {
    fn accept_multi(&mut self, listener: RawFd, token: Token) {
        // Readiness emulation needs a non-blocking listener; io_uring does not, so callers may
        // pass either. (Accepted sockets are created non-blocking.)
        // SAFETY: fcntl on an fd the caller owns; no memory is passed.
        unsafe {
            let fl = libc::fcntl(listener, libc::F_GETFL);
            if fl >= 0 && fl & libc::O_NONBLOCK == 0 {
                libc::fcntl(listener, libc::F_SETFL, fl | libc::O_NONBLOCK);
            }
        }
        if self.arm(listener, token) {
            self.fds[listener as usize].accept = Some(token);
            self.enqueue(listener);
        }
    }

    fn recv_multi(&mut self, fd: RawFd, token: Token) {
        if self.arm(fd, token) {
            self.fds[fd as usize].recv = Some(token);
            self.enqueue(fd);
        }
    }

    unsafe fn writev(&mut self, fd: RawFd, iov: *const libc::iovec, iovcnt: u32, token: Token) {
        if self.arm(fd, token) {
            self.fds[fd as usize].write = Some(WriteOp { token, iov, iovcnt });
            self.enqueue(fd);
        }
    }

    fn close(&mut self, fd: OwnedFd, token: Token) {
        let fd = fd.into_raw_fd(); // closed below, exactly once
        if fd >= 0 && (fd as usize) < self.fds.len() {
            let st = std::mem::take(&mut self.fds[fd as usize]);
            // Operations still armed end as cancelled, exactly once, before the close completes.
            let armed = [st.accept, st.recv, st.poll, st.write.map(|w| w.token)];
            for t in armed.into_iter().flatten() {
                self.immediate
                    .push(Completion::last(t, Err(Errno::ECANCELED)));
            }
            if st.queued {
                self.ready.retain(|&f| f != fd);
            }
        }
        // SAFETY: closing an fd the caller owns and hands over to us.
        let r = unsafe { libc::close(fd) };
        self.immediate
            .push(Completion::last(token, ok(r as isize).map(|_| 0)));
    }

    fn cancel(&mut self, fd: RawFd, target: Token, token: Token) {
        let mut found = false;
        if fd >= 0 && (fd as usize) < self.fds.len() {
            let st = &mut self.fds[fd as usize];
            for slot in [&mut st.accept, &mut st.recv, &mut st.poll] {
                if *slot == Some(target) {
                    *slot = None;
                    found = true;
                }
            }
            if st.write.map(|w| w.token) == Some(target) {
                st.write = None;
                found = true;
            }
        }
        if let Some(pos) = self.timers.iter().position(|t| t.1 == target) {
            self.timers.swap_remove(pos);
            found = true;
        }
        if found {
            self.immediate
                .push(Completion::last(target, Err(Errno::ECANCELED)));
        }
        let result = if found {
            Ok(0)
        } else {
            Err(Errno(libc::ENOENT))
        };
        self.immediate.push(Completion::last(token, result));
    }

    fn timeout(&mut self, after: Duration, token: Token) {
        self.timers.push((Instant::now() + after, token));
    }

    fn poll_readable(&mut self, fd: RawFd, token: Token) {
        if self.arm(fd, token) {
            self.fds[fd as usize].poll = Some(token);
            self.enqueue(fd);
        }
    }

    fn wait(&mut self, out: &mut Vec<Completion>) -> io::Result<usize> {
        let before = out.len();
        out.append(&mut self.immediate);
        self.run_ready(out);
        self.expire(out);
        loop {
            let timeout = if out.len() > before {
                0
            } else {
                self.next_timeout_ms()
            };
            // SAFETY: events has len() initialised entries that the kernel may overwrite.
            let n = unsafe {
                libc::epoll_wait(
                    self.epfd.as_raw_fd(),
                    self.events.as_mut_ptr(),
                    self.events.len() as i32,
                    timeout,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EINTR) {
                    return Err(e);
                }
            }
            for k in 0..n.max(0) as usize {
                let ev = self.events[k];
                let fd = ev.u64 as RawFd;
                let bits = ev.events as i32;
                let Some(st) = self.fds.get_mut(fd as usize) else {
                    continue;
                };
                if bits & (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) != 0
                {
                    st.readable = true;
                }
                if bits & (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) != 0 {
                    st.hup = true;
                }
                if bits & (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) != 0 {
                    st.writable = true;
                }
                self.enqueue(fd);
            }
            self.run_ready(out);
            self.expire(out);
            if out.len() > before || timeout == 0 {
                break;
            }
        }
        Ok(out.len() - before)
    }

    fn buffer(&self, id: BufId, len: usize) -> &[u8] {
        self.pool.slice(id, len)
    }

    fn release(&mut self, id: BufId) {
        self.free.push(id);
    }

    fn describe(&self) -> String {
        format!(
            "backend=epoll accept=readiness recv=readiness buffers=pool pool={}x{}B",
            self.pool.count, self.pool.size
        )
    }
}
