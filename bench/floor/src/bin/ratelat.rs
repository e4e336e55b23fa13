//! ratelat: fixed-rate load with latency percentiles (what wrk cannot do; wrk2 is not packaged).
//!
//! usage: ratelat HOST:PORT PATH RATE CONNECTIONS SECONDS
//!
//! Spreads RATE requests per second over CONNECTIONS keep-alive connections (one thread each),
//! each request scheduled at a fixed time. Latency is measured from the scheduled time, not the
//! send time, so a stalled server is not hidden by the client waiting for it (coordinated
//! omission). Prints `requests N errors E p50_us X p99_us Y p999_us Z max_us W`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn read_response(s: &mut TcpStream, buf: &mut [u8]) -> bool {
    let mut got = 0;
    loop {
        match s.read(&mut buf[got..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got += n,
        }
        if let Some(h) = buf[..got].windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..h]).to_ascii_lowercase();
            let cl: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if got >= h + 4 + cl {
                return true;
            }
        }
        if got == buf.len() {
            return false;
        }
    }
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 6 {
        eprintln!("usage: ratelat HOST:PORT PATH RATE CONNECTIONS SECONDS");
        std::process::exit(2);
    }
    let (addr, path) = (a[1].clone(), a[2].clone());
    let num = |s: &str, what: &str| -> u64 {
        s.parse().unwrap_or_else(|_| {
            eprintln!("ratelat: {what} must be a number");
            std::process::exit(2)
        })
    };
    let (rate, conns, secs) = (
        num(&a[3], "RATE"),
        num(&a[4], "CONNECTIONS"),
        num(&a[5], "SECONDS"),
    );
    if rate == 0 || conns == 0 || secs == 0 || secs > 300 || conns > 1000 || rate < conns {
        eprintln!("ratelat: RATE >= CONNECTIONS > 0, CONNECTIONS <= 1000, SECONDS in 1..=300");
        std::process::exit(2);
    }
    let req = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n").into_bytes();
    let start = Instant::now() + Duration::from_millis(300);
    let interval = Duration::from_nanos(1_000_000_000 * conns / rate);
    let per_conn = rate * secs / conns;
    let threads: Vec<_> = (0..conns)
        .map(|i| {
            let (addr, req) = (addr.clone(), req.clone());
            std::thread::spawn(move || {
                let mut lat = Vec::with_capacity(per_conn as usize);
                let Ok(mut s) = TcpStream::connect(&addr) else {
                    return (lat, per_conn);
                };
                let _ = s.set_nodelay(true);
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let offset = interval * i as u32 / conns as u32;
                let mut buf = vec![0u8; 64 * 1024];
                let mut errors = 0;
                for k in 0..per_conn {
                    let due = start + offset + interval * k as u32;
                    if let Some(d) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(d);
                    }
                    if s.write_all(&req).is_ok() && read_response(&mut s, &mut buf) {
                        lat.push(due.elapsed().as_micros() as u64);
                    } else {
                        errors += 1;
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in threads {
        let (l, e) = t.join().expect("client thread");
        all.extend(l);
        errors += e;
    }
    all.sort_unstable();
    let q = |p: f64| {
        let i = ((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1));
        all.get(i).copied().unwrap_or(0)
    };
    println!(
        "requests {} errors {} p50_us {} p99_us {} p999_us {} max_us {}",
        all.len(),
        errors,
        q(0.50),
        q(0.99),
        q(0.999),
        all.last().copied().unwrap_or(0)
    );
}
