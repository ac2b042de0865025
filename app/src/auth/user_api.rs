//! The JSON endpoint the page's API panel calls to reach an API on the user's
//! behalf: the server attaches the access token it holds (renewed first if
//! it is due), calls the API, and answers with the result. The browser never
//! sees the token. The provider's userinfo endpoint stands in for "an API";
//! an app's own API is called the same way.
//!
//! Like every route that answers with user data, it is for this app's own
//! pages only: `guard` refuses it to other origins, even for a GET.

use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use tower_sessions::Session;

use super::lifecycle::{self, Current};
use super::{profile, Auth, AuthError};
use serde_json::value::RawValue;

use super::error::{Endpoint, Upstream};

use crate::model::{ApiCall, ApiError};

/// `GET /api/userinfo`: `ApiCall` as JSON, or an `ApiError` with its status.
pub(crate) async fn userinfo(State(auth): State<Auth>, session: Session) -> Response {
    let (status, body) = match call(&auth, &session).await {
        Ok(Some(call)) => (StatusCode::OK, Json(call).into_response()),
        Ok(None) => (
            StatusCode::UNAUTHORIZED,
            Json(ApiError::SignedOut).into_response(),
        ),
        Err(error) => {
            error.log("user_api");
            let status = error.status();
            (status, Json(ApiError::from(error)).into_response())
        }
    };
    (status, [(CACHE_CONTROL, "no-store")], body).into_response()
}

async fn call(auth: &Auth, session: &Session) -> Result<Option<ApiCall>, AuthError> {
    let Current::SignedIn(user) = lifecycle::current(auth, session).await? else {
        return Ok(None);
    };
    auth.limit_action(session.id())?;
    let userinfo = profile::fetch(auth, &user.tokens.access_token, user.subject()).await?;
    let response = serde_json::to_string_pretty(&userinfo)
        .ok()
        .and_then(|json| RawValue::from_string(json).ok())
        .ok_or(AuthError::Provider {
            endpoint: Endpoint::Userinfo,
            failure: Upstream::Malformed,
        })?;
    Ok(Some(ApiCall {
        response,
        access_token_expires_in: user.tokens.expires_in(auth.settings().clock.now()),
    }))
}
