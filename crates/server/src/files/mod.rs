//! The static file cache: one per worker thread, so a hit takes no lock and no system call.
//!
//! Owns: open/stat/read/mmap of files under the root, the cached entries (shared with in-flight
//! responses through `Rc`, so an entry evicted or invalidated mid-response stays alive until
//! its write completes), and an inotify instance watching the directories of cached files.
//! Does not own: HTTP semantics (see `serve` and the http crate).
//!
//! Bodies: files up to [`SMALL`] bytes are read into memory; larger ones are mapped (`mmap`) and
//! only ever read by the kernel (writev), never by this process: if such a file is truncated
//! while being served, the write fails with EFAULT instead of raising SIGBUS, and the connection
//! is closed, so a response never disagrees with its Content-Length. Compressed variants are
//! built from a `pread` copy, never from the mapping.
//!
//! Safety of paths: targets are normalised (`ringhttpd_http::normalize_path`), dotfiles are
//! refused, and files are opened with `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`, so a
//! symlink cannot lead outside the root. Kernels without openat2 (before 5.6) get `openat` plus a
//! check of the opened file's real path against the root's.
//!
//! Freshness: a change under a watched directory (modify, attribute, create, delete, move)
//! drops the matching entries at once. Entries whose directory could not be watched are
//! re-checked with `fstatat` at most once per second.

mod entry;
pub mod gzip;
pub mod mime;
pub mod serve;
mod watch;

use std::cell::{Cell, OnceCell};
use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use std::rc::Rc;

use inotify::{Inotify, WatchDescriptor};
use ringhttpd_http::{normalize_path, HttpDate, PathError};

use crate::sys;
use entry::variant_etag;
pub use entry::{Body, FileEntry, Variant};

/// Files up to this size are held in memory; larger ones are mapped.
pub const SMALL: u64 = 64 * 1024;
/// Compressible files between these sizes get gzip and deflate variants.
const COMPRESS_MIN: u64 = 256;
const COMPRESS_MAX: u64 = 256 * 1024;
/// At most this many bytes are compressed per loop turn (about 3 ms at level 1); a request that
/// would need more gets the identity body (or a variant already built).
const COMPRESS_PER_TURN: usize = 256 * 1024;
/// Longest normalised path (bytes).
pub const MAX_PATH: usize = 4096;

pub enum Lookup {
    File(Rc<FileEntry>),
    /// A directory named without its trailing slash.
    Redirect,
    Forbidden,
    NotFound,
    /// The file exists but could not be read.
    Error,
}

#[derive(Default, Debug)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub invalidations: u64,
    pub evictions: u64,
    /// Entries loaded through a symlink or with other hard links (re-checked, not watched).
    pub linked: u64,
    /// Variants compressed; compressions refused because the entry is not cached, or because
    /// the turn's budget was spent (identity served instead).
    pub compressions: u64,
    pub compress_uncached: u64,
    pub compress_deferred: u64,
    /// Time spent loading files on misses (blocking the event loop), and the longest load.
    pub load_time: std::time::Duration,
    pub slowest_load: std::time::Duration,
}

/// A header rule: a glob on the file's path (from `/`) and the fields it sets.
#[derive(Clone, Debug)]
pub struct HeaderRule {
    pub glob: String,
    pub set: Vec<(String, String)>,
}

/// `*` matches any run of bytes (`/` included), `?` one byte, anything else itself.
pub fn glob_match(glob: &[u8], s: &[u8]) -> bool {
    let (mut g, mut i) = (0, 0);
    // The last `*` seen and where in `s` it was tried: backtrack there on a mismatch.
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        match glob.get(g) {
            Some(b'*') => {
                star = Some((g, i));
                g += 1;
            }
            Some(&c) if c == b'?' || c == s[i] => {
                g += 1;
                i += 1;
            }
            _ => match star {
                Some((sg, si)) => {
                    g = sg + 1;
                    i = si + 1;
                    star = Some((sg, si + 1));
                }
                None => return false,
            },
        }
    }
    glob[g..].iter().all(|&c| c == b'*')
}

pub struct FileCache {
    /// Per-core scratch for path normalisation (reused, never zeroed per request).
    scratch: Box<[u8]>,
    norm: Box<[u8]>,
    root_fd: OwnedFd,
    root_real: PathBuf,
    map: HashMap<Box<[u8]>, Rc<FileEntry>>,
    used: usize,
    budget: usize,
    clock: u64,
    inotify: Option<Inotify>,
    /// Watched directory (relative path, "" for the root) by watch descriptor.
    watches: HashMap<WatchDescriptor, Box<[u8]>>,
    watched_dirs: HashMap<Box<[u8]>, WatchDescriptor>,
    openat2: bool,
    /// Length of the normalised path in `norm` from the last resolve.
    norm_len: usize,
    /// Bytes that may still be compressed in this loop turn.
    compress_left: usize,
    /// The site's own pages for error statuses: (status, path under the root).
    error_pages: Vec<(u16, Rc<[u8]>)>,
    /// The site's header rules, in order (later ones win): glob, (name, value) pairs.
    header_rules: Vec<HeaderRule>,
    pub stats: CacheStats,
}

/// The path an open descriptor really refers to (symlinks resolved), from /proc.
fn real_path(fd: &OwnedFd) -> io::Result<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn cstr(p: &[u8]) -> io::Result<CString> {
    CString::new(p).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

impl FileCache {
    /// Serve these pages (paths under the root) for these statuses instead of the plain ones.
    pub fn set_error_pages(&mut self, pages: &[(u16, String)]) {
        self.error_pages = pages
            .iter()
            .map(|(s, p)| (*s, Rc::from(p.as_bytes())))
            .collect();
    }

    /// Add these header lines to the files whose path (`/` and the path under the root)
    /// matches the glob (`*` any run of bytes, `/` included; `?` one byte); later rules win
    /// over earlier ones for the same name. Resolved once per file, when it is loaded.
    pub fn set_header_rules(&mut self, rules: &[HeaderRule]) {
        self.header_rules = rules.to_vec();
        self.map.clear(); // loaded under other rules
        self.used = 0;
    }

    /// The page for `status`, if the site has one (its path, starting with `/`).
    pub fn error_page(&self, status: u16) -> Option<Rc<[u8]>> {
        self.error_pages
            .iter()
            .find(|(s, _)| *s == status)
            .map(|(_, p)| p.clone())
    }

    pub fn new(root: &Path, budget: usize) -> io::Result<FileCache> {
        let root_real = std::fs::canonicalize(root)?;
        let c = cstr(root_real.as_os_str().as_bytes())?;
        let root_fd = sys::open(&c, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)?;
        let mut cache = FileCache {
            scratch: vec![0; MAX_PATH].into_boxed_slice(),
            norm: vec![0; MAX_PATH + 16].into_boxed_slice(),
            root_fd,
            root_real,
            map: HashMap::new(),
            used: 0,
            budget,
            clock: 0,
            inotify: Inotify::init().ok(),
            watches: HashMap::new(),
            watched_dirs: HashMap::new(),
            openat2: true,
            norm_len: 0,
            compress_left: COMPRESS_PER_TURN,
            error_pages: Vec::new(),
            header_rules: Vec::new(),
            stats: CacheStats::default(),
        };
        // Probe openat2 once (ENOSYS before 5.6).
        match cache.open_beneath(b".", libc::O_PATH | libc::O_DIRECTORY) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => cache.openat2 = false,
            Err(_) => {}
        }
        Ok(cache)
    }

    /// One line for the start-up banner.
    pub fn describe(&self) -> String {
        format!(
            "files=cache({}MiB/thread) resolve={} inotify={}",
            self.budget >> 20,
            if self.openat2 {
                "openat2-beneath"
            } else {
                "openat+realpath"
            },
            if self.inotify.is_some() {
                "on"
            } else {
                "off (1 s re-check)"
            }
        )
    }

    pub fn report(&self) -> String {
        let s = &self.stats;
        format!(
            "cache hits={} misses={} invalidations={} evictions={} linked={} compressions={} \
             compress_uncached={} compress_deferred={} load_time={:.1}ms slowest_load={:.2}ms",
            s.hits,
            s.misses,
            s.invalidations,
            s.evictions,
            s.linked,
            s.compressions,
            s.compress_uncached,
            s.compress_deferred,
            s.load_time.as_secs_f64() * 1e3,
            s.slowest_load.as_secs_f64() * 1e3
        )
    }

    /// The inotify descriptor to poll, if any.
    pub fn notify_fd(&self) -> Option<RawFd> {
        self.inotify.as_ref().map(|i| i.as_raw_fd())
    }

    /// Open `rel` (relative, normalised) beneath the root.
    fn open_beneath(&self, rel: &[u8], flags: i32) -> io::Result<OwnedFd> {
        let path = cstr(if rel.is_empty() { b"." } else { rel })?;
        let owned = if self.openat2 {
            // openat2 rejects flags O_PATH does not use (O_NOCTTY among them).
            let extra = if flags & libc::O_PATH != 0 {
                0
            } else {
                libc::O_NOCTTY
            };
            sys::openat2_beneath(&self.root_fd, &path, flags | libc::O_CLOEXEC | extra)?
        } else {
            sys::openat(
                &self.root_fd,
                &path,
                flags | libc::O_CLOEXEC | libc::O_NOCTTY,
            )?
        };
        if !self.openat2 {
            // No RESOLVE_BENEATH: check where the descriptor really points.
            if !real_path(&owned)?.starts_with(&self.root_real) {
                return Err(io::Error::from_raw_os_error(libc::EXDEV));
            }
        }
        Ok(owned)
    }

    /// Normalise a request path (no query) and look it up. Uses the cache's scratch buffers, so
    /// nothing is allocated or zeroed per request.
    ///
    /// `decoded`: the path was decoded and normalised already (by the router), so it is not
    /// decoded again (`%252e` must stay the name `%2e`).
    pub fn resolve(&mut self, path: &[u8], now: u32, decoded: bool) -> Result<Lookup, PathError> {
        let mut norm = std::mem::take(&mut self.norm);
        let normal = if decoded {
            let rel = path.strip_prefix(b"/").unwrap_or(path);
            let dir = rel.is_empty() || rel.ends_with(b"/");
            let rel = rel.strip_suffix(b"/").unwrap_or(rel);
            if rel.len() > MAX_PATH {
                Err(PathError::TooLong)
            } else {
                norm[..rel.len()].copy_from_slice(rel);
                Ok(ringhttpd_http::NormalPath {
                    len: rel.len(),
                    dir,
                })
            }
        } else {
            normalize_path(path, &mut self.scratch, &mut norm[..MAX_PATH])
        };
        let result = match normal {
            Ok(np) => {
                self.norm_len = np.len;
                Ok(self.lookup_in(&mut norm, np.len, np.dir, now))
            }
            Err(e) => Err(e),
        };
        self.norm = norm;
        result
    }

    /// A new loop turn: the compression budget is full again.
    pub fn new_turn(&mut self) {
        self.compress_left = COMPRESS_PER_TURN;
    }

    /// Whether compressing `entry` (for the first time) fits this turn's budget; takes it.
    /// Counts the refusals by reason.
    pub fn may_compress(&mut self, entry: &FileEntry) -> bool {
        if !entry.worth_compressing() {
            self.stats.compress_uncached += 1;
            return false;
        }
        let n = entry.identity.len();
        if n > self.compress_left {
            self.stats.compress_deferred += 1;
            return false;
        }
        self.compress_left -= n;
        self.stats.compressions += 1;
        true
    }

    /// The normalised path of the last [`FileCache::resolve`], relative to the root (no leading
    /// `/`, no empty, `.` or `..` segments). What a redirect must point at: never the raw
    /// request path, which may hold `//host` or encoded dot segments.
    pub fn normalized(&self) -> &[u8] {
        &self.norm[..self.norm_len]
    }

    /// `buf[..len]` is a normalised path; `dir` when the request named a directory. `buf` has
    /// room to append `/index.html`.
    fn lookup_in(&mut self, buf: &mut [u8], len: usize, dir: bool, now: u32) -> Lookup {
        let rel = &buf[..len];
        // Dotfiles and dot-directories (.git/, .env) are never served.
        if rel
            .split(|&b| b == b'/')
            .any(|seg| seg.first() == Some(&b'.'))
        {
            return Lookup::Forbidden;
        }
        let key_len = if dir {
            let suffix: &[u8] = if len == 0 {
                b"index.html"
            } else {
                b"/index.html"
            };
            buf[len..len + suffix.len()].copy_from_slice(suffix);
            len + suffix.len()
        } else {
            len
        };
        let (rel, key) = (&buf[..len], &buf[..key_len]);
        self.clock += 1;
        if let Some(e) = self.map.get(key) {
            if e.watched || e.checked.get() == now || self.still_fresh(key, e) {
                e.checked.set(now);
                e.last_used.set(self.clock);
                self.stats.hits += 1;
                return Lookup::File(e.clone());
            }
            let e = self.map.remove(key).expect("present");
            self.used -= e.cost;
            self.stats.invalidations += 1;
        }
        self.stats.misses += 1;
        // O_NONBLOCK: opening a FIFO (or a device) must not wait for a writer; what is not a
        // regular file is refused below, before anything is read from it.
        let fd = match self.open_beneath(key, libc::O_RDONLY | libc::O_NONBLOCK) {
            Ok(fd) => fd,
            Err(e) => {
                return match e.raw_os_error() {
                    Some(libc::ENOENT | libc::ENOTDIR | libc::ENAMETOOLONG) if dir => {
                        // A directory without index.html: no listing (403), like nginx.
                        match self.open_beneath(rel, libc::O_PATH | libc::O_DIRECTORY) {
                            Ok(_) => Lookup::Forbidden,
                            Err(_) => Lookup::NotFound,
                        }
                    }
                    Some(libc::ENOENT | libc::ENOTDIR | libc::ENAMETOOLONG) => Lookup::NotFound,
                    // EXDEV: a symlink leading outside the root; ELOOP: magic links; EACCES.
                    Some(libc::EXDEV | libc::ELOOP | libc::EACCES | libc::EPERM) => {
                        Lookup::Forbidden
                    }
                    _ => Lookup::Error,
                };
            }
        };
        let st = match sys::fstat(&fd) {
            Ok(st) => st,
            Err(_) => return Lookup::Error,
        };
        match st.st_mode & libc::S_IFMT {
            libc::S_IFREG => {}
            libc::S_IFDIR if !dir => return Lookup::Redirect,
            _ => return Lookup::Forbidden,
        }
        let t0 = std::time::Instant::now();
        // inotify reports a change only through the directory entry it was made through: content
        // reached through a symlink, or an inode with other names (hard links), can change
        // without an event here, so such entries are re-checked (at most once a second).
        let linked = st.st_nlink > 1 || !self.opened_at(&fd, key);
        let loaded = self.load(key, &fd, &st, now, linked);
        let took = t0.elapsed();
        self.stats.load_time += took;
        self.stats.slowest_load = self.stats.slowest_load.max(took);
        let entry = match loaded {
            Ok(e) => Rc::new(e),
            Err(_) => return Lookup::Error,
        };
        if entry.cost <= self.budget / 2 {
            self.make_room(entry.cost);
            self.used += entry.cost;
            entry.cached.set(true);
            self.map.insert(key.into(), entry.clone());
        }
        Lookup::File(entry)
    }

    /// Whether `fd`, opened as `key`, really is the file at `root/key` (no symlink on the way).
    fn opened_at(&self, fd: &OwnedFd, key: &[u8]) -> bool {
        let Ok(real) = real_path(fd) else {
            return false;
        };
        real.strip_prefix(&self.root_real)
            .is_ok_and(|rel| rel.as_os_str().as_bytes() == key)
    }

    fn still_fresh(&self, key: &[u8], e: &FileEntry) -> bool {
        let Ok(path) = cstr(key) else { return false };
        let Ok(st) = sys::fstatat(&self.root_fd, &path) else {
            return false;
        };
        st.st_ino == e.ino
            && st.st_dev == e.dev
            && st.st_size as u64 == e.size
            && (st.st_mtime, st.st_mtime_nsec, st.st_ctime, st.st_ctime_nsec) == e.times
    }

    fn make_room(&mut self, need: usize) {
        while self.used + need > self.budget && !self.map.is_empty() {
            // Evict the least recently used entry. O(n), only when the cache is full.
            let victim = self
                .map
                .iter()
                .min_by_key(|(_, e)| e.last_used.get())
                .map(|(k, _)| k.clone())
                .expect("not empty");
            if let Some(e) = self.map.remove(&victim) {
                self.used -= e.cost;
                self.stats.evictions += 1;
            }
        }
    }

    fn load(
        &mut self,
        key: &[u8],
        fd: &OwnedFd,
        st: &libc::stat,
        now: u32,
        linked: bool,
    ) -> io::Result<FileEntry> {
        let size = st.st_size.max(0) as u64;
        let (content_type, compressible) = mime::lookup(key);
        let can_compress = compressible && (COMPRESS_MIN..=COMPRESS_MAX).contains(&size);
        // Compressible files are held in memory (compression reads them in user space, which
        // must never touch a mapping that could be truncated under us).
        let identity = if size <= SMALL || can_compress {
            Body::Mem(sys::read_all(fd, size as usize)?.into_boxed_slice())
        } else {
            Body::Map(sys::map_for_kernel(fd, size as usize)?)
        };
        let size = identity.len() as u64;
        let mtime = st.st_mtime;
        // Nanosecond modification and change times: two same-size edits within one second
        // (or a content swap that restores the mtime) still change the validator.
        let etag = format!(
            "\"{:x}.{:x}-{:x}.{:x}-{:x}-{:x}\"",
            mtime, st.st_mtime_nsec, st.st_ctime, st.st_ctime_nsec, size, st.st_ino
        )
        .into_bytes()
        .into_boxed_slice();
        let last_modified = *HttpDate::new(mtime.max(0) as u64).as_bytes();
        let can_compress = compressible && (COMPRESS_MIN..=COMPRESS_MAX).contains(&size);
        let gzip = OnceCell::new();
        if can_compress {
            // nginx's gzip_static: a sibling `.gz` at least as new as the file is used as is.
            if let Some(pre) = self.precompressed(key, mtime) {
                let _ = gzip.set(Some(Variant {
                    body: pre.into_boxed_slice(),
                }));
            }
        }
        let mut head = Vec::with_capacity(160);
        head.extend_from_slice(b"Content-Type: ");
        head.extend_from_slice(content_type.as_bytes());
        head.extend_from_slice(b"\r\nLast-Modified: ");
        head.extend_from_slice(&last_modified);
        head.extend_from_slice(b"\r\nAccept-Ranges: bytes\r\n");
        if compressible {
            head.extend_from_slice(b"Vary: Accept-Encoding\r\n");
        }
        let extra = self.rule_lines(key);
        head.extend_from_slice(&extra);
        let watched = !linked && self.watch_parent(key);
        if linked {
            self.stats.linked += 1;
        }
        // Variants are built on first use and are smaller than the file: count them up front.
        let cost = identity.len() * if can_compress { 3 } else { 1 } + head.len() + key.len() + 256;
        let variant_etags = [variant_etag(&etag, "gz"), variant_etag(&etag, "df")];
        Ok(FileEntry {
            size,
            mtime,
            etag,
            last_modified,
            head: head.into_boxed_slice(),
            extra,
            compressible,
            can_compress,
            identity,
            gzip,
            deflate: OnceCell::new(),
            variant_etags,
            cached: Cell::new(false),
            dev: st.st_dev,
            ino: st.st_ino,
            times: (st.st_mtime, st.st_mtime_nsec, st.st_ctime, st.st_ctime_nsec),
            cost,
            watched,
            checked: Cell::new(now),
            last_used: Cell::new(self.clock),
        })
    }

    /// The header lines the rules give the file at `key` (a path under the root).
    fn rule_lines(&self, key: &[u8]) -> Box<[u8]> {
        if self.header_rules.is_empty() {
            return Box::default();
        }
        let mut path = Vec::with_capacity(key.len() + 1);
        path.push(b'/');
        path.extend_from_slice(key.strip_prefix(b"/").unwrap_or(key));
        let mut chosen: Vec<(&str, &str)> = Vec::new();
        for r in &self.header_rules {
            if !glob_match(r.glob.as_bytes(), &path) {
                continue;
            }
            for (name, value) in &r.set {
                match chosen
                    .iter_mut()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                {
                    Some(c) => c.1 = value,
                    None => chosen.push((name, value)),
                }
            }
        }
        let mut out = Vec::new();
        for (n, v) in chosen {
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.into_boxed_slice()
    }

    fn precompressed(&self, key: &[u8], mtime: i64) -> Option<Vec<u8>> {
        let mut name = key.to_vec();
        name.extend_from_slice(b".gz");
        let fd = self
            .open_beneath(&name, libc::O_RDONLY | libc::O_NONBLOCK)
            .ok()?;
        let st = sys::fstat(&fd).ok()?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG
            || st.st_mtime < mtime
            || st.st_size as u64 > COMPRESS_MAX
        {
            return None;
        }
        let data = sys::read_all(&fd, st.st_size as usize).ok()?;
        (data.starts_with(&[0x1f, 0x8b])).then_some(data)
    }
}

#[cfg(test)]
mod glob_tests {
    use super::glob_match;

    #[test]
    fn globs() {
        for (g, s, want) in [
            ("/assets/*", "/assets/app.js", true),
            ("/assets/*", "/assets/img/a.png", true),
            ("/assets/*", "/assets", false),
            ("/assets/*", "/other/app.js", false),
            ("*.css", "/a/b.css", true),
            ("/*.css", "/a/b.css", true),
            ("/*.css", "/a/b.css.map", false),
            ("/a?c", "/abc", true),
            ("/a?c", "/ac", false),
            ("/*a*b*", "/xaybz", true),
            ("/*a*b*", "/xbya", false),
            ("/exact.html", "/exact.html", true),
            ("/exact.html", "/exact.htm", false),
            ("/**", "/", true),
        ] {
            assert_eq!(glob_match(g.as_bytes(), s.as_bytes()), want, "{g} {s}");
        }
    }
}
