//! The library's handler API, black-box: the examples (`examples/hello.rs`, `echo.rs`,
//! `deferred.rs`, `users_api/`) are started as real servers and driven over sockets, on every
//! backend mode.

mod common;

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{example, exchange, expect_eof, get, read_response, Mode, Server};

fn request(server: &Server, raw: &str) -> common::Response {
    exchange(server, raw.as_bytes())
}

fn body(r: &common::Response) -> String {
    String::from_utf8(r.body.clone()).unwrap()
}

fn routing(mode: Mode) {
    let s = Server::start_example("hello", mode, &["--threads", "1"]);
    let r = exchange(&s, &get("/hello"));
    assert_eq!((r.status, body(&r).as_str()), (200, "Hello, World!"));

    let r = exchange(&s, &get("/users/42?verbose=yes%21"));
    assert_eq!(r.status, 200);
    assert_eq!(body(&r), "user 42\nverbose=yes!\n");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    let r = exchange(&s, &get("/users/abc"));
    assert_eq!(
        (r.status, body(&r).as_str()),
        (400, "the id must be a number\n")
    );
    // Decoded before matching; an empty segment is not a parameter.
    let r = exchange(&s, &get("/users/%34%32"));
    assert_eq!(body(&r), "user 42\n");
    assert_eq!(exchange(&s, &get("/users/")).status, 404);
    assert_eq!(exchange(&s, &get("/nope")).status, 404);

    // Methods: 405 lists what the pattern has; HEAD is served by GET.
    let r = request(
        &s,
        "POST /users/42 HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, DELETE"));
    let r = request(&s, "DELETE /users/7 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("content-length"),
        None,
        "204 has no Content-Length"
    );
    let mut c = s.connect();
    c.write_all(
        b"HEAD /users/42 HTTP/1.1\r\nHost: a\r\n\r\nGET /users/42 HTTP/1.1\r\nHost: a\r\n\r\n",
    )
    .unwrap();
    let head = read_response(&mut c, true).unwrap();
    let full = read_response(&mut c, false).unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length").unwrap(),
        full.body.len().to_string()
    );
    let r = request(&s, "BREW /hello HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.status, 501);
    let r = request(&s, "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.header("allow"), Some("GET, HEAD, DELETE"));

    // `*rest`, decoded.
    let r = exchange(&s, &get("/files/a/b%20c.txt"));
    assert_eq!(body(&r), "path=a/b c.txt\n");

    // Headers and the peer address.
    let r = request(
        &s,
        "GET /headers HTTP/1.1\r\nHost: a\r\nX-Test: one two\r\n\r\n",
    );
    let b = body(&r);
    assert!(
        b.contains("x-test: one two\n") && b.contains("host: a\n"),
        "{b}"
    );
    assert!(b.contains("peer: 127.0.0.1\n"), "{b}");

    // Per-core state: one worker, so one counter.
    let counts: Vec<String> = (0..3)
        .map(|_| body(&exchange(&s, &get("/count"))))
        .collect();
    assert_eq!(counts, ["1\n", "2\n", "3\n"]);

    // Static files under a prefix.
    let r = exchange(&s, &get("/static/index.html"));
    assert_eq!(r.status, 200);
    assert!(body(&r).contains("<html") || body(&r).contains("<!doctype"));
    let r = exchange(&s, &get("/static?x=1"));
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/static/?x=1"));
    assert_eq!(exchange(&s, &get("/static/")).status, 200);
    assert_eq!(
        exchange(&s, &get("/static/%252e%252e/Cargo.toml")).status,
        404
    );
}

fn a_panicking_handler_answers_500(mode: Mode) {
    let mut s = Server::start_program(&example("hello"), mode, &["--threads", "1"], |c| {
        c.stderr(Stdio::piped());
    });
    let mut other = s.connect();
    other.write_all(&get("/hello")).unwrap();
    assert_eq!(read_response(&mut other, false).unwrap().status, 200);

    let mut c = s.connect();
    c.write_all(&get("/panic")).unwrap();
    let r = read_response(&mut c, false).unwrap();
    assert_eq!(r.status, 500);
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(
        body(&r),
        "500 Internal Server Error: the handler panicked\n"
    );
    expect_eof(&mut c);
    // The worker goes on; the other connection is unaffected.
    other.write_all(&get("/hello")).unwrap();
    assert_eq!(read_response(&mut other, false).unwrap().status, 200);
    assert_eq!(exchange(&s, &get("/count")).status, 200);

    s.stop().expect("stops");
    let mut err = String::new();
    s.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("this handler panics on purpose"), "{err}");
    assert!(err.contains(" panics=1 "), "{err}");
}

fn post(path: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "POST {path} HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

fn chunked(path: &str, pieces: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("POST {path} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        .into_bytes();
    for p in pieces {
        v.extend_from_slice(format!("{:x};ext=1\r\n", p.len()).as_bytes());
        v.extend_from_slice(p);
        v.extend_from_slice(b"\r\n");
    }
    v.extend_from_slice(b"0\r\nX-Trailer: t\r\n\r\n");
    v
}

fn request_bodies(mode: Mode) {
    let s = Server::start_example("echo", mode, &["--max-body", "100000"]);
    let r = exchange(&s, &post("/echo", b"hello"));
    assert_eq!((r.status, body(&r).as_str()), (200, "hello"));
    assert_eq!(r.header("x-body-length"), Some("5"));
    let r = exchange(&s, &post("/echo", b""));
    assert_eq!((r.status, r.body.len()), (200, 0));
    let r = exchange(&s, &chunked("/echo", &[]));
    assert_eq!((r.status, r.body.len()), (200, 0));
    let r = exchange(&s, &chunked("/echo", &[b"hello ", b"chunked ", b"world"]));
    assert_eq!(body(&r), "hello chunked world");

    // At the limit and one byte over (declared, and chunked).
    let at = vec![b'x'; 100_000];
    let r = exchange(&s, &post("/echo", &at));
    assert_eq!((r.status, r.body.len()), (200, 100_000));
    let mut over = post("/echo", &[]);
    over = String::from_utf8(over)
        .unwrap()
        .replace("Content-Length: 0", "Content-Length: 100001")
        .into_bytes();
    let r = exchange(&s, &over);
    assert_eq!(r.status, 413);
    let piece = vec![b'y'; 50_001];
    let r = exchange(&s, &chunked("/echo", &[&piece, &piece]));
    assert_eq!(r.status, 413);

    // A body split across many reads.
    let mut c = s.connect();
    let big: Vec<u8> = (0..60_000u32).map(|i| (i % 251) as u8).collect();
    let msg = post("/echo", &big);
    for part in msg.chunks(997) {
        c.write_all(part).unwrap();
        std::thread::sleep(Duration::from_micros(200));
    }
    let r = read_response(&mut c, false).unwrap();
    assert_eq!(r.body, big);
    // Chunked, trickled a few bytes at a time, on the same connection.
    for part in chunked("/echo", &[b"slow ", b"and ", b"steady"]).chunks(3) {
        c.write_all(part).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(
        body(&read_response(&mut c, false).unwrap()),
        "slow and steady"
    );

    // Pipelined requests with bodies, answered in order.
    let mut batch = post("/echo", b"one");
    batch.extend(chunked("/echo", &[b"two"]));
    batch.extend(post("/echo", &big));
    batch.extend(post("/echo", b"four"));
    c.write_all(&batch).unwrap();
    assert_eq!(body(&read_response(&mut c, false).unwrap()), "one");
    assert_eq!(body(&read_response(&mut c, false).unwrap()), "two");
    assert_eq!(read_response(&mut c, false).unwrap().body, big);
    assert_eq!(body(&read_response(&mut c, false).unwrap()), "four");

    // JSON in, JSON out.
    let r = request(
        &s,
        "POST /sum HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n[1, 2, 3.5]",
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["sum"], 6.5);
    assert_eq!(v["count"], 3);
    let r = exchange(&s, &post("/sum", b"not json"));
    assert_eq!(r.status, 400);
}

fn expect_100_continue(mode: Mode) {
    let s = Server::start_example("echo", mode, &["--max-body", "1000"]);
    let mut c = s.connect();
    c.write_all(
        b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    )
    .unwrap();
    let interim = read_response(&mut c, false).unwrap();
    assert_eq!(interim.status, 100);
    c.write_all(b"abcde").unwrap();
    let r = read_response(&mut c, false).unwrap();
    assert_eq!((r.status, body(&r).as_str()), (200, "abcde"));
    // Too large: refused before the body is asked for.
    c.write_all(
        b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1001\r\n\r\n",
    )
    .unwrap();
    assert_eq!(read_response(&mut c, false).unwrap().status, 413);
    expect_eof(&mut c);
}

fn deferred_answers(mode: Mode) {
    let s = Server::start_example("deferred", mode, &["--handler-timeout", "1"]);
    let r = exchange(&s, &get("/work?ms=50"));
    assert_eq!((r.status, body(&r).as_str()), (200, "worked 50 ms\n"));

    // In order behind pipelining: a slow one, a fast one, a deferred fast one.
    let mut c = s.connect();
    let mut batch = get("/work?ms=300");
    batch.extend(get("/now"));
    batch.extend(get("/work?ms=1"));
    batch.extend(b"HEAD /work?ms=2 HTTP/1.1\r\nHost: a\r\n\r\n");
    c.write_all(&batch).unwrap();
    assert_eq!(
        body(&read_response(&mut c, false).unwrap()),
        "worked 300 ms\n"
    );
    assert_eq!(body(&read_response(&mut c, false).unwrap()), "now\n");
    assert_eq!(
        body(&read_response(&mut c, false).unwrap()),
        "worked 1 ms\n"
    );
    let head = read_response(&mut c, true).unwrap();
    assert_eq!(
        head.header("content-length"),
        Some("12"),
        "HEAD: the length of the GET answer"
    );

    // A dropped handle is a 500; the connection goes on.
    c.write_all(&get("/drop")).unwrap();
    let r = read_response(&mut c, false).unwrap();
    assert_eq!(r.status, 500);
    assert!(body(&r).contains("dropped"));
    // Never answered: 504 after the handler timeout (1 s, so within 1-2 s), and the
    // connection goes on.
    let t = Instant::now();
    c.write_all(&get("/never")).unwrap();
    let r = read_response(&mut c, false).unwrap();
    assert_eq!(r.status, 504);
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    c.write_all(&get("/now")).unwrap();
    assert_eq!(read_response(&mut c, false).unwrap().status, 200);

    // Many at once from many connections: every one answered.
    let mut conns: Vec<_> = (0..50).map(|_| s.connect()).collect();
    for (i, c) in conns.iter_mut().enumerate() {
        c.write_all(&get(&format!("/work?ms={}", i % 7))).unwrap();
    }
    for (i, c) in conns.iter_mut().enumerate() {
        let r = read_response(c, false).unwrap();
        assert_eq!(body(&r), format!("worked {} ms\n", i % 7));
    }
}

fn a_deferred_answer_outlives_a_closed_connection(mode: Mode) {
    let s = Server::start_example("deferred", mode, &["--threads", "1"]);
    for _ in 0..20 {
        let mut c = s.connect();
        c.write_all(&get("/work?ms=20")).unwrap();
        drop(c); // gone before the answer: the late answer is dropped by the worker
    }
    std::thread::sleep(Duration::from_millis(100));
    let r = exchange(&s, &get("/work?ms=1"));
    assert_eq!(r.status, 200);
}

/// Read a response head (status line and fields), byte by byte.
fn read_head(c: &mut std::net::TcpStream) -> String {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(c.read(&mut b).unwrap(), 1, "EOF in head: {head:?}");
        head.push(b[0]);
    }
    String::from_utf8(head).unwrap()
}

/// Decode a chunked body; `None` if the connection ends before the final chunk.
fn read_chunked(c: &mut std::net::TcpStream) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while !line.ends_with(b"\r\n") {
            if c.read(&mut b).ok()? == 0 {
                return None;
            }
            line.push(b[0]);
        }
        let size = usize::from_str_radix(std::str::from_utf8(&line[..line.len() - 2]).ok()?, 16)
            .expect("hex chunk size");
        let mut data = vec![0; size + 2];
        c.read_exact(&mut data).ok()?;
        assert!(data.ends_with(b"\r\n"));
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(&data[..size]);
    }
}

fn streamed_responses(mode: Mode) {
    let s = Server::start_example("deferred", mode, &[]);
    let lines = |n: usize| (0..n).map(|i| format!("line {i}\n")).collect::<String>();
    let mut c = s.connect();
    c.write_all(&get("/stream?n=5")).unwrap();
    let head = read_head(&mut c);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("\r\nTransfer-Encoding: chunked\r\n"),
        "{head}"
    );
    assert!(!head.contains("Content-Length"), "{head}");
    assert_eq!(read_chunked(&mut c).unwrap(), lines(5).into_bytes());
    // The connection goes on after a stream, and a HEAD gets the head only.
    c.write_all(b"HEAD /stream?n=2 HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let head = read_head(&mut c);
    assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
    c.write_all(&get("/now")).unwrap();
    assert_eq!(body(&read_response(&mut c, false).unwrap()), "now\n");

    // HTTP/1.0: the bare body, ended by the close.
    let mut c = s.connect();
    c.write_all(b"GET /stream?n=3 HTTP/1.0\r\n\r\n").unwrap();
    let head = read_head(&mut c);
    assert!(
        head.contains("\r\nConnection: close\r\n") && !head.contains("chunked"),
        "{head}"
    );
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, lines(3).into_bytes());

    // A producer that gives up: the client sees the body cut off (no final chunk).
    let mut c = s.connect();
    c.write_all(&get("/stream-abort")).unwrap();
    read_head(&mut c);
    assert_eq!(read_chunked(&mut c), None, "no final chunk");
}

fn users_json(mode: Mode) {
    let s = Server::start_example("users_api", mode, &[]);
    let r = exchange(&s, &get("/api/v1/users"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(
        (90_000..120_000).contains(&r.body.len()),
        "{} bytes",
        r.body.len()
    );
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let users = v.as_array().unwrap();
    assert_eq!(users.len(), 1000);
    assert_eq!(users[0]["id"], 1);
    assert_eq!(users[0]["name"], "Ada Lovelace");
    assert_eq!(users[0]["email"], "ada.lovelace.1@example.com");
    assert_eq!(users[999]["id"], 1000);
    // Large responses back to back on one connection, pipelined.
    let mut c = s.connect();
    let mut batch = Vec::new();
    for _ in 0..5 {
        batch.extend(get("/api/v1/users"));
    }
    c.write_all(&batch).unwrap();
    for _ in 0..5 {
        assert_eq!(read_response(&mut c, false).unwrap().body, r.body);
    }
}

per_mode!(
    routing,
    a_panicking_handler_answers_500,
    request_bodies,
    expect_100_continue,
    deferred_answers,
    a_deferred_answer_outlives_a_closed_connection,
    streamed_responses,
    users_json,
);
