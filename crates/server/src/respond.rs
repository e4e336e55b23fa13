//! Building responses: routing to the built-in handlers and the file cache, writing heads into a
//! connection's output buffer and file bodies as references. No I/O on a cache hit, and no
//! allocation on the `/hello` and cache-hit paths beyond the reused output buffer's capacity.

use std::rc::Rc;

use ringhttpd_http::{write_status_line, Error, HttpDate, Method, Request, Version};

use crate::files::negotiate::{
    choose_coding, evaluate, if_range_holds, parse_range, Coding, Conditions, Precondition, Range,
};
use crate::files::{FileCache, FileEntry, Lookup};
use crate::out::OutBuf;

pub const SERVER: &[u8] = b"ringhttpd";
const HELLO: &[u8] = b"Hello, World!";

/// What the connection does after this response.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum After {
    KeepAlive,
    Close,
}

fn push_num(out: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

/// Which `Connection` header the response needs.
#[derive(Copy, Clone)]
enum Connection {
    /// HTTP/1.1 keep-alive: no header.
    Default,
    Close,
    /// HTTP/1.0 client that asked for keep-alive.
    KeepAlive,
}

/// Status line, `Server` and `Date`.
fn start(out: &mut Vec<u8>, date: &HttpDate, status: u16) {
    write_status_line(out, status);
    out.extend_from_slice(b"Server: ");
    out.extend_from_slice(SERVER);
    out.extend_from_slice(b"\r\nDate: ");
    out.extend_from_slice(date.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `Content-Length`, `Connection` and the blank line.
fn finish(out: &mut Vec<u8>, len: u64, conn: Connection) {
    out.extend_from_slice(b"Content-Length: ");
    push_num(out, len);
    out.extend_from_slice(match conn {
        Connection::Default => b"\r\n\r\n",
        Connection::Close => b"\r\nConnection: close\r\n\r\n",
        Connection::KeepAlive => b"\r\nConnection: keep-alive\r\n\r\n",
    });
}

/// A short plain-text response with `extra` header lines (each ending in CRLF).
fn simple(
    out: &mut Vec<u8>,
    date: &HttpDate,
    status: u16,
    extra: &[&[u8]],
    body: &[u8],
    conn: Connection,
    head_only: bool,
) {
    start(out, date, status);
    out.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\n");
    for e in extra {
        out.extend_from_slice(e);
    }
    finish(out, body.len() as u64, conn);
    if !head_only {
        out.extend_from_slice(body);
    }
}

/// 405 for anything but GET and HEAD (on `/hello` and on files alike).
fn method_not_allowed(o: &mut Vec<u8>, date: &HttpDate, conn: Connection) {
    simple(
        o,
        date,
        405,
        &[b"Allow: GET, HEAD\r\n"],
        b"405 Method Not Allowed\n",
        conn,
        false,
    );
}

fn connection_for(req: &Request<'_, '_>, close: bool) -> Connection {
    match (close, req.version) {
        (true, _) => Connection::Close,
        (false, Version::Http11) => Connection::Default,
        (false, Version::Http10) => Connection::KeepAlive,
    }
}

/// The path of an origin-form or absolute-form target.
fn path_of<'a>(req: &Request<'a, '_>) -> &'a [u8] {
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

/// Answer one parsed request. `must_close` forces `Connection: close` (e.g. a body we will not
/// read after `Expect: 100-continue`).
pub fn respond(
    out: &mut OutBuf,
    date: &HttpDate,
    files: &mut FileCache,
    now: u32,
    req: &Request<'_, '_>,
    must_close: bool,
) -> After {
    let close = must_close || !req.keep_alive;
    let conn = connection_for(req, close);
    let head_only = req.method == Method::Head;
    let get_or_head = matches!(req.method, Method::Get | Method::Head);
    let path = path_of(req);
    let o = &mut out.data;
    if path == b"/hello" {
        if get_or_head {
            start(o, date, 200);
            o.extend_from_slice(b"Content-Type: text/plain\r\n");
            finish(o, HELLO.len() as u64, conn);
            if !head_only {
                o.extend_from_slice(HELLO);
            }
        } else {
            method_not_allowed(o, date, conn);
        }
    } else {
        let found = if get_or_head {
            Some(files.resolve(path, now))
        } else {
            None
        };
        match found {
            None => {
                method_not_allowed(o, date, conn);
            }
            Some(Err(e)) => {
                let mut body = b"400 Bad Request: ".to_vec();
                body.extend_from_slice(e.detail().as_bytes());
                body.push(b'\n');
                simple(o, date, 400, &[], &body, conn, head_only);
            }
            Some(Ok(found)) => match found {
                Lookup::File(entry) => serve_file(out, date, req, &entry, conn, head_only),
                Lookup::Redirect => {
                    let mut loc = b"Location: ".to_vec();
                    loc.extend_from_slice(req.path());
                    loc.push(b'/');
                    if let Some(q) = req.target.iter().position(|&b| b == b'?') {
                        loc.extend_from_slice(&req.target[q..]);
                    }
                    loc.extend_from_slice(b"\r\n");
                    simple(
                        o,
                        date,
                        301,
                        &[&loc],
                        b"301 Moved Permanently\n",
                        conn,
                        head_only,
                    );
                }
                Lookup::Forbidden => simple(o, date, 403, &[], b"403 Forbidden\n", conn, head_only),
                Lookup::NotFound => simple(o, date, 404, &[], b"404 Not Found\n", conn, head_only),
                Lookup::Error => simple(
                    o,
                    date,
                    500,
                    &[],
                    b"500 Internal Server Error\n",
                    conn,
                    head_only,
                ),
            },
        }
    }
    if close {
        After::Close
    } else {
        After::KeepAlive
    }
}

fn serve_file(
    out: &mut OutBuf,
    date: &HttpDate,
    req: &Request<'_, '_>,
    e: &Rc<FileEntry>,
    conn: Connection,
    head_only: bool,
) {
    let cond = Conditions::of(req);
    // A Range (on GET) that applies selects the identity coding; otherwise negotiate.
    let range = match (req.method, cond.range) {
        (Method::Get, Some(r))
            if cond
                .if_range
                .is_none_or(|ir| if_range_holds(ir, &e.etag, &e.last_modified)) =>
        {
            parse_range(r, e.size)
        }
        _ => Range::Full,
    };
    let mut coding = if e.can_compress && range == Range::Full {
        choose_coding(cond.accept_encoding, true, true)
    } else {
        Coding::Identity
    };
    let etag: &[u8] = match e.variant(coding) {
        Some(v) => &v.etag,
        None => {
            coding = Coding::Identity; // not smaller than the file: send it as it is
            &e.etag
        }
    };
    let o = &mut out.data;
    match evaluate(&cond, etag, e.mtime, true) {
        Precondition::Proceed => {}
        Precondition::NotModified => {
            start(o, date, 304);
            o.extend_from_slice(b"ETag: ");
            o.extend_from_slice(etag);
            o.extend_from_slice(b"\r\nLast-Modified: ");
            o.extend_from_slice(&e.last_modified);
            o.extend_from_slice(b"\r\n");
            if e.compressible {
                o.extend_from_slice(b"Vary: Accept-Encoding\r\n");
            }
            // 304 carries no body and no Content-Length that could be mistaken for one.
            o.extend_from_slice(match conn {
                Connection::Default => b"\r\n",
                Connection::Close => b"Connection: close\r\n\r\n",
                Connection::KeepAlive => b"Connection: keep-alive\r\n\r\n",
            });
            return;
        }
        Precondition::Failed => {
            simple(
                o,
                date,
                412,
                &[],
                b"412 Precondition Failed\n",
                conn,
                head_only,
            );
            return;
        }
    }
    let (status, off, len) = match range {
        Range::Full => (200, 0, e.body(coding).1 as u64),
        Range::Part(a, b) => (206, a, b - a + 1),
        Range::Unsatisfiable => {
            let mut cr = b"Content-Range: bytes */".to_vec();
            push_num(&mut cr, e.size);
            cr.extend_from_slice(b"\r\n");
            simple(
                o,
                date,
                416,
                &[&cr],
                b"416 Range Not Satisfiable\n",
                conn,
                head_only,
            );
            return;
        }
    };
    start(o, date, status);
    o.extend_from_slice(&e.head);
    o.extend_from_slice(b"ETag: ");
    o.extend_from_slice(etag);
    o.extend_from_slice(b"\r\n");
    match coding {
        Coding::Gzip => o.extend_from_slice(b"Content-Encoding: gzip\r\n"),
        Coding::Deflate => o.extend_from_slice(b"Content-Encoding: deflate\r\n"),
        Coding::Identity => {}
    }
    if status == 206 {
        o.extend_from_slice(b"Content-Range: bytes ");
        push_num(o, off);
        o.push(b'-');
        push_num(o, off + len - 1);
        o.push(b'/');
        push_num(o, e.size);
        o.extend_from_slice(b"\r\n");
    }
    finish(o, len, conn);
    if !head_only {
        out.push_body(e, coding, off as usize, len as usize);
    }
}

/// The answer to a request that could not be parsed; the connection closes after it.
pub fn respond_error(out: &mut OutBuf, date: &HttpDate, e: &Error) {
    respond_status(out, date, e.status(), e.detail());
}

/// A plain-text error response that closes the connection.
pub fn respond_status(out: &mut OutBuf, date: &HttpDate, status: u16, detail: &str) {
    let mut body = Vec::with_capacity(64);
    push_num(&mut body, status as u64);
    body.push(b' ');
    body.extend_from_slice(ringhttpd_http::reason(status).as_bytes());
    body.extend_from_slice(b": ");
    body.extend_from_slice(detail.as_bytes());
    body.push(b'\n');
    simple(
        &mut out.data,
        date,
        status,
        &[],
        &body,
        Connection::Close,
        false,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringhttpd_http::{parse, Header, Limits, Status};

    fn answer(raw: &[u8]) -> (String, After) {
        let mut hs = [Header::default(); 8];
        let Ok(Status::Complete(req)) = parse(raw, &mut hs, &Limits::default()) else {
            panic!("test request must parse")
        };
        let mut out = OutBuf::new();
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../www");
        let mut files = FileCache::new(std::path::Path::new(root), 1 << 20).unwrap();
        let after = respond(&mut out, &HttpDate::new(0), &mut files, 0, &req, false);
        (String::from_utf8(out.data).unwrap(), after)
    }

    fn body_len_matches(resp: &str) {
        let (head, body) = resp.split_once("\r\n\r\n").unwrap();
        let cl: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(cl, body.len(), "{resp}");
    }

    #[test]
    fn hello_and_friends() {
        let (r, after) = answer(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(r.contains("\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n"));
        assert!(r.contains("\r\nServer: ringhttpd\r\n"));
        assert!(r.ends_with("\r\n\r\nHello, World!"));
        assert!(!r.contains("Connection:"));
        assert_eq!(after, After::KeepAlive);
        body_len_matches(&r);

        let (r, _) = answer(b"HEAD /hello?x HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(r.contains("Content-Length: 13\r\n") && r.ends_with("\r\n\r\n"));

        let (r, _) = answer(b"GET http://a/hello HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(r.ends_with("Hello, World!"));

        let (r, _) = answer(b"POST /hello HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 405 ") && r.contains("\r\nAllow: GET, HEAD\r\n"));
        body_len_matches(&r);

        let (r, _) = answer(b"GET /nope HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 404 "));
        body_len_matches(&r);
    }

    #[test]
    fn connection_header_follows_the_request() {
        let (r, after) = answer(b"GET /hello HTTP/1.0\r\n\r\n");
        assert!(r.contains("\r\nConnection: close\r\n"));
        assert_eq!(after, After::Close);
        let (r, after) = answer(b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert!(r.contains("\r\nConnection: keep-alive\r\n"));
        assert_eq!(after, After::KeepAlive);
        let (r, after) = answer(b"GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        assert!(r.contains("\r\nConnection: close\r\n"));
        assert_eq!(after, After::Close);
    }

    #[test]
    fn error_bodies_have_the_declared_length() {
        let mut out = OutBuf::new();
        respond_status(
            &mut out,
            &HttpDate::new(0),
            431,
            "request header fields too large",
        );
        let r = String::from_utf8(out.data).unwrap();
        assert!(r.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(r.contains("Connection: close"));
        body_len_matches(&r);
    }
}
