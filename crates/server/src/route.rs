//! Routing and answering: a parsed request -> the [`Responder`] the route table picks (see
//! `router`) -> its answer. This is the handler seam: registered Rust handlers (with the
//! request body gathered first, see [`crate::router::BodyUse`]) and file mounts are responders
//! like the server's own answers (404, 405, 501, `OPTIONS *`); the WebSocket issue adds one
//! that takes the connection over after `101 Switching Protocols`. The connection state machine
//! only sees "answer this request"; what answers it lives here.

use std::os::fd::RawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use ringhttpd_http::{Method, Request};

use crate::api::{self, DeferCx, Locals, Mailbox};
use crate::files::FileCache;
use crate::outcome::RouteId;
use crate::respond::Response;
use crate::router::{Params, PathScratch, Responder, RoutedPath, Router};

/// What a responder may use besides the request: the per-core services.
pub struct Services<'a> {
    /// One cache per file mount, by mount index.
    pub files: &'a mut [FileCache],
    /// Seconds since the worker started (the coarse clock of the cache's re-checks).
    pub now: u32,
    pub router: &'a Router,
    pub scratch: &'a mut Scratch,
    pub locals: &'a Locals,
    pub mailbox: &'a Arc<Mailbox>,
    /// Sequence numbers of deferred requests on this core.
    pub next_seq: &'a mut u32,
    /// WebSocket subscriptions and codec.
    pub ws: &'a mut crate::websocket::WsCore,
}

/// Per-core scratch of the answering path (capacity kept, contents per request).
pub struct Scratch {
    pub path: PathScratch,
    /// A handler's header lines.
    pub headers: Vec<u8>,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            path: PathScratch::new(),
            headers: Vec::with_capacity(1024),
        }
    }
}

/// The connection a request came on (what a deferred answer is addressed to).
#[derive(Copy, Clone, Debug)]
pub struct ConnRef {
    pub key: u32,
    pub generation: u16,
    pub fd: RawFd,
}

/// A routed request.
pub struct Routed<'a> {
    pub responder: Responder,
    pub which: RoutedPath,
    pub params: Params,
    /// The request's path as sent (see [`path_of`]), found once.
    pub raw: &'a [u8],
}

impl Routed<'_> {
    /// The path the route was matched on: the raw one, or its decoded form in `scratch`.
    #[inline]
    fn path<'s>(&'s self, scratch: &'s PathScratch) -> &'s [u8] {
        match self.which {
            RoutedPath::Raw => self.raw,
            RoutedPath::Decoded => &scratch.path,
        }
    }
}

/// How a request was answered.
pub struct Done {
    pub status: u16,
    /// The handler deferred its answer: the sequence number it awaits under.
    pub deferred: Option<u32>,
    /// The handler panicked (answered 500; the connection closes).
    pub panicked: bool,
    /// `101 Switching Protocols` was queued for this WebSocket route.
    pub upgrade: Option<crate::websocket::Upgrade>,
}

/// Pick the responder for a request.
#[inline]
pub fn route<'a>(req: &Request<'a, '_>, sv: &mut Services) -> Routed<'a> {
    let mut params = Params::default();
    let raw = path_of(req);
    let (mut responder, which) =
        sv.router
            .route(req.method, raw, &mut sv.scratch.path, &mut params);
    if let Responder::Files { mount, from } = responder {
        if sv.router.sites() > 0 {
            let mount = sv.router.site_mount(mount, host_of(req));
            responder = Responder::Files { mount, from };
        }
    }
    Routed {
        responder,
        which,
        params,
        raw,
    }
}

impl Responder {
    /// The name outcome records carry.
    pub fn id(self) -> RouteId {
        match self {
            Responder::Handler { .. } => RouteId::Handler,
            Responder::Files { .. } => RouteId::Files,
            Responder::WebSocket { .. } => RouteId::Handler,
            Responder::Server => RouteId::Server,
            _ => RouteId::Unrouted,
        }
    }
}

/// Write the response to a routed request.
#[inline]
pub fn answer(
    routed: &Routed,
    req: &Request<'_, '_>,
    mut res: Response<'_>,
    sv: &mut Services,
    body: &[u8],
    conn: ConnRef,
) -> Done {
    let status = match routed.responder {
        Responder::Handler { id, entry } => {
            return call(routed, id, entry, req, res, sv, body, conn)
        }
        Responder::Files { mount, from } => {
            let path = routed.path(&sv.scratch.path);
            let prefix = sv.router.mounts[mount as usize].prefix.as_bytes();
            match req.method {
                Method::Get | Method::Head => crate::files::serve::serve(
                    req,
                    &path[from as usize..],
                    prefix,
                    routed.which == RoutedPath::Decoded,
                    &mut res,
                    &mut sv.files[mount as usize],
                    sv.now,
                ),
                _ => res.method_not_allowed(b"GET, HEAD"),
            }
        }
        // RFC 9110 §9.3.7: OPTIONS * asks about the server; the asterisk-form is for nothing
        // else (RFC 9112 §3.2.4).
        Responder::Server => match req.method {
            Method::Options => res.simple(
                200,
                crate::respond::TEXT_PLAIN,
                &[b"Allow: ", &sv.router.server_allow, b"\r\n"],
                &[],
            ),
            Method::Other => res.status(501, &[], b""),
            _ => res.status(400, &[], b"asterisk-form is only for OPTIONS"),
        },
        Responder::WebSocket { id, entry } => {
            return upgrade(routed, id, entry, req, res, sv, conn);
        }
        Responder::NotFound => res.status(404, &[], b""),
        // RFC 9110 §9.1: a method the server does not recognise is 501; a known one that the
        // resource does not allow is 405 with Allow.
        Responder::NotImplemented => res.status(501, &[], b""),
        Responder::NotAllowed { entry } => res.method_not_allowed(sv.router.allow(entry)),
        Responder::BadPath(e) => res.status(400, &[], e.detail().as_bytes()),
    };
    Done {
        status,
        deferred: None,
        panicked: false,
        upgrade: None,
    }
}

/// What a handler sees of a routed request.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn view<'r>(
    routed: &'r Routed,
    entry: u16,
    req: &'r Request<'_, '_>,
    scratch: &'r PathScratch,
    router: &'r Router,
    locals: &'r Locals,
    body: &'r [u8],
    conn: ConnRef,
) -> api::Request<'r> {
    api::Request {
        head: req,
        path: routed.path(scratch),
        params: &routed.params,
        entry,
        router,
        body,
        fd: conn.fd,
        locals,
    }
}

/// A WebSocket route's request: the upgrade (kept out of line: the request path stays small).
#[inline(never)]
fn upgrade(
    routed: &Routed,
    id: u16,
    entry: u16,
    req: &Request<'_, '_>,
    mut res: Response<'_>,
    sv: &mut Services,
    conn: ConnRef,
) -> Done {
    let view = view(
        routed,
        entry,
        req,
        &sv.scratch.path,
        sv.router,
        sv.locals,
        b"",
        conn,
    );
    let route = sv.router.ws_route(id);
    let (status, upgrade, panicked) =
        crate::websocket::upgrade(&view, &mut res, route, id, sv.ws, conn.key);
    Done {
        status,
        deferred: None,
        panicked,
        upgrade,
    }
}

/// Run a handler. A panic is caught at this boundary: what the handler wrote is dropped and the
/// client gets a 500, after which the connection closes (the worker goes on serving).
#[allow(clippy::too_many_arguments)]
#[inline]
fn call(
    routed: &Routed,
    id: u16,
    entry: u16,
    req: &Request<'_, '_>,
    res: Response<'_>,
    sv: &mut Services,
    body: &[u8],
    conn: ConnRef,
) -> Done {
    let view = view(
        routed,
        entry,
        req,
        &sv.scratch.path,
        sv.router,
        sv.locals,
        body,
        conn,
    );
    let handler = sv.router.handler(id);
    let snap = res.out.snapshot();
    let mut r = api::Response::new(
        res,
        &mut sv.scratch.headers,
        DeferCx {
            mailbox: sv.mailbox,
            key: conn.key,
            generation: conn.generation,
            next_seq: sv.next_seq,
            seq: None,
        },
    );
    match catch_unwind(AssertUnwindSafe(|| handler(&view, &mut r))) {
        Ok(_) if r.defer.seq.is_some() => Done {
            status: 0,
            deferred: r.defer.seq,
            panicked: false,
            upgrade: None,
        },
        Ok(reply) => {
            // A Reply that is not this response's (kept from another one) is a handler bug.
            let status = match r.reply() {
                Some(done) if done == reply => done.status,
                _ => {
                    r.w.out.restore(snap);
                    r.w.status(500, &[], b"the handler returned without writing a response")
                }
            };
            Done {
                status,
                deferred: None,
                panicked: false,
                upgrade: None,
            }
        }
        Err(_) => {
            let date = r.w.date();
            let out = r.w.out;
            out.restore(snap);
            let status = Response::closing(out, date).status(500, &[], b"the handler panicked");
            Done {
                status,
                deferred: None,
                panicked: true,
                upgrade: None,
            }
        }
    }
}

/// The host a request is for: an absolute-form target's authority (RFC 9112 §3.2.2: it wins
/// over the Host field), else the Host field.
fn host_of<'a>(req: &Request<'a, '_>) -> Option<&'a [u8]> {
    let p = req.path();
    if p.first() != Some(&b'/') && p != b"*" {
        if let Some(i) = p.windows(3).position(|w| w == b"://") {
            let rest = &p[i + 3..];
            let end = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
            let authority = &rest[..end];
            // userinfo@ is not allowed in http(s) URIs (RFC 9110 §4.2.4); drop it if sent.
            let at = authority
                .iter()
                .rposition(|&b| b == b'@')
                .map_or(0, |i| i + 1);
            return Some(&authority[at..]);
        }
    }
    req.header("host")
}

/// The path of an origin-form or absolute-form target.
pub fn path_of<'a>(req: &Request<'a, '_>) -> &'a [u8] {
    let p = req.path();
    if p.first() == Some(&b'/') || p == b"*" {
        return p;
    }
    // absolute-form: skip "scheme://authority".
    let after_scheme = p
        .iter()
        .position(|&b| b == b':')
        .map_or(0, |i| i + 3)
        .min(p.len());
    match p[after_scheme..].iter().position(|&b| b == b'/') {
        Some(i) => &p[after_scheme + i..],
        None => b"/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::out::OutBuf;
    use crate::respond::tests::body_len_matches;
    use ringhttpd_http::{parse, Header, HttpDate, Limits, Status};

    const HELLO: &[u8] = b"Hello, World!";

    fn router() -> Router {
        let mut b = Router::builder();
        b.handle(
            Method::Get,
            "/hello",
            Box::new(|_, res| res.bytes("text/plain", HELLO)),
        );
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../www");
        b.files("/", root.into());
        b.build().unwrap()
    }

    fn answer_with(router: &Router, raw: &[u8]) -> (String, Done) {
        let mut hs = [Header::EMPTY; 8];
        let Ok(Status::Complete(req)) = parse(raw, &mut hs, &Limits::default()) else {
            panic!("test request must parse")
        };
        let mut out = OutBuf::new();
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../www");
        let mut files = [FileCache::new(std::path::Path::new(root), 1 << 20).unwrap()];
        let date = HttpDate::new(0);
        let res = Response::to(&mut out, &date, &req, !req.keep_alive);
        let mut scratch = Scratch::new();
        let locals = Locals::default();
        let mailbox = Arc::new(Mailbox::new(crate::sys::eventfd().unwrap()));
        let mut seq = 0;
        let mut ws = crate::websocket::WsCore::new(1, 1 << 20);
        let mut sv = Services {
            files: &mut files,
            now: 0,
            router,
            scratch: &mut scratch,
            locals: &locals,
            mailbox: &mailbox,
            next_seq: &mut seq,
            ws: &mut ws,
        };
        let routed = route(&req, &mut sv);
        let conn = ConnRef {
            key: 0,
            generation: 0,
            fd: -1,
        };
        let done = answer(&routed, &req, res, &mut sv, b"", conn);
        (String::from_utf8(out.data).unwrap(), done)
    }

    fn answer_one(raw: &[u8]) -> (String, u16) {
        let (r, d) = answer_with(&router(), raw);
        (r, d.status)
    }

    #[test]
    fn hello_and_friends() {
        let (r, status) = answer_one(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(status, 200);
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(r.contains("\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n"));
        assert!(r.contains("\r\nServer: ringhttpd\r\n"));
        assert!(r.contains("\r\nContent-Type: text/plain\r\n"));
        assert!(r.ends_with("\r\n\r\nHello, World!"));
        assert!(!r.contains("Connection:"));
        body_len_matches(&r);

        let (r, _) = answer_one(b"HEAD /hello?x HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(r.contains("Content-Length: 13\r\n") && r.ends_with("\r\n\r\n"));

        let (r, _) = answer_one(b"GET http://a/hello HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(r.ends_with("Hello, World!"));

        let (r, status) = answer_one(b"POST /hello HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(status, 405);
        assert!(r.starts_with("HTTP/1.1 405 ") && r.contains("\r\nAllow: GET, HEAD\r\n"));
        body_len_matches(&r);

        let (r, status) = answer_one(b"GET /nope HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(status, 404);
        assert!(r.starts_with("HTTP/1.1 404 "));
        body_len_matches(&r);
    }

    #[test]
    fn connection_header_follows_the_request() {
        let (r, _) = answer_one(b"GET /hello HTTP/1.0\r\n\r\n");
        assert!(r.contains("\r\nConnection: close\r\n"));
        let (r, _) = answer_one(b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert!(r.contains("\r\nConnection: keep-alive\r\n"));
        let (r, _) = answer_one(b"GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        assert!(r.contains("\r\nConnection: close\r\n"));
    }

    #[test]
    fn handler_bugs_become_500s() {
        let mut b = Router::builder();
        b.handle(Method::Get, "/panic", Box::new(|_, _| panic!("boom")));
        b.handle(
            Method::Get,
            "/header",
            Box::new(|_, res| res.header("Content-Length", "3").text("abc")),
        );
        b.handle(
            Method::Get,
            "/status",
            Box::new(|_, res| res.status(42).text("x")),
        );
        b.handle(
            Method::Get,
            "/write",
            Box::new(|_, res| {
                let mut w = res.writer("text/csv");
                write!(w, "a,b\n1,2\n").unwrap();
                w.finish()
            }),
        );
        let r = b.build().unwrap();
        let (out, d) = answer_with(&r, b"GET /panic HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(d.panicked && d.status == 500, "{out}");
        assert!(out.contains("Connection: close") && out.ends_with("the handler panicked\n"));
        body_len_matches(&out);
        let (out, d) = answer_with(&r, b"GET /header HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(d.status, 500, "{out}");
        assert!(!out.contains("Content-Length: 3"), "{out}");
        body_len_matches(&out);
        let (out, d) = answer_with(&r, b"GET /status HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(d.status, 500, "{out}");
        body_len_matches(&out);
        let (out, d) = answer_with(&r, b"GET /write HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(d.status, 200);
        assert!(
            out.contains("Content-Type: text/csv\r\nContent-Length: 8\r\n\r\na,b\n1,2\n"),
            "{out}"
        );
        let (out, _) = answer_with(&r, b"HEAD /write HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(out.ends_with("Content-Length: 8\r\n\r\n"), "{out}");
    }
}
