//! The user's profile, fetched again from the provider: on request, or on
//! the first page view after the provider said it changed.

use std::sync::Arc;

use tower_sessions::session::Id;
use tower_sessions::Session;

use openidconnect::AccessToken;

use super::error::{Endpoint, Upstream};
use super::session::UserSession;
use super::{Auth, AuthError};

/// Asks the provider's userinfo endpoint for the profile of `user`, the
/// session's user as made current for this request (its access token
/// fresh), and stores it. `None` when the session has ended meanwhile.
pub(crate) async fn reload(
    auth: &Auth,
    session: &Session,
    user: &UserSession,
) -> Result<Option<()>, AuthError> {
    let Some(id) = session.id() else {
        return Ok(None);
    };
    auth.limit_action(Some(id))?;
    Ok(refetch(auth, &id, user).await?.map(|_| ()))
}

/// The provider said the profile changed (an Authgear event): fetch it again
/// now. One request, on one instance, does so; the others show what they
/// have. If the provider does not answer, the next try waits
/// `refresh_retry_after`, so a provider that is down costs no timeout on
/// every page view.
pub(crate) async fn catch_up(
    auth: &Auth,
    session: &Session,
    user: Arc<UserSession>,
) -> Arc<UserSession> {
    let Some(id) = session.id() else {
        return user;
    };
    let claim = format!("profile:{}", super::Store::key_of(&id));
    if !matches!(
        auth.store()
            .claim(&claim, auth.settings().refresh_retry_after)
            .await,
        Ok(true)
    ) {
        return user;
    }
    match refetch(auth, &id, &user).await {
        Ok(Some(updated)) => {
            // Done: the next event may start again at once.
            if let Err(error) = auth.store().release(&claim).await {
                tracing::warn!(%error, "the profile claim could not be released");
            }
            Arc::new(updated)
        }
        Ok(None) => user,
        Err(error) => {
            error.log("profile");
            user
        }
    }
}

/// The user's claims from the provider's userinfo endpoint, as JSON, for
/// the access token given; an answer about anyone but `subject` is refused.
pub(crate) async fn fetch(
    auth: &Auth,
    access_token: &AccessToken,
    subject: Option<&str>,
) -> Result<serde_json::Value, AuthError> {
    let failed = |failure| AuthError::Provider {
        endpoint: Endpoint::Userinfo,
        failure,
    };
    let userinfo = auth
        .provider()?
        .userinfo(auth.http(), access_token, subject)
        .await
        .map_err(failed)?;
    serde_json::to_value(&userinfo).map_err(|_| failed(Upstream::Malformed))
}

/// Fetches userinfo with the user's access token and writes it into the
/// session as stored now: while we waited, a refresh may have rotated its
/// tokens, or the user may have signed out (`None`).
async fn refetch(
    auth: &Auth,
    id: &Id,
    user: &UserSession,
) -> Result<Option<UserSession>, AuthError> {
    // The changes known before the fetch are the ones its answer reflects.
    let caught_up = user.profile_changes;
    let userinfo = fetch(auth, &user.tokens.access_token, user.subject()).await?;
    auth.sessions()
        .update(id, |stored| {
            stored.userinfo = userinfo.clone();
            stored.profile_seen = stored.profile_seen.max(caught_up);
        })
        .await
}
