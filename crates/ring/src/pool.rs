//! The per-core receive buffer pool: one anonymous mapping cut into `count` buffers of `size`
//! bytes. Pages are only touched (and so only counted in RSS) once a buffer is used.
//!
//! The pool owns the memory; which buffers are free is tracked by the backend (a free list for
//! epoll and legacy provided buffers, the kernel's buffer ring otherwise).

use std::io;

use crate::sys::AnonMap;
use crate::{BufId, PoolConfig};

pub(crate) struct Pool {
    map: AnonMap,
    pub(crate) size: u32,
    pub(crate) count: u16,
}

impl Pool {
    pub(crate) fn new(cfg: PoolConfig) -> io::Result<Pool> {
        if cfg.count == 0 || !cfg.count.is_power_of_two() || cfg.count > 32768 || cfg.size == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "buffer pool: count must be a power of two in 1..=32768 and size > 0",
            ));
        }
        Ok(Pool {
            map: AnonMap::new(cfg.count as usize * cfg.size as usize)?,
            size: cfg.size,
            count: cfg.count,
        })
    }

    pub(crate) fn ptr(&self, id: BufId) -> *mut u8 {
        assert!(id.0 < self.count, "buffer id out of range");
        // SAFETY: id < count, so the offset is inside the mapping.
        unsafe { self.map.ptr().add(id.0 as usize * self.size as usize) }
    }

    pub(crate) fn slice(&self, id: BufId, len: usize) -> &[u8] {
        assert!(len <= self.size as usize, "length past the buffer");
        // SAFETY: the buffer lies inside the live mapping (ptr checks the id, we checked len); the
        // kernel no longer writes to a buffer once its completion has been returned.
        unsafe { std::slice::from_raw_parts(self.ptr(id), len) }
    }
}

/// A LIFO free list of buffer ids (LIFO keeps recently used, cache-warm buffers in play).
pub(crate) struct FreeList {
    ids: Vec<u16>,
}

impl FreeList {
    pub(crate) fn full(count: u16) -> FreeList {
        FreeList {
            ids: (0..count).rev().collect(),
        }
    }
    pub(crate) fn pop(&mut self) -> Option<BufId> {
        self.ids.pop().map(BufId)
    }
    pub(crate) fn push(&mut self, id: BufId) {
        debug_assert!(
            !self.ids.contains(&id.0),
            "double release of buffer {}",
            id.0
        );
        self.ids.push(id.0);
    }
}
