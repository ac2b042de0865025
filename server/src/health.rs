//! Probes for a load balancer or orchestrator.

use app::auth::Auth;
use app::paths;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

pub fn routes(auth: Auth) -> Router {
    Router::new()
        .route(paths::HEALTHZ, get(live))
        .route(paths::READYZ, get(ready))
        .with_state(auth)
}

/// The process answers: nothing else is checked, so a provider outage does
/// not get the server restarted.
async fn live() -> impl IntoResponse {
    ([(CACHE_CONTROL, "no-store")], "ok")
}

/// Ready for traffic: the session store answers and the provider has been
/// discovered.
async fn ready(State(auth): State<Auth>) -> impl IntoResponse {
    let store = auth.store_is_reachable().await;
    let provider = auth.is_provider_discovered();
    let status = if store && provider {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = format!(
        "store: {}\nprovider: {}\n",
        if store { "ok" } else { "unreachable" },
        if provider { "ok" } else { "not discovered" }
    );
    (status, [(CACHE_CONTROL, "no-store")], body)
}
