//! The driver contract, exercised on loopback sockets against every backend and feature set.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::time::{Duration, Instant};

use ringhttpd_ring::{
    Completion, Driver, EpollDriver, Errno, OpKind, PoolConfig, Token, UringConfig, UringDriver,
    UringFeatures,
};

fn pool() -> PoolConfig {
    PoolConfig { count: 8, size: 64 }
}

/// Waits until a completion for `kind` arrives (bounded), keeping the others.
fn wait_for(d: &mut impl Driver, seen: &mut Vec<Completion>, kind: OpKind) -> Completion {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(i) = seen.iter().position(|c| c.token.kind == kind) {
            return seen.remove(i);
        }
        assert!(
            Instant::now() < deadline,
            "no {kind:?} completion within 5 s; have {seen:?}"
        );
        d.wait(seen).unwrap();
    }
}

fn contract(d: &mut impl Driver) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let lfd = listener.as_raw_fd();
    let mut seen = Vec::new();

    d.accept_multi(lfd, Token::new(0, 0, OpKind::Accept));
    d.timeout(Duration::from_millis(20), Token::new(9, 0, OpKind::Timeout));
    let t0 = Instant::now();
    let tm = wait_for(d, &mut seen, OpKind::Timeout);
    assert_eq!(tm.result, Ok(0));
    assert!(
        t0.elapsed() >= Duration::from_millis(19),
        "timeout fired early: {:?}",
        t0.elapsed()
    );

    let mut client = TcpStream::connect(addr).unwrap();
    let acc = wait_for(d, &mut seen, OpKind::Accept);
    let fd = acc.result.expect("accept failed") as i32;
    assert!(fd > 2);
    if !acc.more {
        d.accept_multi(lfd, Token::new(0, 0, OpKind::Accept)); // single-shot kernels: re-arm
    }

    let recv_tok = Token::new(7, 3, OpKind::Recv);
    d.recv_multi(fd, recv_tok);
    client.write_all(b"ping").unwrap();
    let rc = wait_for(d, &mut seen, OpKind::Recv);
    assert_eq!(rc.token, recv_tok);
    assert_eq!(rc.result, Ok(4));
    let id = rc.buf.expect("receive without buffer");
    assert_eq!(d.buffer(id, 4), b"ping");
    d.release(id);
    if !rc.more {
        d.recv_multi(fd, recv_tok); // single-shot kernels: re-arm, as the server does
    }

    // More data than one buffer (64 bytes) arrives as several completions, in order.
    let big: Vec<u8> = (0..300u32).map(|i| b'a' + (i % 26) as u8).collect();
    client.write_all(&big).unwrap();
    let mut got = Vec::new();
    while got.len() < big.len() {
        let c = wait_for(d, &mut seen, OpKind::Recv);
        let n = c.result.expect("recv error") as usize;
        let id = c.buf.expect("buffer");
        got.extend_from_slice(d.buffer(id, n));
        d.release(id);
        if !c.more {
            d.recv_multi(fd, recv_tok);
        }
    }
    assert_eq!(got, big);

    let parts: [&[u8]; 2] = [b"po", b"ng"];
    let iov: Vec<libc::iovec> = parts
        .iter()
        .map(|p| libc::iovec {
            iov_base: p.as_ptr() as *mut _,
            iov_len: p.len(),
        })
        .collect();
    // SAFETY: `iov` and `parts` outlive the write: we wait for its completion below.
    unsafe { d.writev(fd, iov.as_ptr(), 2, Token::new(7, 3, OpKind::Write)) };
    assert_eq!(wait_for(d, &mut seen, OpKind::Write).result, Ok(4));
    let mut buf = [0u8; 4];
    client.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"pong");

    // Cancel the armed receive: it ends with ECANCELED and no further completion.
    d.cancel(fd, recv_tok, Token::new(7, 3, OpKind::Cancel));
    let end = wait_for(d, &mut seen, OpKind::Recv);
    assert_eq!(end.result, Err(Errno::ECANCELED));
    assert!(!end.more);
    wait_for(d, &mut seen, OpKind::Cancel);
    // SAFETY: the test owns `fd` and hands it to the driver, which closes it once.
    d.close(
        unsafe { OwnedFd::from_raw_fd(fd) },
        Token::new(7, 3, OpKind::Close),
    );
    assert_eq!(wait_for(d, &mut seen, OpKind::Close).result, Ok(0));
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());

    // EOF ends a receive with Ok(0), final.
    let mut c2 = TcpStream::connect(addr).unwrap();
    let acc = wait_for(d, &mut seen, OpKind::Accept);
    if !acc.more {
        d.accept_multi(lfd, Token::new(0, 0, OpKind::Accept));
    }
    let fd2 = acc.result.unwrap() as i32;
    d.recv_multi(fd2, Token::new(8, 0, OpKind::Recv));
    c2.write_all(b"x").unwrap();
    c2.shutdown(std::net::Shutdown::Write).unwrap();
    let mut bytes = 0;
    loop {
        let c = wait_for(d, &mut seen, OpKind::Recv);
        if let Some(id) = c.buf {
            d.release(id);
        }
        match c.result {
            Ok(0) => {
                assert!(!c.more);
                break;
            }
            Ok(n) => {
                bytes += n;
                if !c.more {
                    d.recv_multi(fd2, Token::new(8, 0, OpKind::Recv));
                }
            }
            Err(e) => panic!("recv error {e}"),
        }
    }
    assert_eq!(bytes, 1);
    // SAFETY: the test owns `fd2` and hands it to the driver, which closes it once.
    d.close(
        unsafe { OwnedFd::from_raw_fd(fd2) },
        Token::new(8, 0, OpKind::Close),
    );
    wait_for(d, &mut seen, OpKind::Close);

    // Poll on an eventfd.
    // SAFETY: eventfd has no memory preconditions.
    let efd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    d.poll_readable(efd, Token::new(1, 0, OpKind::Poll));
    let one: u64 = 1;
    assert_eq!(
        // SAFETY: writes 8 bytes from a live u64.
        unsafe { libc::write(efd, (&one as *const u64).cast(), 8) },
        8
    );
    let p = wait_for(d, &mut seen, OpKind::Poll);
    assert!(p.result.unwrap() & libc::POLLIN as u32 != 0);
    // SAFETY: the test owns `efd` and hands it to the driver, which closes it once.
    d.close(
        unsafe { OwnedFd::from_raw_fd(efd) },
        Token::new(1, 0, OpKind::Close),
    );
    wait_for(d, &mut seen, OpKind::Close);
    let _ = listener.into_raw_fd();
}

#[test]
fn epoll_contract() {
    let mut d = EpollDriver::new(pool()).unwrap();
    contract(&mut d);
}

#[test]
fn uring_contract_all_features() {
    let mut d = UringDriver::new(UringConfig {
        entries: 64,
        pool: pool(),
        allow: UringFeatures::ALL,
    })
    .unwrap();
    eprintln!("{}", d.describe());
    contract(&mut d);
}

#[test]
fn uring_contract_5_15_features() {
    let mut d = UringDriver::new(UringConfig {
        entries: 64,
        pool: pool(),
        allow: UringFeatures::LINUX_5_15,
    })
    .unwrap();
    assert_eq!(d.features(), UringFeatures::LINUX_5_15);
    contract(&mut d);
}

#[test]
fn uring_survives_a_full_submission_queue() {
    // 8-entry SQ, 40 timeouts queued before one wait: pushes must submit early, nothing is lost.
    let mut d = UringDriver::new(UringConfig {
        entries: 8,
        pool: pool(),
        allow: UringFeatures::ALL,
    })
    .unwrap();
    for i in 0..40 {
        d.timeout(Duration::from_millis(1), Token::new(i, 0, OpKind::Timeout));
    }
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while seen.len() < 40 && Instant::now() < deadline {
        d.wait(&mut seen).unwrap();
    }
    let mut slots: Vec<u32> = seen.iter().map(|c| c.token.slot).collect();
    slots.sort();
    assert_eq!(slots, (0..40).collect::<Vec<_>>());
}

#[test]
fn feature_mask_parsing() {
    assert_eq!(UringFeatures::parse("all"), Ok(UringFeatures::ALL));
    assert_eq!(UringFeatures::parse("5.15"), Ok(UringFeatures::LINUX_5_15));
    let f = UringFeatures::parse("-recv_multi,-defer_taskrun").unwrap();
    assert!(!f.recv_multi && !f.defer_taskrun && f.accept_multi && f.buf_ring);
    assert!(UringFeatures::parse("recv_multi").is_err());
    assert!(UringFeatures::parse("-bogus").is_err());
}
