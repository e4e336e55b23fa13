//! Writing one response into a connection's output queue: the head into its byte buffer, a
//! cached body as a reference (see `out`). [`Response`] knows the request's connection rules
//! (keep-alive, `HEAD`) so responders only say what to send. Nothing here allocates beyond the
//! output buffer's reused capacity, on any path (errors included).

use ringhttpd_http::{
    reason, status_digits, write_decimal, write_status_line, HttpDate, Method, Request, Version,
};

use crate::out::OutBuf;

/// The `Server` line (its value: `ringhttpd`) and the start of the `Date` line, in one piece.
const SERVER_AND_DATE: &[u8] = b"Server: ringhttpd\r\nDate: ";

/// `Content-Type` lines used by the built-in responses.
pub const TEXT_PLAIN: &[u8] = b"Content-Type: text/plain\r\n";
pub const TEXT_PLAIN_UTF8: &[u8] = b"Content-Type: text/plain; charset=utf-8\r\n";

/// Which `Connection` header the response needs.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Connection {
    /// HTTP/1.1 keep-alive: no header.
    Default,
    Close,
    /// HTTP/1.0 client that asked for keep-alive.
    KeepAlive,
}

impl Connection {
    #[inline]
    fn for_request(req: &Request<'_, '_>, close: bool) -> Connection {
        match (close, req.version) {
            (true, _) => Connection::Close,
            (false, Version::Http11) => Connection::Default,
            (false, Version::Http10) => Connection::KeepAlive,
        }
    }

    /// The header line (with CRLF) and the blank line that ends the head.
    #[inline(always)]
    fn tail(self) -> &'static [u8] {
        match self {
            Connection::Default => b"\r\n",
            Connection::Close => b"Connection: close\r\n\r\n",
            Connection::KeepAlive => b"Connection: keep-alive\r\n\r\n",
        }
    }

    /// `\r\n` ending the Content-Length line, then [`Connection::tail`], in one piece.
    #[inline(always)]
    fn length_tail(self) -> &'static [u8] {
        match self {
            Connection::Default => b"\r\n\r\n",
            Connection::Close => b"\r\nConnection: close\r\n\r\n",
            Connection::KeepAlive => b"\r\nConnection: keep-alive\r\n\r\n",
        }
    }
}

/// One response being written. Responders call [`Response::start`], add header lines, then
/// [`Response::finish`] (or use [`Response::simple`]); the status they pass is returned so the
/// outcome record can carry it.
pub struct Response<'a> {
    pub out: &'a mut OutBuf,
    date: &'a HttpDate,
    conn: Connection,
    /// `HEAD`: the head as for `GET`, no body.
    pub head_only: bool,
}

impl<'a> Response<'a> {
    /// A response to `req`; `close` ends the connection after it.
    #[inline(always)]
    pub fn to(out: &'a mut OutBuf, date: &'a HttpDate, req: &Request<'_, '_>, close: bool) -> Self {
        Response {
            out,
            date,
            conn: Connection::for_request(req, close),
            head_only: req.method == Method::Head,
        }
    }

    /// A response on the rules recorded for a request answered later (deferred).
    #[inline]
    pub fn resumed(
        out: &'a mut OutBuf,
        date: &'a HttpDate,
        conn: Connection,
        head_only: bool,
    ) -> Self {
        Response {
            out,
            date,
            conn,
            head_only,
        }
    }

    /// The `Date` this response carries.
    pub fn date(&self) -> &'a HttpDate {
        self.date
    }

    /// The connection rule this response follows (kept for a deferred answer).
    pub fn connection(&self) -> Connection {
        self.conn
    }

    /// A response that closes the connection and whose request is unknown (parse errors).
    #[inline]
    pub fn closing(out: &'a mut OutBuf, date: &'a HttpDate) -> Self {
        Response {
            out,
            date,
            conn: Connection::Close,
            head_only: false,
        }
    }

    /// Status line, `Server` and `Date`.
    #[inline(always)]
    pub fn start(&mut self, status: u16) {
        let o = &mut self.out.data;
        write_status_line(o, status);
        o.extend_from_slice(SERVER_AND_DATE);
        o.extend_from_slice(self.date.as_bytes());
        o.extend_from_slice(b"\r\n");
    }

    /// Append header bytes (whole lines, each ending in CRLF; pieces may split a line).
    #[inline]
    pub fn header(&mut self, pieces: &[&[u8]]) {
        for p in pieces {
            self.out.data.extend_from_slice(p);
        }
    }

    /// Append a decimal number inside a header line.
    #[inline]
    pub fn number(&mut self, n: u64) {
        write_decimal(&mut self.out.data, n);
    }

    /// `Content-Length`, `Connection` and the blank line.
    #[inline(always)]
    pub fn finish(&mut self, len: u64) {
        let o = &mut self.out.data;
        o.extend_from_slice(b"Content-Length: ");
        write_decimal(o, len);
        o.extend_from_slice(self.conn.length_tail());
    }

    /// `Connection` and the blank line (304: no Content-Length that could be mistaken for a
    /// body's).
    #[inline(always)]
    pub fn finish_without_length(&mut self) {
        self.out.data.extend_from_slice(self.conn.tail());
    }

    /// A body written into the output buffer (small, generated), unless `HEAD`.
    #[inline]
    pub fn body(&mut self, pieces: &[&[u8]]) {
        if !self.head_only {
            self.header(pieces);
        }
    }

    /// A complete response with a body known in one piece (the `/hello` path: every copy is
    /// of a constant or a single slice, no loop over pieces).
    #[inline(always)]
    pub fn fixed_with(&mut self, status: u16, ctype: &[u8], body: &[u8]) -> u16 {
        self.start(status);
        let o = &mut self.out.data;
        o.extend_from_slice(b"Content-Type: ");
        o.extend_from_slice(ctype);
        o.extend_from_slice(b"\r\n");
        self.finish(body.len() as u64);
        if !self.head_only {
            self.out.data.extend_from_slice(body);
        }
        status
    }

    /// The body was written into the output buffer from `start` on, after a head missing only
    /// its `Content-Length`: put that line (and the end of the head) in front of the body. For
    /// `HEAD` the body is dropped and only its length is sent.
    pub fn finish_body_at(&mut self, start: usize) {
        let len = self.out.data.len() - start;
        if self.head_only {
            self.out.data.truncate(start);
            self.finish(len as u64);
            return;
        }
        let tail = self.out.data.len();
        self.finish(len as u64);
        self.out.move_tail(start, tail);
    }

    /// A complete short response: its whole `Content-Type` line, `extra` header pieces, and a
    /// body given in pieces.
    #[inline]
    pub fn simple(&mut self, status: u16, ctype: &[u8], extra: &[&[u8]], body: &[&[u8]]) -> u16 {
        self.start(status);
        self.out.data.extend_from_slice(ctype);
        self.header(extra);
        self.finish(body.iter().map(|p| p.len() as u64).sum());
        self.body(body);
        status
    }

    /// A plain-text response whose body is `"<status> <reason>: <detail>\n"`, or
    /// `"<status> <reason>\n"` when `detail` is empty.
    pub fn status(&mut self, status: u16, extra: &[&[u8]], detail: &[u8]) -> u16 {
        let digits = status_digits(status);
        let sep: &[u8] = if detail.is_empty() { b"" } else { b": " };
        self.simple(
            status,
            TEXT_PLAIN_UTF8,
            extra,
            &[&digits, b" ", reason(status).as_bytes(), sep, detail, b"\n"],
        )
    }

    /// 405 with the methods the resource allows.
    pub fn method_not_allowed(&mut self, allow: &[u8]) -> u16 {
        self.status(405, &[b"Allow: ", allow, b"\r\n"], b"")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ringhttpd_http::{parse, Header, Limits, Status};

    /// The body after the head is exactly `Content-Length` bytes long.
    pub(crate) fn body_len_matches(resp: &str) {
        let (head, body) = resp.split_once("\r\n\r\n").unwrap();
        let cl: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(cl, body.len(), "{resp}");
    }

    fn with_request(raw: &[u8], close: bool, f: impl FnOnce(&mut Response)) -> String {
        let mut hs = [Header::EMPTY; 8];
        let Ok(Status::Complete(req)) = parse(raw, &mut hs, &Limits::default()) else {
            panic!("test request must parse")
        };
        let mut out = OutBuf::new();
        let date = HttpDate::new(0);
        f(&mut Response::to(&mut out, &date, &req, close));
        String::from_utf8(out.data).unwrap()
    }

    #[test]
    fn status_bodies_have_the_declared_length() {
        let mut out = OutBuf::new();
        let date = HttpDate::new(0);
        let s =
            Response::closing(&mut out, &date).status(431, &[], b"request header fields too large");
        assert_eq!(s, 431);
        let r = String::from_utf8(out.data).unwrap();
        assert!(r.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(r.contains("\r\nConnection: close\r\n"));
        assert!(r.ends_with(
            "\r\n\r\n431 Request Header Fields Too Large: request header fields too large\n"
        ));
        body_len_matches(&r);
    }

    #[test]
    fn connection_header_and_head() {
        let get10 = b"GET / HTTP/1.0\r\n\r\n";
        let r = with_request(get10, false, |r| {
            r.status(404, &[], b"");
        });
        assert!(r.contains("\r\nConnection: keep-alive\r\n"), "{r}");
        assert!(r.ends_with("\r\n\r\n404 Not Found\n"));
        let r = with_request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", false, |r| {
            r.method_not_allowed(b"GET, HEAD");
        });
        assert!(!r.contains("Connection:") && r.contains("\r\nAllow: GET, HEAD\r\n"));
        body_len_matches(&r);
        let r = with_request(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", true, |r| {
            r.status(404, &[], b"");
        });
        assert!(
            r.contains("Content-Length: 14\r\nConnection: close\r\n\r\n")
                && r.ends_with("\r\n\r\n")
        );
    }
}
