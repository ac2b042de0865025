//! The server: configuration, the session store and the HTTP routes, put
//! together into one axum `Router`. `main.rs` only runs it.

pub mod config;
pub mod csrf;
pub mod routes;

use std::path::Path;

use app::auth::{self, Auth};
use app::{shell, App};
use axum::extract::FromRef;
use axum::http::{header, HeaderValue};
use axum::routing::get;
use axum::Router;
use axum_extra::extract::cookie::Key;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_sessions_sqlx_store::sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use tower_sessions_sqlx_store::SqliteStore;

/// What every handler can reach.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub auth: Auth,
}

impl FromRef<AppState> for Key {
    fn from_ref(state: &AppState) -> Self {
        state.auth.cookie_key().clone()
    }
}

impl AppState {
    /// The app's stylesheet, for pages rendered outside the app.
    pub fn stylesheet(&self) -> String {
        format!(
            "/{}/{}.css",
            self.leptos_options.site_pkg_dir, self.leptos_options.output_name
        )
    }
}

/// Opens (and creates, the first time) the SQLite session store.
pub async fn open_session_store(
    path: &Path,
) -> Result<SqliteStore, tower_sessions_sqlx_store::sqlx::Error> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    let store = SqliteStore::new(SqlitePool::connect_with(options).await?);
    store.migrate().await?;
    Ok(store)
}

/// The whole app as one router.
pub fn router(state: AppState, store: SqliteStore) -> Router {
    let routes = generate_route_list(App);
    let sessions = auth::session::layer(store, state.auth.settings());
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
        .route("/login", get(routes::login))
        .route("/callback", get(routes::callback))
        .leptos_routes_with_context(
            &state,
            routes,
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
        .layer(sessions)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::reject_cross_site,
        ));
    for (name, value) in security_headers {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    router.layer(CompressionLayer::new()).with_state(state)
}
