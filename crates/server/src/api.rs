//! What a handler sees: [`Request`] (borrowed views of the parsed request, its path parameters
//! and its body), [`Response`] (writes straight into the connection's pooled output buffer),
//! [`Reply`] (proof that a response was written, or deferred) and [`Later`] (a deferred
//! response, completed from any thread).

use std::any::Any;
use std::borrow::Cow;
use std::net::SocketAddr;
use std::os::fd::{OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ringhttpd_http::{Method, Request as Head, Version};

use crate::respond;
use crate::router::{Params, Router};

/// A request as a handler sees it. Everything is borrowed from the connection's buffers and
/// valid for the duration of the handler call.
pub struct Request<'r> {
    pub(crate) head: &'r Head<'r, 'r>,
    /// The routed path: ASCII when raw, checked UTF-8 when decoded.
    pub(crate) path: &'r [u8],
    pub(crate) params: &'r Params,
    pub(crate) entry: u16,
    pub(crate) router: &'r Router,
    pub(crate) body: &'r [u8],
    pub(crate) fd: RawFd,
    pub(crate) locals: &'r Locals,
}

impl<'r> Request<'r> {
    /// The method (`Method::Head` for a `HEAD` served by a `GET` route).
    pub fn method(&self) -> Method {
        self.head.method
    }

    /// The method as sent (`"GET"`, or an extension method's token).
    pub fn method_str(&self) -> &'r str {
        std::str::from_utf8(self.head.method_raw).unwrap_or("")
    }

    /// The path, percent-decoded and with `.`/`..` and empty segments resolved (what the route
    /// was matched against). No query.
    pub fn path(&self) -> &'r str {
        std::str::from_utf8(self.path).unwrap_or("")
    }

    /// The request target exactly as sent (path and query, not decoded).
    pub fn target(&self) -> &'r [u8] {
        self.head.target
    }

    /// The value of the `:name` or `*name` segment of the route's pattern (decoded).
    pub fn param(&self, name: &str) -> Option<&'r str> {
        self.params().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Every captured parameter, in pattern order: (name, value).
    pub fn params(&self) -> impl Iterator<Item = (&'r str, &'r str)> + '_ {
        let (router, entry, path) = (self.router, self.entry, self.path());
        (0..self.params.n as usize).map(move |i| {
            let (a, b) = self.params.spans[i];
            (
                router.param_name(entry, i),
                path.get(a as usize..b as usize).unwrap_or(""),
            )
        })
    }

    /// The query string without its `?` (not decoded); empty when there is none.
    pub fn query(&self) -> &'r str {
        let q = self.head.query();
        std::str::from_utf8(q.get(1..).unwrap_or(b"")).unwrap_or("")
    }

    /// The first value of query parameter `name`, decoded (`+` is a space, `%XX` a byte);
    /// borrowed unless it had to be decoded. Invalid escapes and non-UTF-8 values are `None`.
    pub fn query_param(&self, name: &str) -> Option<Cow<'r, str>> {
        self.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Every `name=value` pair of the query, decoded, in order (pairs that do not decode are
    /// skipped).
    pub fn query_pairs(&self) -> impl Iterator<Item = (Cow<'r, str>, Cow<'r, str>)> {
        self.query()
            .split('&')
            .filter(|p| !p.is_empty())
            .filter_map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                Some((form_decode(k)?, form_decode(v)?))
            })
    }

    /// The first header field named `name` (ASCII case-insensitive), when its value is UTF-8.
    pub fn header(&self, name: &str) -> Option<&'r str> {
        self.header_bytes(name)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The first header field named `name`, as bytes (field values may hold obs-text).
    pub fn header_bytes(&self, name: &str) -> Option<&'r [u8]> {
        self.head.header(name)
    }

    /// Every header field in order: (name, value).
    pub fn headers(&self) -> impl Iterator<Item = (&'r str, &'r [u8])> + '_ {
        self.head
            .headers
            .iter()
            .map(|h| (std::str::from_utf8(h.name).unwrap_or(""), h.value))
    }

    /// The request body, whole (empty when there is none). Bounded by `--max-body`: a larger
    /// one is answered 413 before the handler runs.
    pub fn body(&self) -> &'r [u8] {
        self.body
    }

    /// Whether the client sent HTTP/1.0.
    pub fn is_http10(&self) -> bool {
        self.head.version == Version::Http10
    }

    /// The peer's address (one `getpeername` per call; `None` if the peer is gone).
    pub fn peer(&self) -> Option<SocketAddr> {
        crate::sys::peer_addr(self.fd)
    }

    /// This worker's instance of the per-core state of type `T` (registered with
    /// [`crate::Server::local`]). Per-core state is never shared between threads: use `Cell` or
    /// `RefCell` inside it for counters and caches.
    ///
    /// # Panics
    /// When no state of type `T` was registered (the handler then answers 500).
    pub fn local<T: 'static>(&self) -> &'r T {
        self.locals.get::<T>().unwrap_or_else(|| {
            panic!(
                "no per-core state of type {} (register it with Server::local)",
                std::any::type_name::<T>()
            )
        })
    }
}

/// `application/x-www-form-urlencoded` decoding of one name or value.
fn form_decode(s: &str) -> Option<Cow<'_, str>> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Some(Cow::Borrowed(s));
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let h = b.get(i + 1).copied().and_then(ringhttpd_http::hex_digit)?;
                let l = b.get(i + 2).copied().and_then(ringhttpd_http::hex_digit)?;
                out.push(h << 4 | l);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

/// Per-core state instances, built on each worker from the registered factories.
#[derive(Default)]
pub struct Locals(pub(crate) Vec<Box<dyn Any>>);

impl Locals {
    fn get<T: 'static>(&self) -> Option<&T> {
        self.0.iter().find_map(|b| b.downcast_ref::<T>())
    }
}

/// A factory of per-core state, called once on each worker with its index.
pub(crate) type LocalFactory = Box<dyn Fn(usize) -> Box<dyn Any> + Send + Sync>;

/// Proof that a handler answered: returned by the [`Response`] methods that write a response,
/// and by [`Response::defer`].
#[must_use = "a handler returns the Reply of the response it wrote"]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub(crate) status: u16,
    pub(crate) deferred: bool,
}

impl Reply {
    /// The status written (0 for a deferred response).
    pub fn status(&self) -> u16 {
        self.status
    }
}

/// Header names the server writes itself.
const MANAGED: [&str; 6] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "date",
    "server",
    "keep-alive",
];

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Why a header may not be set, if it may not.
fn header_problem(name: &str, value: &[u8]) -> Option<&'static str> {
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Some("a header name is not a token");
    }
    if value
        .iter()
        .any(|&b| b == b'\r' || b == b'\n' || b == 0 || (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        return Some("a header value holds a control character");
    }
    if MANAGED.iter().any(|m| m.eq_ignore_ascii_case(name)) {
        return Some("a handler set a header the server writes itself");
    }
    None
}

/// Appends `name: value\r\n` to `buf`, or records why it cannot.
fn push_header(buf: &mut Vec<u8>, bad: &mut Option<&'static str>, name: &str, value: &[u8]) {
    if let Some(why) = header_problem(name, value) {
        bad.get_or_insert(why);
        return;
    }
    buf.extend_from_slice(name.as_bytes());
    buf.extend_from_slice(b": ");
    buf.extend_from_slice(value);
    buf.extend_from_slice(b"\r\n");
}

/// What [`Response::defer`] needs from the worker.
pub(crate) struct DeferCx<'r> {
    pub mailbox: &'r Arc<Mailbox>,
    pub key: u32,
    pub generation: u16,
    pub next_seq: &'r mut u32,
    /// Set by `defer`: the sequence number of the deferred request.
    pub seq: Option<u32>,
}

/// Statuses whose responses carry no body (RFC 9110 §15: 1xx, 204, 304).
fn bodiless(status: u16) -> bool {
    status < 200 || status == 204 || status == 304
}

/// The response being written for one request. The head and body go straight into the
/// connection's pooled output buffer: nothing is allocated per request. `Content-Length`,
/// `Date`, `Server` and `Connection` are the server's; `HEAD` requests get the head only.
pub struct Response<'r> {
    pub(crate) w: respond::Response<'r>,
    status: u16,
    /// Header lines set so far (per-core scratch, cleared for each request).
    headers: &'r mut Vec<u8>,
    has_ctype: bool,
    bad: Option<&'static str>,
    done: Option<Reply>,
    pub(crate) defer: DeferCx<'r>,
}

impl<'r> Response<'r> {
    pub(crate) fn new(
        w: respond::Response<'r>,
        headers: &'r mut Vec<u8>,
        defer: DeferCx<'r>,
    ) -> Response<'r> {
        headers.clear();
        Response {
            w,
            status: 200,
            headers,
            has_ctype: false,
            bad: None,
            done: None,
            defer,
        }
    }

    /// Whether a response was written (or deferred).
    pub(crate) fn reply(&self) -> Option<Reply> {
        self.done
    }

    /// Set the status (default 200). A code outside 200..=999 answers 500 instead.
    pub fn status(&mut self, code: u16) -> &mut Self {
        self.status = code;
        self
    }

    /// Add a header line. Names must be tokens and values free of control characters;
    /// `Content-Length`, `Transfer-Encoding`, `Connection`, `Keep-Alive`, `Date` and `Server` are
    /// the server's. A header that breaks these rules turns the response into a 500 (the
    /// handler has a bug; the client gets a clear answer instead of a broken head).
    pub fn header(&mut self, name: &str, value: impl AsRef<[u8]>) -> &mut Self {
        let value = value.as_ref();
        if name.eq_ignore_ascii_case("content-type") {
            self.has_ctype = true;
        }
        push_header(self.headers, &mut self.bad, name, value);
        self
    }

    /// Add a header line whose value is a number (written without allocating).
    pub fn header_number(&mut self, name: &str, value: u64) -> &mut Self {
        if let Some(why) = header_problem(name, b"0") {
            self.bad.get_or_insert(why);
            return self;
        }
        let h = &mut *self.headers;
        h.extend_from_slice(name.as_bytes());
        h.extend_from_slice(b": ");
        ringhttpd_http::write_decimal(h, value);
        h.extend_from_slice(b"\r\n");
        self
    }

    /// Set `Content-Type` (otherwise each body method sets its own default).
    pub fn content_type(&mut self, value: &str) -> &mut Self {
        self.header("Content-Type", value)
    }

    /// The status to send, and the head's problem if there is one.
    fn effective_status(&self) -> u16 {
        if self.bad.is_some() || !(200..=999).contains(&self.status) {
            500
        } else {
            self.status
        }
    }

    /// Status line, `Server`, `Date`, the handler's headers and `Content-Type` (when the status
    /// has a body); returns (status, whether the status carries a body).
    fn write_head(&mut self, ctype: &str) -> (u16, bool) {
        let status = self.effective_status();
        if status != self.status {
            // The head is not what the handler meant: answer 500 with the reason.
            let why = self
                .bad
                .unwrap_or("the handler chose a status outside 200..=999");
            self.w.start(500);
            self.w.header(&[respond::TEXT_PLAIN_UTF8]);
            self.bad = Some(why);
            return (500, true);
        }
        self.w.start(status);
        self.w.header(&[self.headers]);
        let body = !bodiless(status);
        if body && !self.has_ctype {
            self.w
                .header(&[b"Content-Type: ", ctype.as_bytes(), b"\r\n"]);
        }
        (status, body)
    }

    fn finish_bytes(&mut self, status: u16, has_body: bool, body: &[u8]) -> Reply {
        if status == 500 && self.bad.is_some() {
            let why = self.bad.unwrap_or_default();
            const LEAD: &[u8] = b"500 Internal Server Error: ";
            self.w.finish((LEAD.len() + why.len() + 1) as u64);
            self.w.body(&[LEAD, why.as_bytes(), b"\n"]);
        } else if has_body {
            self.w.finish(body.len() as u64);
            self.w.body(&[body]);
        } else {
            self.w.finish_without_length();
        }
        self.done(status)
    }

    fn done(&mut self, status: u16) -> Reply {
        let r = Reply {
            status,
            deferred: false,
        };
        self.done = Some(r);
        r
    }

    /// A body of bytes with its content type (copied into the output buffer).
    #[inline]
    pub fn bytes(&mut self, content_type: &str, body: &[u8]) -> Reply {
        if let Some(r) = self.done {
            return r;
        }
        if self.headers.is_empty() && self.bad.is_none() && self.status == 200 {
            // The common case in one piece: no handler headers, 200.
            let s = self.w.fixed_with(200, content_type.as_bytes(), body);
            return self.done(s);
        }
        let (status, has_body) = self.write_head(content_type);
        self.finish_bytes(status, has_body, body)
    }

    /// A `text/plain; charset=utf-8` body (unless a content type was set).
    pub fn text(&mut self, body: &str) -> Reply {
        self.bytes("text/plain; charset=utf-8", body.as_bytes())
    }

    /// A body from static data, sent without copying when it is large (small ones are copied,
    /// which is cheaper than a separate piece of the write).
    pub fn static_bytes(&mut self, content_type: &str, body: &'static [u8]) -> Reply {
        if body.len() <= 4096 {
            return self.bytes(content_type, body);
        }
        if let Some(r) = self.done {
            return r;
        }
        let (status, has_body) = self.write_head(content_type);
        if status == 500 && self.bad.is_some() || !has_body {
            return self.finish_bytes(status, has_body, b"");
        }
        self.w.finish(body.len() as u64);
        if !self.w.head_only {
            self.w.out.push_static(body);
        }
        self.done(status)
    }

    /// No body (`Content-Length: 0`, or none at all for 204 and 304).
    pub fn empty(&mut self) -> Reply {
        self.bytes("text/plain; charset=utf-8", b"")
    }

    /// A body written piece by piece, straight into the output buffer (`std::io::Write` and
    /// `std::fmt::Write`). The head is fixed when the writer is made; end with
    /// [`BodyWriter::finish`]. `Content-Length` is computed; the bytes are not copied again.
    pub fn writer(&mut self, content_type: &str) -> BodyWriter<'_, 'r> {
        let head_start = self.w.out.data.len();
        let (status, has_body) = if self.done.is_some() {
            (0, false)
        } else {
            self.write_head(content_type)
        };
        let start = self.w.out.data.len();
        BodyWriter {
            res: self,
            status,
            has_body,
            head_start,
            start,
            finished: false,
        }
    }

    /// Serialise `value` as JSON straight into the output buffer (`application/json`). A value
    /// that fails to serialise answers 500.
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(&mut self, value: &T) -> Reply {
        let mut w = self.writer("application/json");
        match serde_json::to_writer(&mut w, value) {
            Ok(()) => w.finish(),
            Err(_) => w.fail("the value could not be serialised as JSON"),
        }
    }

    /// Answer later, from any thread: returns this handler's [`Reply`] and the [`Later`] handle
    /// that completes the response. Requests pipelined behind this one wait, in order. If the
    /// handle is dropped unanswered the client gets 500; if it is not answered within
    /// `--handler-timeout`, 504.
    pub fn defer(&mut self) -> (Reply, Later) {
        assert!(
            self.done.is_none(),
            "Response::defer after the response was written"
        );
        let d = &mut self.defer;
        let seq = *d.next_seq;
        *d.next_seq = d.next_seq.wrapping_add(1);
        d.seq = Some(seq);
        let r = Reply {
            status: 0,
            deferred: true,
        };
        self.done = Some(r);
        let later = Later {
            to: Addr {
                mailbox: d.mailbox.clone(),
                key: d.key,
                generation: d.generation,
                seq,
            },
            headers: Vec::new(),
            bad: None,
            sent: false,
        };
        (r, later)
    }
}

/// A response body being written (see [`Response::writer`]). Dropped without
/// [`BodyWriter::finish`], it takes back what it wrote, head included.
pub struct BodyWriter<'w, 'r> {
    res: &'w mut Response<'r>,
    status: u16,
    has_body: bool,
    /// Where the head began and where the body begins in the output buffer.
    head_start: usize,
    start: usize,
    finished: bool,
}

impl BodyWriter<'_, '_> {
    /// Append bytes to the body.
    #[inline]
    pub fn push(&mut self, bytes: &[u8]) {
        self.res.w.out.data.extend_from_slice(bytes);
    }

    /// Formatted text (`write!(w, ...)` resolves here whichever `Write` traits are in scope).
    #[inline]
    pub fn write_fmt(&mut self, args: std::fmt::Arguments<'_>) -> std::fmt::Result {
        std::fmt::Write::write_fmt(self, args)
    }

    /// End the body: `Content-Length` goes in front of it (without copying a large body).
    pub fn finish(mut self) -> Reply {
        self.finished = true;
        let start = self.start;
        let r = &mut *self.res;
        if let Some(done) = r.done {
            r.w.out.data.truncate(start);
            return done;
        }
        if r.bad.is_some() {
            r.w.out.data.truncate(start);
            return r.finish_bytes(500, true, b"");
        }
        if !self.has_body {
            r.w.out.data.truncate(start);
            r.w.finish_without_length();
        } else {
            r.w.finish_body_at(start);
        }
        r.done(self.status)
    }

    /// Drop what was written and answer 500 with `why`.
    pub fn fail(mut self, why: &'static str) -> Reply {
        self.finished = true;
        let r = &mut *self.res;
        if let Some(done) = r.done {
            r.w.out.data.truncate(self.start);
            return done;
        }
        r.w.out.data.truncate(self.head_start);
        r.bad = Some(why);
        r.w.start(500);
        r.w.header(&[respond::TEXT_PLAIN_UTF8]);
        r.finish_bytes(500, true, b"")
    }
}

impl Drop for BodyWriter<'_, '_> {
    fn drop(&mut self) {
        if !self.finished {
            self.res.w.out.data.truncate(self.head_start);
        }
    }
}

impl std::io::Write for BodyWriter<'_, '_> {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.res.w.out.data.extend_from_slice(buf);
        Ok(buf.len())
    }

    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.res.w.out.data.extend_from_slice(buf);
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl std::fmt::Write for BodyWriter<'_, '_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.res.w.out.data.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

// ---- deferred answers ----

/// A deferred answer on its way back to the worker that owns the connection.
pub(crate) struct Mail {
    pub key: u32,
    pub generation: u16,
    pub seq: u32,
    pub answer: Answer,
}

pub(crate) enum Answer {
    Ready {
        status: u16,
        /// Header lines, `Content-Type` included.
        headers: Vec<u8>,
        body: Vec<u8>,
    },
    /// The handle was dropped unanswered: 500.
    Dropped,
    /// Nothing came within the handler timeout: 504 (made by the worker itself).
    Expired,
    /// The handle set a bad header or status: 500 with the reason.
    Bad(&'static str),
    /// A streamed response begins: its head (`Transfer-Encoding: chunked`).
    Start {
        status: u16,
        headers: Vec<u8>,
        flow: Arc<Flow>,
    },
    /// The next piece of a streamed body.
    Chunk(Vec<u8>),
    /// The streamed body is complete.
    End,
    /// The producer gave up mid-stream: the connection closes without the last chunk, so the
    /// client sees the body is incomplete.
    Abort,
}

/// What a [`Stream`]'s producer and the owning worker share: the bytes posted and not yet
/// written into the connection's output, and whether the connection is gone.
#[derive(Default, Debug)]
pub(crate) struct Flow {
    pub queued: AtomicUsize,
    pub gone: AtomicBool,
}

impl Flow {
    /// `n` posted bytes went into the connection's output.
    pub fn taken(&self, n: usize) {
        self.queued.fetch_sub(n, Ordering::Relaxed);
    }

    pub fn close(&self) {
        self.gone.store(true, Ordering::Relaxed);
    }
}

/// A worker's inbox for deferred answers: a short queue under a lock taken once per answer
/// (by the completing thread) and once per wake-up (by the worker, which swaps the whole
/// queue out), and an eventfd that wakes the worker's loop.
pub(crate) struct Mailbox {
    queue: Mutex<Vec<Mail>>,
    /// Messages published to topics (see `pubsub`), for this worker's subscribers.
    published: Mutex<Vec<Arc<crate::pubsub::Published>>>,
    pub efd: OwnedFd,
}

impl Mailbox {
    pub fn new(efd: OwnedFd) -> Mailbox {
        Mailbox {
            queue: Mutex::new(Vec::new()),
            published: Mutex::new(Vec::new()),
            efd,
        }
    }

    /// Post a published message; false (dropped) when the worker has
    /// [`crate::pubsub::MAX_WAITING`] unread already.
    pub(crate) fn publish(&self, m: Arc<crate::pubsub::Published>) -> bool {
        let mut q = self.published.lock().unwrap_or_else(|e| e.into_inner());
        if q.len() >= crate::pubsub::MAX_WAITING {
            return false;
        }
        q.push(m);
        drop(q);
        crate::sys::eventfd_signal(&self.efd);
        true
    }

    /// Move every published message into `into` (empty; its capacity is reused).
    pub fn take_published(&self, into: &mut Vec<Arc<crate::pubsub::Published>>) {
        let mut q = self.published.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::swap(&mut *q, into);
    }

    fn post(&self, m: Mail) {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).push(m);
        crate::sys::eventfd_signal(&self.efd);
    }

    /// Move everything queued into `into` (which should be empty; its capacity is reused).
    pub fn take(&self, into: &mut Vec<Mail>) {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::swap(&mut *q, into);
    }
}

/// Where a deferred request's answers go: its worker's mailbox, its connection's slot and
/// generation, and the request's sequence number (what `Later` and `Stream` share).
#[derive(Clone)]
struct Addr {
    mailbox: Arc<Mailbox>,
    key: u32,
    generation: u16,
    seq: u32,
}

impl Addr {
    fn post(&self, answer: Answer) {
        self.mailbox.post(Mail {
            key: self.key,
            generation: self.generation,
            seq: self.seq,
            answer,
        });
    }
}

/// A deferred response: `Send`, so it can be moved to another thread (a pool, a database
/// client's callback) and completed there. Completing it wakes the worker that owns the
/// connection, which writes the response. Dropped without an answer, it answers 500.
pub struct Later {
    to: Addr,
    headers: Vec<u8>,
    bad: Option<&'static str>,
    sent: bool,
}

impl Later {
    /// Add a header line (same rules as [`Response::header`]).
    pub fn header(&mut self, name: &str, value: impl AsRef<[u8]>) -> &mut Self {
        push_header(&mut self.headers, &mut self.bad, name, value.as_ref());
        self
    }

    /// Complete the response: status, content type and body.
    pub fn send(mut self, status: u16, content_type: &str, body: impl Into<Vec<u8>>) {
        let answer = match self.bad {
            Some(why) => Answer::Bad(why),
            None if !(200..=999).contains(&status) => {
                Answer::Bad("the handler chose a status outside 200..=999")
            }
            None => {
                let mut headers = std::mem::take(&mut self.headers);
                if !bodiless(status) {
                    push_header(
                        &mut headers,
                        &mut self.bad,
                        "Content-Type",
                        content_type.as_bytes(),
                    );
                }
                match self.bad {
                    Some(why) => Answer::Bad(why),
                    None => Answer::Ready {
                        status,
                        headers,
                        body: body.into(),
                    },
                }
            }
        };
        self.post(answer);
    }

    /// Answer with a body sent in pieces as they are produced, with the chunked transfer coding
    /// (RFC 9112 §7.1; to an HTTP/1.0 client the body is sent as it is and the connection closes
    /// after it). The head goes out at once; see [`Stream`].
    pub fn stream(mut self, status: u16, content_type: &str) -> Stream {
        let flow = Arc::new(Flow::default());
        let bad = self.bad.or_else(|| {
            (!(200..=999).contains(&status) || bodiless(status))
                .then_some("a streamed response needs a status with a body (200..=999)")
        });
        let mut headers = std::mem::take(&mut self.headers);
        push_header(
            &mut headers,
            &mut self.bad,
            "Content-Type",
            content_type.as_bytes(),
        );
        match bad.or(self.bad) {
            Some(why) => {
                flow.close();
                self.post(Answer::Bad(why));
            }
            None => self.post(Answer::Start {
                status,
                headers,
                flow: flow.clone(),
            }),
        }
        Stream {
            to: self.to.clone(),
            flow,
            ended: false,
        }
    }

    /// Complete with a `text/plain; charset=utf-8` body.
    pub fn text(self, status: u16, body: impl Into<String>) {
        self.send(
            status,
            "text/plain; charset=utf-8",
            body.into().into_bytes(),
        )
    }

    /// Complete with `value` as JSON (500 if it cannot be serialised).
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(mut self, status: u16, value: &T) {
        match serde_json::to_vec(value) {
            Ok(body) => self.send(status, "application/json", body),
            Err(_) => self.post(Answer::Bad("the value could not be serialised as JSON")),
        }
    }

    fn post(&mut self, answer: Answer) {
        self.sent = true;
        self.to.post(answer);
    }
}

impl Drop for Later {
    fn drop(&mut self) {
        if !self.sent {
            self.post(Answer::Dropped);
        }
    }
}

/// Why [`Stream::send`] did not take a piece.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StreamError {
    /// [`Stream::MAX_QUEUED`] bytes are posted and not yet taken by the connection (its client
    /// reads more slowly than the producer writes): try again later.
    Full,
    /// The connection is gone (or the response was refused): stop producing.
    Gone,
}

/// A streamed response body (see [`Later::stream`]), fed from any thread. Each piece is posted
/// to the owning worker, which writes it as a chunk when the connection has room. The bytes
/// posted and not yet taken are bounded ([`Stream::MAX_QUEUED`]), so a slow client cannot make
/// a fast producer grow the server's memory. End with [`Stream::end`]; a stream dropped
/// without it aborts the response (the connection closes without the final chunk).
pub struct Stream {
    to: Addr,
    flow: Arc<Flow>,
    ended: bool,
}

impl Stream {
    /// Bytes that may be posted and not yet taken by the connection.
    pub const MAX_QUEUED: usize = 1 << 20;

    /// Post the next piece of the body (an empty piece is ignored).
    pub fn send(&mut self, piece: impl Into<Vec<u8>>) -> Result<(), StreamError> {
        if self.flow.gone.load(Ordering::Relaxed) {
            return Err(StreamError::Gone);
        }
        let piece = piece.into();
        if piece.is_empty() {
            return Ok(());
        }
        let queued = self.flow.queued.load(Ordering::Relaxed);
        if queued > 0 && queued + piece.len() > Self::MAX_QUEUED {
            return Err(StreamError::Full);
        }
        self.flow.queued.fetch_add(piece.len(), Ordering::Relaxed);
        self.to.post(Answer::Chunk(piece));
        Ok(())
    }

    /// Bytes posted and not yet taken by the connection.
    pub fn queued(&self) -> usize {
        self.flow.queued.load(Ordering::Relaxed)
    }

    /// Whether the connection is gone.
    pub fn is_gone(&self) -> bool {
        self.flow.gone.load(Ordering::Relaxed)
    }

    /// End the body (the final chunk).
    pub fn end(mut self) {
        self.ended = true;
        self.to.post(Answer::End);
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        if !self.ended {
            self.to.post(Answer::Abort);
        }
    }
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("worker_slot", &self.to.key)
            .field("seq", &self.to.seq)
            .field("queued", &self.queued())
            .finish()
    }
}

impl std::fmt::Debug for Later {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Later")
            .field("worker_slot", &self.to.key)
            .field("seq", &self.to.seq)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        assert_eq!(form_decode("a+b%21").as_deref(), Some("a b!"));
        assert!(matches!(form_decode("plain"), Some(Cow::Borrowed("plain"))));
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%ff"), None, "not UTF-8");
    }

    #[test]
    fn header_rules() {
        assert_eq!(header_problem("X-Ok", b"fine value\t1"), None);
        assert!(header_problem("Bad Name", b"v").is_some());
        assert!(header_problem("X", b"a\r\nInjected: 1").is_some());
        assert!(header_problem("content-length", b"5").is_some());
        assert!(header_problem("Connection", b"close").is_some());
    }
}
