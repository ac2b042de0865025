//! The ceiling for the benchmark: a bare axum handler that answers every
//! request with the same page, read once from a file, and does nothing else:
//! no session, no rendering. What the app serves per second is measured
//! against it, on the same machine in the same run.
//!
//!     cargo run --release -p server --example ceiling -- 127.0.0.1:3002 page.html

use axum::response::Html;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;

#[tokio::main]
async fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(page)) = (args.next(), args.next()) else {
        return Err("usage: ceiling <address> <page.html>".into());
    };
    let page = std::fs::read_to_string(&page).map_err(|error| format!("{page}: {error}"))?;
    let app = Router::new().route("/", get(move || std::future::ready(Html(page.clone()))));
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|error| format!("cannot listen on {addr}: {error}"))?
        // As the app serves: see main.rs.
        .tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
    axum::serve(listener, app)
        .await
        .map_err(|error| error.to_string())
}
