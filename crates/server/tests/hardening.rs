//! Black-box tests for the holes an audit found (issue 13), once per backend and io_uring
//! feature set. Each one failed on the tree before its fix.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{eventually, exchange, gunzip, read_response, Mode, Server};

/// A scratch root with a directory, a few files, and whatever a test adds.
struct Site {
    root: PathBuf,
}

impl Site {
    fn new() -> Site {
        static N: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "ringhttpd-hardening-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("sub/deeper")).unwrap();
        fs::write(root.join("index.html"), "<h1>home</h1>\n").unwrap();
        fs::write(root.join("sub/index.html"), "<h1>sub</h1>\n").unwrap();
        Site { root }
    }

    /// One worker, so a stalled worker would stall every later request.
    fn start(&self, mode: Mode, extra: &[&str]) -> Server {
        let mut args = vec!["--root", self.root.to_str().unwrap(), "--threads", "1"];
        args.extend_from_slice(extra);
        Server::start_with(mode, &args)
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn get(server: &Server, target: &str, extra: &str) -> common::Response {
    exchange(
        server,
        format!("GET {target} HTTP/1.1\r\nHost: x\r\n{extra}\r\n").as_bytes(),
    )
}

/// Item 1: a directory redirect points at the normalised path, same-origin, never `//`.
fn redirects_stay_on_this_host(mode: Mode) {
    let site = Site::new();
    let server = site.start(mode, &[]);
    for (target, want) in [
        ("//evil.example/x%2f..%2f..%2fsub", "/sub/"),
        ("//evil.example/..%2fsub", "/sub/"),
        ("/./sub", "/sub/"),
        ("/sub/./deeper?q=1", "/sub/deeper/?q=1"),
        ("//sub", "/sub/"),
        ("/x/../sub", "/sub/"),
        ("http://other.example//sub", "/sub/"),
        ("/%2e%2e/sub", ""), // an escape above the root is refused, not redirected
    ] {
        let r = get(&server, target, "");
        if want.is_empty() {
            assert_eq!(r.status, 400, "{target}");
            continue;
        }
        assert_eq!(r.status, 301, "{target}");
        let loc = r.header("location").unwrap();
        assert_eq!(loc, want, "{target}");
        assert!(!loc.starts_with("//"), "{target}: {loc}");
    }
}

/// Item 2: a FIFO under the root (as a file or as a `.gz` sibling) never blocks the worker.
fn fifos_and_devices_do_not_block(mode: Mode) {
    let site = Site::new();
    let mkfifo = |p: PathBuf| {
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo reads the NUL-terminated path only.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    };
    mkfifo(site.root.join("pipe.txt"));
    fs::write(site.root.join("style.css"), "p { margin: 0 }\n".repeat(40)).unwrap();
    mkfifo(site.root.join("style.css.gz"));
    std::os::unix::fs::symlink("/dev/zero", site.root.join("zero.bin")).unwrap();
    let server = site.start(mode, &[]);
    let t0 = Instant::now();
    let r = get(&server, "/pipe.txt", "");
    assert_eq!(r.status, 403, "a FIFO is refused");
    let r = get(&server, "/style.css", "Accept-Encoding: gzip\r\n");
    assert_eq!(r.status, 200);
    let plain = match r.header("content-encoding") {
        Some("gzip") => gunzip(&r.body),
        None => r.body.clone(),
        Some(other) => panic!("unexpected coding {other}"),
    };
    assert_eq!(
        plain,
        "p { margin: 0 }\n".repeat(40).into_bytes(),
        "the FIFO sibling is not used"
    );
    // /dev/zero through an absolute symlink is refused by the beneath-root rule either way.
    assert!(matches!(get(&server, "/zero.bin", "").status, 403 | 404));
    // The one worker is still serving.
    assert_eq!(get(&server, "/index.html", "").body, b"<h1>home</h1>\n");
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
}

/// Item 10: two same-size edits within one second get different validators.
fn etags_change_with_every_edit(mode: Mode) {
    let site = Site::new();
    let file = site.root.join("v.txt");
    let server = site.start(mode, &[]);
    for attempt in 0..20 {
        fs::write(&file, "version-A\n").unwrap();
        let before = get(&server, "/v.txt", "");
        assert_eq!(before.body, b"version-A\n");
        let etag = before.header("etag").unwrap().to_string();
        let t0 = fs::metadata(&file).unwrap().modified().unwrap();
        fs::write(&file, "version-B\n").unwrap();
        let t1 = fs::metadata(&file).unwrap().modified().unwrap();
        let secs =
            |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        if secs(t0) != secs(t1) {
            assert!(attempt < 19, "could not make two edits within one second");
            continue; // the edits straddled a second: try again
        }
        // The change is seen (inotify), and the old validator no longer matches.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let r = get(&server, "/v.txt", &format!("If-None-Match: {etag}\r\n"));
            if r.status == 200 && r.body == b"version-B\n" {
                assert_ne!(r.header("etag").unwrap(), etag);
                return;
            }
            assert!(
                Instant::now() < deadline,
                "a same-size edit within the second kept the ETag: {} {:?}",
                r.status,
                r.header("etag")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Item 8: a worker that dies (panic, or its loop failing) takes the process down with a
/// non-zero status and a message; no connection is left hanging.
fn a_dead_worker_stops_the_process(mode: Mode) {
    for (fault, message) in [("panic", "died (panic"), ("error", "stopped unexpectedly")] {
        let mut server = Server::start_cmd(mode, &[], |c| {
            c.env("RINGHTTPD_TEST_FAULT", fault).stderr(Stdio::piped());
        });
        // Connections on both workers (SO_REUSEPORT spreads them), each asked once. The fault
        // fires at the first tick (1 s): on a slow machine (the emulated 5.10 run) the first
        // worker may already be gone, so a reset here is an answer too.
        let mut conns: Vec<_> = (0..8).map(|_| server.connect()).collect();
        for c in &mut conns {
            if c.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                .is_ok()
            {
                if let Ok(r) = read_response(c, false) {
                    assert_eq!(r.status, 200);
                }
            }
        }
        let t0 = Instant::now();
        let status = loop {
            if let Some(st) = server.child.try_wait().unwrap() {
                break st;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "{fault}: still running"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(1), "{fault}");
        let err = stderr_of(&mut server);
        assert!(err.contains(message), "{fault}: {err}");
        for c in &mut conns {
            let mut rest = Vec::new();
            // EOF (or a reset), never a hang: bounded by the connection's read timeout.
            let _ = c.read_to_end(&mut rest);
        }
    }
}

/// Item 7: `--write-timeout` is the longest time without progress in sending: a steady slow
/// download that takes several timeouts in all is not cut (the stalled reader is in http.rs).
fn steady_slow_download_is_not_cut(mode: Mode) {
    let site = Site::new();
    let body: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
    fs::write(site.root.join("big.bin"), &body).unwrap();
    let server = site.start(mode, &["--write-timeout", "1"]);
    let mut s = server.connect();
    s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // 512 KiB every 300 ms: about 5 s for 8 MiB, far more than the kernel's buffers hold, and
    // never a full second without the server's write making progress.
    let t0 = Instant::now();
    let mut got = Vec::new();
    let mut chunk = vec![0u8; 512 << 10];
    loop {
        let n = match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => panic!("after {} bytes: {e}", got.len()),
        };
        got.extend_from_slice(&chunk[..n]);
        if got.len() >= body.len() + 100 && got.windows(4).any(|w| w == b"\r\n\r\n") {
            let head_end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            if got.len() - head_end == body.len() {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(300 * n as u64 / (512 << 10) as u64));
        assert!(t0.elapsed() < Duration::from_secs(60), "bounded");
    }
    let head_end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(
        t0.elapsed() > Duration::from_secs(2),
        "the download was not slow enough to test"
    );
    assert_eq!(
        got.len() - head_end,
        body.len(),
        "the steady download was cut"
    );
    assert!(got[head_end..] == body[..]);
}

/// Item 6: a request head larger than the pause mark (32 KiB), arriving while a response is
/// being written, is received and answered once the write is done.
fn large_head_behind_a_write_is_answered(mode: Mode) {
    let site = Site::new();
    fs::write(site.root.join("big.bin"), vec![7u8; 4 << 20]).unwrap();
    let server = site.start(mode, &["--max-header-size", "262144"]);
    let mut s = server.connect();
    let mut first = b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    // The second request's head: 48 KiB of one field, its end held back.
    first.extend_from_slice(b"GET /index.html HTTP/1.1\r\nHost: x\r\nX-Long: ");
    first.extend(std::iter::repeat_n(b'a', 48 << 10));
    s.write_all(&first).unwrap();
    std::thread::sleep(Duration::from_millis(300)); // the stash passes the mark mid-write
    let r = read_response(&mut s, false).unwrap();
    assert_eq!((r.status, r.body.len()), (200, 4 << 20));
    s.write_all(b"\r\n\r\n").unwrap();
    let r = read_response(&mut s, false).expect("the large head is answered");
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"<h1>home</h1>\n"[..])
    );
    // Past the configured limit it is a 431, not a stall.
    let server = site.start(mode, &["--max-header-size", "40000"]);
    let mut s = server.connect();
    s.write_all(&first).unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.status, 200);
    let r = read_response(&mut s, false).expect("answered, not stalled");
    assert_eq!(r.status, 431);
}

/// Item 9: chunk extensions and trailers follow RFC 9112 §7.1.1 and §7.1.2; anything else is
/// a 400 and the connection closes (a front end could read those bytes differently).
fn chunked_framing_is_strict(mode: Mode) {
    let server = Server::start(mode);
    let head = "POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (body, want) in [
        ("5 garbage \"x\r\nhello\r\n0\r\n\r\n", 400),
        ("5\r\nhello\r\n0\r\nno colon\r\n\r\n", 400),
        ("5;a=\r\nhello\r\n0\r\n\r\n", 400),
        (
            "5 ; name = \"v\\\"x\"\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n",
            405,
        ),
    ] {
        let mut s = server.connect();
        s.write_all(format!("{head}{body}GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
        let r = read_response(&mut s, false).unwrap();
        assert_eq!(r.status, want, "{body:?}");
        if want == 400 {
            common::expect_eof(&mut s);
        } else {
            // Well-framed: the pipelined request after the body is answered.
            assert_eq!(read_response(&mut s, false).unwrap().body, b"Hello, World!");
        }
    }
}

/// Item 4: content reached through a symlink, or through a hard link to a file elsewhere, is
/// not served stale after the target changes or disappears.
fn links_are_not_served_stale(mode: Mode) {
    let site = Site::new();
    let outside = site.root.with_extension("outside");
    let _ = fs::remove_dir_all(&outside);
    fs::create_dir_all(&outside).unwrap();
    fs::create_dir_all(site.root.join("other")).unwrap();
    fs::write(site.root.join("other/t.txt"), "one").unwrap();
    std::os::unix::fs::symlink("other/t.txt", site.root.join("link.txt")).unwrap();
    fs::write(outside.join("h.txt"), "h1").unwrap();
    fs::hard_link(outside.join("h.txt"), site.root.join("hard.txt")).unwrap();
    let server = site.start(mode, &[]);
    assert_eq!(get(&server, "/link.txt", "").body, b"one");
    assert_eq!(get(&server, "/hard.txt", "").body, b"h1");
    // In-place edits (same inode) through the other names.
    fs::write(site.root.join("other/t.txt"), "two!").unwrap();
    fs::write(outside.join("h.txt"), "h2!!").unwrap();
    eventually(5, "symlink target edit seen", || {
        get(&server, "/link.txt", "").body == b"two!"
    });
    eventually(5, "hard link edit seen", || {
        get(&server, "/hard.txt", "").body == b"h2!!"
    });
    fs::remove_file(site.root.join("other/t.txt")).unwrap();
    eventually(5, "deleted symlink target is gone", || {
        get(&server, "/link.txt", "").status == 404
    });
    let _ = fs::remove_dir_all(&outside);
}

/// Everything the server wrote to its (piped) standard error, once it has exited.
fn stderr_of(server: &mut Server) -> String {
    let mut err = String::new();
    let mut pipe = server.child.stderr.take().expect("stderr was piped");
    pipe.read_to_string(&mut err).unwrap();
    err
}

/// The counters a worker prints at exit (one line per worker; summed).
fn exit_counters(server: &mut Server) -> std::collections::HashMap<String, u64> {
    assert_eq!(server.stop().and_then(|s| s.code()), Some(0));
    let err = stderr_of(server);
    let mut sums = std::collections::HashMap::new();
    for line in err.lines().filter(|l| l.contains(" accepted=")) {
        for (k, v) in line.split_whitespace().filter_map(|w| w.split_once('=')) {
            if let Ok(n) = v.parse::<u64>() {
                *sums.entry(k.to_string()).or_insert(0) += n;
            }
        }
    }
    sums
}

/// Item 5: HEAD, 304 and 412 never compress; a file that cannot stay cached is not compressed
/// on every request; one loop turn compresses a bounded amount.
fn compression_is_bounded(mode: Mode) {
    let site = Site::new();
    let css = |n: usize| "a { color: red } ".repeat(n / 17 + 1)[..n].to_string();
    fs::write(site.root.join("small.css"), css(20_000)).unwrap();
    fs::write(site.root.join("fresh.css"), css(20_000)).unwrap();
    // 200 KB: its cache cost (identity and two variants) is above half of 1 MiB.
    fs::write(site.root.join("huge.css"), css(200_000)).unwrap();
    for i in 0..6 {
        fs::write(site.root.join(format!("burst{i}.css")), css(100_000 + i)).unwrap();
    }
    let gz = "Accept-Encoding: gzip\r\n";
    let root = site.root.to_str().unwrap().to_string();
    let mut server = Server::start_cmd(
        mode,
        &["--root", &root, "--threads", "1", "--cache-size", "1"],
        |c| {
            c.stderr(Stdio::piped());
        },
    );
    let mut s = server.connect();
    for _ in 0..5 {
        s.write_all(format!("HEAD /small.css HTTP/1.1\r\nHost: x\r\n{gz}\r\n").as_bytes())
            .unwrap();
        let r = read_response(&mut s, true).unwrap();
        assert_eq!(
            (r.status, r.header("content-encoding")),
            (200, None),
            "HEAD does not compress"
        );
    }
    let r = get(&server, "/small.css", gz);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let etag = r.header("etag").unwrap().to_string();
    for _ in 0..5 {
        let r = get(
            &server,
            "/small.css",
            &format!("{gz}If-None-Match: {etag}\r\n"),
        );
        assert_eq!(r.status, 304);
        let r = get(&server, "/fresh.css", &format!("{gz}If-None-Match: *\r\n"));
        assert_eq!(r.status, 304, "a 304 is decided before compressing");
        let r = get(
            &server,
            "/fresh.css",
            &format!("{gz}If-Match: \"nope\"\r\n"),
        );
        assert_eq!(r.status, 412);
    }
    for _ in 0..5 {
        let r = get(&server, "/huge.css", gz);
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-encoding"),
            None,
            "an uncacheable file is not compressed"
        );
        assert_eq!(r.body.len(), 200_000);
    }
    let counters = exit_counters(&mut server);
    assert_eq!(counters.get("compressions"), Some(&1), "{counters:?}");
    assert_eq!(counters.get("compress_uncached"), Some(&5), "{counters:?}");

    // A pipelined burst of six 100 KB files: one turn compresses at most 256 KiB.
    let mut server = Server::start_cmd(mode, &["--root", &root, "--threads", "1"], |c| {
        c.stderr(Stdio::piped());
    });
    let mut s = server.connect();
    let burst: String = (0..6)
        .map(|i| format!("GET /burst{i}.css HTTP/1.1\r\nHost: x\r\n{gz}\r\n"))
        .collect();
    s.write_all(burst.as_bytes()).unwrap();
    let encodings: Vec<_> = (0..6)
        .map(|_| {
            read_response(&mut s, false)
                .unwrap()
                .header("content-encoding")
                .map(String::from)
        })
        .collect();
    assert!(encodings.iter().any(Option::is_none), "{encodings:?}");
    let counters = exit_counters(&mut server);
    assert!(
        counters.get("compress_deferred").is_some_and(|&n| n >= 1),
        "{counters:?}"
    );
    assert!(
        counters.get("compressions").is_some_and(|&n| n <= 5),
        "{counters:?}"
    );
}

fn rss_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Item 3: bodies referenced by queued responses count against a per-core bound (and real
/// bytes against the per-connection one): slow readers pipelining many distinct files cannot
/// grow the server's memory with their number, and every request is still answered.
fn queued_responses_cannot_grow_memory(mode: Mode) {
    let site = Site::new();
    for i in 0..40u8 {
        fs::write(site.root.join(format!("f{i}.bin")), vec![i; 60_000]).unwrap();
    }
    let server = site.start(mode, &["--cache-size", "1"]);
    // Warm up: every file loaded once (the cache keeps what fits in 1 MiB).
    for i in 0..40 {
        assert_eq!(get(&server, &format!("/f{i}.bin"), "").body.len(), 60_000);
    }
    let base = rss_kib(server.child.id());
    let mut clients = Vec::new();
    for c in 0..30usize {
        let s = connect_with_small_rcvbuf(server.port);
        let reqs: String = (0..10)
            .map(|k| format!("GET /f{}.bin HTTP/1.1\r\nHost: x\r\n\r\n", (c * 7 + k) % 40))
            .collect();
        (&s).write_all(reqs.as_bytes()).unwrap();
        clients.push(s);
    }
    std::thread::sleep(Duration::from_millis(1500)); // nobody reads
    let stalled = rss_kib(server.child.id());
    eprintln!("RSS with 30 stalled pipelining readers: {base} KiB -> {stalled} KiB");
    assert!(
        stalled < base + 4096,
        "30 stalled readers grew RSS from {base} KiB to {stalled} KiB"
    );
    for (c, s) in clients.iter_mut().enumerate() {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        for k in 0..10 {
            let r =
                read_response(s, false).unwrap_or_else(|e| panic!("client {c} response {k}: {e}"));
            assert_eq!(
                r.body,
                vec![((c * 7 + k) % 40) as u8; 60_000],
                "client {c} response {k}"
            );
        }
    }
}

/// A client socket with a 4 KiB receive buffer (set before connecting, so the window stays
/// small), connected to the server.
fn connect_with_small_rcvbuf(port: u16) -> std::net::TcpStream {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket creation; the descriptor is owned by the TcpStream below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0);
    let size: libc::c_int = 4096;
    // SAFETY: a pointer to a live c_int and its size.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as u32,
        )
    };
    // SAFETY: fd is a fresh socket owned by nobody else.
    let s = unsafe { std::net::TcpStream::from_raw_fd(fd) };
    let sa = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: connect reads the sockaddr we pass, with its exact size.
    let r = unsafe {
        libc::connect(
            fd,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as u32,
        )
    };
    assert_eq!(r, 0, "connect");
    s
}

/// One rule: its name, the request, the status, and a header that must have a value ("" for
/// none to check).
type Rule = (
    &'static str,
    &'static [u8],
    u16,
    (&'static str, &'static str),
);

/// The RFC 9110 / 9112 decisions, one row per rule.
fn rfc_rules_table(mode: Mode) {
    let server = Server::start(mode);
    let rows: &[Rule] = &[
        // RFC 9110 §9.3.7 and RFC 9112 §3.2.4: OPTIONS * is about the server; asterisk-form is
        // for nothing else.
        ("OPTIONS *", b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 200, ("allow", "GET, HEAD")),
        ("OPTIONS * has no content", b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 200, ("content-length", "0")),
        ("GET *", b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400, ("", "")),
        ("DELETE *", b"DELETE * HTTP/1.1\r\nHost: x\r\n\r\n", 400, ("", "")),
        // §9.1: unrecognised methods are 501; known, not allowed ones 405 with Allow (§15.5.6).
        ("unknown method", b"PURGE /index.html HTTP/1.1\r\nHost: x\r\n\r\n", 501, ("", "")),
        ("unknown method on /hello", b"BREW /hello HTTP/1.1\r\nHost: x\r\n\r\n", 501, ("", "")),
        ("known, not allowed", b"DELETE /index.html HTTP/1.1\r\nHost: x\r\n\r\n", 405, ("allow", "GET, HEAD")),
        ("OPTIONS on a file", b"OPTIONS /index.html HTTP/1.1\r\nHost: x\r\n\r\n", 405, ("allow", "GET, HEAD")),
        // RFC 9112 §3.2 and RFC 9110 §7.2: exactly one valid Host in HTTP/1.1.
        ("no Host", b"GET / HTTP/1.1\r\n\r\n", 400, ("", "")),
        ("two Hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, ("", "")),
        ("Host with a path", b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, ("", "")),
        ("Host with userinfo", b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400, ("", "")),
        ("HTTP/1.0 needs no Host", b"GET /hello HTTP/1.0\r\n\r\n", 200, ("connection", "close")),
        ("absolute-form", b"GET http://other/hello HTTP/1.1\r\nHost: x\r\n\r\n", 200, ("", "")),
        // RFC 9112 §2.3: other versions are 505.
        ("HTTP/1.2", b"GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505, ("", "")),
        ("HTTP/2.0", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, ("", "")),
        // RFC 9112 §2.2, §5.1, §5.2: line endings, field names, folding.
        ("bare CR", b"GET / HTTP/1.1\rHost: x\r\n\r\n", 400, ("", "")),
        ("space before colon", b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, ("", "")),
        ("obs-fold", b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400, ("", "")),
        ("space after the start line", b"GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400, ("", "")),
        // RFC 9112 §6.1, §6.3: framing.
        ("CL and TE", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400, ("", "")),
        ("TE in HTTP/1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, ("", "")),
        ("unknown coding", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, ("", "")),
        ("two lengths", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, ("", "")),
        ("bad length", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n", 400, ("", "")),
        // RFC 9110 §10.1.1: an expectation other than 100-continue is 417.
        ("unknown expectation", b"GET / HTTP/1.1\r\nHost: x\r\nExpect: x\r\n\r\n", 417, ("", "")),
    ];
    for (rule, raw, status, (name, value)) in rows {
        let r = exchange(&server, raw);
        assert_eq!(r.status, *status, "{rule}");
        if !name.is_empty() {
            assert_eq!(r.header(name), Some(*value), "{rule}");
        }
    }
    // RFC 9110 §10.1.1: 100-continue in an HTTP/1.0 request is ignored: the body is read as
    // usual and the connection goes on.
    let mut s = server.connect();
    s.write_all(
        b"POST /hello HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n\
          Content-Length: 5\r\n\r\nhelloGET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    )
    .unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(
        (r.status, r.header("connection")),
        (405, Some("keep-alive"))
    );
    assert_eq!(read_response(&mut s, false).unwrap().body, b"Hello, World!");
}

per_mode!(
    rfc_rules_table,
    queued_responses_cannot_grow_memory,
    compression_is_bounded,
    links_are_not_served_stale,
    chunked_framing_is_strict,
    large_head_behind_a_write_is_answered,
    steady_slow_download_is_not_cut,
    a_dead_worker_stops_the_process,
    redirects_stay_on_this_host,
    fifos_and_devices_do_not_block,
    etags_change_with_every_edit,
);
