//! A connection's pending output: response heads (and small generated bodies) in one byte
//! buffer, file bodies as references into the file cache. Written with one writev whose iovecs
//! alternate between the two, resuming after partial writes.
//!
//! INVARIANT (output stability, see `worker`): between `prepare` and the completion of the write
//! it was prepared for, nothing is appended and nothing is dropped, so every iovec stays valid.

use std::rc::Rc;

use ringhttpd_http::Coding;

use crate::files::FileEntry;

/// At most this many iovecs per writev (IOV_MAX is 1024).
const MAX_IOV: usize = 64;

enum Part {
    /// Bytes `[start, end)` of `data`.
    Data { start: usize, end: usize },
    /// `len` bytes at `off` of one of the entry's bodies. The `Rc` keeps them alive and in
    /// place; `off + len` was checked against the body's length by `push_body`.
    Body {
        entry: Rc<FileEntry>,
        coding: Coding,
        off: usize,
        len: usize,
    },
}

/// A body range outside the body (a bug in the caller's range arithmetic, refused).
#[derive(Debug, PartialEq, Eq)]
pub struct OutOfRange;

pub struct OutBuf {
    pub data: Vec<u8>,
    parts: Vec<Part>,
    /// `data[..mark]` is covered by `parts`; the rest is an open run.
    mark: usize,
    /// Bytes of all `Body` parts (so [`OutBuf::total`] is O(1)).
    body_bytes: usize,
    /// Heap bytes the `Body` parts keep alive: the whole body of each in-memory entry or variant
    /// referenced (a range of it holds all of it), nothing for mapped files.
    held: usize,
    iov: Vec<libc::iovec>,
    /// Bytes of the whole sequence already written.
    sent: usize,
}

impl OutBuf {
    pub fn new() -> OutBuf {
        // Capacity comes with use and is kept (bounded by the worker) while pooled.
        OutBuf {
            data: Vec::new(),
            parts: Vec::new(),
            mark: 0,
            body_bytes: 0,
            held: 0,
            iov: Vec::new(),
            sent: 0,
        }
    }

    fn close_run(&mut self) {
        if self.data.len() > self.mark {
            self.parts.push(Part::Data {
                start: self.mark,
                end: self.data.len(),
            });
            self.mark = self.data.len();
        }
    }

    /// Append a reference to `len` bytes at `off` of the entry's body in `coding`; refused
    /// (nothing appended) when that range is not inside the body. This check is what makes the
    /// pointer arithmetic in [`OutBuf::prepare`] sound.
    pub fn push_body(
        &mut self,
        entry: &Rc<FileEntry>,
        coding: Coding,
        off: usize,
        len: usize,
    ) -> Result<(), OutOfRange> {
        let (_, body_len) = entry.body(coding);
        if off.checked_add(len).is_none_or(|end| end > body_len) {
            return Err(OutOfRange);
        }
        if len == 0 {
            return Ok(());
        }
        self.close_run();
        self.parts.push(Part::Body {
            entry: entry.clone(),
            coding,
            off,
            len,
        });
        self.body_bytes += len;
        if entry.on_heap(coding) {
            self.held += body_len;
        }
        Ok(())
    }

    /// Drop the bytes written into `data` after `len` (a head whose body was refused).
    pub fn rewind(&mut self, len: usize) {
        assert!(len >= self.mark, "rewinding into parts already queued");
        self.data.truncate(len);
    }

    /// Bytes queued in all: every `Data` part and the open run are `data`, plus the bodies.
    pub fn total(&self) -> usize {
        self.data.len() + self.body_bytes
    }

    /// Bytes queued and not yet written.
    pub fn pending(&self) -> usize {
        self.total() - self.sent
    }

    /// Heap bytes kept alive by the queued bodies (see the per-core budget in `h1`).
    pub fn held(&self) -> usize {
        self.held
    }

    /// Build the iovecs for the unwritten bytes; returns (pointer, count).
    pub fn prepare(&mut self) -> (*const libc::iovec, u32) {
        self.close_run();
        self.iov.clear();
        let mut skip = self.sent;
        for p in &self.parts {
            let (ptr, len) = match p {
                Part::Data { start, end } => (self.data[*start..].as_ptr(), end - start),
                Part::Body {
                    entry,
                    coding,
                    off,
                    len,
                } => {
                    let (base, _) = entry.body(*coding);
                    // SAFETY: off + len <= the body's length, checked by `push_body` (the only
                    // constructor of a Body part); the entry's bytes never move or shrink
                    // while the `Rc` in the part keeps it alive.
                    (unsafe { base.add(*off) }, *len)
                }
            };
            if skip >= len {
                skip -= len;
                continue;
            }
            // SAFETY: skip < len, so the pointer stays inside the same buffer.
            let start = unsafe { ptr.add(skip) };
            self.iov.push(libc::iovec {
                iov_base: start as *mut libc::c_void,
                iov_len: len - skip,
            });
            skip = 0;
            if self.iov.len() == MAX_IOV {
                break;
            }
        }
        (self.iov.as_ptr(), self.iov.len() as u32)
    }

    /// Record `n` bytes written; true when everything is out.
    pub fn advance(&mut self, n: usize) -> bool {
        self.sent += n;
        self.sent >= self.total()
    }

    /// Drop everything queued; returns the heap bytes that were held (see [`OutBuf::held`]).
    pub fn clear(&mut self) -> usize {
        self.data.clear();
        self.parts.clear();
        self.iov.clear();
        self.mark = 0;
        self.body_bytes = 0;
        self.sent = 0;
        std::mem::take(&mut self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::{FileCache, Lookup};

    #[test]
    fn body_ranges_outside_the_body_are_refused() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../www");
        let mut files = FileCache::new(std::path::Path::new(root), 1 << 20).unwrap();
        let Ok(Lookup::File(e)) = files.resolve(b"/index.html", 0) else {
            panic!("the bundled site has an index")
        };
        let n = e.size as usize;
        let mut out = OutBuf::new();
        out.data.extend_from_slice(b"head");
        assert_eq!(
            out.push_body(&e, Coding::Identity, 0, n + 1),
            Err(OutOfRange)
        );
        assert_eq!(out.push_body(&e, Coding::Identity, n, 1), Err(OutOfRange));
        assert_eq!(
            out.push_body(&e, Coding::Identity, usize::MAX, 2),
            Err(OutOfRange)
        );
        assert_eq!(out.total(), 4, "nothing was queued");
        assert_eq!(out.push_body(&e, Coding::Identity, 1, n - 1), Ok(()));
        assert_eq!(out.total(), 4 + n - 1);
        let (_, count) = out.prepare();
        assert_eq!(count, 2);
    }
}
