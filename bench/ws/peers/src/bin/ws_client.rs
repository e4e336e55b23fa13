//! bench/ws load client: opens N WebSocket subscribers (`/stream?token=PREFIX<i>`) from one
//! loopback source address, then reads every frame on all of them with epoll, and prints a
//! line each time the k-th message has reached every subscriber:
//!
//! ```text
//! ready N
//! done K LAST_NS        (CLOCK_MONOTONIC of the moment the last subscriber got message K)
//! ```
//!
//! usage: ws-client PORT N SOURCE_ADDR TOKEN_PREFIX [PATH]
//!
//! PATH (default `/stream?token=`) is followed by TOKEN_PREFIX and the subscriber's number.
//!
//! Stops on EOF of stdin (the orchestrator closes it) or when a subscriber is closed by the
//! server (printed as `closed I`, then exit 1).

use std::io::{BufRead, Write};
use std::net::Ipv4Addr;

struct Sub {
    fd: i32,
    head: [u8; 14],
    hlen: usize,
    /// Payload bytes left in the current frame (None: reading a head).
    left: Option<u64>,
    count: u32,
}

fn now_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn check(r: i64, what: &str) -> i64 {
    if r < 0 {
        eprintln!("ws-client: {what}: {}", std::io::Error::last_os_error());
        std::process::exit(2);
    }
    r
}

/// Connect from `src` and do the opening handshake (blocking).
fn open(port: u16, src: Ipv4Addr, target: &str) -> i32 {
    // SAFETY: plain socket calls on a descriptor owned here.
    unsafe {
        let fd = check(
            libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) as i64,
            "socket",
        ) as i32;
        let one: libc::c_int = 1;
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            &one as *const _ as *const libc::c_void,
            4,
        );
        let sa = |ip: Ipv4Addr, port: u16| libc::sockaddr_in {
            sin_family: libc::AF_INET as u16,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(ip).to_be(),
            },
            sin_zero: [0; 8],
        };
        let len = std::mem::size_of::<libc::sockaddr_in>() as u32;
        let local = sa(src, 0);
        check(
            libc::bind(fd, &local as *const _ as *const libc::sockaddr, len) as i64,
            "bind",
        );
        let remote = sa(Ipv4Addr::LOCALHOST, port);
        check(
            libc::connect(fd, &remote as *const _ as *const libc::sockaddr, len) as i64,
            "connect",
        );
        let req = format!(
            "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
        check(
            libc::write(fd, req.as_ptr() as *const libc::c_void, req.len()) as i64,
            "write",
        );
        // Read the 101's head byte by byte (nothing may follow it before a publish).
        let mut head = Vec::with_capacity(256);
        let mut b = 0u8;
        while !head.ends_with(b"\r\n\r\n") {
            let n = libc::read(fd, &mut b as *mut u8 as *mut libc::c_void, 1);
            if n != 1 {
                eprintln!("ws-client: handshake: the server closed");
                std::process::exit(2);
            }
            head.push(b);
        }
        if !head.starts_with(b"HTTP/1.1 101") {
            eprintln!("ws-client: handshake: {}", String::from_utf8_lossy(&head));
            std::process::exit(2);
        }
        libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK);
        fd
    }
}

/// Consume `data` for subscriber `s`; returns the frames completed.
fn feed(s: &mut Sub, mut data: &[u8], closed: &mut bool) -> u32 {
    let mut done = 0;
    while !data.is_empty() {
        match s.left {
            None => {
                let need = if s.hlen < 2 {
                    2
                } else {
                    2 + match s.head[1] & 0x7f {
                        126 => 2,
                        127 => 8,
                        _ => 0,
                    }
                };
                let take = (need - s.hlen).min(data.len());
                s.head[s.hlen..s.hlen + take].copy_from_slice(&data[..take]);
                s.hlen += take;
                data = &data[take..];
                if s.hlen == need && need > 2 || (s.hlen == 2 && s.head[1] & 0x7f < 126) {
                    let len = match s.head[1] & 0x7f {
                        126 => u16::from_be_bytes([s.head[2], s.head[3]]) as u64,
                        127 => u64::from_be_bytes(s.head[2..10].try_into().unwrap()),
                        n => n as u64,
                    };
                    if s.head[0] & 0x0f == 8 {
                        *closed = true;
                    }
                    s.hlen = 0;
                    s.left = Some(len);
                    if len == 0 {
                        s.left = None;
                        done += 1;
                    }
                }
            }
            Some(left) => {
                let take = (left as usize).min(data.len());
                data = &data[take..];
                let left = left - take as u64;
                if left == 0 {
                    s.left = None;
                    done += 1;
                } else {
                    s.left = Some(left);
                }
            }
        }
    }
    done
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 && args.len() != 6 {
        eprintln!("usage: ws-client PORT N SOURCE_ADDR TOKEN_PREFIX [PATH]");
        std::process::exit(2);
    }
    let port: u16 = args[1].parse().expect("PORT");
    let n: usize = args[2].parse().expect("N");
    let src: Ipv4Addr = args[3].parse().expect("SOURCE_ADDR");
    let prefix = &args[4];
    let path = args.get(5).map_or("/stream?token=", String::as_str);
    let mut subs: Vec<Sub> = (0..n)
        .map(|i| Sub {
            fd: open(port, src, &format!("{path}{prefix}{i}")),
            head: [0; 14],
            hlen: 0,
            left: None,
            count: 0,
        })
        .collect();
    // SAFETY: epoll calls on descriptors owned by this process.
    let ep = unsafe { check(libc::epoll_create1(0) as i64, "epoll_create1") as i32 };
    for (i, s) in subs.iter().enumerate() {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: i as u64,
        };
        // SAFETY: as above.
        unsafe {
            check(
                libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, s.fd, &mut ev) as i64,
                "epoll_ctl",
            )
        };
    }
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: u64::MAX,
    };
    // SAFETY: as above (stdin).
    unsafe {
        check(
            libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, 0, &mut ev) as i64,
            "epoll_ctl stdin",
        )
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready {n}").unwrap();
    out.flush().unwrap();
    // For message k (1-based): how many subscribers have it, and when the last one got it.
    let mut have: Vec<(u32, u64)> = vec![(0, 0)];
    let mut buf = vec![0u8; 256 * 1024];
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    loop {
        // SAFETY: the events buffer has room for its length.
        let k = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, -1) };
        if k < 0 {
            continue; // EINTR
        }
        let t = now_ns();
        for e in &events[..k as usize] {
            let i = e.u64;
            if i == u64::MAX {
                let mut line = String::new();
                if std::io::stdin().lock().read_line(&mut line).unwrap_or(0) == 0 {
                    return; // the orchestrator is done
                }
                continue;
            }
            let s = &mut subs[i as usize];
            loop {
                // SAFETY: reading into our buffer.
                let r =
                    unsafe { libc::read(s.fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
                if r <= 0 {
                    if r == 0 {
                        writeln!(out, "closed {i}").unwrap();
                        out.flush().unwrap();
                        std::process::exit(1);
                    }
                    break; // EAGAIN
                }
                let mut closed = false;
                let done = feed(s, &buf[..r as usize], &mut closed);
                if closed {
                    writeln!(out, "closed {i} (close frame)").unwrap();
                    out.flush().unwrap();
                    std::process::exit(1);
                }
                for _ in 0..done {
                    s.count += 1;
                    let c = s.count as usize;
                    if have.len() <= c {
                        have.resize(c + 1, (0, 0));
                    }
                    have[c].0 += 1;
                    have[c].1 = t;
                    if have[c].0 as usize == n {
                        writeln!(out, "done {c} {t}").unwrap();
                        out.flush().unwrap();
                    }
                }
                if (r as usize) < buf.len() {
                    break;
                }
            }
        }
    }
}
