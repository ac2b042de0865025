//! Keeping the access token fresh.
//!
//! Authgear may rotate refresh tokens with no grace period: a refresh token
//! works once. When several requests of one session find the access token
//! expiring at the same moment, exactly one of them may call the provider;
//! the others wait for its answer and share it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openidconnect::core::{CoreErrorResponseType, CoreIdToken};
use openidconnect::{RefreshToken, RequestTokenError, TokenResponse};
use time::OffsetDateTime;
use tokio::sync::OnceCell;
use tower_sessions::Session;

use super::provider::error_chain;
use super::session::{self, AuthSession, TokenSet};
use super::{Auth, AuthError};

/// How long a finished refresh is remembered, so that a request which read the
/// old refresh token just before the refresh finished gets the new tokens
/// instead of spending the old one again.
const REMEMBER_RESULT: Duration = Duration::from_secs(60);

/// Why a refresh gave no new tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshFailure {
    /// The provider refused the refresh token: the session is over.
    Rejected,
    /// The provider could not be reached or answered nonsense: try later.
    Unavailable,
}

/// New tokens from a refresh. The ID token, when the provider sends one, is
/// kept only as the next logout hint.
#[derive(Clone)]
pub struct Refreshed {
    tokens: TokenSet,
    id_token: Option<(CoreIdToken, String)>,
}

type Outcome = Result<Refreshed, RefreshFailure>;

/// One refresh: when it started, and its outcome once there is one.
type Flight = (Instant, Arc<OnceCell<Outcome>>);

/// Single-flight refreshes, keyed by the refresh token being spent.
#[derive(Default)]
pub struct Refresher {
    flights: Mutex<HashMap<String, Flight>>,
}

impl Refresher {
    /// Spends `refresh_token` once, however many callers ask at the same time.
    async fn refresh(&self, auth: &Auth, refresh_token: &RefreshToken) -> Outcome {
        let flight = {
            let mut flights = self
                .flights
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            flights.retain(|_, (started, _)| started.elapsed() < REMEMBER_RESULT);
            flights
                .entry(refresh_token.secret().clone())
                .or_insert_with(|| (Instant::now(), Arc::default()))
                .1
                .clone()
        };
        let outcome = flight
            .get_or_init(|| call_provider(auth, refresh_token.clone()))
            .await
            .clone();
        // An answer is remembered; a failure to get one is not, so the next
        // request tries again.
        if matches!(outcome, Err(RefreshFailure::Unavailable)) {
            let mut flights = self
                .flights
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            if flights
                .get(refresh_token.secret())
                .is_some_and(|(_, cell)| Arc::ptr_eq(cell, &flight))
            {
                flights.remove(refresh_token.secret());
            }
        }
        outcome
    }
}

async fn call_provider(auth: &Auth, refresh_token: RefreshToken) -> Outcome {
    let provider = auth.provider().map_err(|_| RefreshFailure::Unavailable)?;
    let request = provider
        .client
        .exchange_refresh_token(&refresh_token)
        .map_err(|_| RefreshFailure::Unavailable)?;
    let response = match request.request_async(auth.http()).await {
        Ok(response) => response,
        Err(RequestTokenError::ServerResponse(response))
            if matches!(
                response.error(),
                CoreErrorResponseType::InvalidGrant | CoreErrorResponseType::InvalidClient
            ) =>
        {
            tracing::info!(error = %response.error(), "provider refused the refresh token");
            return Err(RefreshFailure::Rejected);
        }
        Err(error) => {
            tracing::warn!(reason = %error_chain(&error), "token refresh failed");
            return Err(RefreshFailure::Unavailable);
        }
    };
    // A refreshed ID token must be as valid as the first one (no nonce this time).
    let id_token = match response.id_token() {
        None => None,
        Some(id_token) => {
            let no_nonce = |_: Option<&openidconnect::Nonce>| Ok(());
            let subject = provider
                .verify(auth.http(), |verifier| {
                    Ok(id_token.claims(verifier, no_nonce)?.subject().to_string())
                })
                .await;
            match subject {
                Ok(subject) => Some((id_token.clone(), subject)),
                Err(error) => {
                    tracing::warn!(%error, "refreshed ID token rejected");
                    return Err(RefreshFailure::Unavailable);
                }
            }
        }
    };
    tracing::debug!("access token refreshed");
    Ok(Refreshed {
        tokens: TokenSet::from_response(
            &response,
            &auth.settings().scopes,
            Some(refresh_token),
            OffsetDateTime::now_utc(),
        ),
        id_token,
    })
}

/// What a request finds in its session.
pub enum Current {
    SignedIn(Box<AuthSession>),
    Guest,
    /// The session existed but the provider ended it; it has been removed.
    Ended,
}

/// The session's record with an access token that is good to use, refreshing
/// it first if it is about to expire. Makes no provider call otherwise.
pub async fn current(auth: &Auth, session: &Session) -> Result<Current, AuthError> {
    let Some(mut record) = session::load(session).await? else {
        return Ok(Current::Guest);
    };
    let now = OffsetDateTime::now_utc();
    if !record.tokens.needs_refresh(now) {
        return Ok(Current::SignedIn(Box::new(record)));
    }
    let outcome = match record.tokens.refresh_token.clone() {
        Some(refresh_token) => auth.refresher().refresh(auth, &refresh_token).await,
        None if record.tokens.is_expired(now) => Err(RefreshFailure::Rejected),
        None => return Ok(Current::SignedIn(Box::new(record))),
    };
    match outcome {
        Ok(refreshed) => {
            record.tokens = refreshed.tokens;
            if let Some((id_token, subject)) = refreshed.id_token {
                // Another user's ID token would make logout hint at the wrong person.
                if record
                    .id_token_claims
                    .get("sub")
                    .and_then(|sub| sub.as_str())
                    == Some(&subject)
                {
                    record.id_token = id_token;
                }
            }
            session::save(session, &record).await?;
            Ok(Current::SignedIn(Box::new(record)))
        }
        Err(RefreshFailure::Rejected) => {
            session::end(session).await?;
            Ok(Current::Ended)
        }
        // Keep the user signed in with what we have; the next request retries.
        Err(RefreshFailure::Unavailable) => Ok(Current::SignedIn(Box::new(record))),
    }
}

/// Asks the provider's userinfo endpoint for the user's profile again and
/// stores it. `None` when nobody is signed in.
pub async fn reload_profile(auth: &Auth, session: &Session) -> Result<Option<()>, AuthError> {
    let Current::SignedIn(mut record) = current(auth, session).await? else {
        return Ok(None);
    };
    let provider = auth.provider()?;
    let subject = record
        .id_token_claims
        .get("sub")
        .and_then(|sub| sub.as_str())
        .map(|sub| openidconnect::SubjectIdentifier::new(sub.to_owned()));
    let userinfo: openidconnect::core::CoreUserInfoClaims = provider
        .client
        .user_info(record.tokens.access_token.clone(), subject)
        .map_err(|error| AuthError::UserInfo(error.to_string()))?
        .request_async(auth.http())
        .await
        .map_err(|error| AuthError::UserInfo(error_chain(&error)))?;
    record.userinfo = serde_json::to_value(&userinfo).unwrap_or_default();
    session::save(session, &record).await?;
    Ok(Some(()))
}
