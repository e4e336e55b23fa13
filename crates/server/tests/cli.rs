//! Start-up errors: one clear line on stderr and exit status 2, never a panic.

mod common;

use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../www");
    let out = Command::new(common::BIN)
        .args(["--root", root])
        .args(args)
        .output()
        .expect("run ringhttpd");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_exits_zero() {
    let (code, stdout, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("--backend"));
}

#[test]
fn bad_flags_exit_two_with_one_line() {
    for (args, needle) in [
        (&["--bogus"][..], "unknown option"),
        (&["--threads", "0"][..], "--threads"),
        (&["--listen", "localhost"][..], "ADDR:PORT"),
        (&["--backend", "kqueue"][..], "kqueue"),
        (
            &["--root", "/definitely/not/here"][..],
            "/definitely/not/here",
        ),
        (&["--uring-features", "-warp_drive"][..], "warp_drive"),
    ] {
        let (code, _, stderr) = run(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("ringhttpd: ") && stderr.contains(needle),
            "{args:?}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"));
    }
}

#[test]
fn address_in_use_exits_two() {
    // A plain listener without SO_REUSEPORT holds the port.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap().to_string();
    let (code, _, stderr) = run(&["--listen", &addr]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot listen") && stderr.contains("in use"),
        "{stderr}"
    );
}
