//! ringhttpd-http vs httparse on the same inputs, in the same run: ns per request.
//!
//! `cargo bench -p ringhttpd-http --bench parse`. Inputs: a small GET (wrk's), a browser GET with
//! 15 header fields, and a pipelined batch of 16 small GETs parsed one after another. Both
//! parsers get a 64-entry header array (each filled with its own empty constant). ringhttpd also enforces framing (Host, Content-Length,
//! Transfer-Encoding, Connection) and strict byte classes, which httparse leaves to its caller.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ringhttpd_http::{parse, Header, Limits, Status};

const SMALL: &[u8] = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

const BROWSER: &[u8] = include_bytes!("browser.txt");

fn ours(buf: &[u8]) -> usize {
    let mut hs = [Header::EMPTY; 64];
    match parse(buf, &mut hs, &Limits::default()) {
        Ok(Status::Complete(r)) => r.head_len,
        _ => panic!("benchmark input must parse"),
    }
}

fn theirs(buf: &[u8]) -> usize {
    let mut hs = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut hs);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => panic!("benchmark input must parse"),
    }
}

fn bench(c: &mut Criterion) {
    let pipelined: Vec<u8> = SMALL.repeat(16);
    for (name, input, count) in [
        ("small-get", SMALL, 1u64),
        ("browser-get", BROWSER, 1),
        ("pipelined-16", &pipelined[..], 16),
    ] {
        assert_eq!(ours(input), theirs(input));
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Elements(count));
        g.bench_function("ringhttpd", |b| {
            b.iter(|| {
                let mut pos = 0;
                while pos < input.len() {
                    pos += ours(black_box(&input[pos..]));
                }
                pos
            })
        });
        g.bench_function("httparse", |b| {
            b.iter(|| {
                let mut pos = 0;
                while pos < input.len() {
                    pos += theirs(black_box(&input[pos..]));
                }
                pos
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
