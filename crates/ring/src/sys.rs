//! The one place that turns raw system-call returns into errors, plus the two pieces of raw
//! memory and limits code the driver and the server share.
//!
//! Owns: [`syscall!`] (a failed call becomes `io::Error` from `errno`), [`AnonMap`] (an anonymous
//! private mapping, unmapped on drop) and [`raise_limit`] (soft resource limit up to the hard
//! one). Does not own: descriptors (callers hold them as `OwnedFd`).

use std::io;

/// A system call's return type: failure is a negative value with the reason in `errno`.
pub trait SyscallReturn: Copy {
    /// Whether this return value reports a failure.
    fn failed(self) -> bool;
}

impl SyscallReturn for i32 {
    fn failed(self) -> bool {
        self < 0
    }
}

impl SyscallReturn for isize {
    fn failed(self) -> bool {
        self < 0
    }
}

impl SyscallReturn for i64 {
    fn failed(self) -> bool {
        self < 0
    }
}

/// `Err(errno)` for a failed return, else the value. Read `errno` right after the call.
pub fn cvt<T: SyscallReturn>(r: T) -> io::Result<T> {
    if r.failed() {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Run a libc call and turn a negative return into `io::Error` from `errno`:
///
/// ```ignore
/// // SAFETY: no memory is passed.
/// let fd = syscall!(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) })?;
/// ```
///
/// The `unsafe` block stays at the call site, so each call carries its own `// SAFETY:`
/// comment and the `undocumented_unsafe_blocks` lint keeps checking it.
#[macro_export]
macro_rules! syscall {
    ($call:expr) => {
        $crate::sys::cvt($call)
    };
}

/// An anonymous private read-write mapping, unmapped on drop. Pages cost memory only once
/// touched.
pub struct AnonMap {
    base: *mut u8,
    len: usize,
}

impl AnonMap {
    /// Map `len` bytes (page-aligned by the kernel; `len` must be non-zero).
    pub fn new(len: usize) -> io::Result<AnonMap> {
        // SAFETY: an anonymous private mapping with no address hint has no preconditions.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(AnonMap {
            base: base.cast(),
            len,
        })
    }

    /// The first byte of the mapping.
    pub fn ptr(&self) -> *mut u8 {
        self.base
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty (never, as built).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for AnonMap {
    fn drop(&mut self) {
        // SAFETY: base/len are exactly what mmap returned. Owners that lend the memory to the
        // kernel (buffer pool, buffer ring) are dropped after the ring that uses it (see
        // `UringDriver` field order), so nothing references it any more.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}

/// Raise the soft limit of `resource` to its hard limit. Returns `(soft limit now, raised)`;
/// `None` when the limit cannot be read.
pub fn raise_limit(resource: libc::__rlimit_resource_t) -> Option<(u64, bool)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only the struct we pass.
    syscall!(unsafe { libc::getrlimit(resource, &mut lim) }).ok()?;
    if lim.rlim_cur >= lim.rlim_max {
        return Some((lim.rlim_cur, false));
    }
    let want = libc::rlimit {
        rlim_cur: lim.rlim_max,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: setrlimit reads only the struct we pass.
    match syscall!(unsafe { libc::setrlimit(resource, &want) }) {
        Ok(_) => Some((want.rlim_cur, true)),
        Err(_) => Some((lim.rlim_cur, false)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_reports_errno() {
        // SAFETY: closing a descriptor number that is not open touches no memory.
        let e = syscall!(unsafe { libc::close(-1) }).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBADF));
        // SAFETY: getpid has no preconditions.
        assert!(syscall!(unsafe { libc::getpid() }).unwrap() > 0);
    }

    #[test]
    fn anon_map_is_writable() {
        let m = AnonMap::new(8192).unwrap();
        // SAFETY: both offsets lie inside the 8192-byte mapping we own.
        unsafe {
            *m.ptr() = 7;
            *m.ptr().add(8191) = 9;
            assert_eq!(*m.ptr() + *m.ptr().add(8191), 16);
        }
        assert_eq!(m.len(), 8192);
    }
}
