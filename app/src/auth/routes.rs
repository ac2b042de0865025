//! The plain HTTP routes of the BFF: `/login`, which a link reaches,
//! `/callback`, which the provider's redirect reaches, and the two endpoints
//! the provider posts events to (see `events`).

use axum::extract::{FromRef, RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use time::OffsetDateTime;
use tower_sessions::Session;

use super::cookies::LoginCookies;
use super::flow::{self, CallbackParams};
use super::{events, logout, session, Auth, AuthError};
use crate::csp;
use crate::pages::standalone;
use crate::paths;

/// The sign-in routes, for any router state from which the [`Auth`] handle
/// can be taken. They need the session layer around them.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Auth: FromRef<S>,
{
    Router::new()
        .route(paths::LOGIN, get(login))
        .route(paths::CALLBACK, get(callback))
        .route(paths::AUTHGEAR_WEBHOOK, post(events::authgear_webhook))
        .route(paths::BACKCHANNEL_LOGOUT, post(events::backchannel_logout))
}

/// `GET /login[?return_to=/path]`: starts a sign-in at the provider.
async fn login(
    State(auth): State<Auth>,
    session: Session,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, AuthError> {
    let return_to = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "return_to")
        .map(|(_, value)| value.into_owned());
    // Signing in again replaces the current session. This is the last
    // request that carries its `Strict` cookie (the provider's redirect back
    // will not), so its id travels in the login transaction, and the old
    // session ends when the new one begins.
    let replaces = match session::load(&session).await? {
        Some(_) => session.id().map(|id| id.to_string()),
        None => None,
    };
    let (provider_url, transaction) = flow::begin(&auth, return_to.as_deref(), replaces)?;
    let jar = LoginCookies::from_headers(&headers, auth.settings()).start(&transaction)?;
    Ok((
        [(CACHE_CONTROL, "no-store")],
        jar,
        Redirect::to(provider_url.as_str()),
    )
        .into_response())
}

/// `GET /callback?code=…&state=…`: the provider sends the browser back here.
async fn callback(
    State(auth): State<Auth>,
    session: Session,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = CallbackParams::parse(query.as_deref());
    // One use only: whatever happens next, this login transaction is spent.
    let (jar, transaction, others_pending) =
        LoginCookies::from_headers(&headers, auth.settings()).take(params.state.as_deref());

    let signed_in = async {
        let now = OffsetDateTime::now_utc();
        let code = flow::check_callback(params, transaction.as_ref(), others_pending, now)?;
        let transaction = transaction.ok_or(AuthError::NoLoginInProgress)?;
        let return_to = transaction.return_to.clone();
        let replaces = transaction.replaces.clone();
        let user = flow::finish(&auth, code, transaction).await?;
        // Before the new session begins: if this request carries the old
        // session's cookie too, beginning would drop it unrevoked.
        if let Some(replaced) = replaces {
            logout::end_replaced(&auth, &replaced).await;
        }
        session::begin(&session, &user).await?;
        Ok::<_, AuthError>(return_to)
    }
    .await;

    // The callback URL carries the code and state: keep it out of any Referer.
    let headers = [
        (CACHE_CONTROL, "no-store"),
        (REFERRER_POLICY, "no-referrer"),
        (CONTENT_SECURITY_POLICY, csp::STANDALONE_PAGE),
    ];
    match signed_in {
        Ok(return_to) => {
            tracing::info!(step = "callback", "user signed in");
            (headers, jar, Html(standalone::signed_in_hop(&return_to))).into_response()
        }
        Err(error) => (headers, jar, error).into_response(),
    }
}
