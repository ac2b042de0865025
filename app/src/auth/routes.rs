//! The plain HTTP routes of the BFF: the links that send the browser to the
//! provider (`/login`, `/signup`, `/reauthenticate`, `/account-settings`),
//! `/callback`, which the provider's redirect reaches, the JSON API the page
//! calls (see `user_api`), and the two endpoints the provider posts events
//! to (see `events`).

use std::sync::Arc;

use axum::extract::{FromRef, RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, USER_AGENT};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use time::OffsetDateTime;
use tower_sessions::Session;

use super::authorize::{AuthorizeOptions, Intent};
use super::cookies::SignInCookies;
use super::flow::{self, CallbackParams};
use super::session::{self, UserSession};
use super::{events, logout, step_up, user_api, Auth, AuthError};
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
        .route(paths::LOGIN, get(sign_in))
        .route(paths::SIGNUP, get(sign_in))
        .route(paths::REAUTHENTICATE, get(reauthenticate))
        .route(paths::ACCOUNT_SETTINGS, get(account_settings))
        .route(paths::CALLBACK, get(callback))
        .route(paths::USERINFO_API, get(user_api::userinfo))
        .route(paths::AUTHGEAR_WEBHOOK, post(events::authgear_webhook))
        .route(paths::BACKCHANNEL_LOGOUT, post(events::backchannel_logout))
}

/// `GET /login[?return_to=/path]`: starts a sign-in at the provider;
/// `GET /signup[…]`, the same on the provider's sign-up page.
async fn sign_in(
    State(auth): State<Auth>,
    session: Session,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, AuthError> {
    let intent = if uri.path() == paths::SIGNUP {
        Intent::SignUp
    } else {
        Intent::SignIn
    };
    let current = auth.sessions().get_cached(&session).await?;
    to_provider(
        &auth,
        &session,
        &headers,
        uri.query(),
        intent,
        current,
        None,
    )
}

/// `GET /reauthenticate[?return_to=/path]`: the signed-in user signs in
/// again at the provider, whatever its session says (`prompt=login`), and
/// the callback checks it was them, just now. A guest simply signs in.
async fn reauthenticate(
    State(auth): State<Auth>,
    session: Session,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, AuthError> {
    let Some(user) = auth.sessions().get_cached(&session).await? else {
        return to_provider(
            &auth,
            &session,
            &headers,
            query.as_deref(),
            Intent::SignIn,
            None,
            None,
        );
    };
    let intent = step_up::intent(&user, auth.settings())?;
    let subject = user.subject().map(str::to_owned);
    to_provider(
        &auth,
        &session,
        &headers,
        query.as_deref(),
        intent,
        Some(user),
        subject,
    )
}

/// Sends the browser to the provider with a new sign-in transaction.
///
/// Signing in again replaces the current session (`current`). This is the
/// last request that carries its `Strict` cookie (the provider's redirect
/// back will not), so its id travels in the sign-in transaction, and the old
/// session ends when the new one begins.
fn to_provider(
    auth: &Auth,
    session: &Session,
    headers: &HeaderMap,
    query: Option<&str>,
    intent: Intent,
    current: Option<Arc<UserSession>>,
    step_up: Option<String>,
) -> Result<Response, AuthError> {
    let return_to = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "return_to")
        .map(|(_, value)| value.into_owned());
    let replaces = current.and(session.id()).map(|id| id.to_string());
    let options = AuthorizeOptions::from_headers(intent, headers);
    let (provider_url, transaction) =
        flow::begin(auth, &options, return_to.as_deref(), replaces, step_up)?;
    let jar = SignInCookies::from_headers(headers, auth.settings()).remember(&transaction)?;
    Ok((
        [(CACHE_CONTROL, "no-store")],
        jar,
        Redirect::to(provider_url.as_str()),
    )
        .into_response())
}

/// `GET /account-settings`: to the provider's account settings page. The
/// user may change their profile there, so the next page view here fetches
/// it again.
async fn account_settings(
    State(auth): State<Auth>,
    session: Session,
) -> Result<Response, AuthError> {
    let Some(target) = auth.settings().account_settings.clone() else {
        return Ok(StatusCode::NOT_FOUND.into_response());
    };
    if let Some(id) = session.id() {
        auth.sessions()
            .update(&id, UserSession::profile_changed)
            .await?;
    }
    Ok(([(CACHE_CONTROL, "no-store")], Redirect::to(target.as_str())).into_response())
}

/// `GET /callback?code=…&state=…`: the provider sends the browser back here.
async fn callback(
    State(auth): State<Auth>,
    session: Session,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = CallbackParams::parse(query.as_deref());
    // One use only: whatever happens next, this sign-in transaction is spent.
    let (jar, transaction, others_pending) =
        SignInCookies::from_headers(&headers, auth.settings()).take(params.state.as_deref());

    let signed_in = async {
        let now = OffsetDateTime::now_utc();
        let code = flow::check_callback(params, transaction.as_ref(), others_pending, now)?;
        let transaction = transaction.ok_or(AuthError::NoSignInInProgress)?;
        let return_to = transaction.return_to.clone();
        let replaces = transaction.replaces.clone();
        let mut user = flow::finish(&auth, code, transaction).await?;
        let user_agent = headers
            .get(USER_AGENT)
            .and_then(|value| value.to_str().ok());
        user.device = Some(session::device_label(user_agent));
        // Before the new session begins: if this request carries the old
        // session's cookie too, beginning would drop it unrevoked.
        if let Some(replaced) = replaces {
            logout::end_replaced(&auth, &replaced).await;
        }
        auth.sessions().create(&session, &user).await?;
        Ok::<_, AuthError>(return_to)
    }
    .await;

    // The callback URL carries the code and state: keep it out of any Referer.
    let headers = [
        (CACHE_CONTROL, "no-store"),
        (REFERRER_POLICY, "no-referrer"),
        (CONTENT_SECURITY_POLICY, csp::STANDALONE_PAGE),
    ];
    auth.metrics().sign_in(match &signed_in {
        Ok(_) => "ok",
        Err(error) => error.kind(),
    });
    match signed_in {
        Ok(return_to) => {
            tracing::info!(step = "callback", "user signed in");
            (headers, jar, Html(standalone::signed_in_hop(&return_to))).into_response()
        }
        Err(error) => (headers, jar, error).into_response(),
    }
}
