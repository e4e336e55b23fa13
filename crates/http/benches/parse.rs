//! ringhttpd-http vs httparse on the same inputs, in the same run: ns per request.
//!
//! `cargo bench -p ringhttpd-http --bench parse`. Inputs: a small GET (wrk's), a browser GET with
//! 15 header fields, and a pipelined batch of 16 small GETs parsed one after another. Both
//! parsers get a 64-entry header array. ringhttpd also enforces framing (Host, Content-Length,
//! Transfer-Encoding, Connection) and strict byte classes, which httparse leaves to its caller.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ringhttpd_http::{parse, Header, Limits, Status};

const SMALL: &[u8] = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

const BROWSER: &[u8] = b"GET /static/css/site.min.css?v=3f2a9c HTTP/1.1\r\n\
Host: www.example.com\r\n\
Connection: keep-alive\r\n\
sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n\
sec-ch-ua-mobile: ?0\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n\
sec-ch-ua-platform: \"Linux\"\r\n\
Accept: text/css,*/*;q=0.1\r\n\
Sec-Fetch-Site: same-origin\r\n\
Sec-Fetch-Mode: no-cors\r\n\
Sec-Fetch-Dest: style\r\n\
Referer: https://www.example.com/articles/2024/05/a-long-article-title\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-GB,en-US;q=0.9,en;q=0.8\r\n\
Cookie: session=8f2d0c1e5b7a4e9f; theme=dark; consent=1; _ga=GA1.2.123456789.1700000000\r\n\
If-None-Match: \"65f1a2b3-1f4a\"\r\n\
\r\n";

fn ours(buf: &[u8]) -> usize {
    let mut hs = [Header::default(); 64];
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
