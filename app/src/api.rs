//! Server functions: thin wrappers that find the session, call into `auth`,
//! and translate its errors. They run on the server; the browser calls them
//! over HTTP under `paths::API_PREFIX`.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::model::Notice;
use crate::model::{AdminAccess, ApiError, SecurityCheck, Viewer};

/// Who is looking at the page, as JSON. Pages get the same answer from
/// `viewer` before they render. Calls the provider only when the access
/// token is due for renewal.
#[server(endpoint = "viewer")]
pub async fn current_viewer() -> Result<Viewer, ApiError> {
    let (auth, session) = request_context().await?;
    viewer(&auth, &session).await.map_err(to_api_error)
}

/// Who is looking: the user's view, or a guest with a notice when their
/// session has just ended.
#[cfg(feature = "ssr")]
pub async fn viewer(
    auth: &crate::auth::Auth,
    session: &tower_sessions::Session,
) -> Result<Viewer, crate::auth::AuthError> {
    use crate::auth::{current, Current};
    let (user, notice) = match current(auth, session).await? {
        Current::SignedIn(user) => {
            let mut view = user.view();
            view.is_admin = view.claims.has_role(&auth.settings().admin_role);
            (Some(view), None)
        }
        Current::Guest => (None, None),
        Current::Ended => (None, Some(Notice::SessionEnded)),
    };
    Ok(Viewer {
        user,
        notice,
        local_provider: auth.settings().is_local_provider(),
        account_settings: auth.settings().account_settings.is_some(),
    })
}

/// The security page's gate: a sign-in no older than the configured step-up
/// age. An older one sends the browser through the provider again; a user
/// who cannot sign in again is told why instead.
#[server(endpoint = "security")]
pub async fn security_gate() -> Result<SecurityCheck, ApiError> {
    use crate::auth::{current, is_recent, rfc3339, Current};
    use axum::http::StatusCode;
    let (auth, session) = request_context().await?;
    let Current::SignedIn(user) = current(&auth, &session).await.map_err(to_api_error)? else {
        respond(Some(StatusCode::UNAUTHORIZED));
        return Ok(SecurityCheck::SignedOut);
    };
    let claims = user.claims();
    let max_age = auth.settings().step_up_max_age;
    let now = time::OffsetDateTime::now_utc();
    match user.signed_in_at() {
        Some(at) if is_recent(at.unix_timestamp(), max_age, now.unix_timestamp()) => {
            let until = time::Duration::try_from(max_age)
                .ok()
                .and_then(|age| at.checked_add(age));
            Ok(SecurityCheck::Confirmed {
                signed_in_at: rfc3339(at).unwrap_or_default(),
                recent_until: until.and_then(rfc3339).unwrap_or_default(),
                methods: claims.amr,
            })
        }
        _ if !claims.can_reauthenticate => {
            respond(Some(StatusCode::FORBIDDEN));
            Ok(SecurityCheck::CannotReauthenticate)
        }
        _ => {
            let to = format!(
                "{}?return_to={}",
                crate::paths::REAUTHENTICATE,
                crate::paths::SECURITY
            );
            leptos_axum::redirect(&to);
            Ok(SecurityCheck::Reauthenticating { to })
        }
    }
}

/// The admin page's gate: the configured role, from the provider's claims.
#[server(endpoint = "admin")]
pub async fn admin_gate() -> Result<AdminAccess, ApiError> {
    use crate::auth::{current, Current};
    use axum::http::StatusCode;
    let (auth, session) = request_context().await?;
    let role = auth.settings().admin_role.clone();
    let Current::SignedIn(user) = current(&auth, &session).await.map_err(to_api_error)? else {
        respond(Some(StatusCode::UNAUTHORIZED));
        return Ok(AdminAccess::SignedOut);
    };
    if user.claims().has_role(&role) {
        Ok(AdminAccess::Granted {
            role,
            name: user.view().display_name,
        })
    } else {
        tracing::info!(
            kind = "forbidden",
            status = 403,
            "admin page refused: role missing"
        );
        respond(Some(StatusCode::FORBIDDEN));
        Ok(AdminAccess::Forbidden { role })
    }
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
    error.log("server_fn");
    respond(Some(error.status()));
    error.into()
}
