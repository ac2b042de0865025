//! The user's profile, fetched again from the provider on request.

use tower_sessions::Session;

use super::error::Endpoint;
use super::tokens::{self, Current};
use super::{session, Auth, AuthError};

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
    let updated = session::update(auth.store(), &id, |stored| stored.userinfo = userinfo).await?;
    Ok(updated.map(|_| ()))
}
