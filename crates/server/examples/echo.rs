//! Request bodies: `POST /echo` answers with the body it was sent (Content-Length or chunked,
//! up to `--max-body`), `POST /sum` reads a JSON array of numbers and answers their sum as JSON.
//! WebSocket: `/ws` echoes every text and binary message (the message `close` ends the
//! connection with 1000).
//!
//! ```sh
//! cargo run --release -p ringhttpd --example echo
//! curl -d 'hello' localhost:8080/echo
//! curl -H 'Content-Type: application/json' -d '[1, 2, 3.5]' localhost:8080/sum
//! ```

use std::process::ExitCode;

use ringhttpd::{Message, Reply, Request, Response, Server, Session};

#[global_allocator]
static ALLOC: ringhttpd::CountingAlloc = ringhttpd::CountingAlloc;

fn echo(req: &Request, res: &mut Response) -> Reply {
    let ctype = req
        .header("content-type")
        .unwrap_or("application/octet-stream");
    res.header_number("X-Body-Length", req.body().len() as u64)
        .bytes(ctype, req.body())
}

fn sum(req: &Request, res: &mut Response) -> Reply {
    match serde_json::from_slice::<Vec<f64>>(req.body()) {
        Ok(v) => res.json(&serde_json::json!({ "count": v.len(), "sum": v.iter().sum::<f64>() })),
        Err(e) => res
            .status(400)
            .text(&format!("expected a JSON array of numbers: {e}\n")),
    }
}

fn ws_echo(msg: &Message, ws: &mut Session) {
    match msg.text() {
        Some("close") => ws.close(1000),
        Some(text) => ws.send_text(text),
        None => ws.send_binary(msg.bytes()),
    }
}

fn main() -> ExitCode {
    let server = match Server::from_args() {
        Ok(s) => s,
        Err(e) => return e.report(),
    };
    match server
        .post("/echo", echo)
        .put("/echo", echo)
        .post("/sum", sum)
        .websocket("/ws", ws_echo)
        .run()
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}
