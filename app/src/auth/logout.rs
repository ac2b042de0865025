//! Signing out. Reached only by a same-origin POST (the server rejects
//! cross-site ones before any handler runs). The local session ends first, so
//! it is over even when the provider is down.

use openidconnect::{LogoutRequest, PostLogoutRedirectUrl, RefreshToken, RevocationUrl};
use tower_sessions::Session;

use super::provider::error_chain;
use super::session;
use super::{Auth, AuthError};

/// Ends the session and returns where the browser goes next: the provider's
/// end-session endpoint when it has one, so the provider's own session ends
/// too, or the home page.
pub async fn logout(auth: &Auth, session: &Session) -> Result<String, AuthError> {
    let home = auth.settings().post_logout_redirect_url();
    let record = session::load(session).await?;
    session::end(session).await?;
    let Some(record) = record else {
        return Ok(home);
    };

    let Ok(provider) = auth.provider() else {
        return Ok(home);
    };
    if let (Some(url), Some(refresh_token)) = (&provider.revocation, &record.tokens.refresh_token) {
        match revoke(auth, url, refresh_token).await {
            Ok(()) => tracing::debug!("refresh token revoked"),
            // The local session is gone either way; the token will expire.
            Err(reason) => tracing::warn!(%reason, "token revocation failed"),
        }
    }

    let Some(end_session) = &provider.end_session else {
        return Ok(home);
    };
    let Ok(post_logout) = PostLogoutRedirectUrl::new(home.clone()) else {
        return Ok(home);
    };
    Ok(LogoutRequest::from(end_session.clone())
        .set_id_token_hint(&record.id_token)
        .set_post_logout_redirect_uri(post_logout)
        .set_client_id(auth.settings().client_id.clone())
        .http_get_url()
        .to_string())
}

/// Revokes a refresh token (RFC 7009) with the client's credentials.
///
/// Sent by hand rather than with `openidconnect`'s `revoke_token`, which
/// refuses any `http` endpoint, the local development provider's included.
async fn revoke(auth: &Auth, url: &RevocationUrl, token: &RefreshToken) -> Result<(), String> {
    let settings = auth.settings();
    let encode =
        |value: &str| url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
    let response = auth
        .http()
        .post(url.url().clone())
        // RFC 6749 §2.3.1: credentials are form-encoded before Basic encoding.
        .basic_auth(
            encode(settings.client_id.as_str()),
            Some(encode(settings.client_secret.secret())),
        )
        .form(&[
            ("token", token.secret().as_str()),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .map_err(|error| error_chain(&error))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!(
            "the revocation endpoint answered {}",
            response.status()
        ))
    }
}
