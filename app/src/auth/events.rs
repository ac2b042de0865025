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
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::metrics::Ended;
use super::{session, Auth};

/// The `events` member that marks a logout token (Back-Channel Logout 1.0 §2.4).
const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The `typ` a logout token may declare: its own (§2.4), or the generic one
/// that many providers still send. Any other type is a token made for
/// something else.
const LOGOUT_TOKEN_TYPES: &[&str] = &["logout+jwt", "jwt"];

/// A logout token issued longer ago than this is refused, and its `jti` is
/// remembered this long: a replay of it is refused either way.
const LOGOUT_TOKEN_MAX_AGE: time::Duration = time::Duration::minutes(5);

/// A clock this far ahead of ours is still believed.
const CLOCK_SKEW: time::Duration = time::Duration::minutes(1);

/// An Authgear event's id is remembered this long, so a replay of it, or
/// Authgear's retry of one already applied, changes nothing. A replay after
/// that still ends only sessions signed in before the event.
const EVENT_REMEMBERED: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

/// An event from Authgear, as much of it as the app reads.
#[derive(Deserialize)]
struct AuthgearEvent {
    #[serde(default)]
    id: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    payload: Value,
    #[serde(default)]
    context: EventContext,
}

#[derive(Default, Deserialize)]
struct EventContext {
    /// When the event happened (Unix seconds).
    #[serde(default)]
    timestamp: Option<i64>,
}

impl AuthgearEvent {
    /// The provider sessions (`sid`s) the event names: `payload.sessions`
    /// (or the older `payload.session`). `None` when it names none: the
    /// event is about every session of the user.
    fn sids(&self) -> Option<Vec<String>> {
        let named: Vec<&Value> = match (
            self.payload.get("sessions").and_then(Value::as_array),
            self.payload.get("session"),
        ) {
            (Some(sessions), _) => sessions.iter().collect(),
            (None, Some(session)) if session.is_object() => vec![session],
            _ => return None,
        };
        // Authgear's `sid` claim is `base64url("<type>:<id>")` of its session.
        let sids = named
            .iter()
            .filter_map(|session| {
                let id = session.get("id").and_then(Value::as_str)?;
                let kind = session.get("type").and_then(Value::as_str)?;
                Some(base64::Engine::encode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    format!("{kind}:{id}"),
                ))
            })
            .collect();
        Some(sids)
    }
}

/// What an Authgear event means for the sessions of its user.
#[derive(Debug, PartialEq, Eq)]
enum Effect {
    EndSessions,
    ProfileChanged,
    None,
}

/// The event types this app acts on, by name, for metrics: any other is
/// `other`, so a sender cannot make up label values.
const KNOWN_KINDS: [&str; 7] = [
    "user.disabled",
    "user.deleted",
    "user.deletion_scheduled",
    "user.anonymous.deleted",
    "user.signed_out",
    "user.session.terminated",
    "user.profile.updated",
];

fn known_kind(kind: &str) -> &'static str {
    match KNOWN_KINDS.iter().find(|known| **known == kind) {
        Some(known) => known,
        None if kind.starts_with("identity.") => "identity",
        None => "other",
    }
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
    let done = |event: &'static str, outcome: &'static str, status: StatusCode| {
        auth.metrics().webhook_event(event, outcome);
        answer(status)
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
        return done("unknown", "bad_signature", StatusCode::UNAUTHORIZED);
    }
    let Ok(event) = serde_json::from_slice::<AuthgearEvent>(&body) else {
        tracing::info!(
            kind = "webhook_body",
            status = 400,
            "webhook refused: not an event"
        );
        return done("unknown", "bad_body", StatusCode::BAD_REQUEST);
    };
    let effect = effect_of(&event.kind);
    let kind = known_kind(&event.kind);
    let subject = event
        .payload
        .pointer("/user/id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let (Some(subject), false) = (subject, effect == Effect::None) else {
        tracing::debug!(event = %event.kind, "webhook event not used");
        return done(kind, "not_used", StatusCode::OK);
    };
    let (Some(id), Some(at)) = (
        event
            .id
            .as_deref()
            .filter(|id| (1..=128).contains(&id.len())),
        event
            .context
            .timestamp
            .and_then(|at| OffsetDateTime::from_unix_timestamp(at).ok()),
    ) else {
        tracing::info!(
            kind = "webhook_body",
            status = 400,
            "webhook refused: no id or timestamp"
        );
        return done(kind, "bad_body", StatusCode::BAD_REQUEST);
    };
    // Exactly once, on every instance: the first delivery claims the id.
    let claim = format!("authgear-event:{id}");
    match auth.store().claim(&claim, EVENT_REMEMBERED).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(event = %event.kind, "an Authgear event seen before; nothing to do");
            return done(kind, "duplicate", StatusCode::OK);
        }
        Err(error) => {
            session::store_error(error).log("authgear_event");
            return done(kind, "failed", StatusCode::SERVICE_UNAVAILABLE);
        }
    }
    let outcome = match effect {
        Effect::EndSessions => {
            auth.sessions()
                .delete_signed_in_before(&subject, event.sids().as_deref(), at)
                .await
        }
        _ => auth.sessions().mark_profile_stale(&subject).await,
    };
    match outcome {
        Ok(sessions) => {
            tracing::info!(event = %event.kind, sessions, "an Authgear event applied");
            if effect == Effect::EndSessions {
                auth.metrics().sessions_ended_by(Ended::Webhook, sessions);
            }
            done(kind, "applied", StatusCode::OK)
        }
        // Authgear retries what failed: the id is given back for the retry.
        Err(error) => {
            error.log("authgear_event");
            if let Err(error) = auth.store().release(&claim).await {
                tracing::warn!(%error, "an Authgear event's id could not be given back; its retry will be ignored");
            }
            done(kind, "failed", StatusCode::SERVICE_UNAVAILABLE)
        }
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
    #[error("no exp, or it has expired")]
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
    #[error("the session store is not answering")]
    Unavailable,
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
    let (target, jti) = match logout_target(&auth, token.as_deref()).await {
        Ok(checked) => checked,
        // Not the token's fault: the provider tries again.
        Err(LogoutTokenProblem::Unavailable) => {
            tracing::warn!(
                "a back-channel logout could not be checked: the session store is not answering"
            );
            return answer(StatusCode::SERVICE_UNAVAILABLE);
        }
        Err(problem) => {
            tracing::info!(kind = "logout_token", status = 400, reason = %problem, "back-channel logout refused");
            return answer(StatusCode::BAD_REQUEST);
        }
    };
    // Ended first, then the token recorded as used: if the store fails in
    // between, the provider's retry (after a 503) ends the sessions again,
    // which changes nothing, instead of being refused as a replay.
    let ended = match target {
        Target::Sid(sid) => auth.sessions().delete_all_of_sid(&sid).await,
        Target::Subject(subject) => auth.sessions().delete_all_of(&subject).await,
    };
    let ttl = (LOGOUT_TOKEN_MAX_AGE + CLOCK_SKEW).unsigned_abs();
    let recorded = match ended {
        Ok(ended) => auth
            .store()
            .claim(&jti_key(&jti), ttl)
            .await
            .map(|_| ended)
            .map_err(session::store_error),
        Err(error) => Err(error),
    };
    match recorded {
        Ok(ended) => {
            tracing::info!(ended, "sessions ended by back-channel logout");
            auth.metrics().sessions_ended_by(Ended::BackChannel, ended);
            answer(StatusCode::OK)
        }
        Err(error) => {
            error.log("backchannel_logout");
            answer(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

enum Target {
    Sid(String),
    Subject(String),
}

/// Where a logout token's `jti` is recorded as used.
fn jti_key(jti: &str) -> String {
    format!("logout-token:{jti}")
}

/// Validates a logout token fully (§2.6), its `jti` unused so far included;
/// returns what it ends and its `jti`, for the caller to record once the
/// sessions have ended.
async fn logout_target(
    auth: &Auth,
    token: Option<&str>,
) -> Result<(Target, String), LogoutTokenProblem> {
    let token = token.ok_or(LogoutTokenProblem::Missing)?;
    let provider = auth.provider().map_err(|_| LogoutTokenProblem::Missing)?;
    let claims = provider
        .verify_signed_claims(auth.http(), token, LOGOUT_TOKEN_TYPES)
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
    // Required since Back-Channel Logout 1.0 final.
    let exp = seconds("exp").ok_or(LogoutTokenProblem::Expired)?;
    if exp.saturating_add(CLOCK_SKEW.whole_seconds()) < now {
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
    match auth.store().is_claimed(&jti_key(jti)).await {
        Ok(false) => Ok((target, jti.to_owned())),
        Ok(true) => Err(LogoutTokenProblem::Replayed),
        Err(_) => Err(LogoutTokenProblem::Unavailable),
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
}
