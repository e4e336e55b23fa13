//! A push-notification server in the manner of gotify (the seed's 75-KB-per-client system),
//! rebuilt on ringhttpd's WebSocket fan-out.
//!
//! - `GET /stream?token=T` (WebSocket): the client receives every message published for its
//!   token, and every broadcast. `T` is 1 to 64 of `A-Z a-z 0-9 - _`; otherwise 401.
//! - `POST /message` with `{"token": "T", "message": "..."}` publishes to that token's clients,
//!   `{"topic": "all", "message": "..."}` to everyone; answers `{"id": N}` (400 with the reason
//!   for anything else). Clients get `{"id":N,"message":"..."}`.
//! - `GET /echo` (WebSocket): echoes every text and binary message, with `permessage-deflate`
//!   offered (what conformance suites such as Autobahn's expect of a server under test).
//! - `/`: a page that connects with the browser's WebSocket and shows messages as they arrive
//!   (from `examples/push/www`, whatever `--root` says).
//!
//! ```sh
//! cargo run --release -p ringhttpd --example push
//! # open http://127.0.0.1:8080/?token=demo, then:
//! curl -d '{"token": "demo", "message": "hello"}' localhost:8080/message
//! ```

use std::borrow::Cow;
use std::cell::RefCell;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use ringhttpd::{Message, Publisher, Reply, Request, Response, Server, Session, WebSocket};

#[global_allocator]
static ALLOC: ringhttpd::CountingAlloc = ringhttpd::CountingAlloc;

/// The topic every client subscribes to besides its token's (not a valid token).
const ALL: &str = "*";

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The JSON of a message being published, per worker (reused: no allocation per message).
    static PAYLOAD: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn valid_token(t: &str) -> bool {
    (1..=64).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn open_stream(req: &Request, ws: &mut Session) -> Result<(), u16> {
    let token = req.query_param("token").unwrap_or(Cow::Borrowed(""));
    if !valid_token(&token) {
        return Err(401);
    }
    ws.subscribe(&token);
    ws.subscribe(ALL);
    Ok(())
}

/// What clients send on their stream is ignored (it is a receive-only channel, as in gotify).
fn stream_message(_: &Message, _: &mut Session) {}

fn echo(msg: &Message, ws: &mut Session) {
    match msg.text() {
        Some(text) => ws.send_text(text),
        None => ws.send_binary(msg.bytes()),
    }
}

/// A message to publish. Tokens and topics never need JSON escapes, so they are borrowed from
/// the body; the message is borrowed unless it has escapes.
#[derive(serde::Deserialize)]
struct Post<'a> {
    token: Option<&'a str>,
    topic: Option<&'a str>,
    #[serde(borrow)]
    message: Cow<'a, str>,
}

#[derive(serde::Serialize)]
struct Out<'a> {
    id: u64,
    message: &'a str,
}

fn post_message(publisher: &Publisher, req: &Request, res: &mut Response) -> Reply {
    let post: Post = match serde_json::from_slice(req.body()) {
        Ok(p) => p,
        Err(e) => return res.status(400).text(&format!("bad message: {e}\n")),
    };
    let topic = match (&post.token, &post.topic) {
        (Some(t), None) if valid_token(t) => t,
        (None, Some("all")) => ALL,
        _ => {
            return res
                .status(400)
                .text("give a valid \"token\" or \"topic\": \"all\"\n")
        }
    };
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    PAYLOAD.with_borrow_mut(|buf| {
        buf.clear();
        let out = Out {
            id,
            message: &post.message,
        };
        serde_json::to_writer(&mut *buf, &out).expect("serialising to memory");
        // serde_json writes valid UTF-8.
        publisher.publish_text(topic, std::str::from_utf8(buf).expect("JSON is UTF-8"));
    });
    #[derive(serde::Serialize)]
    struct Id {
        id: u64,
    }
    res.json(&Id { id })
}

fn main() -> ExitCode {
    let server = match Server::from_args() {
        Ok(s) => s,
        Err(e) => return e.report(),
    };
    let page = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/push/www");
    let publisher = server.publisher();
    let result = server
        .websocket_route(
            "/stream",
            WebSocket::new(stream_message).on_open(open_stream),
        )
        .websocket_route(
            "/echo",
            WebSocket::new(echo).deflate(true).protocols(&["echo"]),
        )
        .post("/message", move |req, res| {
            post_message(&publisher, req, res)
        })
        .files("/", page)
        .run();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}
