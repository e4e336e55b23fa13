//! The JSON API of the seed document ("Golang toy server performance"): `GET /api/v1/users`
//! answers 1,000 users as JSON (about 100 KB), generated for every request from static data and
//! serialised straight into the connection's output buffer. The peers in `bench/api` produce
//! byte-identical JSON.
//!
//! ```sh
//! cargo run --release -p ringhttpd --example users_api -- --listen 127.0.0.1:3000
//! curl -s localhost:3000/api/v1/users | head -c 300
//! ```

use std::process::ExitCode;

use ringhttpd::{Reply, Request, Response, Server};

mod users;
use users::Users;

#[global_allocator]
static ALLOC: ringhttpd::CountingAlloc = ringhttpd::CountingAlloc;

fn users(_: &Request, res: &mut Response) -> Reply {
    res.json(&Users)
}

fn main() -> ExitCode {
    let server = match Server::from_args() {
        Ok(s) => s,
        Err(e) => return e.report(),
    };
    match server.get("/api/v1/users", users).run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}
