//! The io_uring backend.
//!
//! Owns one ring, the receive pool and the way buffers are handed to the kernel. Each capability
//! has a fallback chosen at start (see [`UringFeatures`]):
//!
//! | capability        | best (kernel)                    | fallback                                   |
//! |-------------------|----------------------------------|--------------------------------------------|
//! | accept            | multishot accept (5.19)          | single-shot accept, re-armed per connection |
//! | receive buffers   | registered buffer ring (5.19)    | PROVIDE_BUFFERS, one SQE per release (5.7) |
//! | receive           | multishot recv (6.0)             | single-shot recv with buffer select        |
//! | task work         | SINGLE_ISSUER + DEFER_TASKRUN (6.1) | COOP_TASKRUN (5.19), then none          |
//!
//! The opcode probe cannot tell multishot from single-shot (same opcode), so multishot accept is
//! inferred from a working buffer ring registration (both 5.19) and multishot recv from the
//! SEND_ZC opcode (both 6.0).

use std::io;
use std::os::fd::{IntoRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use io_uring::types::{BufRingEntry, Fd, Timespec};
use io_uring::{cqueue, opcode, squeue, IoUring, Probe};

pub use crate::features::UringFeatures;
use crate::pool::Pool;
use crate::sys::{raise_limit, AnonMap};
use crate::{BufId, Completion, Driver, Errno, OpKind, PoolConfig, Token};

const BGID: u16 = 0;
/// user_data bit of the readiness poll linked before a legacy-buffer receive, and the
/// user_data of the driver's own cancels of such polls: neither decodes as a `Token`
/// (`Token::decode` refuses high bits), so `reap` drops their completions.
const POLL_BEFORE_RECV: u64 = 1 << 56;
const QUIET: u64 = 1 << 57;
/// Timespecs are copied by the kernel when the SQE is prepared, i.e. during submission; they
/// only need to live until the next submit. This many may be queued between two submits.
const MAX_QUEUED_TIMEOUTS: usize = 16;

#[derive(Copy, Clone, Debug)]
pub struct UringConfig {
    /// Submission queue entries (the completion queue gets four times as many).
    pub entries: u32,
    pub pool: PoolConfig,
    /// Features allowed; the kernel may offer fewer.
    pub allow: UringFeatures,
}

impl Default for UringConfig {
    fn default() -> Self {
        UringConfig {
            entries: 1024,
            pool: PoolConfig::default(),
            allow: UringFeatures::ALL,
        }
    }
}

/// A registered buffer ring (kernel 5.19+): the kernel takes buffers from it, we add them back.
struct BufRing {
    map: AnonMap,
    mask: u16,
    tail: u16,
    published: u16,
}

impl BufRing {
    fn base(&self) -> *mut BufRingEntry {
        self.map.ptr().cast()
    }

    fn push(&mut self, pool: &Pool, id: BufId) {
        let idx = (self.tail & self.mask) as usize;
        // SAFETY: idx <= mask < entries, inside the mapping; the kernel does not read slots between
        // the published tail and our local tail. Only addr/len/bid are written: the `resv` of entry
        // 0 is the shared tail.
        let e = unsafe { &mut *self.base().add(idx) };
        e.set_addr(pool.ptr(id) as u64);
        e.set_len(pool.size);
        e.set_bid(id.0);
        self.tail = self.tail.wrapping_add(1);
    }

    fn publish(&mut self) {
        if self.tail != self.published {
            // SAFETY: the tail field lies inside the mapping (entry 0); it is only written by us and
            // read by the kernel, so an atomic release store orders the entries written before it.
            unsafe {
                let tail = BufRingEntry::tail(self.base()) as *const AtomicU16;
                (*tail).store(self.tail, Ordering::Release);
            }
            self.published = self.tail;
        }
    }
}

enum Buffers {
    Ring(BufRing),
    /// Legacy provided buffers: released ids are handed back with PROVIDE_BUFFERS SQEs.
    Provide {
        pending: Vec<u16>,
    },
}

impl Buffers {
    fn release(&mut self, pool: &Pool, id: BufId) {
        match self {
            Buffers::Ring(r) => r.push(pool, id),
            Buffers::Provide { pending } => pending.push(id.0),
        }
    }
}

pub struct UringDriver {
    // Field order matters: the ring is dropped (and so every operation ended) before the memory
    // that operations may reference (buffer ring, pool).
    ring: IoUring,
    bufs: Buffers,
    pool: Pool,
    feats: UringFeatures,
    timespecs: Box<[Timespec; MAX_QUEUED_TIMEOUTS]>,
    queued_timeouts: usize,
    /// Completions reaped while making room in a full ring, returned by the next `wait`.
    backlog: Vec<Completion>,
    notes: Vec<&'static str>,
    sq_entries: u32,
}

fn setup_error(e: io::Error) -> io::Error {
    let hint = match e.raw_os_error() {
        Some(libc::EPERM) => {
            "io_uring is blocked here (seccomp profile or kernel.io_uring_disabled)"
        }
        Some(libc::ENOSYS) => "this kernel has no io_uring",
        Some(libc::ENOMEM) => {
            "not enough locked memory for the ring (RLIMIT_MEMLOCK, kernels before 5.12)"
        }
        _ => "io_uring setup failed",
    };
    io::Error::new(e.kind(), format!("{hint}: {e}"))
}

fn raise_memlock() -> bool {
    matches!(raise_limit(libc::RLIMIT_MEMLOCK), Some((_, true)))
}

impl UringDriver {
    /// Build a ring for the calling thread (with DEFER_TASKRUN only this thread may use it).
    pub fn new(cfg: UringConfig) -> io::Result<UringDriver> {
        let mut notes = Vec::new();
        let (ring, feats_ring, entries) = Self::build_ring(&cfg, &mut notes)?;
        let mut probe = Probe::new();
        ring.submitter()
            .register_probe(&mut probe)
            .map_err(setup_error)?;
        for (code, name) in [
            (opcode::Accept::CODE, "ACCEPT"),
            (opcode::Recv::CODE, "RECV"),
            (opcode::Writev::CODE, "WRITEV"),
            (opcode::Close::CODE, "CLOSE"),
            (opcode::AsyncCancel::CODE, "ASYNC_CANCEL"),
            (opcode::Timeout::CODE, "TIMEOUT"),
            (opcode::PollAdd::CODE, "POLL_ADD"),
            (opcode::ProvideBuffers::CODE, "PROVIDE_BUFFERS"),
        ] {
            if !probe.is_supported(code) {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("io_uring lacks opcode {name} (needs Linux 5.7 or later)"),
                ));
            }
        }
        let pool = Pool::new(cfg.pool)?;
        let mut feats = feats_ring;
        let mut bufs = None;
        if cfg.allow.buf_ring {
            match Self::register_buf_ring(&ring, &pool) {
                Ok(r) => bufs = Some(Buffers::Ring(r)),
                Err(_) => notes.push("no buffer ring"),
            }
        }
        feats.buf_ring = bufs.is_some();
        // Multishot accept arrived with buffer rings (5.19); multishot recv with SEND_ZC (6.0).
        feats.accept_multi = cfg.allow.accept_multi && feats.buf_ring;
        feats.recv_multi =
            cfg.allow.recv_multi && feats.buf_ring && probe.is_supported(opcode::SendZc::CODE);
        let mut drv = UringDriver {
            ring,
            bufs: bufs.unwrap_or(Buffers::Provide {
                pending: Vec::with_capacity(pool.count as usize),
            }),
            pool,
            feats,
            timespecs: Box::new([Timespec::new(); MAX_QUEUED_TIMEOUTS]),
            queued_timeouts: 0,
            backlog: Vec::new(),
            notes,
            sq_entries: entries,
        };
        // Hand every buffer to the kernel.
        match &mut drv.bufs {
            Buffers::Ring(r) => {
                for id in 0..drv.pool.count {
                    r.push(&drv.pool, BufId(id));
                }
                r.publish();
            }
            Buffers::Provide { .. } => {
                let e = opcode::ProvideBuffers::new(
                    drv.pool.ptr(BufId(0)),
                    drv.pool.size as i32,
                    drv.pool.count,
                    BGID,
                    0,
                )
                .build()
                .user_data(Token::new(0, 0, OpKind::Internal).encode());
                drv.push(e);
            }
        }
        Ok(drv)
    }

    fn build_ring(
        cfg: &UringConfig,
        notes: &mut Vec<&'static str>,
    ) -> io::Result<(IoUring, UringFeatures, u32)> {
        let mut entries = cfg.entries.max(8).next_power_of_two();
        let mut raised = false;
        loop {
            let mut attempts: Vec<(u8, UringFeatures)> = Vec::new();
            let none = UringFeatures {
                defer_taskrun: false,
                coop_taskrun: false,
                ..UringFeatures::ALL
            };
            if cfg.allow.defer_taskrun {
                attempts.push((
                    2,
                    UringFeatures {
                        defer_taskrun: true,
                        ..none
                    },
                ));
            }
            if cfg.allow.coop_taskrun {
                attempts.push((
                    1,
                    UringFeatures {
                        coop_taskrun: true,
                        ..none
                    },
                ));
            }
            attempts.push((0, none));
            let mut last = None;
            for (mode, feats) in attempts {
                let mut b = IoUring::builder();
                b.setup_cqsize(entries * 4);
                match mode {
                    2 => {
                        b.setup_single_issuer().setup_defer_taskrun();
                    }
                    1 => {
                        b.setup_coop_taskrun();
                    }
                    _ => {}
                }
                match b.build(entries) {
                    Ok(ring) => {
                        if !ring.params().is_feature_nodrop() {
                            return Err(io::Error::new(
                                io::ErrorKind::Unsupported,
                                "io_uring without IORING_FEAT_NODROP (needs Linux 5.5 or later)",
                            ));
                        }
                        return Ok((ring, feats, entries));
                    }
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = Some(e),
                    Err(e) => {
                        last = Some(e);
                        break;
                    }
                }
            }
            let e = last.expect("at least one attempt");
            if e.raw_os_error() != Some(libc::ENOMEM) {
                return Err(setup_error(e));
            }
            // Kernels before 5.12 charge the ring to RLIMIT_MEMLOCK: raise the soft limit once,
            // then shrink the ring, then give up (the caller may fall back to epoll).
            if !raised && raise_memlock() {
                raised = true;
                notes.push("raised RLIMIT_MEMLOCK");
                continue;
            }
            if entries > 64 {
                entries /= 2;
                if !notes.contains(&"shrank ring for RLIMIT_MEMLOCK") {
                    notes.push("shrank ring for RLIMIT_MEMLOCK");
                }
                continue;
            }
            return Err(setup_error(e));
        }
    }

    fn register_buf_ring(ring: &IoUring, pool: &Pool) -> io::Result<BufRing> {
        let entries = pool.count;
        let map = AnonMap::new(entries as usize * std::mem::size_of::<BufRingEntry>())?;
        let base = map.ptr() as u64;
        let r = BufRing {
            map,
            mask: entries - 1,
            tail: 0,
            published: 0,
        };
        // SAFETY: the mapping is `entries` entries long and lives in `r`, which the driver keeps
        // until after the ring is dropped (field order of UringDriver).
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(base, entries, BGID, 0)
        }?;
        Ok(r)
    }

    /// What the backend ended up using.
    pub fn features(&self) -> UringFeatures {
        self.feats
    }

    fn push(&mut self, e: squeue::Entry) {
        loop {
            // SAFETY: callers build entries whose pointers satisfy the crate INVARIANT.
            if unsafe { self.ring.submission().push(&e) }.is_ok() {
                return;
            }
            // Full: submit what is queued. If the kernel refuses (EBUSY: completions must be reaped
            // first), park completions in the backlog and try again. Nothing is dropped.
            if self.submit(false).is_err() {
                self.reap_into_backlog();
            }
        }
    }

    /// Make room for `n` entries in the submission queue (a linked pair must not be split
    /// across two submits).
    fn reserve(&mut self, n: usize) {
        loop {
            let room = {
                let sq = self.ring.submission();
                sq.capacity() - sq.len()
            };
            if room >= n {
                return;
            }
            if self.submit(false).is_err() {
                self.reap_into_backlog();
            }
        }
    }

    fn reap_into_backlog(&mut self) {
        let mut tmp = std::mem::take(&mut self.backlog);
        self.reap(&mut tmp);
        self.backlog = tmp;
    }

    fn submit(&mut self, wait: bool) -> io::Result<usize> {
        if let Buffers::Ring(r) = &mut self.bufs {
            r.publish();
        }
        let res = if wait {
            self.ring.submit_and_wait(1)
        } else {
            self.ring.submit()
        };
        match res {
            Ok(n) => {
                self.queued_timeouts = 0;
                Ok(n)
            }
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => Ok(0),
            Err(e) => Err(e),
        }
    }

    fn reap(&mut self, out: &mut Vec<Completion>) -> usize {
        let before = out.len();
        let (ring, bufs, pool) = (&mut self.ring, &mut self.bufs, &self.pool);
        for cqe in ring.completion() {
            let Some(token) = Token::decode(cqe.user_data()) else {
                continue;
            };
            let flags = cqe.flags();
            let res = cqe.result();
            if token.kind == OpKind::Internal {
                if res < 0 && res != -libc::ECANCELED {
                    // A failed PROVIDE_BUFFERS loses buffers from the pool: say so once per failure.
                    eprintln!(
                        "ringhttpd: internal io_uring operation failed: {}",
                        Errno(-res)
                    );
                }
                continue;
            }
            let more = cqueue::more(flags);
            let buf = cqueue::buffer_select(flags).map(BufId);
            let result = match token.kind {
                OpKind::Timeout if res == -libc::ETIME => Ok(0),
                _ if res < 0 => Err(Errno(-res)),
                _ => Ok(res as u32),
            };
            // A buffer picked for a receive that then failed or saw EOF goes straight back.
            let buf = match (buf, result) {
                (Some(id), Ok(n)) if n > 0 => Some(id),
                (Some(id), _) => {
                    bufs.release(pool, id);
                    None
                }
                (None, _) => None,
            };
            out.push(Completion {
                token,
                result,
                more,
                buf,
            });
        }
        out.len() - before
    }
}

impl Driver for UringDriver {
    fn accept_multi(&mut self, listener: RawFd, token: Token) {
        let e = if self.feats.accept_multi {
            opcode::AcceptMulti::new(Fd(listener))
                .flags(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK)
                .build()
        } else {
            opcode::Accept::new(Fd(listener), std::ptr::null_mut(), std::ptr::null_mut())
                .flags(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK)
                .build()
        };
        self.push(e.user_data(token.encode()));
    }

    fn recv_multi(&mut self, fd: RawFd, token: Token) {
        let e = if self.feats.recv_multi {
            opcode::RecvMulti::new(Fd(fd), BGID).build()
        } else {
            opcode::Recv::new(Fd(fd), std::ptr::null_mut(), self.pool.size)
                .buf_group(BGID)
                .build()
                .flags(squeue::Flags::BUFFER_SELECT)
        };
        if matches!(self.bufs, Buffers::Provide { .. }) && !self.feats.recv_multi {
            // Kernels before 5.19 keep a legacy provided buffer attached to a receive that
            // waits for data: every idle connection would pin one, and the 513th idle
            // connection of a worker would starve (seen on Debian's 5.10). So wait for
            // readability first, linked to the receive: the buffer is picked when data is
            // there. The poll's completion is the driver's own (see `POLL_BEFORE_RECV`).
            self.reserve(2);
            let poll = opcode::PollAdd::new(Fd(fd), libc::POLLIN as u32)
                .build()
                .flags(squeue::Flags::IO_LINK)
                .user_data(token.encode() | POLL_BEFORE_RECV);
            self.push(poll);
        }
        self.push(e.user_data(token.encode()));
    }

    unsafe fn writev(&mut self, fd: RawFd, iov: *const libc::iovec, iovcnt: u32, token: Token) {
        let e = opcode::Writev::new(Fd(fd), iov, iovcnt)
            .build()
            .user_data(token.encode());
        self.push(e);
    }

    fn close(&mut self, fd: OwnedFd, token: Token) {
        let fd = fd.into_raw_fd(); // the kernel closes it when the entry runs
        self.push(opcode::Close::new(Fd(fd)).build().user_data(token.encode()));
    }

    fn cancel(&mut self, _fd: RawFd, target: Token, token: Token) {
        self.push(
            opcode::AsyncCancel::new(target.encode())
                .build()
                .user_data(token.encode()),
        );
        if target.kind == OpKind::Recv
            && matches!(self.bufs, Buffers::Provide { .. })
            && !self.feats.recv_multi
        {
            // A receive still waiting behind its readiness poll is not started yet, so the
            // cancel above may not find it: cancelling the poll ends the receive too
            // (ECANCELED, through the link).
            self.push(
                opcode::AsyncCancel::new(target.encode() | POLL_BEFORE_RECV)
                    .build()
                    .user_data(QUIET),
            );
        }
    }

    fn timeout(&mut self, after: Duration, token: Token) {
        if self.queued_timeouts == MAX_QUEUED_TIMEOUTS && self.submit(false).is_err() {
            self.reap_into_backlog();
        }
        let i = self.queued_timeouts.min(MAX_QUEUED_TIMEOUTS - 1);
        self.timespecs[i] = Timespec::new()
            .sec(after.as_secs())
            .nsec(after.subsec_nanos());
        let ts: *const Timespec = &self.timespecs[i];
        self.queued_timeouts = i + 1;
        self.push(opcode::Timeout::new(ts).build().user_data(token.encode()));
    }

    fn poll_readable(&mut self, fd: RawFd, token: Token) {
        let e = opcode::PollAdd::new(Fd(fd), libc::POLLIN as u32).build();
        self.push(e.user_data(token.encode()));
    }

    fn wait(&mut self, out: &mut Vec<Completion>) -> io::Result<usize> {
        let before = out.len();
        out.append(&mut self.backlog);
        // Legacy buffers released since the last wait go back in one batch of SQEs.
        if let Buffers::Provide { pending } = &mut self.bufs {
            let mut ids = std::mem::take(pending);
            for &id in &ids {
                let e = opcode::ProvideBuffers::new(
                    self.pool.ptr(BufId(id)),
                    self.pool.size as i32,
                    1,
                    BGID,
                    id,
                )
                .build()
                .user_data(Token::new(0, 0, OpKind::Internal).encode());
                self.push(e);
            }
            // `push` may have reaped completions that released more buffers meanwhile: keep them.
            ids.clear();
            if let Buffers::Provide { pending } = &mut self.bufs {
                std::mem::swap(pending, &mut ids);
                pending.append(&mut ids);
            }
        }
        let have = out.len() > before || !self.ring.completion().is_empty();
        if let Err(e) = self.submit(!have) {
            match e.raw_os_error() {
                // Completions must be reaped before more can be submitted; reap below.
                Some(libc::EBUSY) | Some(libc::EAGAIN) => {}
                _ => return Err(e),
            }
        }
        // Drain; when the kernel parked overflowed completions (NODROP), flush them and drain
        // again. Bounded: each round moves at least the CQ's worth of entries.
        for _ in 0..64 {
            self.reap(out);
            if !self.ring.submission().cq_overflow() {
                break;
            }
            let _ = self.ring.submit();
        }
        Ok(out.len() - before)
    }

    fn buffer(&self, id: BufId, len: usize) -> &[u8] {
        self.pool.slice(id, len)
    }

    fn release(&mut self, id: BufId) {
        self.bufs.release(&self.pool, id);
    }

    fn describe(&self) -> String {
        let f = self.feats;
        let pick = |b: bool, yes: &'static str, no: &'static str| if b { yes } else { no };
        let mut s = format!(
            "backend=io_uring sq={} accept={} recv={} buffers={} taskrun={} pool={}x{}B",
            self.sq_entries,
            pick(f.accept_multi, "multishot", "single"),
            pick(f.recv_multi, "multishot", "single"),
            pick(f.buf_ring, "buf_ring", "provide_buffers"),
            if f.defer_taskrun {
                "defer"
            } else if f.coop_taskrun {
                "coop"
            } else {
                "default"
            },
            self.pool.count,
            self.pool.size,
        );
        for n in &self.notes {
            s.push_str(" (");
            s.push_str(n);
            s.push(')');
        }
        s
    }
}
