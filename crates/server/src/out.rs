//! A connection's pending output: response heads (and small generated bodies) in one byte
//! buffer, file bodies as references into the file cache. Written with one writev whose iovecs
//! alternate between the two, resuming after partial writes.
//!
//! INVARIANT (output stability, see `worker`): between `prepare` and the completion of the write
//! it was prepared for, nothing is appended and nothing is dropped, so every iovec stays valid.

use std::rc::Rc;

use ringhttpd_http::Coding;

use crate::files::FileEntry;
use crate::pubsub::Frame;

/// At most this many iovecs per writev (IOV_MAX is 1024).
const MAX_IOV: usize = 64;
/// Bodies up to this size are moved in memory to put a line in front of them; larger ones get
/// separate iovecs instead (see [`OutBuf::move_tail`]).
const MOVE_MAX: usize = 16 * 1024;

/// Where an output queue stood, to go back to it (a handler that panicked).
#[derive(Copy, Clone, Debug)]
pub struct Snapshot {
    data: usize,
    parts: usize,
    mark: usize,
    body_bytes: usize,
    held: usize,
}

enum Part {
    /// Bytes `[start, end)` of `data`.
    Data { start: usize, end: usize },
    /// Static bytes (a handler's constant body), referenced.
    Static(&'static [u8]),
    /// A published WebSocket frame, shared by every subscriber's queue on this core.
    Shared(Rc<Frame>),
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

    /// Append a reference to static bytes.
    pub fn push_static(&mut self, body: &'static [u8]) {
        if body.is_empty() {
            return;
        }
        self.close_run();
        self.parts.push(Part::Static(body));
        self.body_bytes += body.len();
    }

    /// Append a reference to a shared frame. Unlike every other append, this one is allowed
    /// while a write is in flight: it touches neither `data` nor `iov` (what the write's
    /// iovecs point into), only `parts`, which the next `prepare` reads.
    pub fn push_shared(&mut self, frame: Rc<Frame>) {
        self.close_run(); // a no-op while writing: `prepare` closed the run
        self.body_bytes += frame.bytes().len();
        self.parts.push(Part::Shared(frame));
    }

    /// Parts queued (each queued frame is one).
    pub fn parts_len(&self) -> usize {
        self.parts.len()
    }

    /// `data[tail..]` (just written) belongs before `data[at..tail]` (a body written before the
    /// line that must precede it): small bodies are rotated in place; larger ones are left
    /// where they are and queued as separate pieces in the right order, so they are not copied.
    pub fn move_tail(&mut self, at: usize, tail: usize) {
        assert!(self.mark <= at && at <= tail && tail <= self.data.len());
        let tail_len = self.data.len() - tail;
        if tail - at <= MOVE_MAX {
            self.data[at..].rotate_right(tail_len);
            return;
        }
        if at > self.mark {
            self.parts.push(Part::Data {
                start: self.mark,
                end: at,
            });
        }
        self.parts.push(Part::Data {
            start: tail,
            end: self.data.len(),
        });
        self.parts.push(Part::Data {
            start: at,
            end: tail,
        });
        self.mark = self.data.len();
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            data: self.data.len(),
            parts: self.parts.len(),
            mark: self.mark,
            body_bytes: self.body_bytes,
            held: self.held,
        }
    }

    /// Go back to `s`: everything queued since is dropped (nothing has been written since,
    /// by the output-stability INVARIANT).
    pub fn restore(&mut self, s: Snapshot) {
        self.parts.truncate(s.parts);
        self.data.truncate(s.data);
        self.mark = s.mark;
        self.body_bytes = s.body_bytes;
        self.held = s.held;
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

    /// Heap bytes the queue keeps alive: generated bytes (heads, handler bodies) and the
    /// cached bodies referenced (see the per-core budget in `h1`).
    pub fn held(&self) -> usize {
        self.held + self.data.len()
    }

    /// Build the iovecs for the unwritten bytes; returns (pointer, count).
    pub fn prepare(&mut self) -> (*const libc::iovec, u32) {
        self.close_run();
        self.iov.clear();
        let mut skip = self.sent;
        for p in &self.parts {
            let (ptr, len) = match p {
                Part::Data { start, end } => (self.data[*start..].as_ptr(), end - start),
                Part::Static(b) => (b.as_ptr(), b.len()),
                Part::Shared(f) => (f.bytes().as_ptr(), f.bytes().len()),
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
        let held = self.held();
        self.held = 0;
        self.data.clear();
        self.parts.clear();
        self.iov.clear();
        self.mark = 0;
        self.body_bytes = 0;
        self.sent = 0;
        held
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
        let Ok(Lookup::File(e)) = files.resolve(b"/index.html", 0, false) else {
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

    /// The bytes `prepare` would hand to writev, in order.
    fn gathered(out: &mut OutBuf) -> Vec<u8> {
        let (iov, count) = out.prepare();
        let mut v = Vec::new();
        for i in 0..count as usize {
            // SAFETY: prepare returned `count` iovecs that point into live buffers of `out`.
            let io = unsafe { &*iov.add(i) };
            // SAFETY: each iovec describes initialised bytes inside `out`'s buffers.
            v.extend_from_slice(unsafe {
                std::slice::from_raw_parts(io.iov_base as *const u8, io.iov_len)
            });
        }
        v
    }

    #[test]
    fn a_tail_moves_in_front_of_its_body() {
        for body_len in [10, MOVE_MAX + 1] {
            let mut out = OutBuf::new();
            out.data.extend_from_slice(b"HEAD ");
            let at = out.data.len();
            out.data.extend(std::iter::repeat_n(b'b', body_len));
            let tail = out.data.len();
            out.data.extend_from_slice(b"LEN ");
            out.move_tail(at, tail);
            out.data.extend_from_slice(b" NEXT");
            let mut want = b"HEAD LEN ".to_vec();
            want.extend(std::iter::repeat_n(b'b', body_len));
            want.extend_from_slice(b" NEXT");
            assert_eq!(out.total(), want.len());
            assert_eq!(gathered(&mut out), want, "body of {body_len}");
        }
    }

    #[test]
    fn static_parts_and_restore() {
        let mut out = OutBuf::new();
        out.data.extend_from_slice(b"a");
        let s = out.snapshot();
        out.data.extend_from_slice(b"b");
        out.push_static(b"STATIC");
        out.data.extend_from_slice(b"c");
        assert_eq!(gathered(&mut out), b"abSTATICc");
        out.restore(s);
        assert_eq!(out.total(), 1);
        assert_eq!(gathered(&mut out), b"a");
    }
}
