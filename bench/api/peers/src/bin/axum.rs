//! The seed's endpoint in axum on a current-thread tokio runtime (the benchmark pins it to one
//! core).
#[path = "../users.rs"]
mod users;

use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::Router;

async fn list() -> impl axum::response::IntoResponse {
    (
        [(CONTENT_TYPE, "application/json")],
        serde_json::to_vec(&users::Users).expect("serialisable"),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let addr = users::addr();
    let app = Router::new().route("/api/v1/users", get(list));
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    println!("axum listening on {addr}");
    axum::serve(listener, app).await.expect("serve");
}
