//! Freshness through inotify: the cache watches the directory of every cached file and each
//! directory above it up to the root, and drops the entries a change names.

use std::os::unix::ffi::OsStrExt;

use inotify::{WatchDescriptor, WatchMask};

use super::FileCache;

impl FileCache {
    /// Watch the directory holding `key` and every directory above it up to the root (a rename
    /// anywhere on the path changes what the URL names); false when one cannot be watched.
    pub(super) fn watch_parent(&mut self, key: &[u8]) -> bool {
        let mut end = key.iter().rposition(|&b| b == b'/');
        let mut all = true;
        loop {
            let dir: &[u8] = match end {
                Some(i) => &key[..i],
                None => b"",
            };
            if !self.watched_dirs.contains_key(dir) {
                all &= self.add_watch(dir);
            }
            match end {
                Some(i) => end = key[..i].iter().rposition(|&b| b == b'/'),
                None => break,
            }
        }
        all
    }

    fn add_watch(&mut self, dir: &[u8]) -> bool {
        let Some(ino) = self.inotify.as_mut() else {
            return false;
        };
        let path = self.root_real.join(std::ffi::OsStr::from_bytes(dir));
        let mask = WatchMask::MODIFY
            | WatchMask::ATTRIB
            | WatchMask::CLOSE_WRITE
            | WatchMask::CREATE
            | WatchMask::DELETE
            | WatchMask::MOVED_FROM
            | WatchMask::MOVED_TO
            | WatchMask::DELETE_SELF
            | WatchMask::MOVE_SELF
            | WatchMask::DONT_FOLLOW
            | WatchMask::ONLYDIR;
        match ino.watches().add(&path, mask) {
            Ok(wd) => {
                self.watches.insert(wd.clone(), dir.into());
                self.watched_dirs.insert(dir.into(), wd);
                true
            }
            Err(_) => false,
        }
    }

    /// Read pending inotify events and drop the entries they concern.
    pub fn on_notify(&mut self) {
        let Some(ino) = self.inotify.as_mut() else {
            return;
        };
        let mut buf = [0u8; 4096];
        let mut drop_prefixes: Vec<Vec<u8>> = Vec::new();
        let mut drop_all = false;
        let mut forget: Vec<WatchDescriptor> = Vec::new();
        loop {
            let events = match ino.read_events(&mut buf) {
                Ok(ev) => ev,
                Err(_) => break, // WouldBlock: drained
            };
            let mut any = false;
            for ev in events {
                any = true;
                if ev.mask.contains(inotify::EventMask::Q_OVERFLOW) {
                    drop_all = true;
                    continue;
                }
                let Some(dir) = self.watches.get(&ev.wd) else {
                    continue;
                };
                if ev.mask.intersects(
                    inotify::EventMask::DELETE_SELF
                        | inotify::EventMask::MOVE_SELF
                        | inotify::EventMask::IGNORED,
                ) {
                    // The directory is gone from this path: drop what was under it and forget the
                    // watch, so a directory created there later is watched afresh.
                    let mut p = dir.to_vec();
                    if !p.is_empty() {
                        p.push(b'/');
                    }
                    drop_prefixes.push(p);
                    forget.push(ev.wd.clone());
                    continue;
                }
                let mut p = dir.to_vec();
                if let Some(name) = ev.name {
                    if !p.is_empty() {
                        p.push(b'/');
                    }
                    p.extend_from_slice(name.as_bytes());
                    // A changed `x.gz` changes `x`'s gzip variant.
                    if let Some(base) = p.strip_suffix(b".gz") {
                        drop_prefixes.push(base.to_vec());
                    }
                }
                drop_prefixes.push(p);
            }
            if !any {
                break;
            }
        }
        for wd in forget {
            if let Some(dir) = self.watches.remove(&wd) {
                self.watched_dirs.remove(&dir);
                if let Some(ino) = self.inotify.as_mut() {
                    let _ = ino.watches().remove(wd); // already gone after IGNORED: ignore errors
                }
            }
        }
        if drop_all {
            self.stats.invalidations += self.map.len() as u64;
            self.map.clear();
            self.used = 0;
            return;
        }
        for p in drop_prefixes {
            let before = self.map.len();
            let used = &mut self.used;
            self.map.retain(|k, e| {
                let hit = k.starts_with(&p)
                    && (k.len() == p.len()
                        || k[p.len()] == b'/'
                        || p.is_empty()
                        || p.ends_with(b"/"));
                if hit {
                    *used -= e.cost;
                }
                !hit
            });
            self.stats.invalidations += (before - self.map.len()) as u64;
        }
    }
}
