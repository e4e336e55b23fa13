//! The seed's 1,000 users, computed from `i` and a few tables, serialised one by one with the
//! fields built on the stack (no allocation). Shared with the peers in `bench/api/peers`, so
//! every Rust server in that benchmark runs the same serialisation code.

use serde::ser::{SerializeSeq, SerializeStruct, Serializer};
use serde::Serialize;

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

/// A short string built on the stack (no allocation per field).
struct Small {
    b: [u8; 64],
    n: usize,
}

impl Small {
    fn new() -> Small {
        Small { b: [0; 64], n: 0 }
    }

    fn push(&mut self, s: &str) -> &mut Small {
        self.b[self.n..self.n + s.len()].copy_from_slice(s.as_bytes());
        self.n += s.len();
        self
    }

    fn push_lower(&mut self, s: &str) -> &mut Small {
        for (d, c) in self.b[self.n..].iter_mut().zip(s.bytes()) {
            *d = c.to_ascii_lowercase();
        }
        self.n += s.len();
        self
    }

    fn push_number(&mut self, mut v: usize) -> &mut Small {
        let mut digits = [0u8; 20];
        let mut k = digits.len();
        loop {
            k -= 1;
            digits[k] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        let d = &digits[k..];
        self.b[self.n..self.n + d.len()].copy_from_slice(d);
        self.n += d.len();
        self
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.b[..self.n]).expect("built from str pieces")
    }
}

impl Serialize for User {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let i = self.0;
        let (first, last) = (FIRST[i % 16], LAST[i / 16 % 16]);
        let mut name = Small::new();
        name.push(first).push(" ").push(last);
        // first.last.ID@example.com, lower case.
        let mut email = Small::new();
        email
            .push_lower(first)
            .push(".")
            .push_lower(last)
            .push(".")
            .push_number(i + 1)
            .push("@example.com");
        let mut u = s.serialize_struct("User", 6)?;
        u.serialize_field("id", &(i + 1))?;
        u.serialize_field("name", name.as_str())?;
        u.serialize_field("email", email.as_str())?;
        u.serialize_field("age", &(18 + i % 50))?;
        u.serialize_field("city", CITIES[i % 8])?;
        u.serialize_field("active", &(i % 3 != 0))?;
        u.end()
    }
}

/// All users, serialised one by one (nothing is collected first).
pub struct Users;

impl Serialize for Users {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(USERS))?;
        for i in 0..USERS {
            seq.serialize_element(&User(i))?;
        }
        seq.end()
    }
}
