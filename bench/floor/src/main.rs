//! The floor: a minimal io_uring responder for benchmarks. One thread, multishot accept,
//! single-shot recv into a fixed per-connection buffer, count request ends (`\r\n\r\n`), send one
//! canned `/hello` response per request. No parsing, no headers beyond the canned ones, no timers,
//! no error handling beyond closing. It shows what the kernel alone costs per request here.
//!
//! usage: floor PORT

use std::collections::HashMap;
use std::os::fd::AsRawFd;

use io_uring::{opcode, types::Fd, IoUring};

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nServer: floor\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
const BUF: usize = 4096;

struct Conn {
    buf: Box<[u8; BUF]>,
    /// How much of "\r\n\r\n" the previous read ended with.
    tail: usize,
    out: Vec<u8>,
    sending: bool,
    /// Requests counted but not answered yet (they arrived while a send was in flight).
    pending: usize,
}

fn send(ring: &mut IoUring, fd: i32, c: &mut Conn) {
    if c.sending || c.pending == 0 {
        return;
    }
    c.out.clear();
    for _ in 0..c.pending {
        c.out.extend_from_slice(RESPONSE);
    }
    c.pending = 0;
    c.sending = true;
    let e = opcode::Send::new(Fd(fd), c.out.as_ptr(), c.out.len() as u32)
        .build()
        .user_data((fd as u64) << 2 | 2);
    // SAFETY: `out` is not touched until this send completes (`sending`).
    unsafe { push(ring, &e) };
}

fn count_ends(data: &[u8], tail: &mut usize) -> usize {
    const END: &[u8] = b"\r\n\r\n";
    let mut n = 0;
    for &b in data {
        *tail = if b == END[*tail] {
            *tail + 1
        } else if b == b'\r' {
            1
        } else {
            0
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
    let lfd = listener.as_raw_fd();
    let mut ring = IoUring::new(4096).expect("io_uring");
    let mut conns: HashMap<i32, Conn> = HashMap::new();
    // user_data: fd << 2 | kind (0 accept, 1 recv, 2 send).
    let accept = opcode::AcceptMulti::new(Fd(lfd)).build().user_data(0);
    // SAFETY: the entry holds no pointers.
    unsafe { ring.submission().push(&accept).expect("queue") };
    println!("floor: listening on 127.0.0.1:{port}");
    loop {
        ring.submit_and_wait(1).expect("submit");
        let cqes: Vec<(u64, i32)> = ring
            .completion()
            .map(|c| (c.user_data(), c.result()))
            .collect();
        for (ud, res) in cqes {
            let (fd, kind) = ((ud >> 2) as i32, ud & 3);
            match kind {
                0 if res >= 0 => {
                    let c = Conn {
                        buf: Box::new([0; BUF]),
                        tail: 0,
                        out: Vec::new(),
                        sending: false,
                        pending: 0,
                    };
                    conns.insert(res, c);
                    let c = conns.get_mut(&res).expect("inserted");
                    let e = opcode::Recv::new(Fd(res), c.buf.as_mut_ptr(), BUF as u32)
                        .build()
                        .user_data((res as u64) << 2 | 1);
                    // SAFETY: the buffer is boxed in `conns` and lives until the fd is closed,
                    // which only happens after this recv completed.
                    unsafe { push(&mut ring, &e) };
                }
                1 => {
                    let Some(c) = conns.get_mut(&fd) else {
                        continue;
                    };
                    if res <= 0 {
                        if !c.sending {
                            conns.remove(&fd);
                            // SAFETY: closing a socket we own; no operation is in flight on it.
                            unsafe { libc::close(fd) };
                        }
                        continue;
                    }
                    c.pending += count_ends(&c.buf[..res as usize], &mut c.tail);
                    send(&mut ring, fd, c);
                    let e = opcode::Recv::new(Fd(fd), c.buf.as_mut_ptr(), BUF as u32)
                        .build()
                        .user_data((fd as u64) << 2 | 1);
                    // SAFETY: as for the first recv.
                    unsafe { push(&mut ring, &e) };
                }
                2 => {
                    if let Some(c) = conns.get_mut(&fd) {
                        c.sending = false; // short sends are not resumed: the floor assumes small responses
                        send(&mut ring, fd, c);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Push an entry, submitting first if the queue is full.
///
/// # Safety
/// The entry's pointers must stay valid until its completion.
unsafe fn push(ring: &mut IoUring, e: &io_uring::squeue::Entry) {
    // SAFETY: guaranteed by the caller.
    while unsafe { ring.submission().push(e) }.is_err() {
        ring.submit().expect("submit");
    }
}
