use super::*;

/// method, target, version, head length, body, keep-alive, field count
type Summary = (Method, String, Version, usize, Body, bool, usize);
/// input and the expected summary (without the head length, which is the input's)
type Case<'a> = (&'a [u8], Method, &'a str, Version, Body, bool, usize);

fn run(input: &[u8]) -> Result<Option<Summary>, Error> {
    let mut hs = [Header::default(); 16];
    match parse(input, &mut hs, &Limits::default())? {
        Status::Partial => Ok(None),
        Status::Complete(r) => Ok(Some((
            r.method,
            String::from_utf8(r.target.to_vec()).unwrap(),
            r.version,
            r.head_len,
            r.body,
            r.keep_alive,
            r.headers.len(),
        ))),
    }
}

fn status_of(input: &[u8]) -> u16 {
    match run(input) {
        Ok(Some(_)) => 200,
        Ok(None) => 0,
        Err(e) => e.status(),
    }
}

#[test]
fn accepts_valid_requests() {
    let cases: &[Case] = &[
        (
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            Method::Get,
            "/",
            Version::Http11,
            Body::None,
            true,
            1,
        ),
        (
            b"HEAD /x?y=1 HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n",
            Method::Head,
            "/x?y=1",
            Version::Http11,
            Body::None,
            true,
            2,
        ),
        (
            b"GET / HTTP/1.0\r\n\r\n",
            Method::Get,
            "/",
            Version::Http10,
            Body::None,
            false,
            0,
        ),
        (
            b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
            Method::Get,
            "/",
            Version::Http10,
            Body::None,
            true,
            1,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n",
            Method::Get,
            "/",
            Version::Http11,
            Body::None,
            false,
            2,
        ),
        (
            b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
            Method::Post,
            "/p",
            Version::Http11,
            Body::Length(5),
            true,
            2,
        ),
        (
            b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n",
            Method::Post,
            "/p",
            Version::Http11,
            Body::Length(5),
            true,
            3,
        ),
        (
            b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
            Method::Post,
            "/p",
            Version::Http11,
            Body::None,
            true,
            2,
        ),
        (
            b"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
            Method::Post,
            "/p",
            Version::Http11,
            Body::Chunked,
            true,
            2,
        ),
        (
            b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
            Method::Options,
            "*",
            Version::Http11,
            Body::None,
            true,
            1,
        ),
        (
            b"GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n",
            Method::Get,
            "http://a/b",
            Version::Http11,
            Body::None,
            true,
            1,
        ),
        (
            b"PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n",
            Method::Other,
            "/x",
            Version::Http11,
            Body::None,
            true,
            1,
        ),
        // Bare LF accepted (RFC 9112 §2.2).
        (
            b"GET / HTTP/1.1\nHost: a\n\n",
            Method::Get,
            "/",
            Version::Http11,
            Body::None,
            true,
            1,
        ),
        // Leading empty lines skipped.
        (
            b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
            Method::Get,
            "/",
            Version::Http11,
            Body::None,
            true,
            1,
        ),
        // Empty value, obs-text in a value, trailing whitespace trimmed.
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nX:\r\nY: caf\xc3\xa9 \t\r\n\r\n",
            Method::Get,
            "/",
            Version::Http11,
            Body::None,
            true,
            3,
        ),
    ];
    for (input, m, t, v, body, ka, n) in cases {
        let got =
            run(input).unwrap_or_else(|e| panic!("{:?}: {e:?}", String::from_utf8_lossy(input)));
        let (gm, gt, gv, len, gb, gka, gn) = got.expect("complete");
        assert_eq!(
            (gm, gt.as_str(), gv, gb, gka, gn),
            (*m, *t, *v, *body, *ka, *n),
            "{:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(len, input.len());
    }
}

#[test]
fn rejects_invalid_requests() {
    let cases: &[(&[u8], u16)] = &[
        (b"GET / HTTP/1.1\r\n\r\n", 400),                                      // missing Host
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),                 // two Hosts
        (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),                          // bad Host
        (b"GET / HTTP/1.1\r\nHost: a\r\nX : 1\r\n\r\n", 400),                   // space before colon
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n", 400),         // obs-fold
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400),                 // bare CR
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400),               // NUL
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", 400),               // CTL
        (b"GET / HTTP/1.1\r\nHost: a\r\nX\x7fY: 1\r\n\r\n", 400),               // bad name
        (b"GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n", 400),                     // empty name
        (b"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400),
        (b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),                            // bad method
        (b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),                           // double space
        (b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400),                         // space in target
        (b"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        (b"GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400),                    // raw non-ASCII target
        (b"GET x HTTP/1.1\r\nHost: a\r\n\r\n", 400),                            // not a known form
        (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        (b"GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505),
        (b"GET / HTTPS/1.1\r\nHost: a\r\n\r\n", 400),
        (b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
        (b"GET /\r\n\r\n", 400),                                                 // HTTP/0.9 style
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n", 413),
        (b"GET / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n", 417),
    ];
    for (input, want) in cases {
        assert_eq!(
            status_of(input),
            *want,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn partial_until_the_empty_line() {
    let full = b"GET /hello HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n";
    for cut in 0..full.len() {
        assert_eq!(status_of(&full[..cut]), 0, "cut at {cut}");
    }
    assert_eq!(status_of(full), 200);
}

#[test]
fn split_anywhere_parses_the_same() {
    // A partial prefix never errors on a request that is valid as a whole.
    let full: &[u8] =
        b"\r\nPOST /a?b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nX-A: v v\r\n\r\nabc";
    let whole = run(full).unwrap().unwrap();
    for cut in 0..whole.3 {
        assert!(matches!(run(&full[..cut]), Ok(None)), "cut at {cut}");
    }
    assert_eq!(whole.3, full.len() - 3);
}

#[test]
fn garbage_is_rejected_before_a_line_ends() {
    for input in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..], // TLS ClientHello
        b"GE\x00",
        b"GET / HTTP/1.1\r\nHost: a\r\nBad Na",
        b"GET / HTTP/1.1\r\nHost: a\r\n folded",
        b"GET / HTTP/1.1\r\nHost: a\rX",
    ] {
        assert_eq!(
            status_of(input),
            400,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn pipelined_requests_parse_one_at_a_time() {
    let buf = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTT";
    let (_, t1, _, n1, ..) = run(buf).unwrap().unwrap();
    let (_, t2, _, n2, ..) = run(&buf[n1..]).unwrap().unwrap();
    assert_eq!((t1.as_str(), t2.as_str()), ("/1", "/2"));
    assert!(run(&buf[n1 + n2..]).unwrap().is_none());
}

#[test]
fn limits_give_their_statuses() {
    let limits = Limits {
        max_request_line: 32,
        max_head: 64,
        max_body: 10,
    };
    let check = |input: &[u8], want: u16| {
        let mut hs = [Header::default(); 2];
        let got = match parse(input, &mut hs, &limits) {
            Ok(Status::Complete(_)) => 200,
            Ok(Status::Partial) => 0,
            Err(e) => e.status(),
        };
        assert_eq!(got, want, "{:?}", String::from_utf8_lossy(input));
    };
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(40));
    check(long_target.as_bytes(), 414);
    // Still arriving, already too long: 414 without waiting for the end of the line.
    check(&long_target.as_bytes()[..37], 414);
    check(b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", 431); // 3 fields, room for 2
    let big_head = format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n", "v".repeat(60));
    check(big_head.as_bytes(), 431);
    check(&big_head.as_bytes()[..70], 431); // partial but past the limit
    check(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n",
        413,
    );
    check(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n",
        200,
    );
}

#[test]
fn request_accessors() {
    let mut hs = [Header::default(); 4];
    let Status::Complete(r) = parse(
        b"GET /p/q?x=1 HTTP/1.1\r\nHOST: ex\r\nAccept:  a/b  \r\n\r\n",
        &mut hs,
        &Limits::default(),
    )
    .unwrap() else {
        panic!("partial")
    };
    assert_eq!(r.path(), b"/p/q");
    assert_eq!(r.host, Some(&b"ex"[..]));
    assert_eq!(r.header("accept"), Some(&b"a/b"[..]));
    assert_eq!(r.header("missing"), None);
}

#[test]
fn errors_carry_offsets() {
    let input = b"GET / HTTP/1.1\r\nHost: a\r\nX : 1\r\n\r\n";
    let e = run(input).unwrap_err();
    assert_eq!(e.offset, 26);
    assert_eq!(e.detail(), "whitespace before colon");
}
