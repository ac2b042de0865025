//! Keeping the access token fresh.
//!
//! Authgear may rotate refresh tokens with no grace period: a refresh token
//! works once. When several requests of one session find the access token
//! expiring at the same moment, exactly one refresh reaches the provider and
//! every request shares its answer.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, FutureExt, Shared};
use openidconnect::core::{CoreErrorResponseType, CoreIdToken};
use openidconnect::{RefreshToken, RequestTokenError, TokenResponse};
use time::OffsetDateTime;
use tower_sessions::Session;

use super::provider::error_chain;
use super::session::{self, AuthSession, TokenSet};
use super::{Auth, AuthError};

/// How long a finished refresh is remembered, so that a request which read the
/// old refresh token just before the refresh was saved gets the new tokens
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

/// The session's record with the new tokens in it.
type Outcome = Result<Box<AuthSession>, RefreshFailure>;

/// One refresh: when it started, and its outcome, shared by every request
/// that waits for it.
type Flight = (Instant, Shared<BoxFuture<'static, Outcome>>);

/// Single-flight refreshes, keyed by the refresh token being spent.
#[derive(Default)]
pub struct Refresher {
    flights: Mutex<HashMap<String, Flight>>,
}

impl Refresher {
    /// Spends the record's refresh token once, however many requests ask at
    /// the same time.
    async fn refresh(
        &self,
        auth: &Auth,
        session: &Session,
        record: &AuthSession,
        refresh_token: &RefreshToken,
    ) -> Outcome {
        let flight = {
            let mut flights = self
                .flights
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            flights.retain(|_, (started, _)| started.elapsed() < REMEMBER_RESULT);
            flights
                .entry(refresh_token.secret().clone())
                .or_insert_with(|| {
                    let refresh = spawn_refresh(
                        auth.clone(),
                        session.clone(),
                        record.clone(),
                        refresh_token.clone(),
                    );
                    (Instant::now(), refresh)
                })
                .1
                .clone()
        };
        let outcome = flight.clone().await;
        // An answer is remembered; a failure to get one is not, so the next
        // request tries again.
        if matches!(outcome, Err(RefreshFailure::Unavailable)) {
            let mut flights = self
                .flights
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            if flights
                .get(refresh_token.secret())
                .is_some_and(|(_, remembered)| remembered.ptr_eq(&flight))
            {
                flights.remove(refresh_token.secret());
            }
        }
        outcome
    }
}

/// Refreshes in a task of its own, which also writes the new tokens to the
/// session store at once: a request dropped half-way (the browser went away)
/// must not lose a refresh token the provider has already rotated.
fn spawn_refresh(
    auth: Auth,
    session: Session,
    mut record: AuthSession,
    refresh_token: RefreshToken,
) -> Shared<BoxFuture<'static, Outcome>> {
    let task = tokio::spawn(async move {
        let (tokens, id_token) = call_provider(&auth, refresh_token).await?;
        record.tokens = tokens;
        if let Some((id_token, subject)) = id_token {
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
        let saved = match session::save(&session, &record).await {
            Ok(()) => session.save().await.map_err(AuthError::from),
            Err(error) => Err(error),
        };
        if let Err(error) = saved {
            // The tokens are still remembered for REMEMBER_RESULT and saved by
            // the requests that use them.
            tracing::warn!(%error, "refreshed tokens could not be saved at once");
        }
        Ok(Box::new(record))
    });
    async move { task.await.unwrap_or(Err(RefreshFailure::Unavailable)) }
        .boxed()
        .shared()
}

async fn call_provider(
    auth: &Auth,
    refresh_token: RefreshToken,
) -> Result<(TokenSet, Option<(CoreIdToken, String)>), RefreshFailure> {
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
    let tokens = TokenSet::from_response(
        &response,
        &auth.settings().scopes,
        Some(refresh_token),
        OffsetDateTime::now_utc(),
    );
    // A refreshed ID token serves only as the next logout hint. It replaces
    // the old one if it is as valid (no nonce this time); if not, the old one
    // stays, and the new tokens are kept all the same: the provider has
    // already rotated the refresh token.
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
                    tracing::warn!(reason = %error_chain(&error), "refreshed ID token rejected");
                    None
                }
            }
        }
    };
    tracing::debug!("access token refreshed");
    Ok((tokens, id_token))
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
    let Some(record) = session::load(session).await? else {
        return Ok(Current::Guest);
    };
    let now = OffsetDateTime::now_utc();
    if !record.tokens.needs_refresh(now) {
        return Ok(Current::SignedIn(Box::new(record)));
    }
    let outcome = match record.tokens.refresh_token.clone() {
        Some(refresh_token) => {
            auth.refresher()
                .refresh(auth, session, &record, &refresh_token)
                .await
        }
        None if record.tokens.is_expired(now) => Err(RefreshFailure::Rejected),
        None => return Ok(Current::SignedIn(Box::new(record))),
    };
    match outcome {
        Ok(refreshed) => {
            // Also this request's copy, which its end-of-request save writes.
            session::save(session, &refreshed).await?;
            Ok(Current::SignedIn(refreshed))
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
    let Current::SignedIn(record) = current(auth, session).await? else {
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
    // Read the record again: while we waited, another request may have
    // refreshed (and so rotated) the tokens, or the user may have signed out.
    session.load().await?;
    let Some(mut latest) = session::load(session).await? else {
        return Ok(None);
    };
    latest.userinfo = serde_json::to_value(&userinfo).unwrap_or_default();
    session::save(session, &latest).await?;
    Ok(Some(()))
}
