//! `ringhttpd`: start-up, one worker thread per core, and shutdown on SIGINT/SIGTERM.
//!
//! Start-up errors (bad flags, address in use, io_uring unavailable with `--backend uring`)
//! print one line and exit 2. Once running, the process prints one line saying where it listens
//! and which backend and features each worker uses, and exits 0 after a signal once in-flight
//! requests have been answered (at most a few seconds).

mod alloc_count;
mod config;
mod conn;
mod files;
mod h1;
mod out;
mod outcome;
mod respond;
mod route;
mod sys;
mod transport;
mod wheel;
mod worker;

use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use config::{Backend, Config};
use conn::Timeouts;
use files::FileCache;
use ringhttpd_ring::{Driver, EpollDriver, PoolConfig, UringConfig, UringDriver};
use worker::{Seat, Shared, Worker};

/// Receive buffers per worker: 512 x 4 KiB, touched only as they are used.
const POOL: PoolConfig = PoolConfig {
    count: 512,
    size: 4096,
};
/// Descriptors kept for everything that is not a connection.
const RESERVED_FDS: u64 = 64;
/// How often the main thread checks that every worker is alive.
const WATCH_INTERVAL: Duration = Duration::from_millis(200);
/// Time for a closing peer to finish sending (lingering close).
const LINGER_TIMEOUT: Duration = Duration::from_secs(5);

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("ringhttpd: {msg}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let cfg = match Config::from_args(std::env::args().skip(1)) {
        Ok(Some(c)) => c,
        Ok(None) => {
            print!("{}", config::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => return fail(e),
    };
    match std::fs::metadata(&cfg.root) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return fail(format!("--root {}: not a directory", cfg.root.display())),
        Err(e) => return fail(format!("--root {}: {e}", cfg.root.display())),
    }

    let per_thread = conn_limit(&cfg).div_ceil(cfg.threads).max(1);
    let (addr, listeners) = match listen_all(&cfg) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let (use_uring, mut note) = choose_backend(&cfg);

    let fault = match std::env::var("RINGHTTPD_TEST_FAULT").ok().as_deref() {
        None | Some("") => None,
        Some("panic") => Some(worker::Fault::Panic),
        Some("error") => Some(worker::Fault::Error),
        Some(other) => {
            return fail(format!(
                "RINGHTTPD_TEST_FAULT: `{other}` is not panic or error"
            ))
        }
    };
    let signals = sys::block_stop_signals();
    let shared = Arc::new(Shared {
        limits: cfg.limits,
        timeouts: Timeouts {
            keepalive: cfg.keepalive_timeout,
            header: cfg.header_timeout,
            body: cfg.body_timeout,
            write: cfg.write_timeout,
            linger: LINGER_TIMEOUT,
        },
    });
    let cpus = sys::allowed_cpus();
    let pin = cpus.len() >= cfg.threads;
    let (tx, rx) = mpsc::channel::<Result<String, String>>();
    let mut handles = Vec::new();
    let mut wakes = Vec::new();
    for (i, listener) in listeners.into_iter().enumerate() {
        let (wake, waker) = match sys::eventfd().and_then(|w| Ok((w.try_clone()?, w))) {
            Ok(pair) => pair,
            Err(e) => return fail(format!("eventfd: {e}")),
        };
        wakes.push(waker);
        let seat = Seat {
            listener,
            wake,
            cap: per_thread,
        };
        let job = Job {
            // Only the first worker fails, so the test sees the others being stopped.
            fault: if i == 0 { fault } else { None },
            cfg: cfg.clone(),
            use_uring,
            cpu: if pin { Some(cpus[i]) } else { None },
            shared: shared.clone(),
            tx: tx.clone(),
        };
        let h = std::thread::Builder::new()
            .name(format!("ringhttpd-{i}"))
            .spawn(move || worker_main(job, seat))
            .expect("spawn worker thread");
        handles.push(h);
    }
    drop(tx);

    let mut first = None;
    for _ in 0..handles.len() {
        match rx.recv() {
            Ok(Ok(desc)) => {
                if first.is_none() {
                    first = Some(desc);
                } else if first.as_ref() != Some(&desc) {
                    note.push_str(&format!(" (another worker: {desc})"));
                }
            }
            Ok(Err(e)) => {
                wakes.iter().for_each(worker::wake);
                return fail(e);
            }
            Err(_) => return fail("a worker thread died during start-up"),
        }
    }
    println!(
        "ringhttpd: listening on http://{} threads={} max-conns={} root={} {}{}",
        display_addr(addr),
        cfg.threads,
        per_thread * cfg.threads,
        cfg.root.display(),
        first.unwrap_or_default(),
        note
    );

    // Wait for a stop signal, checking a few times a second that every worker is alive: a
    // worker that ends on its own (an error, a panic) takes the process down with a non-zero
    // status, so a supervisor restarts it, instead of leaving its share of connections hanging.
    let dead = loop {
        match sys::wait_signal_timeout(&signals, WATCH_INTERVAL) {
            // A report for tests and operators: heap allocations since start (the hot paths make
            // none; see tests/alloc.rs).
            Some(libc::SIGUSR1) => eprintln!("ringhttpd: allocations={}", alloc_count::get()),
            Some(sig) => {
                eprintln!("ringhttpd: signal {sig}, finishing in-flight requests");
                break None;
            }
            None => {
                if let Some(i) = handles.iter().position(|h| h.is_finished()) {
                    break Some(i);
                }
            }
        }
    };
    wakes.iter().for_each(worker::wake);
    let mut ok = dead.is_none();
    for (i, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(()) if Some(i) == dead => {
                eprintln!("ringhttpd: worker ringhttpd-{i} stopped unexpectedly; exiting")
            }
            Ok(()) => {}
            Err(panic) => {
                let why = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                eprintln!("ringhttpd: worker ringhttpd-{i} died (panic: {why}); exiting");
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Connections per process: `--max-conns`, bounded by what the open-files limit allows.
fn conn_limit(cfg: &Config) -> usize {
    let nofile = sys::raise_nofile();
    let room = nofile
        .saturating_sub(RESERVED_FDS + 4 * cfg.threads as u64)
        .max(16) as usize;
    match cfg.max_conns {
        Some(n) if n > room => {
            eprintln!(
                "ringhttpd: --max-conns {n} exceeds what the open-files limit ({nofile}) allows; \
                 using {room}"
            );
            room
        }
        Some(n) => n,
        None => room,
    }
}

/// One listener per worker, so that an address in use is reported before anything starts.
/// Port 0 picks a free port once; the other workers join it.
fn listen_all(cfg: &Config) -> Result<(SocketAddr, Vec<OwnedFd>), String> {
    let mut addr = cfg.listen;
    let mut listeners = Vec::new();
    for _ in 0..cfg.threads {
        let fd = sys::listener(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        if addr.port() == 0 {
            addr.set_port(sys::local_port(&fd).map_err(|e| format!("{addr}: {e}"))?);
        }
        listeners.push(fd);
    }
    Ok((addr, listeners))
}

/// Decide the backend once for all workers: (io_uring?, a note for the start-up line).
fn choose_backend(cfg: &Config) -> (bool, String) {
    match cfg.backend {
        Backend::Epoll => (false, String::new()),
        Backend::Uring => (true, String::new()),
        // The probe is a ring like the workers' own, so memlock limits are met here first.
        Backend::Auto => match UringDriver::new(uring_config(cfg)) {
            Ok(_) => (true, String::new()),
            Err(e) => (false, format!(" (io_uring unavailable, using epoll: {e})")),
        },
    }
}

fn uring_config(cfg: &Config) -> UringConfig {
    UringConfig {
        entries: 1024,
        pool: POOL,
        allow: cfg.uring_features,
    }
}

fn display_addr(a: SocketAddr) -> String {
    a.to_string()
}

/// What a worker thread is started with, besides its [`Seat`].
struct Job {
    /// A fault to inject (tests only, `RINGHTTPD_TEST_FAULT`).
    fault: Option<worker::Fault>,
    cfg: Config,
    use_uring: bool,
    cpu: Option<usize>,
    shared: Arc<Shared>,
    tx: mpsc::Sender<Result<String, String>>,
}

fn worker_main(job: Job, seat: Seat) {
    if let Some(cpu) = job.cpu {
        // Best effort: an unpinned worker still works.
        let _ = sys::pin_to(cpu);
    }
    let cfg = &job.cfg;
    if job.use_uring {
        match UringDriver::new(uring_config(cfg)) {
            Ok(d) => return serve(d, job, seat),
            Err(e) if cfg.backend == Backend::Uring => {
                let _ = job.tx.send(Err(format!("--backend uring: {e}")));
                return;
            }
            Err(e) => eprintln!("ringhttpd: io_uring failed on this worker ({e}); using epoll"),
        }
    }
    match EpollDriver::new(POOL) {
        Ok(d) => serve(d, job, seat),
        Err(e) => {
            let _ = job.tx.send(Err(format!("epoll: {e}")));
        }
    }
}

fn serve<D: Driver>(d: D, job: Job, seat: Seat) {
    let cfg = &job.cfg;
    let files = match FileCache::new(&cfg.root, cfg.cache_size / cfg.threads) {
        Ok(f) => f,
        Err(e) => {
            let _ = job
                .tx
                .send(Err(format!("--root {}: {e}", cfg.root.display())));
            return;
        }
    };
    let desc = format!("{} {}", d.describe(), files.describe());
    let mut w = Worker::new(d, seat, job.shared, files);
    w.inject(job.fault);
    let _ = job.tx.send(Ok(desc));
    drop(job.tx);
    if let Err(e) = w.run() {
        eprintln!("ringhttpd: worker stopped: {e}");
        return; // the main thread sees the thread end before a stop and exits non-zero
    }
    eprintln!(
        "ringhttpd: {}: {}",
        std::thread::current().name().unwrap_or("worker"),
        w.report()
    );
}
