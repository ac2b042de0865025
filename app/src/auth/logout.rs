//! Ending sessions: the user's own logout (reached only by a same-origin
//! POST), and the session a new sign-in replaces. The local session ends
//! first, so it is over even when the provider is down.

use openidconnect::{LogoutRequest, PostLogoutRedirectUrl, RefreshToken};
use tower_sessions::session::Id;
use tower_sessions::Session;

use super::{session, Auth, AuthError};

/// Ends the session and returns where the browser goes next: the provider's
/// end-session endpoint when it has one, so the provider's own session ends
/// too, or the home page.
pub(crate) async fn logout(auth: &Auth, session: &Session) -> Result<String, AuthError> {
    let home = auth.settings().post_logout_redirect_url();
    let user = session::load(session).await?;
    session::end(session).await?;
    let Some(user) = user else {
        return Ok(home);
    };
    revoke_quietly(auth, user.tokens.refresh_token.as_ref()).await;

    let Ok(provider) = auth.provider() else {
        return Ok(home);
    };
    let (Some(end_session), Ok(post_logout)) = (
        &provider.end_session,
        PostLogoutRedirectUrl::new(home.clone()),
    ) else {
        return Ok(home);
    };
    Ok(LogoutRequest::from(end_session.clone())
        .set_id_token_hint(&user.id_token)
        .set_post_logout_redirect_uri(post_logout)
        .set_client_id(auth.settings().client_id.clone())
        .http_get_url()
        .to_string())
}

/// Ends the session a new sign-in replaces, and revokes its refresh token.
pub(crate) async fn end_replaced(auth: &Auth, id: &str) {
    let Ok(id) = id.parse::<Id>() else {
        return;
    };
    match session::take(auth.store(), &id).await {
        Ok(Some(user)) => {
            tracing::info!("a new sign-in replaced the previous session");
            revoke_quietly(auth, user.tokens.refresh_token.as_ref()).await;
        }
        Ok(None) => {}
        // The new session stands; the old one expires on its own.
        Err(error) => error.log("replace_session"),
    }
}

/// Revokes a refresh token at the provider, if there is one to revoke. A
/// failure is logged, not returned: the session is over either way, and an
/// unrevoked token still expires. False only when the provider was asked
/// and did not confirm (or could not be asked).
pub(crate) async fn revoke_quietly(auth: &Auth, refresh_token: Option<&RefreshToken>) -> bool {
    let Some(refresh_token) = refresh_token else {
        return true;
    };
    let Ok(provider) = auth.provider() else {
        return false;
    };
    match provider.revoke(auth.http(), refresh_token).await {
        Ok(true) => {
            tracing::debug!("refresh token revoked");
            true
        }
        // The provider has no revocation endpoint: nothing more to do.
        Ok(false) => true,
        Err(failure) => {
            tracing::warn!(%failure, "token revocation failed");
            false
        }
    }
}
