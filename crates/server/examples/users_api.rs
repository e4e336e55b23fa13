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
use serde::ser::{SerializeSeq, SerializeStruct, Serializer};
use serde::Serialize;

#[global_allocator]
static ALLOC: ringhttpd::CountingAlloc = ringhttpd::CountingAlloc;

const USERS: usize = 1000;
const FIRST: [&str; 16] = [
    "Ada", "Alan", "Barbara", "Brian", "Claude", "Dennis", "Donald", "Edsger", "Frances", "Grace",
    "John", "Ken", "Linus", "Margaret", "Niklaus", "Radia",
];
const LAST: [&str; 16] = [
    "Lovelace",
    "Turing",
    "Liskov",
    "Kernighan",
    "Shannon",
    "Ritchie",
    "Knuth",
    "Dijkstra",
    "Allen",
    "Hopper",
    "McCarthy",
    "Thompson",
    "Torvalds",
    "Hamilton",
    "Wirth",
    "Perlman",
];
const CITIES: [&str; 8] = [
    "London", "Paris", "Berlin", "Lisbon", "Oslo", "Vienna", "Zurich", "Dublin",
];

/// User `i`: every field computed from `i` and the tables above (the same rule in every peer).
struct User(usize);

/// `first.last.ID@example.com`, lower case, written without an intermediate string.
struct Email(usize);

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let i = self.0;
        let (first, last) = (FIRST[i % 16], LAST[i / 16 % 16]);
        for c in first.chars().chain(".".chars()).chain(last.chars()) {
            write!(f, "{}", c.to_ascii_lowercase())?;
        }
        write!(f, ".{}@example.com", i + 1)
    }
}

struct Name(usize);

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", FIRST[self.0 % 16], LAST[self.0 / 16 % 16])
    }
}

impl Serialize for User {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Shown<T>(T);
        impl<T: std::fmt::Display> Serialize for Shown<T> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&self.0)
            }
        }
        let i = self.0;
        let mut u = s.serialize_struct("User", 6)?;
        u.serialize_field("id", &(i + 1))?;
        u.serialize_field("name", &Shown(Name(i)))?;
        u.serialize_field("email", &Shown(Email(i)))?;
        u.serialize_field("age", &(18 + i % 50))?;
        u.serialize_field("city", CITIES[i % 8])?;
        u.serialize_field("active", &(i % 3 != 0))?;
        u.end()
    }
}

/// All users, serialised one by one (nothing is collected first).
struct Users;

impl Serialize for Users {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(USERS))?;
        for i in 0..USERS {
            seq.serialize_element(&User(i))?;
        }
        seq.end()
    }
}

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
