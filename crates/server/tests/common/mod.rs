//! Black-box harness: start the real binary on a free port, talk HTTP/1.1 over plain sockets.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub mod ws;

pub const BIN: &str = env!("CARGO_BIN_EXE_ringhttpd");

/// The path of example `name` (next to the binary). `cargo test` builds the examples with the
/// tests; running one test file alone may not, hence the message.
pub fn example(name: &str) -> PathBuf {
    let p = Path::new(BIN)
        .parent()
        .expect("target dir")
        .join("examples")
        .join(name);
    assert!(
        p.exists(),
        "{} is missing: build the examples first (`cargo test --workspace` does, or \
         `cargo build -p ringhttpd --examples`)",
        p.display()
    );
    p
}

/// The backends and feature sets every test runs against.
#[derive(Copy, Clone, Debug)]
pub enum Mode {
    Epoll,
    UringAll,
    Uring515,
}

impl Mode {
    pub fn args(self) -> Vec<&'static str> {
        match self {
            Mode::Epoll => vec!["--backend", "epoll"],
            Mode::UringAll => vec!["--backend", "uring", "--uring-features", "all"],
            Mode::Uring515 => vec!["--backend", "uring", "--uring-features", "5.15"],
        }
    }
}

pub struct Server {
    pub child: Child,
    pub port: u16,
    pub banner: String,
}

impl Server {
    pub fn start(mode: Mode) -> Server {
        Server::start_with(mode, &[])
    }

    pub fn start_with(mode: Mode, extra: &[&str]) -> Server {
        Server::start_cmd(mode, extra, |_| {})
    }

    /// Start with extra arguments and a hook to adjust the command (environment, stderr).
    pub fn start_cmd(mode: Mode, extra: &[&str], adjust: impl FnOnce(&mut Command)) -> Server {
        Server::start_program(Path::new(BIN), mode, extra, adjust)
    }

    /// Start one of the library's examples (built by `cargo test` with the tests).
    pub fn start_example(name: &str, mode: Mode, extra: &[&str]) -> Server {
        Server::start_program(&example(name), mode, extra, |_| {})
    }

    /// Start `program` (the binary or an example: they take the same flags).
    pub fn start_program(
        program: &Path,
        mode: Mode,
        extra: &[&str],
        adjust: impl FnOnce(&mut Command),
    ) -> Server {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../www");
        let mut cmd = Command::new(program);
        cmd.args(["--listen", "127.0.0.1:0", "--threads", "2", "--root", root])
            .args(mode.args())
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        adjust(&mut cmd);
        let mut child = cmd.spawn().expect("start ringhttpd");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut banner = String::new();
        out.read_line(&mut banner).expect("read banner");
        let port = banner
            .split("http://127.0.0.1:")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in banner {banner:?}"));
        Server {
            child,
            port,
            banner,
        }
    }

    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_nodelay(true).unwrap();
        s
    }

    /// SIGTERM, then wait (bounded) for the exit status.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait().unwrap() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Read one response; `head_only` for answers to HEAD.
pub fn read_response(r: &mut impl Read, head_only: bool) -> std::io::Result<Response> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if r.read(&mut byte)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("EOF inside head after {:?}", String::from_utf8_lossy(&head)),
            ));
        }
        head.push(byte[0]);
        assert!(head.len() < 64 * 1024, "head too long");
    }
    let text = String::from_utf8(head).expect("ASCII head");
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap();
    assert!(
        status_line.starts_with("HTTP/1.1 "),
        "status line {status_line:?}"
    );
    let status = status_line[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(": ").expect("header line");
            (n.to_string(), v.to_string())
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or_else(|| {
            // Only bodiless statuses may omit it (RFC 9112 §6.3).
            assert!(
                status == 304 || status == 204 || status < 200,
                "no Content-Length on {status}"
            );
            0
        });
    let mut body = vec![0; if head_only { 0 } else { len }];
    r.read_exact(&mut body)?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").into_bytes()
}

/// Send raw bytes on a new connection and read one response.
pub fn exchange(server: &Server, raw: &[u8]) -> Response {
    let mut s = server.connect();
    s.write_all(raw).unwrap();
    read_response(&mut s, false).expect("response")
}

/// After the server has said it closes, the connection reaches EOF (bounded by the read timeout).
pub fn expect_eof(s: &mut TcpStream) {
    let mut rest = Vec::new();
    match s.read_to_end(&mut rest) {
        Ok(_) => assert!(
            rest.is_empty(),
            "unexpected bytes after the last response: {rest:?}"
        ),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("expected EOF, got {e}"),
    }
}

/// Poll every 20 ms until `f` holds; fails after `secs` seconds.
pub fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The content of a gzip member (no optional header fields).
pub fn gunzip(gz: &[u8]) -> Vec<u8> {
    assert_eq!(&gz[..3], &[0x1f, 0x8b, 8], "not gzip");
    assert_eq!(gz[3], 0, "test expects no optional gzip fields");
    miniz_oxide::inflate::decompress_to_vec(&gz[10..gz.len() - 8]).expect("valid deflate stream")
}

/// Define one `#[test]` per listed function and backend: `epoll::name`, `uring::name`,
/// `uring_5_15::name`, each calling `name(Mode::...)`.
#[macro_export]
macro_rules! per_mode {
    ($($name:ident),* $(,)?) => {
        mod epoll { $(#[test] fn $name() { super::$name(super::Mode::Epoll) })* }
        mod uring { $(#[test] fn $name() { super::$name(super::Mode::UringAll) })* }
        mod uring_5_15 { $(#[test] fn $name() { super::$name(super::Mode::Uring515) })* }
    };
}

/// Make sure Python's `websockets` is importable, installing it from PyPI if needed.
pub fn python_websockets() {
    let ok = |c: &mut Command| c.status().is_ok_and(|s| s.success());
    if ok(Command::new("python3").args(["-c", "import websockets"])) {
        return;
    }
    assert!(
        ok(Command::new("python3").args(["-m", "pip", "install", "--quiet", "websockets"])),
        "the websocket tests need Python's `websockets` package and `pip install websockets` failed"
    );
}

/// The path of a Chromium binary, installing Debian's `chromium` package if there is none.
pub fn chromium() -> String {
    let found = || {
        ["chromium", "chromium-browser"].into_iter().find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    };
    if let Some(c) = found() {
        return c.to_string();
    }
    let ok = |c: &mut Command| c.status().is_ok_and(|s| s.success());
    let installed = ok(Command::new("apt-get").args(["update", "-qq"]))
        && ok(Command::new("apt-get")
            .args(["install", "-y", "-qq", "chromium"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null()));
    match found() {
        Some(c) if installed => c.to_string(),
        _ => panic!(
            "the browser test needs Chromium and `apt-get install chromium` failed (install it, \
             or run as root with access to the Debian mirrors)"
        ),
    }
}

/// Run a Python script (`python3 -c`) with `args`; it must exit 0 and print `ok`.
pub fn python_ok(script: &str, args: &[&str]) {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim() == "ok",
        "python client: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run the binary with `args` to its exit: (status, stdout, stderr).
pub fn run_bin(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("run ringhttpd");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
