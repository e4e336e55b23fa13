//! The push server of bench/ws in axum (WebSocket by tokio-tungstenite), on a current-thread
//! runtime: GET /stream?token=T subscribes to T and to everyone; POST /message with
//! {"token": T, "message": M} or {"topic": "all", "message": M} answers {"id": N} and sends
//! {"id":N,"message":M} to the subscribers. One task per client forwards from its bounded
//! channel to the socket; a client whose channel is full is dropped (as in the Go peer).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

type Tx = mpsc::Sender<Utf8Bytes>;

#[derive(Default)]
struct Hub {
    topics: Mutex<HashMap<String, HashMap<u64, Tx>>>,
    next_client: AtomicU64,
    next_id: AtomicU64,
}

fn valid_token(t: &str) -> bool {
    (1..=64).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(serde::Deserialize)]
struct StreamQuery {
    token: Option<String>,
}

async fn stream(
    State(hub): State<Arc<Hub>>,
    Query(q): Query<StreamQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    let Some(token) = q.token.filter(|t| valid_token(t)) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    ws.on_upgrade(move |socket| client(hub, token, socket))
}

async fn client(hub: Arc<Hub>, token: String, socket: WebSocket) {
    let id = hub.next_client.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(64);
    {
        let mut t = hub.topics.lock().unwrap();
        t.entry(token.clone()).or_default().insert(id, tx.clone());
        t.entry("*".to_string()).or_default().insert(id, tx);
    }
    let (mut sink, mut stream) = socket.split();
    let writer = tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            if sink.send(Message::Text(m)).await.is_err() {
                break;
            }
        }
    });
    while let Some(Ok(_)) = stream.next().await {}
    {
        let mut t = hub.topics.lock().unwrap();
        for topic in [token.as_str(), "*"] {
            if let Some(m) = t.get_mut(topic) {
                m.remove(&id);
                if m.is_empty() {
                    t.remove(topic);
                }
            }
        }
    }
    writer.abort();
}

#[derive(serde::Deserialize)]
struct Post {
    token: Option<String>,
    topic: Option<String>,
    message: String,
}

async fn message(State(hub): State<Arc<Hub>>, body: axum::body::Bytes) -> Response {
    let Ok(p) = serde_json::from_slice::<Post>(&body) else {
        return (StatusCode::BAD_REQUEST, "bad message\n").into_response();
    };
    let topic = match (&p.token, &p.topic) {
        (Some(t), None) if valid_token(t) => t.as_str(),
        (None, Some(t)) if t == "all" => "*",
        _ => return (StatusCode::BAD_REQUEST, "give a valid token or topic all\n").into_response(),
    };
    let id = hub.next_id.fetch_add(1, Ordering::Relaxed) + 1;
    let payload: Utf8Bytes = serde_json::json!({ "id": id, "message": p.message })
        .to_string()
        .into();
    if let Some(m) = hub.topics.lock().unwrap().get(topic) {
        for tx in m.values() {
            let _ = tx.try_send(payload.clone()); // full: dropped
        }
    }
    Json(serde_json::json!({ "id": id })).into_response()
}

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let hub = Arc::new(Hub::default());
        let app = Router::new()
            .route("/stream", get(stream))
            .route("/message", post(message))
            .with_state(hub);
        let l = tokio::net::TcpListener::bind(&addr).await.unwrap();
        axum::serve(l, app).await.unwrap();
    });
}
