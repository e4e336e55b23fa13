//! The server's system calls outside the driver, in one place: listening sockets, socket
//! shutdown, limits, CPU affinity, signals, eventfds, heap trimming, and the file calls of the
//! file cache. Each returns `io::Result` with the OS error (through the driver crate's
//! `syscall!`); descriptors are returned as `OwnedFd`.

use std::ffi::CStr;
use std::io;
use std::mem::{size_of, zeroed};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use ringhttpd_ring::sys::{cvt, raise_limit};
use ringhttpd_ring::syscall;

fn set_int_opt(fd: RawFd, level: libc::c_int, name: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: passes a pointer to a live c_int and its exact size.
    syscall!(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&v as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as u32,
        )
    })
    .map(drop)
}

/// A non-blocking listening socket with SO_REUSEPORT (one per worker on the same address) and
/// TCP_NODELAY, which accepted sockets inherit: no response waits on Nagle.
pub fn listener(addr: SocketAddr) -> io::Result<OwnedFd> {
    let domain = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: socket has no memory preconditions.
    let fd = syscall!(unsafe {
        libc::socket(
            domain,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })?;
    // SAFETY: the descriptor was just created and is owned by nobody else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let setup = || -> io::Result<()> {
        set_int_opt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        set_int_opt(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
        set_int_opt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)?;
        match addr {
            SocketAddr::V4(a) => {
                // SAFETY: sockaddr_in is plain data; all-zero is a valid starting value.
                let mut sa: libc::sockaddr_in = unsafe { zeroed() };
                sa.sin_family = libc::AF_INET as libc::sa_family_t;
                sa.sin_port = a.port().to_be();
                sa.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
                // SAFETY: pointer and length describe `sa`.
                syscall!(unsafe {
                    libc::bind(
                        fd,
                        (&sa as *const libc::sockaddr_in).cast(),
                        size_of::<libc::sockaddr_in>() as u32,
                    )
                })?;
            }
            SocketAddr::V6(a) => {
                // SAFETY: sockaddr_in6 is plain data; all-zero is a valid starting value.
                let mut sa: libc::sockaddr_in6 = unsafe { zeroed() };
                sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sa.sin6_port = a.port().to_be();
                sa.sin6_addr.s6_addr = a.ip().octets();
                sa.sin6_scope_id = a.scope_id();
                // SAFETY: pointer and length describe `sa`.
                syscall!(unsafe {
                    libc::bind(
                        fd,
                        (&sa as *const libc::sockaddr_in6).cast(),
                        size_of::<libc::sockaddr_in6>() as u32,
                    )
                })?;
            }
        }
        // SAFETY: listen has no memory preconditions. The backlog is capped by somaxconn.
        syscall!(unsafe { libc::listen(fd, 4096) })?;
        Ok(())
    };
    setup()?; // on error `owned` closes the socket
    Ok(owned)
}

/// The port a listening socket is bound to (for `--listen 127.0.0.1:0`).
pub fn local_port(fd: &OwnedFd) -> io::Result<u16> {
    let fd = fd.as_raw_fd();
    // SAFETY: sockaddr_storage is plain data; getsockname writes at most `len` bytes into it.
    let mut ss: libc::sockaddr_storage = unsafe { zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as u32;
    // SAFETY: as above.
    syscall!(unsafe {
        libc::getsockname(
            fd,
            (&mut ss as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    })?;
    // Both sockaddr_in and sockaddr_in6 keep the port right after the family, in network order.
    // SAFETY: ss is at least as large and aligned as sockaddr_in.
    let port =
        unsafe { (*(&ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>()).sin_port };
    Ok(u16::from_be(port))
}

/// Raise the soft open-files limit to the hard limit; returns the resulting soft limit.
pub fn raise_nofile() -> u64 {
    raise_limit(libc::RLIMIT_NOFILE).map_or(1024, |(soft, _)| soft)
}

/// The CPUs this process may run on, in order.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity writes at most its size.
    let mut set: libc::cpu_set_t = unsafe { zeroed() };
    // SAFETY: as above; pid 0 is the calling thread.
    if unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) } != 0 {
        return Vec::new();
    }
    // SAFETY: CPU_ISSET reads the set we own, for indexes below CPU_SETSIZE.
    (0..libc::CPU_SETSIZE as usize)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect()
}

/// Pin the calling thread to `cpu`.
pub fn pin_to(cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; CPU_SET writes inside it (cpu < CPU_SETSIZE is checked).
    unsafe {
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let mut set: libc::cpu_set_t = zeroed();
        libc::CPU_SET(cpu, &mut set);
        cvt(libc::sched_setaffinity(
            0,
            size_of::<libc::cpu_set_t>(),
            &set,
        ))
        .map(drop)
    }
}

/// SIGINT, SIGTERM (stop) and SIGUSR1 (report), blocked in the calling thread and the threads it
/// spawns later, so that [`wait_signal`] can take them synchronously.
pub fn block_stop_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset before use; pthread_sigmask only
    // reads it.
    unsafe {
        let mut set: libc::sigset_t = zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGUSR1);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// Wait up to `timeout` for one of the signals in `set`; `None` when none came.
pub fn wait_signal_timeout(set: &libc::sigset_t, timeout: std::time::Duration) -> Option<i32> {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: sigtimedwait reads the set and the timespec; a null siginfo is allowed.
    syscall!(unsafe { libc::sigtimedwait(set, std::ptr::null_mut(), &ts) }).ok()
}

pub fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: eventfd has no memory preconditions.
    let fd = syscall!(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })?;
    // SAFETY: the descriptor was just created and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Add one to an eventfd's counter (wakes whoever polls it). Best effort: a full counter is
/// already readable.
pub fn eventfd_signal(fd: &OwnedFd) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live u64 to an eventfd we hold.
    let _ = syscall!(unsafe { libc::write(fd.as_raw_fd(), (&one as *const u64).cast(), 8) });
}

/// Reset an eventfd's counter (its poll fires again only after the next signal).
pub fn eventfd_drain(fd: &OwnedFd) {
    let mut n: u64 = 0;
    // SAFETY: reads at most 8 bytes into a live u64 from an eventfd we hold; EAGAIN (already
    // zero) is fine.
    let _ = syscall!(unsafe { libc::read(fd.as_raw_fd(), (&mut n as *mut u64).cast(), 8) });
}

/// The address of a connected socket's peer (one `getpeername`, only when a handler asks).
pub fn peer_addr(fd: RawFd) -> Option<SocketAddr> {
    // SAFETY: sockaddr_storage is plain data for which all-zero bytes are valid.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: getpeername writes at most `len` bytes into `ss`, which lives across the call.
    syscall!(unsafe {
        libc::getpeername(
            fd,
            (&mut ss as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    })
    .ok()?;
    match ss.ss_family as i32 {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let a: &libc::sockaddr_in = unsafe { &*(&ss as *const libc::sockaddr_storage).cast() };
            let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::from((ip, u16::from_be(a.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let a: &libc::sockaddr_in6 = unsafe { &*(&ss as *const libc::sockaddr_storage).cast() };
            let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(SocketAddr::from((ip, u16::from_be(a.sin6_port))))
        }
        _ => None,
    }
}

/// Shut down our sending side (lingering close). Errors (the peer already gone) need no
/// handling: the close follows either way.
pub fn shutdown_write(fd: RawFd) {
    // SAFETY: shutdown on a socket number; no memory involved. A stale number fails with EBADF.
    let _ = syscall!(unsafe { libc::shutdown(fd, libc::SHUT_WR) });
}

/// Seconds since the Unix epoch from the coarse realtime clock (vDSO, a few ns): the `Date`
/// header's resolution is one second.
pub fn unix_time_coarse() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only the timespec we pass.
    let _ = syscall!(unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) });
    ts.tv_sec.max(0) as u64
}

/// Return free heap memory to the system (glibc keeps it otherwise).
pub fn trim_heap() {
    // SAFETY: malloc_trim only releases free heap pages; it touches no live allocation.
    unsafe { libc::malloc_trim(0) };
}

/// Serve allocations up to 4 MiB from the heap instead of a fresh `mmap` each (glibc's default
/// maps anything from 128 KiB up): a response buffer that grows past 128 KiB (the seed's 100 KB
/// of JSON) then reuses freed heap memory instead of mapping, faulting in and unmapping pages
/// for every request (15% of the CPU time of that endpoint). Freed memory still goes back to
/// the system through [`trim_heap`] after a burst.
pub fn tune_malloc() {
    // SAFETY: mallopt only changes the allocator's policy for future allocations.
    unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20) };
}

// ---- files (the file cache's calls) ----

/// `open(2)` of an absolute path.
pub fn open(path: &CStr, flags: i32) -> io::Result<OwnedFd> {
    // SAFETY: open reads the NUL-terminated path only.
    let fd = syscall!(unsafe { libc::open(path.as_ptr(), flags) })?;
    // SAFETY: the descriptor was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `openat2(dir, path, flags, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`: nothing outside `dir`
/// can be reached, whatever symlinks or `..` the path holds (ENOSYS before Linux 5.6).
pub fn openat2_beneath(dir: &OwnedFd, path: &CStr, flags: i32) -> io::Result<OwnedFd> {
    // SAFETY: open_how is plain data; all-zero is its documented default.
    let mut how: libc::open_how = unsafe { zeroed() };
    how.flags = flags as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: openat2 reads the path and `how` (with its exact size) only.
    let fd = syscall!(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            path.as_ptr(),
            &how as *const libc::open_how,
            size_of::<libc::open_how>(),
        )
    })?;
    // SAFETY: the descriptor was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `openat(dir, path, flags)`.
pub fn openat(dir: &OwnedFd, path: &CStr, flags: i32) -> io::Result<OwnedFd> {
    // SAFETY: openat reads the NUL-terminated path only.
    let fd = syscall!(unsafe { libc::openat(dir.as_raw_fd(), path.as_ptr(), flags) })?;
    // SAFETY: the descriptor was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn fstat(fd: &OwnedFd) -> io::Result<libc::stat> {
    // SAFETY: stat is plain data; fstat writes it entirely on success.
    let mut st: libc::stat = unsafe { zeroed() };
    // SAFETY: as above.
    syscall!(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
    Ok(st)
}

/// `fstatat(dir, path)`, following symlinks.
pub fn fstatat(dir: &OwnedFd, path: &CStr) -> io::Result<libc::stat> {
    // SAFETY: stat is plain data; fstatat writes it on success and reads the path only.
    let mut st: libc::stat = unsafe { zeroed() };
    // SAFETY: as above.
    syscall!(unsafe { libc::fstatat(dir.as_raw_fd(), path.as_ptr(), &mut st, 0) })?;
    Ok(st)
}

/// Read up to `len` bytes from the start of a file (fewer if it shrank since its `fstat`).
pub fn read_all(fd: &OwnedFd, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        let dst = buf[got..].as_mut_ptr().cast();
        // SAFETY: writes at most len - got bytes into buf past `got`.
        match syscall!(unsafe { libc::pread(fd.as_raw_fd(), dst, len - got, got as i64) }) {
            Ok(0) => break, // shrank since fstat: serve what is there now
            Ok(n) => got += n as usize,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(buf)
}

/// Map `len` bytes of a file for the kernel to send.
///
/// INVARIANT (mapped bodies): the mapping is only ever read by the kernel (writev), never by
/// this process, so a file truncated under us makes that write fail with EFAULT instead of
/// raising SIGBUS here (see `files`).
pub fn map_for_kernel(fd: &OwnedFd, len: usize) -> io::Result<memmap2::Mmap> {
    // SAFETY: mapped-bodies INVARIANT: nothing in this process dereferences the mapping, so
    // its contents changing or vanishing underneath cannot cause undefined behaviour here.
    unsafe { memmap2::MmapOptions::new().len(len).map(fd.as_raw_fd()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_sockets_inherit_tcp_nodelay() {
        // The worker relies on this instead of one setsockopt per connection.
        let l = listener("127.0.0.1:0".parse().unwrap()).unwrap();
        let port = local_port(&l).unwrap();
        let l = l.as_raw_fd();
        let _c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut fd = -1;
        for _ in 0..100 {
            // SAFETY: accept4 with null address pointers is allowed.
            fd = unsafe { libc::accept4(l, std::ptr::null_mut(), std::ptr::null_mut(), 0) };
            if fd >= 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(fd >= 0, "accept failed");
        let mut v: libc::c_int = 0;
        let mut len = size_of::<libc::c_int>() as u32;
        // SAFETY: getsockopt writes at most `len` bytes into `v`.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                (&mut v as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!(r, 0);
        assert_ne!(v, 0, "accepted socket lost TCP_NODELAY");
        // SAFETY: the accepted fd is this test's own; the OwnedFd closes it once.
        drop(unsafe { OwnedFd::from_raw_fd(fd) });
    }
}
