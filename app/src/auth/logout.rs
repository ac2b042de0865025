//! Ending sessions: the user's own logout (reached only by a same-origin
//! POST), and the session a new sign-in replaces. The local session ends
//! first, so it is over even when the provider is down.

use openidconnect::{LogoutRequest, PostLogoutRedirectUrl};
use tower_sessions::session::Id;
use tower_sessions::Session;

use super::metrics::Ended;
use super::provider::revoke_quietly;
use super::{Auth, AuthError};

/// Ends the session and returns where the browser goes next: the provider's
/// end-session endpoint when it has one, so the provider's own session ends
/// too, or the home page.
pub(crate) async fn logout(auth: &Auth, session: &Session) -> Result<String, AuthError> {
    let home = auth.settings().post_logout_redirect_url();
    // As stored now, not as cached: its refresh token may have just rotated.
    let user = match session.id() {
        Some(id) => auth.sessions().get(&id).await?,
        None => None,
    };
    auth.sessions().delete_current(session).await?;
    let Some(user) = user else {
        return Ok(home);
    };
    auth.metrics().session_ended(Ended::Logout);
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
    match auth.sessions().delete(&id).await {
        Ok(Some(user)) => {
            tracing::info!("a new sign-in replaced the previous session");
            auth.metrics().session_ended(Ended::Replaced);
            revoke_quietly(auth, user.tokens.refresh_token.as_ref()).await;
        }
        Ok(None) => {}
        // The new session stands; the old one expires on its own.
        Err(error) => error.log("replace_session"),
    }
}
