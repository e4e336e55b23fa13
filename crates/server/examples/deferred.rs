//! Deferred answers: handlers hand their work to a small thread pool and return at once; the
//! pool completes the response, and the worker that owns the connection writes it.
//!
//! - `GET /work?ms=N`: answers after N ms of "work" on the pool (a database call, say).
//! - `GET /drop`: the pool drops the handle without answering: the client gets 500.
//! - `GET /never`: the handle is kept and never answered: 504 after `--handler-timeout`.
//! - `GET /now`: answers at once, to show pipelined requests stay in order.
//! - `GET /stream?n=N`: N lines streamed from the pool with the chunked coding, 10 ms apart.
//! - `GET /stream-abort`: two lines, then the producer gives up (the connection closes without
//!   the final chunk).
//!
//! ```sh
//! cargo run --release -p ringhttpd --example deferred -- --handler-timeout 5
//! curl localhost:8080/work?ms=200
//! ```

use std::process::ExitCode;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringhttpd::{Later, Reply, Request, Response, Server, StreamError};

#[global_allocator]
static ALLOC: ringhttpd::CountingAlloc = ringhttpd::CountingAlloc;

enum Job {
    Work { ms: u64, later: Later },
    Stream { n: usize, abort: bool, later: Later },
    Drop(Later),
    Keep(Later),
}

/// A fixed pool of threads fed by one channel.
fn pool(threads: usize) -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    for _ in 0..threads {
        let rx = rx.clone();
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            loop {
                let job = match rx.lock().unwrap().recv() {
                    Ok(j) => j,
                    Err(_) => return,
                };
                match job {
                    Job::Work { ms, later } => {
                        std::thread::sleep(Duration::from_millis(ms));
                        later.text(200, format!("worked {ms} ms\n"));
                    }
                    Job::Stream { n, abort, later } => {
                        let mut s = later.stream(200, "text/plain; charset=utf-8");
                        for i in 0..n {
                            // A slow client: wait for room instead of piling up memory.
                            while let Err(StreamError::Full) = s.send(format!("line {i}\n")) {
                                std::thread::sleep(Duration::from_millis(1));
                            }
                            if s.is_gone() {
                                break;
                            }
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        if abort {
                            drop(s); // not ended: the response is cut off
                        } else {
                            s.end();
                        }
                    }
                    Job::Drop(later) => drop(later),
                    Job::Keep(later) => kept.push(later),
                }
            }
        });
    }
    tx
}

fn main() -> ExitCode {
    let server = match Server::from_args() {
        Ok(s) => s,
        Err(e) => return e.report(),
    };
    let jobs = Mutex::new(pool(4));
    let send = move |job: Job| {
        // The pool's queue: a short lock per deferred request (not per core).
        let _ = jobs.lock().unwrap().send(job);
    };
    let send = Arc::new(send);
    let (s1, s2, s3, s4, s5) = (send.clone(), send.clone(), send.clone(), send.clone(), send);
    let run = server
        .get("/work", move |req: &Request, res: &mut Response| -> Reply {
            let ms = req
                .query_param("ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(10u64)
                .min(10_000);
            let (reply, later) = res.defer();
            s1(Job::Work { ms, later });
            reply
        })
        .get("/drop", move |_: &Request, res: &mut Response| -> Reply {
            let (reply, later) = res.defer();
            s2(Job::Drop(later));
            reply
        })
        .get("/never", move |_: &Request, res: &mut Response| -> Reply {
            let (reply, later) = res.defer();
            s3(Job::Keep(later));
            reply
        })
        .get("/now", |_: &Request, res: &mut Response| res.text("now\n"))
        .get(
            "/stream",
            move |req: &Request, res: &mut Response| -> Reply {
                let n = req
                    .query_param("n")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(5usize)
                    .min(100_000);
                let (reply, later) = res.defer();
                s4(Job::Stream {
                    n,
                    abort: false,
                    later,
                });
                reply
            },
        )
        .get(
            "/stream-abort",
            move |_: &Request, res: &mut Response| -> Reply {
                let (reply, later) = res.defer();
                s5(Job::Stream {
                    n: 2,
                    abort: true,
                    later,
                });
                reply
            },
        )
        .run();
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}
