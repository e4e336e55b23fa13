//! The seed's users, from the ringhttpd example itself (the same code serialises them in every
//! Rust server of the benchmark), and the peers' address argument.

#[path = "../../../../crates/server/examples/users_api/users.rs"]
mod shared;
pub use shared::Users;

/// `ADDR:PORT` from the first argument (default 127.0.0.1:3000).
pub fn addr() -> std::net::SocketAddr {
    std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into())
        .parse()
        .expect("usage: PEER ADDR:PORT")
}
