//! The seed's endpoint in actix-web, one worker (the benchmark pins it to one core).
#[path = "../users.rs"]
mod users;

use actix_web::{get, App, HttpResponse, HttpServer};

#[get("/api/v1/users")]
async fn list() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(serde_json::to_vec(&users::Users).expect("serialisable"))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = users::addr();
    println!("actix-web listening on {addr}");
    HttpServer::new(|| App::new().service(list))
        .workers(1)
        .backlog(4096)
        .bind(addr)?
        .run()
        .await
}
