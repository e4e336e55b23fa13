//! Start-up errors: one clear line on stderr and exit status 2, never a panic.

mod common;

use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../www");
    common::run_bin(&[&["--root", root], args].concat())
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

/// Run the server with io_uring_setup failing with EPERM, as under Docker's or containerd's
/// default seccomp profile. Returns (exit code or None if still running, banner or stderr).
fn run_without_io_uring(args: &[&str]) -> (Option<i32>, String) {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;

    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../www");
    let mut cmd = Command::new(common::BIN);
    cmd.args(["--root", root, "--listen", "127.0.0.1:0"])
        .args(args);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    // SAFETY: the closure runs in the forked child before exec and only makes two system calls
    // (prctl, seccomp) with pointers to data that lives in this stack frame.
    unsafe {
        cmd.pre_exec(|| {
            const NR_IO_URING_SETUP: u32 = 425;
            const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
            const RET_ERRNO_EPERM: u32 = 0x0005_0000 | libc::EPERM as u32;
            const RET_ALLOW: u32 = 0x7fff_0000;
            let f = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
            let (ld, jeq, ret) = (0x20u16, 0x15u16, 0x06u16); // BPF_LD|W|ABS, JMP|JEQ|K, RET|K
            let prog = [
                f(ld, 0, 0, 4), // seccomp_data.arch
                f(jeq, 1, 0, AUDIT_ARCH_X86_64),
                f(ret, 0, 0, RET_ALLOW), // other architectures: leave alone
                f(ld, 0, 0, 0),          // seccomp_data.nr
                f(jeq, 0, 1, NR_IO_URING_SETUP),
                f(ret, 0, 0, RET_ERRNO_EPERM),
                f(ret, 0, 0, RET_ALLOW),
            ];
            let fprog = libc::sock_fprog {
                len: prog.len() as u16,
                filter: prog.as_ptr() as *mut _,
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::syscall(libc::SYS_seccomp, 1 /* SET_MODE_FILTER */, 0, &fprog) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn ringhttpd");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    if line.is_empty() {
        let out = child.wait_with_output().unwrap();
        return (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
    }
    let _ = child.kill();
    let _ = child.wait();
    (None, line)
}

#[test]
#[cfg(target_arch = "x86_64")]
fn blocked_io_uring_falls_back_or_fails_clearly() {
    let (code, banner) = run_without_io_uring(&[]);
    assert_eq!(code, None, "auto backend did not start: {banner}");
    assert!(banner.contains("backend=epoll"), "{banner}");
    assert!(
        banner.contains("io_uring unavailable") && banner.contains("blocked"),
        "{banner}"
    );

    let (code, stderr) = run_without_io_uring(&["--backend", "uring"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.starts_with("ringhttpd: --backend uring: io_uring is blocked"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
