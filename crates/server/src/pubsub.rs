//! Publish/subscribe fan-out for WebSocket connections.
//!
//! Owns: [`Publisher`] (the handle any thread publishes through), the pooled messages it posts
//! to every worker's mailbox ([`Published`]), and each worker's side: its topic registry
//! ([`Topics`]: which of its connections subscribe to what) and its pool of encoded frames
//! ([`Frames`]). A worker that receives a message encodes the frame once, in a pooled
//! [`Frame`], and every subscriber's write points at those same bytes (`Rc`, per core: no
//! atomic per subscriber, no copy per subscriber).
//!
//! Memory: a subscription is one 20-byte node in a per-core table, linked into its topic's list
//! and its connection's list (both O(1) to unlink when the connection goes); a topic is its
//! name (one `Rc<str>`) and a map entry, freed with its last subscriber.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use ringhttpd_http::ws::{self, Opcode};
use slab::Slab;

use crate::api::Mailbox;

/// Messages kept pooled per server for reuse (more in flight at once are allocated).
const MESSAGE_POOL: usize = 64;
/// Messages (and frames) up to this size use pooled buffers; larger ones get a buffer of their
/// own, freed after delivery, so the pools hold at most 64 x 16 KiB each.
const POOLED_MAX: usize = 16 * 1024;
/// Encoded frames kept pooled per core.
const FRAME_POOL: usize = 64;
/// Published messages a worker's mailbox holds at most before it has read them (beyond,
/// publishing drops the message for that worker).
pub const MAX_WAITING: usize = 4096;
/// Topics one connection may subscribe to at most.
pub const MAX_SUBSCRIPTIONS: usize = 64;
const NONE: u32 = u32::MAX;

/// A message on its way to the workers: the topic's name, then the payload, in one pooled
/// buffer.
pub(crate) struct Published {
    buf: Vec<u8>,
    topic_len: usize,
    binary: bool,
}

impl Published {
    pub fn topic(&self) -> &str {
        // The topic was a &str when the buffer was filled.
        std::str::from_utf8(&self.buf[..self.topic_len]).unwrap_or("")
    }

    pub fn payload(&self) -> &[u8] {
        &self.buf[self.topic_len..]
    }
}

/// What publishers share: every worker's mailbox (set when the server starts) and the pool of
/// message buffers.
#[derive(Default)]
pub(crate) struct Hub {
    mailboxes: OnceLock<Vec<Arc<Mailbox>>>,
    running: AtomicBool,
    pool: Mutex<Vec<Arc<Published>>>,
}

impl Hub {
    /// The server started: these are its workers.
    pub fn attach(&self, mailboxes: Vec<Arc<Mailbox>>) {
        let _ = self.mailboxes.set(mailboxes);
        self.running.store(true, Ordering::Release);
    }

    /// The workers have stopped: publishing is refused from now on.
    pub fn detach(&self) {
        self.running.store(false, Ordering::Release);
    }

    /// A message buffer holding `topic` and `payload`: a pooled one no worker holds any more,
    /// else a new one (kept in the pool while it has room).
    fn message(&self, topic: &str, payload: &[u8], binary: bool) -> Arc<Published> {
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        let fill = |p: &mut Published| {
            p.buf.clear();
            p.buf.extend_from_slice(topic.as_bytes());
            p.buf.extend_from_slice(payload);
            p.topic_len = topic.len();
            p.binary = binary;
        };
        let pooled = topic.len() + payload.len() <= POOLED_MAX;
        // Only the pool holds a free one (every worker dropped its clone).
        if let Some(m) = pool
            .iter_mut()
            .find(|m| pooled && Arc::strong_count(m) == 1)
        {
            if let Some(p) = Arc::get_mut(m) {
                fill(p);
                return m.clone();
            }
        }
        let mut p = Published {
            buf: Vec::new(),
            topic_len: 0,
            binary,
        };
        fill(&mut p);
        let m = Arc::new(p);
        if pooled && pool.len() < MESSAGE_POOL {
            pool.push(m.clone());
        }
        m
    }
}

/// A handle to publish messages to the WebSocket connections subscribed to a topic (see
/// [`crate::Session::subscribe`]), from any thread: a handler, a background thread, another
/// worker. Cheap to clone.
///
/// Each worker receives the message once, encodes its frame once and writes those same bytes
/// to each of its subscribers. A subscriber whose unsent messages pass `--ws-max-queue` is
/// closed with 1008 (policy violation): a client that does not read cannot grow the server's
/// memory.
#[derive(Clone, Default)]
pub struct Publisher {
    hub: Arc<Hub>,
}

impl Publisher {
    pub(crate) fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Publish a text message to `topic`. False when the server is not running, or when a
    /// worker has 4,096 published messages it has not taken yet (the message is dropped for
    /// that worker's subscribers: publishers cannot grow the server's memory without bound).
    pub fn publish_text(&self, topic: &str, text: &str) -> bool {
        self.publish(topic, text.as_bytes(), false)
    }

    /// Publish a binary message to `topic`; false as for [`Publisher::publish_text`].
    pub fn publish_binary(&self, topic: &str, data: &[u8]) -> bool {
        self.publish(topic, data, true)
    }

    fn publish(&self, topic: &str, payload: &[u8], binary: bool) -> bool {
        let Some(mailboxes) = self.hub.mailboxes.get() else {
            return false;
        };
        if !self.hub.running.load(Ordering::Acquire) {
            return false;
        }
        let m = self.hub.message(topic, payload, binary);
        let mut all = true;
        for mb in mailboxes {
            all &= mb.publish(m.clone());
        }
        all
    }
}

/// One encoded server frame, shared by every subscriber's queue on one core.
pub struct Frame {
    bytes: Vec<u8>,
    /// Describes `bytes` (a writev of one iovec; lives as long as the frame, so it stays valid
    /// for as long as a write that points at it holds the frame's `Rc`).
    iov: libc::iovec,
}

impl Frame {
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The frame as one iovec (for a write that holds the frame's `Rc` until it completes).
    pub fn iov(&self) -> *const libc::iovec {
        &self.iov
    }
}

/// A core's encoded frames: reused once no queue refers to them.
#[derive(Default)]
pub struct Frames {
    pool: Vec<Rc<Frame>>,
}

impl Frames {
    /// Encode `m` as one unfragmented frame.
    pub fn encode(&mut self, m: &Published) -> Rc<Frame> {
        let op = if m.binary {
            Opcode::Binary
        } else {
            Opcode::Text
        };
        let payload = m.payload();
        let (head, n) = ws::frame_head(op, true, false, payload.len() as u64);
        let pooled = payload.len() + n <= POOLED_MAX;
        let fill = |f: &mut Frame| {
            f.bytes.clear();
            f.bytes.extend_from_slice(&head[..n]);
            f.bytes.extend_from_slice(payload);
            f.iov = libc::iovec {
                iov_base: f.bytes.as_ptr() as *mut libc::c_void,
                iov_len: f.bytes.len(),
            };
        };
        if let Some(f) = self
            .pool
            .iter_mut()
            .find(|f| pooled && Rc::strong_count(f) == 1)
        {
            fill(Rc::get_mut(f).expect("unique, checked"));
            return f.clone();
        }
        let mut f = Frame {
            bytes: Vec::new(),
            iov: libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            },
        };
        fill(&mut f);
        let f = Rc::new(f);
        if pooled && self.pool.len() < FRAME_POOL {
            self.pool.push(f.clone());
        }
        f
    }
}

struct Topic {
    name: Rc<str>,
    first: u32,
    count: u32,
}

/// One connection's subscription to one topic.
struct Sub {
    conn: u32,
    topic: u32,
    /// Neighbours in the topic's list.
    prev: u32,
    next: u32,
    /// The connection's next subscription.
    next_of_conn: u32,
}

/// A core's subscriptions.
pub struct Topics {
    by_name: HashMap<Rc<str>, u32>,
    topics: Slab<Topic>,
    /// Subscription nodes; free ones are chained through `next` from `free`.
    subs: Vec<Sub>,
    free: u32,
    live: usize,
    /// Each connection slot's first subscription (as long as the highest slot subscribed).
    of_conn: Vec<u32>,
}

/// Why a subscription was not made.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SubscribeError {
    /// The connection already has [`MAX_SUBSCRIPTIONS`].
    TooMany,
}

impl Topics {
    /// Subscriptions for connection slots `0..cap`. Room for a topic and two subscriptions per
    /// connection is reserved (address space only: pages are touched as they are used), so
    /// the tables do not grow by copying, which would leave the old copies' pages resident.
    pub fn new(cap: usize) -> Topics {
        Topics {
            by_name: HashMap::with_capacity(cap),
            topics: Slab::with_capacity(cap),
            subs: Vec::with_capacity(2 * cap),
            free: NONE,
            live: 0,
            of_conn: Vec::with_capacity(cap),
        }
    }

    fn alloc(&mut self, sub: Sub) -> u32 {
        self.live += 1;
        if self.free == NONE {
            self.subs.push(sub);
            return (self.subs.len() - 1) as u32;
        }
        let id = self.free;
        self.free = self.subs[id as usize].next;
        self.subs[id as usize] = sub;
        id
    }

    /// Subscribe connection `conn` to `topic` (no change if it is subscribed already).
    pub fn subscribe(&mut self, conn: u32, topic: &str) -> Result<(), SubscribeError> {
        if self.of_conn.len() <= conn as usize {
            self.of_conn.resize(conn as usize + 1, NONE);
        }
        let mut n = 0;
        let mut s = self.of_conn[conn as usize];
        while s != NONE {
            let sub = &self.subs[s as usize];
            if &*self.topics[sub.topic as usize].name == topic {
                return Ok(());
            }
            n += 1;
            s = sub.next_of_conn;
        }
        if n >= MAX_SUBSCRIPTIONS {
            return Err(SubscribeError::TooMany);
        }
        let t = match self.by_name.get(topic) {
            Some(&t) => t,
            None => {
                let name: Rc<str> = Rc::from(topic);
                let t = self.topics.insert(Topic {
                    name: name.clone(),
                    first: NONE,
                    count: 0,
                }) as u32;
                self.by_name.insert(name, t);
                t
            }
        };
        let first = self.topics[t as usize].first;
        let id = self.alloc(Sub {
            conn,
            topic: t,
            prev: NONE,
            next: first,
            next_of_conn: self.of_conn[conn as usize],
        });
        if first != NONE {
            self.subs[first as usize].prev = id;
        }
        let topic = &mut self.topics[t as usize];
        topic.first = id;
        topic.count += 1;
        self.of_conn[conn as usize] = id;
        Ok(())
    }

    /// Unsubscribe connection `conn` from `topic`; false if it was not subscribed.
    pub fn unsubscribe(&mut self, conn: u32, topic: &str) -> bool {
        let mut before = NONE;
        let Some(&first) = self.of_conn.get(conn as usize) else {
            return false;
        };
        let mut s = first;
        while s != NONE {
            let sub = &self.subs[s as usize];
            let next = sub.next_of_conn;
            if &*self.topics[sub.topic as usize].name == topic {
                match before {
                    NONE => self.of_conn[conn as usize] = next,
                    b => self.subs[b as usize].next_of_conn = next,
                }
                self.unlink(s);
                return true;
            }
            before = s;
            s = next;
        }
        false
    }

    /// Connection `conn` is gone: drop all its subscriptions.
    pub fn drop_conn(&mut self, conn: u32) {
        let Some(first) = self.of_conn.get_mut(conn as usize) else {
            return;
        };
        let mut s = std::mem::replace(first, NONE);
        while s != NONE {
            let next = self.subs[s as usize].next_of_conn;
            self.unlink(s);
            s = next;
        }
    }

    /// Remove subscription `s` from its topic's list (and the topic with its last subscriber).
    fn unlink(&mut self, s: u32) {
        let sub = std::mem::replace(
            &mut self.subs[s as usize],
            Sub {
                conn: NONE,
                topic: NONE,
                prev: NONE,
                next: self.free,
                next_of_conn: NONE,
            },
        );
        self.free = s;
        self.live -= 1;
        if sub.prev != NONE {
            self.subs[sub.prev as usize].next = sub.next;
        }
        if sub.next != NONE {
            self.subs[sub.next as usize].prev = sub.prev;
        }
        let topic = &mut self.topics[sub.topic as usize];
        if topic.first == s {
            topic.first = sub.next;
        }
        topic.count -= 1;
        if topic.count == 0 {
            let t = self.topics.remove(sub.topic as usize);
            self.by_name.remove(&t.name);
        }
    }

    /// The connections subscribed to `topic`, appended to `into`.
    pub fn subscribers(&self, topic: &str, into: &mut Vec<u32>) {
        let Some(&t) = self.by_name.get(topic) else {
            return;
        };
        let mut s = self.topics[t as usize].first;
        while s != NONE {
            let sub = &self.subs[s as usize];
            into.push(sub.conn);
            s = sub.next;
        }
    }

    /// Topics with at least one subscriber on this core.
    pub fn len(&self) -> usize {
        self.topics.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subs(t: &Topics, topic: &str) -> Vec<u32> {
        let mut v = Vec::new();
        t.subscribers(topic, &mut v);
        v.sort();
        v
    }

    #[test]
    fn subscribe_unsubscribe_and_connections_going() {
        let mut t = Topics::new(8);
        t.subscribe(1, "a").unwrap();
        t.subscribe(2, "a").unwrap();
        t.subscribe(3, "a").unwrap();
        t.subscribe(2, "b").unwrap();
        t.subscribe(2, "a").unwrap(); // again: no change
        assert_eq!(subs(&t, "a"), [1, 2, 3]);
        assert_eq!(subs(&t, "b"), [2]);
        assert_eq!(t.len(), 2);
        // The middle of a topic's list, then its head.
        t.drop_conn(2);
        assert_eq!(subs(&t, "a"), [1, 3]);
        assert!(subs(&t, "b").is_empty());
        assert_eq!(t.len(), 1, "a topic goes with its last subscriber");
        assert!(t.unsubscribe(3, "a"));
        assert!(!t.unsubscribe(3, "a"));
        assert_eq!(subs(&t, "a"), [1]);
        t.drop_conn(1);
        assert_eq!(t.len(), 0);
        assert_eq!(t.live, 0);
        assert!(t.by_name.is_empty());
        // Nodes are reused cleanly: connections coming and going do not grow the table.
        let high = t.subs.len();
        for i in 0..1000 {
            t.subscribe(1 + i % 3, "c").unwrap();
            t.subscribe(1 + i % 3, "d").unwrap();
            t.drop_conn(1 + i % 3);
        }
        assert_eq!(t.subs.len(), high);
        t.subscribe(1, "c").unwrap();
        assert_eq!(subs(&t, "c"), [1]);
    }

    #[test]
    fn subscriptions_per_connection_are_bounded() {
        let mut t = Topics::new(2);
        for i in 0..MAX_SUBSCRIPTIONS {
            t.subscribe(0, &format!("t{i}")).unwrap();
        }
        assert_eq!(t.subscribe(0, "one more"), Err(SubscribeError::TooMany));
        assert_eq!(t.subscribe(0, "t3"), Ok(()), "an existing one is fine");
        t.drop_conn(0);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn publishing_needs_a_running_server_and_a_mailbox_with_room() {
        let p = Publisher::default();
        assert!(!p.publish_text("t", "before start"));
        let mb = Arc::new(Mailbox::new(crate::sys::eventfd().unwrap()));
        p.hub().attach(vec![mb.clone()]);
        for _ in 0..MAX_WAITING {
            assert!(p.publish_text("t", "x"));
        }
        assert!(
            !p.publish_binary("t", b"one too many"),
            "a full mailbox refuses"
        );
        let mut got = Vec::new();
        mb.take_published(&mut got);
        assert_eq!(got.len(), MAX_WAITING);
        assert_eq!((got[0].topic(), got[0].payload()), ("t", &b"x"[..]));
        drop(got);
        assert!(p.publish_text("t", "room again"));
        p.hub().detach();
        assert!(!p.publish_text("t", "after stop"));
    }

    #[test]
    fn messages_and_frames_are_reused() {
        let hub = Hub::default();
        let m = hub.message("news", b"hello", false);
        assert_eq!(m.topic(), "news");
        assert_eq!(m.payload(), b"hello");
        let p = Arc::as_ptr(&m);
        drop(m);
        let m2 = hub.message("t", b"x", true);
        assert_eq!(Arc::as_ptr(&m2), p, "the free pooled message is reused");
        let m3 = hub.message("t", b"y", true);
        assert_ne!(Arc::as_ptr(&m3), p, "one still held is not");

        let mut frames = Frames::default();
        let f = frames.encode(&m2);
        assert_eq!(f.bytes(), &[0x82, 1, b'x']);
        // SAFETY: the iovec describes the frame's bytes, alive while `f` is.
        let iov = unsafe { *f.iov() };
        assert_eq!(iov.iov_len, 3);
        assert_eq!(iov.iov_base as *const u8, f.bytes().as_ptr());
        let fp = Rc::as_ptr(&f);
        let held = frames.encode(&m3);
        assert_ne!(Rc::as_ptr(&held), fp);
        drop(f);
        let again = frames.encode(&m3);
        assert_eq!(Rc::as_ptr(&again), fp);
        assert_eq!(again.bytes(), &[0x82, 1, b'y']);
        // Large messages and frames are never pooled (the pools' memory stays bounded).
        let big = hub.message("t", &vec![7u8; POOLED_MAX + 1], true);
        let bf = frames.encode(&big);
        assert_eq!(bf.bytes().len(), 4 + POOLED_MAX + 1);
        assert!(frames.pool.iter().all(|f| f.bytes().len() <= POOLED_MAX));
        drop(big);
        assert!(hub
            .pool
            .lock()
            .unwrap()
            .iter()
            .all(|m| m.buf.len() <= POOLED_MAX));
    }
}
