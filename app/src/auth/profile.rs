//! The user's profile, fetched again from the provider on request.

use tower_sessions::Session;

use super::error::Endpoint;
use super::session::{self, UserSession};
use super::tokens::{self, Current};
use super::{Auth, AuthError};

/// Asks the provider's userinfo endpoint for the user's profile again, with
/// a fresh access token, and stores it. `None` when nobody is signed in.
pub(crate) async fn reload(auth: &Auth, session: &Session) -> Result<Option<()>, AuthError> {
    let Current::SignedIn(user) = tokens::current(auth, session).await? else {
        return Ok(None);
    };
    let Some(id) = session.id() else {
        return Ok(None);
    };
    let userinfo = auth
        .provider()?
        .userinfo(auth.http(), &user.tokens.access_token, user.subject())
        .await
        .map_err(|failure| AuthError::Provider {
            endpoint: Endpoint::Userinfo,
            failure,
        })?;
    let userinfo = serde_json::to_value(&userinfo).map_err(|_| AuthError::SessionStore)?;
    // Written into the stored session as it is now: while we waited, a
    // refresh may have rotated its tokens, or the user may have signed out.
    let updated = session::update(auth.store(), &id, |stored| {
        stored.userinfo = userinfo.clone()
    })
    .await?;
    Ok(updated.map(|_| ()))
}

/// The provider said the profile changed (an Authgear event): fetch it again
/// now. On failure the page shows what it had, and the next view tries again.
pub(crate) async fn catch_up(
    auth: &Auth,
    session: &Session,
    user: Box<UserSession>,
) -> Box<UserSession> {
    let (Some(id), Ok(provider)) = (session.id(), auth.provider()) else {
        return user;
    };
    let userinfo = match provider
        .userinfo(auth.http(), &user.tokens.access_token, user.subject())
        .await
    {
        Ok(userinfo) => userinfo,
        Err(failure) => {
            tracing::warn!(%failure, "the changed profile could not be fetched");
            return user;
        }
    };
    let Ok(userinfo) = serde_json::to_value(&userinfo) else {
        return user;
    };
    match session::update(auth.store(), &id, |stored| {
        stored.userinfo = userinfo.clone();
        stored.profile_stale = false;
    })
    .await
    {
        Ok(Some(updated)) => Box::new(updated),
        _ => user,
    }
}
