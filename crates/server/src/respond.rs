//! Building responses: routing to the built-in handlers and writing heads into a connection's
//! output buffer. No I/O, no allocation beyond the reused output buffer's capacity.

use ringhttpd_http::{write_status_line, Error, HttpDate, Method, Request, Version};

pub const SERVER: &[u8] = b"ringhttpd";
const HELLO: &[u8] = b"Hello, World!";

/// What the connection does after this response.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum After {
    KeepAlive,
    Close,
}

fn push_usize(out: &mut Vec<u8>, mut n: usize) {
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

/// Status line and the headers every response carries, up to (not including) the blank line.
fn head(
    out: &mut Vec<u8>,
    date: &HttpDate,
    status: u16,
    content_type: &[u8],
    len: usize,
    conn: Connection,
) {
    write_status_line(out, status);
    out.extend_from_slice(b"Server: ");
    out.extend_from_slice(SERVER);
    out.extend_from_slice(b"\r\nDate: ");
    out.extend_from_slice(date.as_bytes());
    out.extend_from_slice(b"\r\nContent-Type: ");
    out.extend_from_slice(content_type);
    out.extend_from_slice(b"\r\nContent-Length: ");
    push_usize(out, len);
    out.extend_from_slice(match conn {
        Connection::Default => b"\r\n",
        Connection::Close => b"\r\nConnection: close\r\n",
        Connection::KeepAlive => b"\r\nConnection: keep-alive\r\n",
    });
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
    if p.first() == Some(&b'/') {
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
    out: &mut Vec<u8>,
    date: &HttpDate,
    req: &Request<'_, '_>,
    must_close: bool,
) -> After {
    let close = must_close || !req.keep_alive;
    let conn = connection_for(req, close);
    let with_body = req.method != Method::Head;
    match (path_of(req), req.method) {
        (b"/hello", Method::Get | Method::Head) => {
            head(out, date, 200, b"text/plain", HELLO.len(), conn);
            out.extend_from_slice(b"\r\n");
            if with_body {
                out.extend_from_slice(HELLO);
            }
        }
        (b"/hello", _) => {
            let body = b"405 Method Not Allowed\n";
            head(out, date, 405, b"text/plain", body.len(), conn);
            out.extend_from_slice(b"Allow: GET, HEAD\r\n\r\n");
            out.extend_from_slice(body);
        }
        _ => {
            let body = b"404 Not Found\n";
            head(out, date, 404, b"text/plain", body.len(), conn);
            out.extend_from_slice(b"\r\n");
            if with_body {
                out.extend_from_slice(body);
            }
        }
    }
    if close {
        After::Close
    } else {
        After::KeepAlive
    }
}

/// The answer to a request that could not be parsed; the connection closes after it.
pub fn respond_error(out: &mut Vec<u8>, date: &HttpDate, e: &Error) {
    respond_status(out, date, e.status(), e.detail());
}

/// A plain-text error response that closes the connection.
pub fn respond_status(out: &mut Vec<u8>, date: &HttpDate, status: u16, detail: &str) {
    let reason = ringhttpd_http::reason(status);
    let len = 3 + 1 + reason.len() + 2 + detail.len() + 1;
    head(out, date, status, b"text/plain", len, Connection::Close);
    out.extend_from_slice(b"\r\n");
    push_usize(out, status as usize);
    out.push(b' ');
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(detail.as_bytes());
    out.push(b'\n');
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
        let mut out = Vec::new();
        let after = respond(&mut out, &HttpDate::new(0), &req, false);
        (String::from_utf8(out).unwrap(), after)
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
        let mut out = Vec::new();
        respond_status(
            &mut out,
            &HttpDate::new(0),
            431,
            "request header fields too large",
        );
        let r = String::from_utf8(out).unwrap();
        assert!(r.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(r.contains("Connection: close"));
        body_len_matches(&r);
    }
}
