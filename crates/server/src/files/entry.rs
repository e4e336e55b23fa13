//! A cached file: its validators, its ready-made head lines, its identity body (in memory or
//! mapped) and its compressed variants, built on first use.

use std::cell::{Cell, OnceCell};

use ringhttpd_http::Coding;

use super::{gzip, SMALL};

pub enum Body {
    Mem(Box<[u8]>),
    Map(memmap2::Mmap),
}

impl Body {
    pub fn bytes_ptr(&self) -> *const u8 {
        match self {
            Body::Mem(b) => b.as_ptr(),
            Body::Map(m) => m.as_ptr(),
        }
    }
    pub fn len(&self) -> usize {
        match self {
            Body::Mem(b) => b.len(),
            Body::Map(m) => m.len(),
        }
    }
}

pub struct Variant {
    pub body: Box<[u8]>,
}

pub struct FileEntry {
    pub size: u64,
    pub mtime: i64,
    pub etag: Box<[u8]>,
    pub last_modified: [u8; 29],
    /// `Content-Type: ...\r\nLast-Modified: ...\r\nAccept-Ranges: bytes\r\n[Vary: ...\r\n]`,
    /// then `extra`
    pub head: Box<[u8]>,
    /// The site's header rules that match this file, resolved at load (also sent with 304s).
    pub extra: Box<[u8]>,
    pub compressible: bool,
    /// Compressed variants may exist (type and size qualify); see [`FileEntry::variant`].
    pub can_compress: bool,
    pub identity: Body,
    pub(super) gzip: OnceCell<Option<Variant>>,
    pub(super) deflate: OnceCell<Option<Variant>>,
    pub(super) dev: u64,
    pub(super) ino: u64,
    /// mtime and ctime (seconds, nanoseconds) when loaded, for the re-check of unwatched entries.
    pub(super) times: (i64, i64, i64, i64),
    /// ETags of the gzip and deflate variants, known before either is built (preconditions are
    /// evaluated without compressing anything).
    pub(super) variant_etags: [Box<[u8]>; 2],
    /// Held in the cache (a variant built for an entry that is not would be thrown away).
    pub(super) cached: Cell<bool>,
    pub(super) cost: usize,
    pub(super) watched: bool,
    pub(super) checked: Cell<u32>,
    pub(super) last_used: Cell<u64>,
}

impl FileEntry {
    /// Whether the body in `coding` lives on the heap (in memory, or a compressed variant)
    /// rather than in a file mapping.
    pub fn on_heap(&self, coding: Coding) -> bool {
        coding != Coding::Identity || matches!(self.identity, Body::Mem(_))
    }

    /// The validator of the representation in `coding` (the variant need not be built yet).
    pub fn etag_of(&self, coding: Coding) -> &[u8] {
        match coding {
            Coding::Identity => &self.etag,
            Coding::Gzip => &self.variant_etags[0],
            Coding::Deflate => &self.variant_etags[1],
        }
    }

    /// The variant for `coding` exists already (built, or a `.gz` sibling): serving it costs
    /// no compression.
    pub fn variant_ready(&self, coding: Coding) -> bool {
        let cell = match coding {
            Coding::Identity => return true,
            Coding::Gzip => &self.gzip,
            Coding::Deflate => &self.deflate,
        };
        cell.get().is_some_and(Option::is_some)
    }

    /// The variant for `coding` was built (or found not to be smaller than the file).
    pub fn variant_tried(&self, coding: Coding) -> bool {
        match coding {
            Coding::Identity => true,
            Coding::Gzip => self.gzip.get().is_some(),
            Coding::Deflate => self.deflate.get().is_some(),
        }
    }

    /// Whether building the variant for `coding` may be worth it: the entry stays cached.
    pub fn worth_compressing(&self) -> bool {
        self.can_compress && self.cached.get()
    }

    /// The compressed variant for `coding`, built on first use (level 6 up to [`SMALL`] bytes,
    /// level 1 above, which bounds the time the event loop spends: about 3 ms for 256 KiB).
    /// `None` when it would not be smaller than the file.
    pub fn variant(&self, coding: Coding) -> Option<&Variant> {
        let Body::Mem(data) = &self.identity else {
            return None;
        };
        if !self.can_compress {
            return None;
        }
        let level = if data.len() as u64 <= SMALL { 6 } else { 1 };
        let cell = match coding {
            Coding::Gzip => &self.gzip,
            Coding::Deflate => &self.deflate,
            Coding::Identity => return None,
        };
        cell.get_or_init(|| {
            let body = match coding {
                Coding::Gzip => gzip::gzip(data, level),
                _ => gzip::deflate(data, level),
            };
            (body.len() < data.len()).then(|| Variant {
                body: body.into_boxed_slice(),
            })
        })
        .as_ref()
    }

    /// The bytes of a body already selected (`variant` returned `Some` for it).
    pub fn body(&self, coding: Coding) -> (*const u8, usize) {
        let cell = match coding {
            Coding::Identity => return (self.identity.bytes_ptr(), self.identity.len()),
            Coding::Gzip => &self.gzip,
            Coding::Deflate => &self.deflate,
        };
        let v = cell
            .get()
            .and_then(Option::as_ref)
            .expect("variant built before use");
        (v.body.as_ptr(), v.body.len())
    }
}

pub(super) fn variant_etag(etag: &[u8], suffix: &str) -> Box<[u8]> {
    let mut t = etag[..etag.len() - 1].to_vec();
    t.push(b'-');
    t.extend_from_slice(suffix.as_bytes());
    t.push(b'"');
    t.into_boxed_slice()
}
