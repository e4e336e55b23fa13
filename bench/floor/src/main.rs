//! The floor: the least an HTTP responder can do on this kernel, for benchmarks. One thread on
//! ringhttpd's own driver (multishot accept, multishot recv into the provided-buffer ring,
//! DEFER_TASKRUN where the kernel has them): count request ends (`\r\n\r\n`), answer each with a
//! canned `/hello` response from one static buffer. No parsing, no header checks, no timers, no
//! Date, no limits. The gap between this and ringhttpd is what HTTP handling costs.
//!
//! usage: floor PORT

use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};

use ringhttpd_ring::{Completion, Driver, OpKind, Token, UringConfig, UringDriver};

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nServer: floor\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
/// Responses per write at most.
const BATCH: usize = 64;

struct Conn {
    /// How much of "\r\n\r\n" the previous read ended with.
    tail: u8,
    pending: usize,
    sending: bool,
    open: bool,
    iov: [libc::iovec; 1],
}

fn count_ends(data: &[u8], tail: &mut u8) -> usize {
    const END: &[u8] = b"\r\n\r\n";
    let mut n = 0;
    for &b in data {
        *tail = if b == END[*tail as usize] {
            *tail + 1
        } else {
            u8::from(b == b'\r')
        };
        if *tail == 4 {
            n += 1;
            *tail = 0;
        }
    }
    n
}

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            eprintln!("usage: floor PORT");
            std::process::exit(2)
        });
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| {
        eprintln!("floor: cannot listen on 127.0.0.1:{port}: {e}");
        std::process::exit(2)
    });
    let one: libc::c_int = 1;
    // SAFETY: setsockopt reads one c_int from a live local.
    unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&one as *const libc::c_int).cast(),
            4,
        )
    };
    let lfd = listener.into_raw_fd();
    let mut d = UringDriver::new(UringConfig::default()).unwrap_or_else(|e| {
        eprintln!("floor: {e}");
        std::process::exit(2)
    });
    // Every response in a batch points into this one buffer.
    let canned: Vec<u8> = RESPONSE.repeat(BATCH);
    let mut conns: Vec<Option<Box<Conn>>> = Vec::new();
    let accept = Token::new(u32::MAX, 0, OpKind::Accept);
    d.accept_multi(lfd, accept);
    println!("floor: listening on 127.0.0.1:{port} ({})", d.describe());
    let mut events: Vec<Completion> = Vec::with_capacity(4096);
    loop {
        if d.wait(&mut events).is_err() {
            continue;
        }
        for c in events.drain(..) {
            let fd = c.token.slot as i32;
            match c.token.kind {
                OpKind::Accept => {
                    if let Ok(nfd) = c.result {
                        let i = nfd as usize;
                        if conns.len() <= i {
                            conns.resize_with(i + 1, || None);
                        }
                        conns[i] = Some(Box::new(Conn {
                            tail: 0,
                            pending: 0,
                            sending: false,
                            open: true,
                            iov: [libc::iovec {
                                iov_base: std::ptr::null_mut(),
                                iov_len: 0,
                            }],
                        }));
                        d.recv_multi(nfd as i32, Token::new(nfd, 0, OpKind::Recv));
                    }
                    if !c.more {
                        d.accept_multi(lfd, accept);
                    }
                }
                OpKind::Recv => {
                    let Some(conn) = conns.get_mut(fd as usize).and_then(Option::as_mut) else {
                        if let Some(id) = c.buf {
                            d.release(id);
                        }
                        continue;
                    };
                    match (c.result, c.buf) {
                        (Ok(n), Some(id)) if n > 0 => {
                            conn.pending += count_ends(d.buffer(id, n as usize), &mut conn.tail);
                            d.release(id);
                            if !c.more {
                                d.recv_multi(fd, c.token);
                            }
                        }
                        (Err(e), _) if e.0 == libc::ENOBUFS => d.recv_multi(fd, c.token),
                        _ => conn.open = false, // EOF or error
                    }
                    if !conn.open && !conn.sending {
                        conns[fd as usize] = None;
                        // SAFETY: the accepted fd is owned by this slot only; its entry is gone.
                        d.close(
                            unsafe { OwnedFd::from_raw_fd(fd) },
                            Token::new(fd as u32, 0, OpKind::Close),
                        );
                        continue;
                    }
                    send(&mut d, fd, conn, &canned);
                }
                OpKind::Write => {
                    let Some(conn) = conns.get_mut(fd as usize).and_then(Option::as_mut) else {
                        continue;
                    };
                    conn.sending = false; // short writes are not resumed: responses are tiny
                    if !conn.open || c.result.is_err() {
                        conns[fd as usize] = None;
                        // SAFETY: the accepted fd is owned by this slot only; its entry is gone.
                        d.close(
                            unsafe { OwnedFd::from_raw_fd(fd) },
                            Token::new(fd as u32, 0, OpKind::Close),
                        );
                        continue;
                    }
                    send(&mut d, fd, conn, &canned);
                }
                _ => {}
            }
        }
    }
}

fn send(d: &mut UringDriver, fd: i32, conn: &mut Conn, canned: &[u8]) {
    if conn.sending || conn.pending == 0 {
        return;
    }
    let n = conn.pending.min(BATCH);
    conn.pending -= n;
    conn.sending = true;
    conn.iov[0] = libc::iovec {
        iov_base: canned.as_ptr() as *mut libc::c_void,
        iov_len: n * RESPONSE.len(),
    };
    // SAFETY: `canned` lives for the whole program and is never modified; the boxed iovec stays in
    // place until this write completes (`sending`; the box is only dropped after that).
    unsafe {
        d.writev(
            fd,
            conn.iov.as_ptr(),
            1,
            Token::new(fd as u32, 0, OpKind::Write),
        )
    };
}
