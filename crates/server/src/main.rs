//! The `ringhttpd` binary: the library's [`ringhttpd::Server`] with the built-in `/hello` route
//! and the `--root` directory mounted at `/`, registered like any user's routes.

use std::process::ExitCode;

use ringhttpd::{Reply, Request, Response, Server};

#[global_allocator]
static ALLOC: ringhttpd::CountingAlloc = ringhttpd::CountingAlloc;

fn hello(_: &Request, res: &mut Response) -> Reply {
    res.bytes("text/plain", b"Hello, World!")
}

fn main() -> ExitCode {
    let server = match Server::from_args() {
        Ok(s) => s,
        Err(e) => return e.report(),
    };
    let root = server.root().to_path_buf();
    match server.get("/hello", hello).files("/", root).run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}
