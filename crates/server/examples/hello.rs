//! Routing with ringhttpd: literal paths, `:param` and `*rest` segments, the query string,
//! headers, per-core state, and static files under a prefix.
//!
//! ```sh
//! cargo run --release -p ringhttpd --example hello -- --listen 127.0.0.1:8080
//! curl -i localhost:8080/users/42?verbose=yes
//! ```
//! Takes the `ringhttpd` binary's flags (`--help`); the `--root` directory is mounted at
//! `/static`.

use std::cell::Cell;
use std::process::ExitCode;

use ringhttpd::{Reply, Request, Response, Server};

#[global_allocator]
static ALLOC: ringhttpd::CountingAlloc = ringhttpd::CountingAlloc;

fn hello(_: &Request, res: &mut Response) -> Reply {
    res.bytes("text/plain", b"Hello, World!")
}

/// `GET /users/:id`: the parameter, and the query string decoded on demand.
fn user(req: &Request, res: &mut Response) -> Reply {
    let id = req.param("id").unwrap_or_default();
    let Ok(id) = id.parse::<u32>() else {
        return res.status(400).text("the id must be a number\n");
    };
    let mut w = res.writer("text/plain; charset=utf-8");
    let _ = writeln!(w, "user {id}");
    if let Some(v) = req.query_param("verbose") {
        let _ = writeln!(w, "verbose={v}");
    }
    w.finish()
}

/// `GET /files/*path`: the rest of the path.
fn file_path(req: &Request, res: &mut Response) -> Reply {
    let path = req.param("path").unwrap_or_default();
    let mut w = res.writer("text/plain; charset=utf-8");
    let _ = writeln!(w, "path={path}");
    w.finish()
}

/// `GET /headers`: every request header, one per line.
fn headers(req: &Request, res: &mut Response) -> Reply {
    let mut w = res.writer("text/plain; charset=utf-8");
    for (name, value) in req.headers() {
        w.push(name.to_ascii_lowercase().as_bytes());
        w.push(b": ");
        w.push(value);
        w.push(b"\n");
    }
    if let Some(peer) = req.peer() {
        let _ = writeln!(w, "peer: {}", peer.ip());
    }
    w.finish()
}

/// Requests this worker has counted: per-core state, no lock.
struct Hits(Cell<u64>);

/// `GET /count`: the worker's own counter.
fn count(req: &Request, res: &mut Response) -> Reply {
    let hits = req.local::<Hits>();
    hits.0.set(hits.0.get() + 1);
    let mut w = res.writer("text/plain; charset=utf-8");
    let _ = writeln!(w, "{}", hits.0.get());
    w.finish()
}

/// `GET /panic`: a handler bug; the client gets a 500, the server goes on.
fn panics(_: &Request, _: &mut Response) -> Reply {
    panic!("this handler panics on purpose")
}

/// `DELETE /users/:id`: another method on the same pattern (405 lists both).
fn delete_user(_: &Request, res: &mut Response) -> Reply {
    res.status(204).empty()
}

fn main() -> ExitCode {
    let server = match Server::from_args() {
        Ok(s) => s,
        Err(e) => return e.report(),
    };
    let root = server.root().to_path_buf();
    let run = server
        .get("/hello", hello)
        .get("/users/:id", user)
        .delete("/users/:id", delete_user)
        .get("/files/*path", file_path)
        .get("/headers", headers)
        .get("/count", count)
        .get("/panic", panics)
        .local(|_core| Hits(Cell::new(0)))
        .files("/static", root)
        .run();
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}
