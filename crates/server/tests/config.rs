//! The `--config` file, black-box: `--version`, `--check-config` on good and bad files (each
//! error names the file, the line and the key; exit 2), settings from the file applied, and
//! flags on the command line overriding them, on every backend mode.

mod common;

use std::io::Write;
use std::process::Command;

use common::{read_response, Mode, Server};

use common::run_bin as ringhttpd;

/// A config file with `text` (a fresh path per name, in the target directory).
fn file(name: &str, text: &str) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/config-tests");
    std::fs::create_dir_all(dir).unwrap();
    let path = format!("{dir}/{name}.toml");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    path
}

const WWW: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../www");

#[test]
fn version_is_printed() {
    let (code, stdout, _) = ringhttpd(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout.trim(),
        format!("ringhttpd {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn the_shipped_example_checks_ok() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../dist/ringhttpd.toml");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    // Its root is relative (`www`): checked from the repository's top.
    let out = Command::new(common::BIN)
        .args(["--check-config", "--config", example])
        .current_dir(dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}

#[test]
fn bad_files_are_explained_with_file_line_and_key() {
    let root = format!("root = \"{WWW}\"\n");
    let cases: Vec<(&str, String, Vec<String>)> = vec![
        (
            "zero",
            format!("{root}threads = 0\n"),
            vec![":2:".into(), "threads".into()],
        ),
        (
            "word",
            format!("{root}\n[timeouts]\nkeepalive = \"soon\"\n"),
            vec![":4:".into(), "timeouts.keepalive".into(), "soon".into()],
        ),
        (
            "unknown",
            format!("{root}[limits]\nbody = 10\nbodee = 3\n"),
            vec![":4:".into(), "bodee".into()],
        ),
        (
            "unknown-table",
            format!("{root}[nonsense]\nx = 1\n"),
            vec![":2:".into(), "nonsense".into()],
        ),
        (
            "float",
            format!("{root}threads = 1.5\n"),
            vec![":2:".into(), "threads = 1.5".into()],
        ),
        ("syntax", format!("{root}threads = \n"), vec![":2:".into()]),
        (
            "backend",
            format!("{root}backend = \"kqueue\"\n"),
            vec![":2:".into(), "backend".into(), "kqueue".into()],
        ),
        (
            "listen",
            format!("{root}listen = [\"nowhere\"]\n"),
            vec![":2:".into(), "listen".into(), "ADDR:PORT".into()],
        ),
        (
            "listen-none",
            format!("{root}listen = []\n"),
            vec![":2:".into(), "at least one".into()],
        ),
        (
            "listen-twice",
            format!("{root}listen = [\"127.0.0.1:1\", \"127.0.0.1:1\"]\n"),
            vec![":2:".into(), "twice".into()],
        ),
        (
            "negative",
            format!("{root}[cache]\nsize_mib = -1\n"),
            vec![":3:".into(), "cache.size_mib".into()],
        ),
        (
            "no-root",
            "root = \"/definitely/not/here\"\n".into(),
            vec!["/definitely/not/here".into()],
        ),
    ];
    for (name, text, needles) in cases {
        let path = file(name, &text);
        for check in [true, false] {
            let mut args = vec!["--config", path.as_str()];
            if check {
                args.insert(0, "--check-config");
            }
            let (code, stdout, stderr) = ringhttpd(&args);
            assert_eq!(code, 2, "{name}: {stdout} {stderr}");
            assert!(!stdout.contains("ok"), "{name}");
            assert_eq!(stderr.lines().count(), 1, "{name}: one line: {stderr}");
            if name != "no-root" {
                assert!(stderr.contains(&path), "{name}: names the file: {stderr}");
            }
            for n in &needles {
                assert!(stderr.contains(n.as_str()), "{name}: `{n}` in {stderr}");
            }
        }
    }
    // A missing file, a directory, not a file.
    let (code, _, stderr) = ringhttpd(&["--config", "/definitely/not/here.toml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("/definitely/not/here.toml"), "{stderr}");
    let (code, _, stderr) = ringhttpd(&["--config", WWW]);
    assert_eq!(code, 2);
    assert!(stderr.contains("directory"), "{stderr}");
    let (code, _, stderr) = ringhttpd(&["--config"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("needs a value"), "{stderr}");
}

fn file_settings_apply_and_flags_override(mode: Mode) {
    // The harness passes --listen, --threads 2 and --root: they override the file's values.
    let path = file(
        &format!("apply-{mode:?}"),
        "listen = [\"127.0.0.1:1\"]\nthreads = 1\nroot = \"/definitely/not/here\"\n\
         [limits]\nheader_size = 300\n",
    );
    let s = Server::start_cmd(mode, &["--config", &path], |_| {});
    assert!(s.banner.contains(" threads=2 "), "{}", s.banner);
    assert!(!s.banner.contains("127.0.0.1:1 "), "{}", s.banner);
    // The file's header limit (not overridden) applies: a 400-byte head gets 431.
    let mut c = s.connect();
    let big = format!(
        "GET /hello HTTP/1.1\r\nHost: a\r\nX-Pad: {}\r\n\r\n",
        "p".repeat(360)
    );
    c.write_all(big.as_bytes()).unwrap();
    assert_eq!(read_response(&mut c, false).unwrap().status, 431);
    let mut c = s.connect();
    c.write_all(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut c, false).unwrap().status, 200);
}

fn several_listen_addresses(mode: Mode) {
    let s = Server::start_cmd(mode, &["--listen", "127.0.0.2:0"], |_| {});
    let second: u16 = s
        .banner
        .split("http://127.0.0.2:")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("two addresses in {}", s.banner));
    for (ip, port) in [("127.0.0.1", s.port), ("127.0.0.2", second)] {
        // Several connections, so each of the two workers' listeners is used.
        for _ in 0..4 {
            let mut c = std::net::TcpStream::connect((ip, port)).unwrap();
            c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .unwrap();
            c.write_all(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
                .unwrap();
            assert_eq!(
                read_response(&mut c, false).unwrap().status,
                200,
                "{ip}:{port}"
            );
        }
    }
}

/// Two site roots, each with an index.html naming it (`tag`: a directory per test, as tests
/// run in parallel and some add files).
fn site_dirs(tag: &str) -> (String, String) {
    let base = format!(
        "{}/../../target/config-tests/sites-{tag}",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut dirs = Vec::new();
    for name in ["a", "b"] {
        let d = format!("{base}/{name}");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(format!("{d}/index.html"), format!("site {name}\n")).unwrap();
        dirs.push(d);
    }
    (dirs[0].clone(), dirs[1].clone())
}

fn body_for(s: &Server, raw: &str) -> String {
    let mut c = s.connect();
    c.write_all(raw.as_bytes()).unwrap();
    let r = read_response(&mut c, false).unwrap();
    assert_eq!(r.status, 200, "{raw}");
    String::from_utf8(r.body).unwrap()
}

fn sites_are_chosen_by_host(mode: Mode) {
    let (a, b) = site_dirs(&format!("host-{mode:?}"));
    let path = file(
        &format!("sites-{mode:?}"),
        &format!(
            "[[site]]\nnames = [\"a.test\", \"www.a.test\"]\nroot = \"{a}\"\n\n\
             [[site]]\nnames = [\"B.test\"]\nroot = \"{b}\"\n"
        ),
    );
    let s = Server::start_cmd(mode, &["--config", &path], |_| {});
    assert!(s.banner.contains(" sites=2 "), "{}", s.banner);
    let get = |host: &str| format!("GET /index.html HTTP/1.1\r\nHost: {host}\r\n\r\n");
    assert_eq!(body_for(&s, &get("a.test")), "site a\n");
    assert_eq!(body_for(&s, &get("WWW.A.test:8080")), "site a\n");
    assert_eq!(body_for(&s, &get("b.test")), "site b\n");
    assert_eq!(
        body_for(&s, &get("b.test.:80")),
        "site b\n",
        "a trailing dot"
    );
    // Unknown and missing names go to the first site.
    assert_eq!(body_for(&s, &get("c.test")), "site a\n");
    assert_eq!(body_for(&s, "GET /index.html HTTP/1.0\r\n\r\n"), "site a\n");
    // An absolute-form target's authority wins over Host (RFC 9112 §3.2.2).
    assert_eq!(
        body_for(
            &s,
            "GET http://b.test:81/index.html HTTP/1.1\r\nHost: a.test\r\n\r\n"
        ),
        "site b\n"
    );
    // Routes are shared by the sites.
    let hello = "GET /hello HTTP/1.1\r\nHost: b.test\r\n\r\n";
    assert_eq!(body_for(&s, hello), "Hello, World!");

    // A site that says "*" is the default instead.
    let path = file(
        &format!("sites-star-{mode:?}"),
        &format!(
            "[[site]]\nnames = [\"a.test\"]\nroot = \"{a}\"\n\
             [[site]]\nnames = [\"*\"]\nroot = \"{b}\"\n"
        ),
    );
    let s = Server::start_cmd(mode, &["--config", &path], |_| {});
    assert_eq!(body_for(&s, &get("c.test")), "site b\n");
    assert_eq!(body_for(&s, &get("a.test")), "site a\n");
}

#[test]
fn bad_sites_are_explained() {
    let (a, _) = site_dirs("bad-sites");
    for (name, text, needles) in [
        (
            "site-twice",
            format!(
                "[[site]]\nnames = [\"a.test\"]\nroot = \"{a}\"\n[[site]]\n\
                 names = [\"x.test\", \"A.test\"]\nroot = \"{a}\"\n"
            ),
            vec![":5:", "a.test", "two sites"],
        ),
        (
            "site-no-root",
            "[[site]]\nnames = [\"a.test\"]\nroot = \"/definitely/not/here\"\n".to_string(),
            vec![":3:", "/definitely/not/here"],
        ),
        (
            "site-port",
            format!("[[site]]\nnames = [\"a.test:80\"]\nroot = \"{a}\"\n"),
            vec![":2:", "not a host name"],
        ),
        (
            "site-no-names",
            format!("[[site]]\nnames = []\nroot = \"{a}\"\n"),
            vec![":2:", "at least one"],
        ),
        (
            "site-unknown-key",
            format!("[[site]]\nnames = [\"a\"]\nroot = \"{a}\"\nrot = 1\n"),
            vec![":4:", "rot"],
        ),
    ] {
        let path = file(name, &text);
        let (code, stdout, stderr) = ringhttpd(&["--check-config", "--config", &path]);
        assert_eq!(code, 2, "{name}: {stdout} {stderr}");
        for n in needles {
            assert!(stderr.contains(n), "{name}: `{n}` in {stderr}");
        }
    }
}

fn error_pages_come_from_the_site(mode: Mode) {
    let (a, b) = site_dirs(&format!("pages-{mode:?}"));
    std::fs::write(format!("{a}/404.html"), "<h1>a: not here</h1>\n").unwrap();
    let path = file(
        &format!("pages-{mode:?}"),
        &format!(
            "[[site]]\nnames = [\"a.test\"]\nroot = \"{a}\"\nerror_pages = {{ 404 = \"/404.html\" }}\n\
             [[site]]\nnames = [\"b.test\"]\nroot = \"{b}\"\n"
        ),
    );
    let s = Server::start_cmd(mode, &["--config", &path], |_| {});
    let ask = |raw: &str, head_only: bool| {
        let mut c = s.connect();
        c.write_all(raw.as_bytes()).unwrap();
        read_response(&mut c, head_only).unwrap()
    };
    let r = ask("GET /nope HTTP/1.1\r\nHost: a.test\r\n\r\n", false);
    assert_eq!(r.status, 404);
    assert_eq!(r.body, b"<h1>a: not here</h1>\n");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let r = ask("HEAD /nope HTTP/1.1\r\nHost: a.test\r\n\r\n", true);
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-length"), Some("21"));
    assert!(r.body.is_empty());
    // Conditionals and ranges are about the resource asked for: still the 404 page.
    let r = ask(
        "GET /nope HTTP/1.1\r\nHost: a.test\r\nIf-None-Match: *\r\nRange: bytes=0-3\r\n\r\n",
        false,
    );
    assert_eq!((r.status, r.body.len()), (404, 21));
    // The other site has no page: the plain 404.
    let r = ask("GET /nope HTTP/1.1\r\nHost: b.test\r\n\r\n", false);
    assert_eq!(r.status, 404);
    assert!(!String::from_utf8_lossy(&r.body).contains("not here"));
    // The page itself is an ordinary file.
    assert_eq!(
        ask("GET /404.html HTTP/1.1\r\nHost: a.test\r\n\r\n", false).status,
        200
    );
}

#[test]
fn bad_error_pages_are_explained() {
    let (a, _) = site_dirs("bad-pages");
    std::fs::write(format!("{a}/404.html"), "x").unwrap();
    for (name, pages, needles) in [
        ("page-status", "{ 200 = \"/404.html\" }", vec![":4:", "200"]),
        (
            "page-outside",
            "{ 404 = \"/../b/index.html\" }",
            vec![":4:", "outside"],
        ),
        (
            "page-relative",
            "{ 404 = \"404.html\" }",
            vec![":4:", "starting with /"],
        ),
        (
            "page-missing",
            "{ 404 = \"/nothing.html\" }",
            vec![":4:", "nothing.html"],
        ),
    ] {
        let text = format!("[[site]]\nnames = [\"a\"]\nroot = \"{a}\"\nerror_pages = {pages}\n");
        let path = file(name, &text);
        let (code, stdout, stderr) = ringhttpd(&["--check-config", "--config", &path]);
        assert_eq!(code, 2, "{name}: {stdout} {stderr}");
        for n in needles {
            assert!(stderr.contains(n), "{name}: `{n}` in {stderr}");
        }
    }
}

fn header_rules_per_path(mode: Mode) {
    let (a, _) = site_dirs(&format!("headers-{mode:?}"));
    std::fs::create_dir_all(format!("{a}/assets")).unwrap();
    std::fs::write(format!("{a}/assets/app.js"), "console.log(1);\n".repeat(20)).unwrap();
    let path = file(
        &format!("headers-{mode:?}"),
        &format!(
            "[[site]]\nnames = [\"a.test\"]\nroot = \"{a}\"\n\
             [[site.headers]]\npath = \"/*\"\nset = {{ \"Cache-Control\" = \"no-cache\", \"X-Site\" = \"a\" }}\n\
             [[site.headers]]\npath = \"/assets/*\"\nset = {{ \"cache-control\" = \"public, max-age=31536000, immutable\" }}\n"
        ),
    );
    let s = Server::start_cmd(mode, &["--config", &path], |_| {});
    let ask = |raw: String| {
        let mut c = s.connect();
        c.write_all(raw.as_bytes()).unwrap();
        read_response(&mut c, raw.starts_with("HEAD ")).unwrap()
    };
    let get = |p: &str, extra: &str| format!("GET {p} HTTP/1.1\r\nHost: a.test\r\n{extra}\r\n");
    let r = ask(get("/index.html", ""));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    assert_eq!(r.header("x-site"), Some("a"));
    let r = ask(get("/assets/app.js", ""));
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable"),
        "the later rule wins"
    );
    assert_eq!(r.header("x-site"), Some("a"));
    let etag = r.header("etag").unwrap().to_string();
    // 304 and 206 carry them too.
    let r = ask(get("/assets/app.js", &format!("If-None-Match: {etag}\r\n")));
    assert_eq!(r.status, 304);
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let r = ask(get("/assets/app.js", "Range: bytes=0-9\r\n"));
    assert_eq!((r.status, r.body.len()), (206, 10));
    assert_eq!(r.header("x-site"), Some("a"));
    // HEAD too.
    let r = ask("HEAD /index.html HTTP/1.1\r\nHost: a.test\r\n\r\n".into());
    assert_eq!(r.header("cache-control"), Some("no-cache"));
}

#[test]
fn bad_header_rules_are_explained() {
    let (a, _) = site_dirs("bad-headers");
    for (name, rule, needles) in [
        (
            "hdr-managed",
            "path = \"/*\"\nset = { \"Content-Length\" = \"1\" }",
            vec![":6:", "Content-Length", "server"],
        ),
        (
            "hdr-relative",
            "path = \"assets/*\"\nset = { \"X\" = \"1\" }",
            vec![":5:", "cannot match"],
        ),
        (
            "hdr-dots",
            "path = \"/a/../*\"\nset = { \"X\" = \"1\" }",
            vec![":5:", "cannot match"],
        ),
        (
            "hdr-name",
            "path = \"/*\"\nset = { \"Bad Name\" = \"1\" }",
            vec![":6:", "not a field name"],
        ),
        (
            "hdr-value",
            "path = \"/*\"\nset = { \"X\" = \"a\\u0001b\" }",
            vec![":6:", "control"],
        ),
        ("hdr-empty", "path = \"/*\"\nset = {}", vec!["empty"]),
    ] {
        let text = format!("[[site]]\nnames = [\"a\"]\nroot = \"{a}\"\n[[site.headers]]\n{rule}\n");
        let path = file(name, &text);
        let (code, stdout, stderr) = ringhttpd(&["--check-config", "--config", &path]);
        assert_eq!(code, 2, "{name}: {stdout} {stderr}");
        for n in needles {
            assert!(stderr.contains(n), "{name}: `{n}` in {stderr}");
        }
    }
}

per_mode!(
    file_settings_apply_and_flags_override,
    several_listen_addresses,
    sites_are_chosen_by_host,
    error_pages_come_from_the_site,
    header_rules_per_path
);

#[test]
fn the_readme_shows_the_shipped_example() {
    let top = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let readme = std::fs::read_to_string(format!("{top}/README.md")).unwrap();
    let example = std::fs::read_to_string(format!("{top}/dist/ringhttpd.toml")).unwrap();
    let at = readme
        .find("### Config file")
        .expect("a Config file section");
    let block = &readme[at..];
    let start = block.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = start + block[start..].find("```").unwrap();
    assert_eq!(
        &block[start..end],
        example,
        "README's example differs from dist/ringhttpd.toml"
    );
}
