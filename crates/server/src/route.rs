//! Routing: a parsed request -> the [`Responder`] that answers it. This is the handler seam:
//! the handler-API issue adds a responder that calls registered Rust handlers (with the request
//! body gathered first, see [`Responder::body`]), and the WebSocket issue one that takes the
//! connection over after `101 Switching Protocols`. The connection state machine only sees
//! "answer this request"; what answers it lives here and in the responders.

use ringhttpd_http::{Method, Request};

use crate::files::FileCache;
use crate::outcome::RouteId;
use crate::respond::{Response, TEXT_PLAIN};

const HELLO: &[u8] = b"Hello, World!";

/// What a responder may use besides the request: the per-core services.
pub struct Services<'a> {
    pub files: &'a mut FileCache,
    /// Seconds since the worker started (the coarse clock of the cache's re-checks).
    pub now: u32,
}

/// What a request's body is for.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum BodyUse {
    /// Not read by the responder: skipped (so the next pipelined request starts at the right
    /// byte) while the response goes out at once.
    Discard,
}

/// Who answers a request.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Responder {
    /// The built-in `GET /hello`.
    Hello,
    /// The static file tree.
    Files,
    /// The server as a whole: the asterisk-form target (RFC 9112 §3.2.4), `OPTIONS *` only.
    Server,
}

/// Pick the responder for a request.
pub fn route(req: &Request<'_, '_>) -> Responder {
    let p = path_of(req);
    if p == b"/hello" {
        Responder::Hello
    } else if p.len() == 1 && p[0] == b'*' {
        Responder::Server
    } else {
        Responder::Files
    }
}

impl Responder {
    /// The name outcome records carry.
    pub fn id(self) -> RouteId {
        match self {
            Responder::Hello => RouteId::Hello,
            Responder::Files => RouteId::Files,
            Responder::Server => RouteId::Server,
        }
    }

    /// What happens to the request body.
    pub fn body(self) -> BodyUse {
        BodyUse::Discard
    }

    /// Write the response; returns its status.
    pub fn answer(self, req: &Request<'_, '_>, res: &mut Response<'_>, sv: &mut Services) -> u16 {
        match (self, req.method) {
            (Responder::Hello, Method::Get | Method::Head) => res.fixed(200, TEXT_PLAIN, HELLO),
            (Responder::Files, Method::Get | Method::Head) => {
                crate::files::serve::serve(req, path_of(req), res, sv)
            }
            // RFC 9110 §9.1: a method the server does not recognise is 501; a known one that
            // the resource does not allow is 405 with Allow.
            (_, Method::Other) => res.status(501, &[], b""),
            // RFC 9110 §9.3.7: OPTIONS * asks about the server; the asterisk-form is for
            // nothing else (RFC 9112 §3.2.4).
            (Responder::Server, Method::Options) => {
                res.simple(200, TEXT_PLAIN, &[b"Allow: GET, HEAD\r\n"], &[])
            }
            (Responder::Server, _) => res.status(400, &[], b"asterisk-form is only for OPTIONS"),
            _ => res.method_not_allowed(b"GET, HEAD"),
        }
    }
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

    fn answer(raw: &[u8]) -> (String, u16) {
        let mut hs = [Header::EMPTY; 8];
        let Ok(Status::Complete(req)) = parse(raw, &mut hs, &Limits::default()) else {
            panic!("test request must parse")
        };
        let mut out = OutBuf::new();
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../www");
        let mut files = FileCache::new(std::path::Path::new(root), 1 << 20).unwrap();
        let date = HttpDate::new(0);
        let mut res = Response::to(&mut out, &date, &req, !req.keep_alive);
        let mut sv = Services {
            files: &mut files,
            now: 0,
        };
        let status = route(&req).answer(&req, &mut res, &mut sv);
        (String::from_utf8(out.data).unwrap(), status)
    }

    #[test]
    fn hello_and_friends() {
        let (r, status) = answer(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(status, 200);
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(r.contains("\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n"));
        assert!(r.contains("\r\nServer: ringhttpd\r\n"));
        assert!(r.contains("\r\nContent-Type: text/plain\r\n"));
        assert!(r.ends_with("\r\n\r\nHello, World!"));
        assert!(!r.contains("Connection:"));
        body_len_matches(&r);

        let (r, _) = answer(b"HEAD /hello?x HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(r.contains("Content-Length: 13\r\n") && r.ends_with("\r\n\r\n"));

        let (r, _) = answer(b"GET http://a/hello HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(r.ends_with("Hello, World!"));

        let (r, status) = answer(b"POST /hello HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(status, 405);
        assert!(r.starts_with("HTTP/1.1 405 ") && r.contains("\r\nAllow: GET, HEAD\r\n"));
        body_len_matches(&r);

        let (r, status) = answer(b"GET /nope HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(status, 404);
        assert!(r.starts_with("HTTP/1.1 404 "));
        body_len_matches(&r);
    }

    #[test]
    fn connection_header_follows_the_request() {
        let (r, _) = answer(b"GET /hello HTTP/1.0\r\n\r\n");
        assert!(r.contains("\r\nConnection: close\r\n"));
        let (r, _) = answer(b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert!(r.contains("\r\nConnection: keep-alive\r\n"));
        let (r, _) = answer(b"GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        assert!(r.contains("\r\nConnection: close\r\n"));
    }

    #[test]
    fn routes() {
        let mut hs = [Header::EMPTY; 4];
        for (raw, want) in [
            (
                &b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"[..],
                Responder::Hello,
            ),
            (b"GET /hello/ HTTP/1.1\r\nHost: a\r\n\r\n", Responder::Files),
            (
                b"GET http://x/hello HTTP/1.1\r\nHost: a\r\n\r\n",
                Responder::Hello,
            ),
            (
                b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n",
                Responder::Files,
            ),
        ] {
            let Ok(Status::Complete(req)) = parse(raw, &mut hs, &Limits::default()) else {
                panic!()
            };
            assert_eq!(route(&req), want);
        }
    }
}
