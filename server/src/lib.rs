//! The server: the app's pages and server functions, the BFF's routes and
//! layers, and the headers every response carries, put together into one
//! axum `Router`. `config.rs` reads the settings; `main.rs` only runs it.

pub mod config;
mod health;

use app::api::Visit;
use app::auth::{self, Auth};
use app::{shell, App};
use axum::extract::{FromRef, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes, ResponseOptions};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::Session;

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
        // Asks browsers for their light or dark scheme on later requests, so
        // that `/login` can pass it on to Authgear (`x_color_scheme`).
        (
            header::HeaderName::from_static("accept-ch"),
            "Sec-CH-Prefers-Color-Scheme",
        ),
    ];
    if https {
        security_headers.push((
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=63072000; includeSubDomains",
        ));
    }

    let app = Router::new()
        .merge(auth::routes())
        .merge(server_functions())
        .leptos_routes_with_handler(generate_route_list(App), page)
        // Unknown paths too: the app's router renders its not-found page.
        .fallback(page)
        .layer(state.auth.session_layer())
        .layer(axum::middleware::from_fn_with_state(
            state.auth.clone(),
            auth::reject_cross_site,
        ))
        .with_state(state.clone());
    // Probes and static files stay outside the session layer: they touch no
    // session.
    let mut router = Router::new()
        .merge(health::routes(state.auth.clone()))
        .nest_service(
            &format!("/{}", state.leptos_options.site_pkg_dir),
            assets(&state.leptos_options),
        )
        .merge(app.layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            // Pages and server functions may show who is signed in: no
            // browser or proxy keeps a copy.
            HeaderValue::from_static("no-store"),
        )));
    // The last line of defence: a bug that panics answers a plain page,
    // with no detail of it, and the server goes on.
    router = router.layer(CatchPanicLayer::custom(panic_page));
    for (name, value) in security_headers {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    // Every log line of a request carries its id, and so does the response
    // (`x-request-id`): one id to find a user's problem in the logs.
    router
        .layer(CompressionLayer::new())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(axum::middleware::from_fn_with_state(state.auth, measure))
}

/// Times every request into the metrics, by the route pattern the router
/// matched: never the path asked for, which anyone can make up.
async fn measure(State(auth): State<Auth>, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    let response = next.run(request).await;
    auth.metrics().request(
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        &method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Serves `GET /metrics` (Prometheus' text format) on `listener`, which
/// must be another than the app's: the metrics are for the operator's
/// monitoring, not for the public.
pub async fn serve_metrics(listener: tokio::net::TcpListener, auth: Auth) {
    let metrics = Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let auth = auth.clone();
            async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    auth.metrics().render(),
                )
            }
        }),
    );
    if let Err(error) = axum::serve(listener, metrics).await {
        tracing::error!(%error, "the metrics listener stopped");
    }
}

/// What a request that panicked answers: a 500 that says nothing of why.
/// The panic itself is in the log, under the request's id.
fn panic_page(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request panicked; answered with the neutral error page");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PANIC_PAGE,
    )
        .into_response()
}

const PANIC_PAGE: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Something went wrong</title></head><body><main><h1>Something went wrong</h1>\
<p>The app could not answer this request. Please try again.</p>\
<p><a href=\"/\">Back to the home page</a></p></main></body></html>";

/// Renders a page: the first of a visit, or any page without JavaScript.
/// Who is looking is settled first ([`Visit`]), so the header and the page
/// read the same answer, and the page's server function, called in this
/// process, reads it instead of the session again. The page is sent once
/// complete (`render_app_async`), with its data for hydration: it works
/// without JavaScript and answers with its own status (302, 401, 403, 404).
/// A failure to tell who is looking is shown, with its status.
async fn page(State(state): State<AppState>, session: Session, request: Request) -> Response {
    let mut visit = Visit::settle(&state.auth, &session).await;
    visit.read_ahead(request.uri().path(), &session).await;
    let auth = state.auth.clone();
    let options = state.leptos_options.clone();
    let render = leptos_axum::render_app_async_with_context(
        move || {
            provide_context(auth.clone());
            visit.provide();
            // The page may still set a status of its own as it renders.
            if let (Some(status), Some(response)) =
                (visit.failure_status(), use_context::<ResponseOptions>())
            {
                response.set_status(status);
            }
        },
        move || shell(options.clone()),
    );
    render(request).await
}

/// Each server function at its own path and method, with the BFF handle in
/// its context. Any other path under `/api` is the app's not-found page.
fn server_functions() -> Router<AppState> {
    let mut router = Router::new();
    for (path, method) in leptos::server_fn::axum::server_fn_paths() {
        let Ok(filter) = MethodFilter::try_from(method.clone()) else {
            tracing::warn!(%path, %method, "server function with an unsupported method left out");
            continue;
        };
        router = router.route(path, on(filter, server_function));
    }
    router
}

async fn server_function(State(state): State<AppState>, request: Request) -> impl IntoResponse {
    let auth = state.auth.clone();
    leptos_axum::handle_server_fns_with_context(move || provide_context(auth.clone()), request)
        .await
}

/// The built script, wasm and stylesheet, from `<site root>/<pkg dir>`, in
/// the `.br` or `.gz` form the build made of each when the browser accepts
/// it. Hashed names never change content, so browsers keep them a year
/// without asking again; plain names (a build without `hash-files`) are
/// checked on every use.
fn assets(options: &LeptosOptions) -> Router {
    let dir = std::path::Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    let cache = HeaderValue::from_static(if options.hash_files {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    });
    Router::new()
        .fallback_service(ServeDir::new(dir).precompressed_br().precompressed_gzip())
        .layer(axum::middleware::map_response(
            move |mut response: axum::response::Response| {
                let cache = cache.clone();
                async move {
                    let status = response.status();
                    let cache = if status.is_success() || status == StatusCode::NOT_MODIFIED {
                        cache
                    } else {
                        // A file missing now may be deployed in a minute.
                        HeaderValue::from_static("no-store")
                    };
                    let headers = response.headers_mut();
                    headers.insert(header::CACHE_CONTROL, cache);
                    // Each name has one body, in several encodings.
                    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
                    response
                }
            },
        ))
}

/// The span around one request: its id, method and path. Not the query,
/// which on `/callback` carries the authorization code.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        id,
        method = %request.method(),
        path = request.uri().path(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panic_answers_a_neutral_page() {
        let app = Router::new()
            .route(
                "/",
                axum::routing::get(|| async {
                    let secret = "PANIC-DETAIL";
                    if !secret.is_empty() {
                        panic!("{secret}");
                    }
                    "unreachable"
                }),
            )
            .layer(CatchPanicLayer::custom(panic_page));
        let response = app
            .oneshot(
                Request::builder()
                    .uri("/")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("an answer");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("body");
        let page = String::from_utf8_lossy(&body);
        assert!(page.contains("Something went wrong"), "{page}");
        assert!(!page.contains("PANIC-DETAIL"), "{page}");
    }
}
