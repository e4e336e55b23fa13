//! Parse one benchmark input many times with one parser, for instruction counting under
//! `valgrind --tool=callgrind` (repeatable where wall-clock timings on a shared machine are not).
//!
//! usage: parse_count ringhttpd|httparse small|browser|pipelined ITERATIONS

use ringhttpd_http::{parse, Header, Limits, Status};

const SMALL: &[u8] = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
const BROWSER: &[u8] = include_bytes!("../benches/browser.txt");

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 4 {
        eprintln!("usage: parse_count ringhttpd|httparse small|browser|pipelined ITERATIONS");
        std::process::exit(2);
    }
    let pipelined = SMALL.repeat(16);
    let input: &[u8] = match a[2].as_str() {
        "small" => SMALL,
        "browser" => BROWSER,
        "pipelined" => &pipelined,
        _ => std::process::exit(2),
    };
    let n: usize = a[3].parse().unwrap_or(1000);
    let mut total = 0;
    for _ in 0..n {
        let mut pos = 0;
        while pos < input.len() {
            let buf = std::hint::black_box(&input[pos..]);
            pos += if a[1] == "httparse" {
                let mut hs = [httparse::EMPTY_HEADER; 64];
                let mut req = httparse::Request::new(&mut hs);
                match req.parse(buf) {
                    Ok(httparse::Status::Complete(k)) => k,
                    _ => panic!("input must parse"),
                }
            } else {
                let mut hs = [Header::EMPTY; 64];
                match parse(buf, &mut hs, &Limits::default()) {
                    Ok(Status::Complete(r)) => r.head_len,
                    _ => panic!("input must parse"),
                }
            };
        }
        total += pos;
    }
    println!("{total}");
}
