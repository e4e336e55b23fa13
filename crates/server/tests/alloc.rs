//! No heap allocation per request on the `/hello` and cached-file paths: the server's counting
//! allocator (reported on SIGUSR1) must not move across 10,000 requests after warm-up.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{read_response, Mode, BIN};

fn allocations(child: &std::process::Child, err: &mut impl BufRead) -> u64 {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGUSR1) };
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "server stderr closed"
        );
        if let Some(n) = line.trim().strip_prefix("ringhttpd: allocations=") {
            return n.parse().unwrap();
        }
    }
}

fn no_allocation_per_request(mode: Mode) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../www");
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--threads", "1", "--root", root])
        .args(mode.args())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    let port: u16 = banner
        .split("127.0.0.1:")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());

    let requests: [&[u8]; 4] = [
        b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n",
        b"HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n",
    ];
    let mut conns: Vec<TcpStream> = (0..8)
        .map(|_| {
            let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.set_nodelay(true).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s
        })
        .collect();
    let mut run = |rounds: usize| {
        for i in 0..rounds {
            let s = &mut conns[i % 8];
            // Alternate single requests and pipelined batches of four.
            if i % 2 == 0 {
                let r = requests[i / 2 % 4];
                s.write_all(r).unwrap();
                read_response(s, r.starts_with(b"HEAD")).unwrap();
            } else {
                s.write_all(&requests.concat()).unwrap();
                for r in requests {
                    read_response(s, r.starts_with(b"HEAD")).unwrap();
                }
            }
        }
    };
    run(1000); // warm-up: caches filled, free lists and scratch vectors at their working size
    let before = allocations(&child, &mut err);
    run(4000); // 2,000 single + 2,000 x 4 pipelined = 10,000 requests
    let after = allocations(&child, &mut err);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        after - before,
        0,
        "{} heap allocations during 10,000 requests",
        after - before
    );
}

#[test]
fn epoll() {
    no_allocation_per_request(Mode::Epoll);
}

#[test]
fn uring() {
    no_allocation_per_request(Mode::UringAll);
}

#[test]
fn uring_5_15() {
    no_allocation_per_request(Mode::Uring515);
}
