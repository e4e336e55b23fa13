//! Static files through the real binary, once per backend and io_uring feature set.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{eventually, exchange, gunzip, read_response, Mode, Response, Server};

/// A scratch site: root/ inside a directory that also holds a secret outside the root.
struct Site {
    base: PathBuf,
    root: PathBuf,
}

impl Site {
    fn new() -> Site {
        static N: AtomicUsize = AtomicUsize::new(0);
        let base = std::env::temp_dir().join(format!(
            "ringhttpd-files-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&base);
        let root = base.join("root");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::create_dir_all(root.join("empty")).unwrap();
        fs::create_dir_all(root.join(".git")).unwrap();
        fs::write(base.join("secret.txt"), "TOP SECRET").unwrap();
        fs::write(root.join("index.html"), "<h1>home</h1>\n").unwrap();
        fs::write(root.join("sub/index.html"), "<h1>sub</h1>\n").unwrap();
        fs::write(
            root.join("sub/page.css"),
            "body { color: red }\n".repeat(50),
        )
        .unwrap();
        fs::write(root.join("a b.txt"), "space").unwrap();
        fs::write(root.join("café.txt"), "utf8").unwrap();
        fs::write(root.join(".env"), "PASSWORD=x").unwrap();
        fs::write(root.join(".git/config"), "[core]").unwrap();
        fs::write(root.join("data.bin"), (0..=255u8).collect::<Vec<_>>()).unwrap();
        std::os::unix::fs::symlink(base.join("secret.txt"), root.join("escape.txt")).unwrap();
        // Relative symlinks inside the root work; absolute ones are refused by RESOLVE_BENEATH.
        std::os::unix::fs::symlink("a b.txt", root.join("inside.txt")).unwrap();
        std::os::unix::fs::symlink(root.join("a b.txt"), root.join("absolute.txt")).unwrap();
        Site { base, root }
    }

    fn start(&self, mode: Mode) -> Server {
        Server::start_with(mode, &["--root", self.root.to_str().unwrap()])
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.base);
    }
}

fn req(path: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}\r\n").into_bytes()
}

fn get(server: &Server, path: &str, extra: &str) -> Response {
    exchange(server, &req(path, extra))
}

fn serves_files_with_metadata(mode: Mode) {
    let site = Site::new();
    let server = site.start(mode);
    let r = get(&server, "/", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"<h1>home</h1>\n");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r
        .header("etag")
        .is_some_and(|e| e.starts_with('"') && e.ends_with('"')));
    assert!(r
        .header("last-modified")
        .is_some_and(|d| d.ends_with(" GMT")));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));

    let r = get(&server, "/data.bin", "");
    assert_eq!(r.body, (0..=255u8).collect::<Vec<_>>());
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(get(&server, "/a%20b.txt", "").body, b"space");
    assert_eq!(get(&server, "/caf%C3%A9.txt", "").body, b"utf8");
    assert_eq!(get(&server, "/inside.txt", "").body, b"space");
    assert_eq!(get(&server, "/missing.html", "").status, 404);

    // HEAD: same head, no body; the connection stays in sync.
    let mut s = server.connect();
    s.write_all(b"HEAD /sub/page.css HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let h = read_response(&mut s, true).unwrap();
    assert_eq!(h.header("content-length"), Some("1000"));
    assert_eq!(h.header("content-type"), Some("text/css; charset=utf-8"));
    s.write_all(&req("/a%20b.txt", "")).unwrap();
    assert_eq!(read_response(&mut s, false).unwrap().body, b"space");

    let r = exchange(
        &server,
        b"PUT /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
}

fn directories(mode: Mode) {
    let site = Site::new();
    let server = site.start(mode);
    let r = get(&server, "/sub?x=1", "");
    assert_eq!((r.status, r.header("location")), (301, Some("/sub/?x=1")));
    assert_eq!(get(&server, "/sub/", "").body, b"<h1>sub</h1>\n");
    assert_eq!(
        get(&server, "/empty/", "").status,
        403,
        "no directory listing"
    );
}

fn nothing_outside_the_root(mode: Mode) {
    let site = Site::new();
    let server = site.start(mode);
    for (path, want) in [
        ("/../secret.txt", 400),
        ("/sub/../../secret.txt", 400),
        ("/%2e%2e/secret.txt", 400),
        ("/%2E%2E%2Fsecret.txt", 400),
        ("/sub%2f..%2f..%2fsecret.txt", 400),
        ("/%252e%252e/secret.txt", 404), // decoded once: a literal "%2e%2e" directory
        ("/..%5csecret.txt", 400),
        ("/sub\\..\\..\\secret.txt", 400),
        ("/secret.txt%00.html", 400),
        ("/%c0%ae%c0%ae/secret.txt", 400),
        ("/escape.txt", 403), // symlink pointing outside
        ("/absolute.txt", 403),
        ("/.env", 403),
        ("/.git/config", 403),
        ("/sub/../.env", 403),
    ] {
        let r = get(&server, path, "");
        assert_eq!(r.status, want, "{path}");
        assert!(
            !String::from_utf8_lossy(&r.body).contains("SECRET"),
            "{path} leaked"
        );
    }
    // Absolute-form with traversal.
    let r = exchange(
        &server,
        b"GET http://x/../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(r.status, 400);
}

fn conditional_requests(mode: Mode) {
    let site = Site::new();
    let server = site.start(mode);
    let r = get(&server, "/index.html", "");
    let etag = r.header("etag").unwrap().to_string();
    let lm = r.header("last-modified").unwrap().to_string();

    let r = get(
        &server,
        "/index.html",
        &format!("If-None-Match: \"nope\", {etag}\r\n"),
    );
    assert_eq!(r.status, 304);
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert!(r.body.is_empty());
    assert_eq!(
        get(
            &server,
            "/index.html",
            &format!("If-Modified-Since: {lm}\r\n")
        )
        .status,
        304
    );
    assert_eq!(
        get(
            &server,
            "/index.html",
            "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
        )
        .status,
        200
    );
    assert_eq!(
        get(&server, "/index.html", "If-Match: \"other\"\r\n").status,
        412
    );
    assert_eq!(
        get(&server, "/index.html", &format!("If-Match: {etag}\r\n")).status,
        200
    );
    assert_eq!(
        get(
            &server,
            "/index.html",
            "If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
        )
        .status,
        412
    );
}

fn ranges(mode: Mode) {
    let site = Site::new();
    let server = site.start(mode);
    let all: Vec<u8> = (0..=255u8).collect();
    let r = get(&server, "/data.bin", "Range: bytes=10-19\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 10-19/256"));
    assert_eq!(r.body, &all[10..20]);
    assert_eq!(
        get(&server, "/data.bin", "Range: bytes=-6\r\n").body,
        &all[250..]
    );
    assert_eq!(
        get(&server, "/data.bin", "Range: bytes=250-\r\n").body,
        &all[250..]
    );
    let r = get(&server, "/data.bin", "Range: bytes=300-400\r\n");
    assert_eq!(
        (r.status, r.header("content-range")),
        (416, Some("bytes */256"))
    );
    assert_eq!(
        get(&server, "/data.bin", "Range: bytes=0-1,5-6\r\n").status,
        200
    );
    let etag = get(&server, "/data.bin", "")
        .header("etag")
        .unwrap()
        .to_string();
    assert_eq!(
        get(
            &server,
            "/data.bin",
            &format!("Range: bytes=0-0\r\nIf-Range: {etag}\r\n")
        )
        .status,
        206
    );
    let r = get(
        &server,
        "/data.bin",
        "Range: bytes=0-0\r\nIf-Range: \"stale\"\r\n",
    );
    assert_eq!((r.status, r.body.len()), (200, 256));
}

fn compression(mode: Mode) {
    let site = Site::new();
    let server = site.start(mode);
    let css = fs::read(site.path("sub/page.css")).unwrap();
    let r = get(
        &server,
        "/sub/page.css",
        "Accept-Encoding: gzip, deflate\r\n",
    );
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert!(r.body.len() < css.len() / 5);
    assert_eq!(gunzip(&r.body), css);
    let gz_etag = r.header("etag").unwrap().to_string();

    let r = get(
        &server,
        "/sub/page.css",
        "Accept-Encoding: gzip;q=0.1, deflate\r\n",
    );
    assert_eq!(r.header("content-encoding"), Some("deflate"));
    assert_eq!(
        miniz_oxide::inflate::decompress_to_vec_zlib(&r.body).unwrap(),
        css
    );

    let r = get(&server, "/sub/page.css", "Accept-Encoding: gzip;q=0\r\n");
    assert_eq!(
        (r.header("content-encoding"), r.body.len()),
        (None, css.len())
    );
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert_ne!(
        r.header("etag"),
        Some(gz_etag.as_str()),
        "variants need distinct ETags"
    );

    // Ranges are never compressed.
    let r = get(
        &server,
        "/sub/page.css",
        "Accept-Encoding: gzip\r\nRange: bytes=0-3\r\n",
    );
    assert_eq!(
        (r.status, r.header("content-encoding"), &r.body[..]),
        (206, None, &css[..4])
    );
    // Already-compressed or tiny types are not.
    let r = get(&server, "/data.bin", "Accept-Encoding: gzip\r\n");
    assert_eq!(r.header("content-encoding"), None);

    // A precompressed sibling at least as new is served as is (gzip_static).
    let text = "precompressed sibling wins ".repeat(40);
    fs::write(
        site.path("notes.txt"),
        "original text, never compressed here ".repeat(40),
    )
    .unwrap();
    let mut gz = Vec::new();
    gz.extend_from_slice(&gzip_bytes(text.as_bytes()));
    fs::write(site.path("notes.txt.gz"), gz).unwrap();
    let r = get(&server, "/notes.txt", "Accept-Encoding: gzip\r\n");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&r.body), text.as_bytes());
}

fn gzip_bytes(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    out.extend(miniz_oxide::deflate::compress_to_vec(data, 6));
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                0xEDB8_8320 ^ (crc >> 1)
            } else {
                crc >> 1
            };
        }
    }
    out.extend((!crc).to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    out
}

fn changes_are_seen(mode: Mode) {
    let site = Site::new();
    let server = site.start(mode);
    let p = site.path("sub/live.txt");
    fs::write(&p, "version one").unwrap();
    // Both threads of the server have their own cache: ask several times on new connections.
    for _ in 0..4 {
        assert_eq!(get(&server, "/sub/live.txt", "").body, b"version one");
    }
    fs::write(&p, "version TWO").unwrap(); // same length, maybe the same second
    eventually(3, "rewrite", || {
        (0..4).all(|_| get(&server, "/sub/live.txt", "").body == b"version TWO")
    });
    let tmp = site.path("sub/live.tmp");
    fs::write(&tmp, "replaced by rename").unwrap();
    fs::rename(&tmp, &p).unwrap();
    eventually(3, "rename", || {
        (0..4).all(|_| get(&server, "/sub/live.txt", "").body == b"replaced by rename")
    });
    fs::remove_file(&p).unwrap();
    eventually(3, "delete", || {
        (0..4).all(|_| get(&server, "/sub/live.txt", "").status == 404)
    });
    fs::write(&p, "back").unwrap();
    eventually(3, "create", || {
        (0..4).all(|_| get(&server, "/sub/live.txt", "").body == b"back")
    });
    // A renamed directory takes its cached files with it.
    fs::rename(site.path("sub"), site.path("moved")).unwrap();
    eventually(3, "dir rename", || {
        (0..4).all(|_| get(&server, "/sub/live.txt", "").status == 404)
    });
    assert_eq!(get(&server, "/moved/live.txt", "").body, b"back");
}

fn large_file(mode: Mode) {
    let site = Site::new();
    let data: Vec<u8> = (0..16 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    fs::write(site.path("big.bin"), &data).unwrap();
    let server = site.start(mode);
    for _ in 0..2 {
        let r = get(&server, "/big.bin", "");
        assert_eq!(r.body.len(), data.len());
        assert!(r.body == data, "large body differs");
    }
    let r = get(&server, "/big.bin", "Range: bytes=10000000-10000099\r\n");
    assert_eq!(r.body, &data[10_000_000..10_000_100]);
}

fn truncated_while_downloading(mode: Mode) {
    let site = Site::new();
    let path = site.path("big.bin");
    fs::write(&path, vec![7u8; 32 * 1024 * 1024]).unwrap();
    let server = site.start(mode);
    let mut s = server.connect();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&req("/big.bin", "")).unwrap();
    // Read the head and a little of the body, then truncate the file under the server.
    let mut first = vec![0u8; 64 * 1024];
    let mut got = 0;
    while got < first.len() {
        got += s.read(&mut first[got..]).unwrap();
    }
    let head_end = first.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&first[..head_end]).to_string();
    assert!(head.contains("Content-Length: 33554432"), "{head}");
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    let mut body = got - head_end;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => body += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("no EOF after truncation: {e} after {body} body bytes"),
        }
    }
    // Socket buffers hold a few MiB at most, so most of the 32 MiB were still to be written from
    // the truncated mapping: the server must have cut the connection short (never sent filler
    // or more than declared, never crashed).
    assert!(
        body < 32 * 1024 * 1024,
        "the whole body arrived from a truncated file: {body}"
    );
    // The server survived and serves the new state.
    let r = get(&server, "/big.bin", "");
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(get(&server, "/index.html", "").status, 200);
}

fn cache_bound_evicts(mode: Mode) {
    let site = Site::new();
    for i in 0..40 {
        fs::write(site.path(&format!("f{i}.bin")), vec![i as u8; 60 * 1024]).unwrap();
    }
    // 1 MiB per process, two threads: 512 KiB each, far below 40 x 60 KiB.
    let server = Server::start_with(
        mode,
        &["--root", site.root.to_str().unwrap(), "--cache-size", "1"],
    );
    for round in 0..2 {
        for i in 0..40 {
            let r = get(&server, &format!("/f{i}.bin"), "");
            assert_eq!(r.body, vec![i as u8; 60 * 1024], "round {round} file {i}");
        }
    }
}

fn root_must_exist(_mode: Mode) {
    let out = std::process::Command::new(common::BIN)
        .args(["--root", Path::new("/nonexistent/site").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

per_mode!(
    serves_files_with_metadata,
    directories,
    nothing_outside_the_root,
    conditional_requests,
    ranges,
    compression,
    changes_are_seen,
    large_file,
    truncated_while_downloading,
    cache_bound_evicts,
    root_must_exist,
);
