//! The server: the app's pages and server functions, the BFF's routes and
//! layers, and the headers every response carries, put together into one
//! axum `Router`. `config.rs` reads the settings; `main.rs` only runs it.

pub mod config;

use app::auth::{self, Auth};
use app::{shell, App};
use axum::extract::FromRef;
use axum::http::{header, HeaderValue};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;

/// What every handler can reach.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub auth: Auth,
}

/// The whole app as one router.
pub fn router(state: AppState) -> Router {
    let https = state.auth.settings().secure_cookies();
    // Defaults for every response; pages set a stricter CSP of their own.
    let mut security_headers = vec![
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ];
    if https {
        security_headers.push((
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=63072000; includeSubDomains",
        ));
    }

    let mut router = Router::new()
        .merge(auth::routes())
        .leptos_routes_with_context(
            &state,
            generate_route_list(App),
            {
                let auth = state.auth.clone();
                move || provide_context(auth.clone())
            },
            {
                let options = state.leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(state.auth.session_layer())
        .layer(axum::middleware::from_fn_with_state(
            state.auth.clone(),
            auth::reject_cross_site,
        ));
    for (name, value) in security_headers {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    router.layer(CompressionLayer::new()).with_state(state)
}
