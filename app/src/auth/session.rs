//! The signed-in state: one typed record in the server-side session store.
//! The browser holds only the session cookie, an opaque random id.

use openidconnect::core::{CoreIdToken, CoreTokenResponse};
use openidconnect::{AccessToken, OAuth2TokenResponse, RefreshToken, Scope};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Duration, OffsetDateTime};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer, SessionStore};

use super::{AuthError, AuthSettings};
use crate::model::{display_name, SessionDetails, TokenMeta, UserView};

/// The key of the record inside the session.
const RECORD_KEY: &str = "auth";

/// A session expires this long after it was last saved. It is saved at
/// sign-in and at every token refresh, so it rolls for active users without
/// a store write on every page view (`with_always_save` would add one).
const IDLE_TIMEOUT: Duration = Duration::days(7);

/// Cookie settings for the session.
///
/// `SameSite=Strict`: no other site can make the browser send it, which is
/// the strongest CSRF defence there is. The return from the provider is a
/// cross-site navigation that would not carry it, so the callback works
/// without it (see `flow`) and hands over to the app with a same-site hop.
/// With https the `__Host-` prefix pins the cookie to this exact origin.
pub fn layer<S: SessionStore + Clone>(store: S, settings: &AuthSettings) -> SessionManagerLayer<S> {
    let secure = settings.secure_cookies();
    SessionManagerLayer::new(store)
        .with_name(if secure { "__Host-session" } else { "session" })
        .with_secure(secure)
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(IDLE_TIMEOUT))
}

/// Everything the server keeps about a signed-in user.
#[derive(Clone, Serialize, Deserialize)]
pub struct AuthSession {
    /// Kept only to send back as `id_token_hint` on logout.
    pub id_token: CoreIdToken,
    pub id_token_claims: Value,
    pub userinfo: Value,
    pub tokens: TokenSet,
}

/// The OAuth tokens and what is known about them.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenSet {
    pub access_token: AccessToken,
    pub refresh_token: Option<RefreshToken>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
    /// Unix seconds after which the access token is renewed before use.
    pub refresh_after: Option<i64>,
    pub scopes: Vec<String>,
}

/// Renew when this much of the lifetime is left, or a quarter of it for
/// short-lived tokens, so a token is never sent just as it expires.
const REFRESH_MARGIN_SECONDS: i64 = 30;

impl TokenSet {
    /// Reads a token response. A response without `scope` grants what was
    /// asked (RFC 6749 §5.1); one without a refresh token keeps the old one.
    pub fn from_response(
        response: &CoreTokenResponse,
        requested: &[Scope],
        previous_refresh_token: Option<RefreshToken>,
        now: OffsetDateTime,
    ) -> Self {
        let lifetime = response
            .expires_in()
            .and_then(|lifetime| i64::try_from(lifetime.as_secs()).ok());
        let now = now.unix_timestamp();
        let scopes = response
            .scopes()
            .map(|granted| granted.as_slice())
            .unwrap_or(requested)
            .iter()
            .map(|scope| scope.to_string())
            .collect();
        Self {
            access_token: response.access_token().clone(),
            refresh_token: response.refresh_token().cloned().or(previous_refresh_token),
            expires_at: lifetime.map(|lifetime| now + lifetime),
            refresh_after: lifetime
                .map(|lifetime| now + lifetime - (lifetime / 4).min(REFRESH_MARGIN_SECONDS)),
            scopes,
        }
    }

    pub fn needs_refresh(&self, now: OffsetDateTime) -> bool {
        self.refresh_after
            .is_some_and(|refresh_after| now.unix_timestamp() >= refresh_after)
    }

    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at
            .is_some_and(|expires_at| now.unix_timestamp() >= expires_at)
    }

    fn meta(&self) -> TokenMeta {
        TokenMeta {
            access_token_expires_at: self.expires_at.and_then(|seconds| {
                OffsetDateTime::from_unix_timestamp(seconds)
                    .ok()?
                    .format(&time::format_description::well_known::Rfc3339)
                    .ok()
            }),
            scopes: self.scopes.clone(),
            has_refresh_token: self.refresh_token.is_some(),
        }
    }
}

impl AuthSession {
    /// What the page may show: claims and token metadata, no token.
    pub fn view(&self) -> UserView {
        UserView {
            display_name: display_name(&[&self.userinfo, &self.id_token_claims]),
            session: SessionDetails {
                id_token_claims: self.id_token_claims.clone(),
                userinfo: self.userinfo.clone(),
                tokens: self.tokens.meta(),
            },
        }
    }
}

/// The signed-in user of this request, if any. A record this version of the
/// app cannot read counts as signed out rather than as an error.
pub async fn load(session: &Session) -> Result<Option<AuthSession>, AuthError> {
    match session.get::<AuthSession>(RECORD_KEY).await {
        Ok(record) => Ok(record),
        Err(tower_sessions::session::Error::SerdeJson(error)) => {
            tracing::warn!(%error, "unreadable session record; signing the user out");
            end(session).await?;
            Ok(None)
        }
        Err(error) => Err(error.into()),
    }
}

/// Saves a changed record for an existing session.
pub async fn save(session: &Session, record: &AuthSession) -> Result<(), AuthError> {
    Ok(session.insert(RECORD_KEY, record).await?)
}

/// Starts a signed-in session under a new id, so an id planted in the
/// browser before login (session fixation) is worth nothing after it.
pub async fn begin(session: &Session, record: &AuthSession) -> Result<(), AuthError> {
    session.cycle_id().await?;
    session.clear().await;
    save(session, record).await
}

/// Deletes the session from the store and expires the cookie.
pub async fn end(session: &Session) -> Result<(), AuthError> {
    Ok(session.flush().await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openidconnect::core::CoreIdToken;
    use serde_json::json;
    use std::str::FromStr;

    const ACCESS: &str = "ACCESS-TOKEN-VALUE-123";
    const REFRESH: &str = "REFRESH-TOKEN-VALUE-456";
    // A syntactically valid JWT; the view must not show it either.
    const ID_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2V4YW1wbGUuYXV0aGdlYXIuY2xvdWQiLCJhdWQiOiJjIiwiZXhwIjoxODAwMDAwMDAwLCJpYXQiOjE3MDAwMDAwMDAsInN1YiI6InVzZXItNDIifQ.c2lnbmF0dXJl";

    fn record() -> AuthSession {
        AuthSession {
            id_token: CoreIdToken::from_str(ID_TOKEN).expect("jwt"),
            id_token_claims: json!({"sub": "user-42", "iss": "https://example.authgear.cloud"}),
            userinfo: json!({"sub": "user-42", "email": "ada@example.com"}),
            tokens: TokenSet {
                access_token: AccessToken::new(ACCESS.into()),
                refresh_token: Some(RefreshToken::new(REFRESH.into())),
                expires_at: Some(1_800_000_000),
                refresh_after: Some(1_799_999_970),
                scopes: vec!["openid".into(), "offline_access".into()],
            },
        }
    }

    #[test]
    fn the_session_view_never_contains_a_token() {
        let view = record().view();
        let shown = serde_json::to_string(&view).expect("json") + &view.session.pretty_json();
        for secret in [ACCESS, REFRESH, ID_TOKEN, "eyJ"] {
            assert!(!shown.contains(secret), "{secret} leaked into {shown}");
        }
        assert_eq!(view.display_name, "ada@example.com");
        assert!(view.session.tokens.has_refresh_token);
        assert_eq!(
            view.session.tokens.access_token_expires_at.as_deref(),
            Some("2027-01-15T08:00:00Z")
        );
    }

    #[test]
    fn refresh_is_due_a_margin_before_expiry() {
        let tokens = record().tokens;
        let at = |seconds| OffsetDateTime::from_unix_timestamp(seconds).expect("time");
        assert!(!tokens.needs_refresh(at(1_799_999_969)));
        assert!(tokens.needs_refresh(at(1_799_999_970)));
        assert!(!tokens.is_expired(at(1_799_999_999)));
        assert!(tokens.is_expired(at(1_800_000_000)));
    }
}
