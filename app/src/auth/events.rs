//! Sessions ended (or profiles changed) from outside: Authgear's signed
//! webhooks, and OpenID Connect Back-Channel Logout for other providers.
//!
//! Neither request carries a cookie or an `Origin`: each is authenticated by
//! its signature alone, checked before anything changes. `guard` lets exactly
//! these two paths through its same-origin check.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;
use time::OffsetDateTime;

use super::{session, Auth};

/// The `events` member that marks a logout token (Back-Channel Logout 1.0 §2.4).
const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A logout token issued longer ago than this is refused, and its `jti` is
/// remembered this long: a replay of it is refused either way.
const LOGOUT_TOKEN_MAX_AGE: time::Duration = time::Duration::minutes(5);

/// A clock this far ahead of ours is still believed.
const CLOCK_SKEW: time::Duration = time::Duration::minutes(1);

/// An event from Authgear, as much of it as the app reads.
#[derive(Deserialize)]
struct AuthgearEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    payload: Value,
}

/// What an Authgear event means for the sessions of its user.
#[derive(Debug, PartialEq, Eq)]
enum Effect {
    EndSessions,
    ProfileChanged,
    None,
}

fn effect_of(kind: &str) -> Effect {
    match kind {
        "user.disabled"
        | "user.deleted"
        | "user.deletion_scheduled"
        | "user.anonymous.deleted"
        | "user.signed_out"
        | "user.session.terminated" => Effect::EndSessions,
        "user.profile.updated" => Effect::ProfileChanged,
        kind if kind.starts_with("identity.") => Effect::ProfileChanged,
        _ => Effect::None,
    }
}

/// `POST /webhooks/authgear`: Authgear's non-blocking events, signed with
/// `AUTHGEAR_WEBHOOK_SECRET`.
pub(crate) async fn authgear_webhook(
    State(auth): State<Auth>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(secret) = &auth.settings().webhook_secret else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let signature = headers
        .get("x-authgear-body-signature")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| hex::decode(value.trim()).ok());
    if !signature.is_some_and(|signature| secret.signed(&body, &signature)) {
        tracing::info!(
            kind = "webhook_signature",
            status = 401,
            "webhook refused: bad signature"
        );
        return answer(StatusCode::UNAUTHORIZED);
    }
    let Ok(event) = serde_json::from_slice::<AuthgearEvent>(&body) else {
        tracing::info!(
            kind = "webhook_body",
            status = 400,
            "webhook refused: not an event"
        );
        return answer(StatusCode::BAD_REQUEST);
    };
    let effect = effect_of(&event.kind);
    let subject = event
        .payload
        .pointer("/user/id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let (Some(subject), false) = (subject, effect == Effect::None) else {
        tracing::debug!(event = %event.kind, "webhook event not used");
        return answer(StatusCode::OK);
    };
    let outcome = match effect {
        Effect::EndSessions => auth
            .store()
            .end_subject(&subject)
            .await
            .map_err(session::store_error),
        _ => session::mark_profile_stale(auth.store(), &subject).await,
    }
    .map(|sessions| {
        tracing::info!(event = %event.kind, sessions, "an Authgear event applied");
    });
    match outcome {
        Ok(()) => answer(StatusCode::OK),
        // Authgear retries what failed.
        Err(error) => {
            error.log("authgear_event");
            answer(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

/// The webhook signing secret. Never printed.
#[derive(Clone)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    /// True if `signature` is this secret's HMAC-SHA256 of `body`, compared
    /// in constant time.
    fn signed(&self, body: &[u8], signature: &[u8]) -> bool {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.0.as_bytes()) else {
            return false;
        };
        mac.update(body);
        mac.verify_slice(signature).is_ok()
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

/// Why a logout token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
enum LogoutTokenProblem {
    #[error("no logout_token")]
    Missing,
    #[error("its signature: {0}")]
    Signature(super::error::IdTokenProblem),
    #[error("its issuer is not the provider")]
    Issuer,
    #[error("its audience is not this client")]
    Audience,
    #[error("no iat, or one too old or in the future")]
    IssuedAt,
    #[error("it has expired")]
    Expired,
    #[error("no jti")]
    NoId,
    #[error("its jti was used before")]
    Replayed,
    #[error("no back-channel logout event")]
    Event,
    #[error("neither sid nor sub")]
    NoSubject,
    #[error("it carries a nonce")]
    Nonce,
}

/// `POST /backchannel-logout`: OpenID Connect Back-Channel Logout 1.0.
pub(crate) async fn backchannel_logout(State(auth): State<Auth>, body: Bytes) -> Response {
    let enabled = auth.settings().backchannel_logout
        && auth
            .provider()
            .is_ok_and(|provider| provider.backchannel_logout);
    if !enabled {
        return StatusCode::NOT_FOUND.into_response();
    }
    let token = url::form_urlencoded::parse(&body)
        .find(|(key, _)| key == "logout_token")
        .map(|(_, value)| value.into_owned());
    let ended = match logout_target(&auth, token.as_deref()).await {
        Ok(Target::Sid(sid)) => auth.store().end_sid(&sid).await,
        Ok(Target::Subject(subject)) => auth.store().end_subject(&subject).await,
        Err(problem) => {
            tracing::info!(kind = "logout_token", status = 400, reason = %problem, "back-channel logout refused");
            return answer(StatusCode::BAD_REQUEST);
        }
    };
    match ended {
        Ok(ended) => {
            tracing::info!(ended, "sessions ended by back-channel logout");
            answer(StatusCode::OK)
        }
        Err(error) => {
            tracing::warn!(%error, "a back-channel logout could not be applied");
            answer(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

enum Target {
    Sid(String),
    Subject(String),
}

/// Validates a logout token fully (§2.6), then spends its `jti`.
async fn logout_target(auth: &Auth, token: Option<&str>) -> Result<Target, LogoutTokenProblem> {
    let token = token.ok_or(LogoutTokenProblem::Missing)?;
    let provider = auth.provider().map_err(|_| LogoutTokenProblem::Missing)?;
    let claims = provider
        .verify_signed_claims(auth.http(), token)
        .await
        .map_err(LogoutTokenProblem::Signature)?;
    let settings = auth.settings();
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(settings.issuer.as_str()) {
        return Err(LogoutTokenProblem::Issuer);
    }
    let client_id = settings.client_id.as_str();
    let for_us = match claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(client_id)),
        _ => false,
    };
    if !for_us {
        return Err(LogoutTokenProblem::Audience);
    }
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let seconds = |name: &str| claims.get(name).and_then(Value::as_i64);
    let iat = seconds("iat").ok_or(LogoutTokenProblem::IssuedAt)?;
    if iat < now - LOGOUT_TOKEN_MAX_AGE.whole_seconds() || iat > now + CLOCK_SKEW.whole_seconds() {
        return Err(LogoutTokenProblem::IssuedAt);
    }
    if seconds("exp").is_some_and(|exp| exp + CLOCK_SKEW.whole_seconds() < now) {
        return Err(LogoutTokenProblem::Expired);
    }
    let event = claims
        .get("events")
        .and_then(|events| events.get(BACKCHANNEL_LOGOUT_EVENT));
    if !event.is_some_and(Value::is_object) {
        return Err(LogoutTokenProblem::Event);
    }
    if claims.get("nonce").is_some() {
        return Err(LogoutTokenProblem::Nonce);
    }
    let target = match (text("sid"), text("sub")) {
        (Some(sid), _) => Target::Sid(sid.to_owned()),
        (None, Some(sub)) => Target::Subject(sub.to_owned()),
        (None, None) => return Err(LogoutTokenProblem::NoSubject),
    };
    let jti = text("jti").ok_or(LogoutTokenProblem::NoId)?;
    // Last, so that a token refused for another reason spends nothing.
    let key = format!("logout-token:{jti}");
    let ttl = (LOGOUT_TOKEN_MAX_AGE + CLOCK_SKEW).unsigned_abs();
    match auth.store().claim(&key, ttl).await {
        Ok(true) => Ok(target),
        _ => Err(LogoutTokenProblem::Replayed),
    }
}

fn answer(status: StatusCode) -> Response {
    (status, [(CACHE_CONTROL, "no-store")]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_events_that_end_sessions_and_those_that_change_profiles() {
        for kind in [
            "user.disabled",
            "user.deleted",
            "user.deletion_scheduled",
            "user.signed_out",
            "user.session.terminated",
        ] {
            assert_eq!(effect_of(kind), Effect::EndSessions, "{kind}");
        }
        for kind in [
            "user.profile.updated",
            "identity.email.added",
            "identity.oauth.connected",
        ] {
            assert_eq!(effect_of(kind), Effect::ProfileChanged, "{kind}");
        }
        for kind in ["user.created", "user.authenticated", "", "identity"] {
            assert_eq!(effect_of(kind), Effect::None, "{kind}");
        }
    }

    #[test]
    fn a_signature_is_the_hmac_of_the_exact_body() {
        let secret = WebhookSecret::new("s3cret".into());
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").expect("key");
        mac.update(b"{}");
        let good = mac.finalize().into_bytes();
        assert!(secret.signed(b"{}", &good));
        assert!(!secret.signed(b"{} ", &good), "another body");
        assert!(!secret.signed(b"{}", &good[..31]), "a shorter signature");
        assert!(!WebhookSecret::new("other".into()).signed(b"{}", &good));
        assert_eq!(format!("{secret:?}"), "WebhookSecret(…)");
    }
}
