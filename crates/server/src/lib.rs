//! `ringhttpd`: a thread-per-core HTTP/1.1 server driven by io_uring completions (with an epoll
//! backend of the same logic), as a library.
//!
//! A program builds a [`Server`] — routes by method and path pattern, static file mounts,
//! per-core state — and runs it. Handlers are plain functions that run on the worker thread
//! that owns the connection, synchronously, and must not block:
//!
//! ```no_run
//! use ringhttpd::{Reply, Request, Response, Server};
//!
//! fn echo(req: &Request, res: &mut Response) -> Reply {
//!     res.bytes("application/octet-stream", req.body())
//! }
//!
//! fn main() -> ringhttpd::Result<()> {
//!     Server::from_args()?            // the ringhttpd binary's flags
//!         .post("/echo", echo)
//!         .files("/", "./www")
//!         .run()
//! }
//! ```
//!
//! What the server guarantees around a handler:
//! - The request body is read whole before the handler runs (bounded by `--max-body`, 413
//!   beyond; `Expect: 100-continue` is answered first), into a per-core pooled buffer, or read
//!   in place when it arrived with the head.
//! - The response is written straight into the connection's pooled output buffer: no
//!   allocation per request. `Content-Length`, `Date`, `Server` and `Connection` are the
//!   server's; `HEAD` gets the head of the `GET` answer.
//! - A handler that panics answers 500; the panic is caught at the handler boundary, the
//!   connection closes, the panic is counted, and the worker goes on serving. (The panic
//!   message still goes through the process's panic hook, to stderr by default.)
//! - A handler that must wait calls [`Response::defer`] and completes the [`Later`] handle from
//!   any thread; the owning worker is woken and writes the answer, in order behind pipelined
//!   requests. A dropped handle answers 500, a late one 504 (`--handler-timeout`).
//! - The work in flight per core is bounded (`--response-budget`, `--max-deferred`): at the
//!   bound, new requests wait, their connections unread, instead of allocating more.
//!
//! WebSocket (RFC 6455) routes take the connection over after `101 Switching Protocols`
//! ([`Server::websocket`], or [`Server::websocket_route`] with a [`WebSocket`] for an opening
//! handler, subprotocols and `permessage-deflate`); messages go to a handler with a
//! [`Session`] to answer through. Connections subscribe to topics ([`Session::subscribe`]) and
//! a [`Publisher`] (from [`Server::publisher`]) publishes to them from any thread: each worker
//! encodes a message once and writes the same bytes to all its subscribers.
//!
//! ```no_run
//! use ringhttpd::{Message, Server, Session, WebSocket};
//!
//! fn chat(msg: &Message, _: &mut Session) {
//!     let _ = msg; // a client's message; answer with Session::send_text, or publish
//! }
//!
//! fn main() -> ringhttpd::Result<()> {
//!     let server = Server::from_args()?;
//!     let publisher = server.publisher();
//!     std::thread::spawn(move || loop {
//!         publisher.publish_text("news", "tick");
//!         std::thread::sleep(std::time::Duration::from_secs(1));
//!     });
//!     server
//!         .websocket_route(
//!             "/news",
//!             WebSocket::new(chat).on_open(|_req, ws| {
//!                 ws.subscribe("news");
//!                 Ok(())
//!             }),
//!         )
//!         .run()
//! }
//! ```

#![deny(missing_docs)]

mod alloc_count;
mod api;
mod config;
mod conn;
mod files;
mod h1;
mod out;
mod outcome;
mod pubsub;
mod respond;
mod route;
mod router;
mod server;
mod sys;
mod transport;
mod websocket;
mod wheel;
mod worker;

pub use alloc_count::CountingAlloc;
pub use api::{BodyWriter, Later, Reply, Request, Response, Stream, StreamError};
pub use pubsub::Publisher;
pub use ringhttpd_http::Method;
pub use server::{Error, Result, Server};
pub use websocket::{Message, Session, WebSocket};
