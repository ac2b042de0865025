//! Server functions: thin wrappers that find the session, call into `auth`,
//! and translate its errors. They run on the server; the browser calls them
//! over HTTP under `paths::API_PREFIX`.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::model::Notice;
use crate::model::{ApiError, Viewer};

/// Who is looking at the page. Calls the provider only when the access token
/// is due for renewal.
#[server(endpoint = "viewer")]
pub async fn current_viewer() -> Result<Viewer, ApiError> {
    use crate::auth::{current, Current};
    let (auth, session) = request_context().await?;
    let (user, notice) = match current(&auth, &session).await.map_err(to_api_error)? {
        Current::SignedIn(user) => (Some(user.view()), None),
        Current::Guest => (None, None),
        Current::Ended => (None, Some(Notice::SessionEnded)),
    };
    Ok(Viewer {
        user,
        notice,
        local_provider: auth.settings().is_local_provider(),
    })
}

/// Fetches the user's profile again from the provider's userinfo endpoint,
/// refreshing the access token first if needed.
#[server(endpoint = "reload_profile")]
pub async fn reload_profile() -> Result<(), ApiError> {
    let (auth, session) = request_context().await?;
    crate::auth::reload_profile(&auth, &session)
        .await
        .map_err(to_api_error)?
        .ok_or_else(|| {
            respond(Some(axum::http::StatusCode::UNAUTHORIZED));
            ApiError::SignedOut
        })
}

/// Ends the session here and at the provider. The browser is sent to the
/// provider's end-session endpoint, which sends it back to the home page.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), ApiError> {
    let (auth, session) = request_context().await?;
    let next = crate::auth::logout(&auth, &session)
        .await
        .map_err(to_api_error)?;
    leptos_axum::redirect(&next);
    Ok(())
}

/// The BFF handle and this request's session.
#[cfg(feature = "ssr")]
async fn request_context() -> Result<(crate::auth::Auth, tower_sessions::Session), ApiError> {
    respond(None);
    let auth = use_context::<crate::auth::Auth>().ok_or_else(|| {
        tracing::error!("the server function has no auth context; see server/src/lib.rs");
        ApiError::Internal
    })?;
    let session = leptos_axum::extract::<tower_sessions::Session>()
        .await
        .map_err(|_| {
            tracing::error!("the server function has no session; is the session layer around it?");
            ApiError::Internal
        })?;
    Ok((auth, session))
}

/// The one place a server function sets its response's headers: every answer
/// depends on the session, so none may be stored by a cache; an error also
/// sets its status.
#[cfg(feature = "ssr")]
fn respond(status: Option<axum::http::StatusCode>) {
    use axum::http::{header, HeaderValue};
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(status) = status {
            response.set_status(status);
        }
    }
}

/// The browser learns what it can act on, and nothing of the server's inner
/// workings: those go to the log.
#[cfg(feature = "ssr")]
fn to_api_error(error: crate::auth::AuthError) -> ApiError {
    use crate::auth::AuthError;
    error.log("server_fn");
    respond(Some(error.status()));
    match error {
        AuthError::SessionStore | AuthError::HttpClient => ApiError::Internal,
        _ => ApiError::Unavailable,
    }
}
