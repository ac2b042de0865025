//! Server functions: thin wrappers that find the session, call into `auth`,
//! and translate its errors. They run on the server; the browser calls them
//! over HTTP under `/api/`.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::model::Notice;
use crate::model::{ApiError, Viewer};

/// Who is looking at the page. Calls the provider only when the access token
/// is about to expire.
#[server(endpoint = "viewer")]
pub async fn current_viewer() -> Result<Viewer, ApiError> {
    use crate::auth::tokens::{current, Current};
    let (auth, session) = request_context().await?;
    let local_provider = auth.settings().is_local_provider();
    let (user, notice) = match current(&auth, &session).await.map_err(to_api_error)? {
        Current::SignedIn(record) => (Some(record.view()), None),
        Current::Guest => (None, None),
        Current::Ended => (None, Some(Notice::SessionEnded)),
    };
    Ok(Viewer {
        user,
        notice,
        local_provider,
    })
}

/// Fetches the user's profile again from the provider's userinfo endpoint,
/// refreshing the access token first if needed.
#[server(endpoint = "reload_profile")]
pub async fn reload_profile() -> Result<(), ApiError> {
    let (auth, session) = request_context().await?;
    crate::auth::tokens::reload_profile(&auth, &session)
        .await
        .map_err(to_api_error)?
        .ok_or_else(|| {
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                response.set_status(axum::http::StatusCode::UNAUTHORIZED);
            }
            ApiError::SignedOut
        })
}

/// Ends the session here and at the provider. The browser is sent to the
/// provider's end-session endpoint, which sends it back to the home page.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), ApiError> {
    let (auth, session) = request_context().await?;
    let next = crate::auth::logout::logout(&auth, &session)
        .await
        .map_err(to_api_error)?;
    leptos_axum::redirect(&next);
    Ok(())
}

/// The BFF handle and this request's session. Every answer that depends on
/// the session must not be stored by any cache.
#[cfg(feature = "ssr")]
async fn request_context() -> Result<(crate::auth::Auth, tower_sessions::Session), ApiError> {
    use axum::http::{header, HeaderValue};
    let auth = use_context::<crate::auth::Auth>()
        .ok_or_else(|| ApiError::Transport("the server is missing its auth context".into()))?;
    let session = leptos_axum::extract::<tower_sessions::Session>()
        .await
        .map_err(|error| ApiError::Transport(error.to_string()))?;
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok((auth, session))
}

#[cfg(feature = "ssr")]
fn to_api_error(error: crate::auth::AuthError) -> ApiError {
    error.log("server_fn");
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(error.status());
    }
    ApiError::Unavailable
}
