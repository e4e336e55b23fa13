//! The server through its real binary, once per backend and io_uring feature set.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{exchange, expect_eof, get, read_response, Mode, Server};

fn hello(mode: Mode) {
    let server = Server::start(mode);
    let r = exchange(&server, &get("/hello"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"Hello, World!");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("server"), Some("ringhttpd"));
    let date = r.header("date").expect("Date header");
    assert_eq!(date.len(), 29, "{date}");
    assert!(date.ends_with(" GMT"), "{date}");
    assert!(r.header("connection").is_none());

    let mut s = server.connect();
    s.write_all(b"HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let r = read_response(&mut s, true).unwrap();
    assert_eq!((r.status, r.header("content-length")), (200, Some("13")));
    // Nothing follows the head of a HEAD response: the next answer starts cleanly.
    s.write_all(&get("/hello")).unwrap();
    assert_eq!(read_response(&mut s, false).unwrap().body, b"Hello, World!");
}

fn other_paths_and_methods(mode: Mode) {
    let server = Server::start(mode);
    assert_eq!(exchange(&server, &get("/nope")).status, 404);
    let r = exchange(&server, b"DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
}

fn keep_alive_many_requests(mode: Mode) {
    let server = Server::start(mode);
    let mut s = server.connect();
    for i in 0..100 {
        s.write_all(&get("/hello")).unwrap();
        let r = read_response(&mut s, false).unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(r.body, b"Hello, World!");
    }
}

fn pipelined_in_order(mode: Mode) {
    let server = Server::start(mode);
    let mut s = server.connect();
    let mut batch = Vec::new();
    for i in 0..10 {
        batch.extend(if i % 3 == 2 {
            get("/missing")
        } else {
            get("/hello")
        });
    }
    s.write_all(&batch).unwrap();
    for i in 0..10 {
        let r = read_response(&mut s, false).unwrap();
        assert_eq!(r.status, if i % 3 == 2 { 404 } else { 200 }, "response {i}");
    }
}

fn pipelined_deep_with_backpressure(mode: Mode) {
    // 5,000 requests written without reading: the server must stop reading, keep order, and
    // answer every one once we read.
    let server = Server::start(mode);
    let s = server.connect();
    let mut w = s.try_clone().unwrap();
    let n = 5000;
    let writer = std::thread::spawn(move || {
        let mut batch = Vec::new();
        for _ in 0..n {
            batch.extend(get("/hello"));
        }
        w.write_all(&batch).unwrap();
    });
    std::thread::sleep(Duration::from_millis(200));
    let mut r = std::io::BufReader::new(s);
    for i in 0..n {
        let resp = read_response(&mut r, false).unwrap_or_else(|e| panic!("response {i}: {e}"));
        assert_eq!(resp.status, 200);
    }
    writer.join().unwrap();
}

fn dribbled_byte_by_byte(mode: Mode) {
    let server = Server::start(mode);
    let mut s = server.connect();
    for round in 0..2 {
        for b in get("/hello") {
            s.write_all(&[b]).unwrap();
            std::thread::sleep(Duration::from_millis(1));
        }
        let r = read_response(&mut s, false).unwrap();
        assert_eq!(r.body, b"Hello, World!", "round {round}");
    }
}

fn connection_close_honoured(mode: Mode) {
    let server = Server::start(mode);
    let mut s = server.connect();
    s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(r.body, b"Hello, World!");
    expect_eof(&mut s);
}

fn http10(mode: Mode) {
    let server = Server::start(mode);
    let mut s = server.connect();
    s.write_all(b"GET /hello HTTP/1.0\r\n\r\n").unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!((r.status, r.header("connection")), (200, Some("close")));
    expect_eof(&mut s);

    let mut s = server.connect();
    for _ in 0..3 {
        s.write_all(b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap();
        let r = read_response(&mut s, false).unwrap();
        assert_eq!(r.header("connection"), Some("keep-alive"));
    }
}

fn half_close_still_answered(mode: Mode) {
    let server = Server::start(mode);
    let mut s = server.connect();
    s.write_all(&get("/hello")).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_response(&mut s, false).unwrap().body, b"Hello, World!");
    expect_eof(&mut s);
}

fn bad_requests_get_4xx_and_close(mode: Mode) {
    let server = Server::start(mode);
    for (raw, status) in [
        (&b"GET /hello HTTP/1.1\r\n\r\n"[..], 400),
        (
            b"GET /hello HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n",
            400,
        ),
        (b"GET /hello HTTP/3.0\r\nHost: x\r\n\r\n", 505),
        (
            b"POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
            501,
        ),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400), // a TLS ClientHello
    ] {
        let mut s = server.connect();
        s.write_all(raw).unwrap();
        let r = read_response(&mut s, false).unwrap();
        assert_eq!(r.status, status, "{:?}", String::from_utf8_lossy(raw));
        assert_eq!(r.header("connection"), Some("close"));
        expect_eof(&mut s);
    }
    // A head past the limit: 431 without waiting for the end.
    let mut s = server.connect();
    let mut raw = b"GET /hello HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..2000 {
        raw.extend(format!("X-Filler-{i}: {}\r\n", "v".repeat(20)).bytes());
    }
    let _ = s.write_all(&raw);
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.status, 431);
}

fn limits_are_configurable(mode: Mode) {
    let server = Server::start_with(mode, &["--max-request-line", "100", "--max-body", "10"]);
    let long = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(200));
    assert_eq!(exchange(&server, long.as_bytes()).status, 414);
    let r = exchange(
        &server,
        b"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n",
    );
    assert_eq!(r.status, 413);
    let r = exchange(
        &server,
        b"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789",
    );
    assert_eq!(r.status, 405);
}

fn bodies_are_skipped(mode: Mode) {
    let server = Server::start(mode);
    let mut s = server.connect();
    let body = vec![b'z'; 20_000];
    let mut raw = format!(
        "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend(&body);
    raw.extend(get("/hello"));
    s.write_all(&raw[..100]).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    s.write_all(&raw[100..]).unwrap();
    assert_eq!(read_response(&mut s, false).unwrap().status, 405);
    assert_eq!(read_response(&mut s, false).unwrap().status, 200);
}

fn chunked_bodies_are_read_and_framing_kept(mode: Mode) {
    let server = Server::start(mode);
    let mut s = server.connect();
    let raw = b"POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: t\r\n\r\n\
                GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    // Dribble it in pieces that cut through every part of the framing.
    for piece in raw.chunks(7) {
        s.write_all(piece).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(read_response(&mut s, false).unwrap().status, 405);
    assert_eq!(read_response(&mut s, false).unwrap().body, b"Hello, World!");

    // Malformed framing: an error and a close, never a guess at where the next request starts.
    for bad in [
        &b"POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"[..],
        b"POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n",
    ] {
        let mut s = server.connect();
        s.write_all(bad).unwrap();
        let r = read_response(&mut s, false).unwrap();
        assert_eq!((r.status, r.header("connection")), (400, Some("close")));
        expect_eof(&mut s);
    }
    // A body too large for the limit: 413.
    let mut s = server.connect();
    s.write_all(b"POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, false).unwrap().status, 413);
}

fn expect_continue_is_answered_and_closed(mode: Mode) {
    let server = Server::start(mode);
    let mut s = server.connect();
    s.write_all(
        b"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!((r.status, r.header("connection")), (405, Some("close")));
}

fn reset_mid_response_leaves_server_healthy(mode: Mode) {
    let server = Server::start(mode);
    for _ in 0..20 {
        let mut s = server.connect();
        let mut batch = Vec::new();
        for _ in 0..2000 {
            batch.extend(get("/hello"));
        }
        s.write_all(&batch).unwrap();
        // Close with a reset (SO_LINGER 0) without reading the responses.
        let lg = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: setsockopt with a pointer to a live linger struct and its size.
        unsafe {
            use std::os::fd::AsRawFd;
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&lg as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as u32,
            );
        }
        drop(s);
    }
    let r = exchange(&server, &get("/hello"));
    assert_eq!(r.body, b"Hello, World!");
}

fn many_concurrent_connections(mode: Mode) {
    let server = Server::start(mode);
    let mut conns: Vec<TcpStream> = (0..500).map(|_| server.connect()).collect();
    for s in &mut conns {
        s.write_all(&get("/hello")).unwrap();
    }
    for s in &mut conns {
        assert_eq!(read_response(s, false).unwrap().status, 200);
    }
    // All still usable.
    for s in conns.iter_mut().step_by(50) {
        s.write_all(&get("/hello")).unwrap();
        assert_eq!(read_response(s, false).unwrap().status, 200);
    }
}

/// More idle keep-alive connections on one worker than its receive pool has buffers (512):
/// an idle connection must not hold a buffer (kernels before 5.19 attach a legacy provided
/// buffer to a receive that waits; the driver polls for readability first there).
fn more_idle_connections_than_receive_buffers(mode: Mode) {
    let server = Server::start_with(mode, &["--threads", "1"]);
    let mut conns: Vec<TcpStream> = Vec::new();
    for _ in 0..1500 {
        let mut s = server.connect();
        s.write_all(&get("/hello")).unwrap();
        assert_eq!(read_response(&mut s, false).unwrap().status, 200);
        conns.push(s);
    }
    // Every one is still served, the last ones included.
    for s in conns.iter_mut().rev() {
        s.write_all(&get("/hello")).unwrap();
        assert_eq!(read_response(s, false).unwrap().status, 200);
    }
}

fn max_conns_refuses_extra_without_disturbing(mode: Mode) {
    // One thread, so the limit is not split by SO_REUSEPORT's hashing.
    let server = Server::start_with(mode, &["--threads", "1", "--max-conns", "3"]);
    let mut kept: Vec<TcpStream> = (0..3).map(|_| server.connect()).collect();
    for s in &mut kept {
        s.write_all(&get("/hello")).unwrap();
        assert_eq!(read_response(s, false).unwrap().status, 200);
    }
    // The next connection is closed at once.
    let mut extra = server.connect();
    let _ = extra.write_all(&get("/hello"));
    let mut buf = [0u8; 16];
    let n = extra.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "connection over the limit was served");
    for s in &mut kept {
        s.write_all(&get("/hello")).unwrap();
        assert_eq!(read_response(s, false).unwrap().status, 200);
    }
}

fn fd_exhaustion_backs_off_and_recovers(mode: Mode) {
    let server = Server::start_with(mode, &["--threads", "1"]);
    let pid = server.child.id() as i32;
    let open_fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count() as u64;
    // Leave the server room for three more descriptors.
    let lim = libc::rlimit {
        rlim_cur: open_fds + 3,
        rlim_max: open_fds + 3,
    };
    // SAFETY: prlimit on our child with a pointer to a live rlimit; old value not requested.
    let r = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, &lim, std::ptr::null_mut()) };
    assert_eq!(r, 0, "prlimit: {}", std::io::Error::last_os_error());

    let mut served = Vec::new();
    for _ in 0..3 {
        let mut s = server.connect();
        s.write_all(&get("/hello")).unwrap();
        assert_eq!(read_response(&mut s, false).unwrap().status, 200);
        served.push(s);
    }
    // These complete the TCP handshake in the kernel but cannot be accepted (EMFILE).
    let mut waiting: Vec<TcpStream> = (0..5).map(|_| server.connect()).collect();
    for s in &mut waiting {
        s.write_all(&get("/hello")).unwrap();
    }
    let cpu = || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let f: Vec<u64> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        f[10] + f[11] // utime + stime, in clock ticks (fields 14 and 15 of stat)
    };
    let c0 = cpu();
    std::thread::sleep(Duration::from_secs(1));
    let spent = cpu() - c0;
    // SAFETY: sysconf has no memory preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    assert!(
        spent * 4 < ticks,
        "server spun on EMFILE: {spent} of {ticks} ticks in 1 s"
    );
    // Free descriptors: the waiting clients are accepted and answered.
    drop(served);
    for (i, s) in waiting.iter_mut().enumerate().take(3) {
        let r = read_response(s, false).unwrap_or_else(|e| panic!("waiting client {i}: {e}"));
        assert_eq!(r.status, 200);
    }
}

fn idle_timeout_closes(mode: Mode) {
    let server = Server::start_with(mode, &["--keepalive-timeout", "1"]);
    let mut s = server.connect();
    s.write_all(&get("/hello")).unwrap();
    read_response(&mut s, false).unwrap();
    let t0 = Instant::now();
    expect_eof(&mut s);
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "idle close took {:?}",
        t0.elapsed()
    );
}

fn slowloris_is_cut_off_at_the_header_deadline(mode: Mode) {
    let server = Server::start_with(mode, &["--header-timeout", "1"]);
    let mut s = server.connect();
    s.write_all(b"GET /hello HTTP/1.1\r\n").unwrap();
    let t0 = Instant::now();
    // Keep trickling header lines: the deadline is for the whole head, not between bytes.
    let mut closed = false;
    for i in 0..40 {
        std::thread::sleep(Duration::from_millis(100));
        if s.write_all(format!("X-Slow-{i}: v\r\n").as_bytes())
            .is_err()
        {
            closed = true;
            break;
        }
    }
    if !closed {
        expect_eof(&mut s);
    }
    assert!(
        t0.elapsed() < Duration::from_secs(4),
        "slow head survived {:?}",
        t0.elapsed()
    );
    // Meanwhile a normal client is unaffected.
    assert_eq!(exchange(&server, &get("/hello")).status, 200);
}

fn stalled_body_and_stalled_reader_time_out(mode: Mode) {
    let server = Server::start_with(mode, &["--body-timeout", "1", "--write-timeout", "1"]);
    let mut s = server.connect();
    s.write_all(b"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        .unwrap();
    assert_eq!(read_response(&mut s, false).unwrap().status, 405);
    let t0 = Instant::now();
    expect_eof(&mut s); // the other 97 bytes never come
    assert!(
        t0.elapsed() < Duration::from_secs(4),
        "stalled body survived {:?}",
        t0.elapsed()
    );

    // A client that asks for a lot and never reads: cut off after the write timeout.
    let site = std::env::temp_dir().join(format!("ringhttpd-wt-{}-{mode:?}", std::process::id()));
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("big.bin"), vec![1u8; 8 << 20]).unwrap();
    let server = Server::start_with(
        mode,
        &["--write-timeout", "1", "--root", site.to_str().unwrap()],
    );
    let mut s = server.connect();
    s.write_all(&get("/big.bin")).unwrap();
    std::thread::sleep(Duration::from_millis(3500));
    let mut total = 0;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
    assert!(
        total < 8 << 20,
        "the whole body arrived although the reader stalled past the timeout"
    );
    let _ = std::fs::remove_dir_all(&site);
}

fn sigterm_exits_cleanly(mode: Mode) {
    let mut server = Server::start(mode);
    let mut idle = server.connect();
    idle.write_all(&get("/hello")).unwrap();
    read_response(&mut idle, false).unwrap();
    let t0 = Instant::now();
    let status = server
        .stop()
        .expect("server did not exit within 10 s of SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        t0.elapsed()
    );
    expect_eof(&mut idle);
}

per_mode!(
    hello,
    other_paths_and_methods,
    keep_alive_many_requests,
    pipelined_in_order,
    pipelined_deep_with_backpressure,
    dribbled_byte_by_byte,
    connection_close_honoured,
    http10,
    half_close_still_answered,
    bad_requests_get_4xx_and_close,
    bodies_are_skipped,
    limits_are_configurable,
    chunked_bodies_are_read_and_framing_kept,
    expect_continue_is_answered_and_closed,
    reset_mid_response_leaves_server_healthy,
    many_concurrent_connections,
    more_idle_connections_than_receive_buffers,
    max_conns_refuses_extra_without_disturbing,
    fd_exhaustion_backs_off_and_recovers,
    idle_timeout_closes,
    slowloris_is_cut_off_at_the_header_deadline,
    stalled_body_and_stalled_reader_time_out,
    sigterm_exits_cleanly,
);
