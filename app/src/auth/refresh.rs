//! Renewing an access token with the refresh token ([`Refresher`]).
//!
//! Authgear may rotate refresh tokens with no grace period: a refresh token
//! works once. So refreshes are single-flight: however many requests of one
//! session find the access token due at the same moment, one refresh reaches
//! the provider and every request shares its outcome, which is one of:
//!
//! - **New tokens.** The refresh's own task stores them at once (a browser
//!   that goes away mid-refresh cannot lose a rotated token), but only if the
//!   session still exists: a session that logout ended while the refresh was
//!   in flight stays ended, and the new refresh token is revoked.
//! - **Refused** (`invalid_grant`), or a refreshed ID token that is invalid or
//!   names another subject: the session ends and the page says so.
//! - **No answer** (provider down, hung, connection reset): the outcome is
//!   unknown, since the provider may have rotated the token before the answer
//!   was lost. The session keeps its tokens and the user stays signed in; the
//!   next attempt waits `refresh_retry_after`, so a hung provider costs one
//!   timeout per session per period, not one per request. If the token had
//!   been rotated, that attempt is refused and the user is told "Your session
//!   ended", never signed out silently.
//!
//! Across several instances the store holds a lock per session
//! (`refresh:{session id}`) with an owner: the instance that takes it
//! refreshes, extending the lock while it works, and the others wait for the
//! tokens it stores. A holder that dies stops extending it; the lock expires
//! after `refresh_lock_ttl` (3 s) and the next instance takes it. A holder
//! that lost its lock does not write: it ends the session, which then says
//! so, rather than race the next holder with the same refresh token.
//!
//! The shared outcome of a refresh says only whether the store now holds new
//! tokens: every request then reads the session back from the store, never a
//! copy kept from the refresh. New tokens the store would not take are tried
//! again a few times; if the store still refuses, the session ends with the
//! notice instead of living on tokens only this instance knows.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use futures_util::future::{BoxFuture, FutureExt, Shared};
use openidconnect::{RefreshToken, TokenResponse};
use tower_sessions::session::Id;
use tracing::Instrument;

use super::error::Upstream;
use super::metrics::Ended;
use super::session::UserSession;
use super::store::{Lock, Store};
use super::tokens::TokenSet;
use super::{provider, Auth};

/// How long a refresh's outcome is remembered, so that a request which read
/// the old refresh token just before the refresh was stored reads the new
/// tokens instead of spending the old one again.
const REMEMBER_OUTCOME: std::time::Duration = std::time::Duration::from_secs(60);

/// Tries of a store write of rotated tokens before the session is ended.
const STORE_TRIES: u32 = 3;

/// How often an instance waiting for another's refresh looks again.
const WAIT_STEP: std::time::Duration = std::time::Duration::from_millis(25);

/// Why a refresh gave no new tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RefreshFailure {
    /// The provider refused the refresh, or answered for someone else: the
    /// session is over.
    Rejected,
    /// The session ended (logout) while the refresh was in flight.
    SessionGone,
    /// No usable answer: keep the tokens, try again later.
    NoAnswer,
}

/// `Ok`: the store holds tokens newer than the ones spent.
pub(super) type Outcome = Result<(), RefreshFailure>;

/// One refresh: when it started, and its outcome, shared by every request
/// that waits for it.
struct Flight {
    started: Instant,
    outcome: Shared<BoxFuture<'static, Outcome>>,
}

/// Single-flight refreshes, keyed by the refresh token being spent.
#[derive(Default)]
pub(crate) struct Refresher {
    flights: Mutex<HashMap<String, Flight>>,
}

impl Refresher {
    /// Spends `refresh_token` once, however many requests ask at the same
    /// time, and not again for a while after it failed.
    pub(super) async fn refresh(
        &self,
        auth: &Auth,
        id: Id,
        refresh_token: &RefreshToken,
    ) -> Outcome {
        let retry_after = auth.settings().refresh_retry_after;
        let outcome = {
            let mut flights = self
                .flights
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            flights.retain(|_, flight| {
                let keep = match flight.outcome.peek() {
                    Some(Err(RefreshFailure::NoAnswer)) => retry_after,
                    _ => REMEMBER_OUTCOME,
                };
                flight.started.elapsed() < keep
            });
            flights
                .entry(refresh_token.secret().clone())
                .or_insert_with(|| Flight {
                    started: Instant::now(),
                    outcome: spawn_refresh(auth.clone(), id, refresh_token.clone()),
                })
                .outcome
                .clone()
        };
        outcome.await
    }
}

/// Refreshes in a task of its own, so that the outcome is stored even if
/// every request waiting for it is dropped.
fn spawn_refresh(
    auth: Auth,
    id: Id,
    refresh_token: RefreshToken,
) -> Shared<BoxFuture<'static, Outcome>> {
    let task = tokio::spawn(
        async move { refresh_once_across_instances(&auth, &id, refresh_token).await }
            // Its log lines keep the id of the request that started it.
            .instrument(tracing::Span::current()),
    );
    async move { task.await.unwrap_or(Err(RefreshFailure::NoAnswer)) }
        .boxed()
        .shared()
}

/// Takes the session's refresh lock and refreshes, or, while another
/// instance holds it, waits for the tokens that instance stores; takes the
/// lock over if its holder lets it expire.
async fn refresh_once_across_instances(
    auth: &Auth,
    id: &Id,
    refresh_token: RefreshToken,
) -> Outcome {
    let key = format!("refresh:{}", Store::key_of(id));
    let ttl = auth.settings().refresh_lock_ttl;
    // A wait bounded by one provider call and one holder that dies.
    let deadline = Instant::now() + auth.settings().provider_timeout + ttl * 2;
    loop {
        match auth.store().lock(&key, ttl).await {
            Ok(Some(lock)) => {
                let outcome = while_held(auth, &lock, async {
                    spend_if_still_stored(auth, id, refresh_token, &lock).await
                })
                .await;
                if let Err(error) = auth.store().unlock(&lock).await {
                    tracing::warn!(%error, "the refresh lock could not be released; it expires by itself");
                }
                return outcome;
            }
            Ok(None) => match auth.sessions().get(id).await {
                Ok(None) => return Err(RefreshFailure::SessionGone),
                Ok(Some(stored)) if spent(&stored, &refresh_token) => {
                    auth.metrics().refresh("spent_elsewhere");
                    return Ok(());
                }
                Ok(Some(_)) => {}
                Err(_) => return Err(RefreshFailure::NoAnswer),
            },
            Err(error) => {
                tracing::warn!(%error, "the refresh lock could not be taken");
                return Err(RefreshFailure::NoAnswer);
            }
        }
        if Instant::now() >= deadline {
            return Err(RefreshFailure::NoAnswer);
        }
        tokio::time::sleep(WAIT_STEP).await;
    }
}

/// Runs `work`, extending `lock` every third of its lifetime until it is
/// done. If the lock cannot be extended, `work` goes on: its store write
/// checks that the lock is still held.
async fn while_held(
    auth: &Auth,
    lock: &Lock,
    work: impl std::future::Future<Output = Outcome>,
) -> Outcome {
    let ttl = auth.settings().refresh_lock_ttl;
    let keep_alive = async move {
        loop {
            tokio::time::sleep(ttl / 3).await;
            if !matches!(auth.store().extend(lock, ttl).await, Ok(true)) {
                tracing::warn!("the refresh lock could not be extended");
                return;
            }
        }
    };
    let work = std::pin::pin!(work);
    match futures_util::future::select(work, std::pin::pin!(keep_alive)).await {
        futures_util::future::Either::Left((outcome, _)) => outcome,
        futures_util::future::Either::Right(((), work)) => work.await,
    }
}

/// True if the store holds tokens other than `refresh_token`: someone spent it.
fn spent(stored: &UserSession, refresh_token: &RefreshToken) -> bool {
    stored
        .tokens
        .refresh_token
        .as_ref()
        .map(RefreshToken::secret)
        != Some(refresh_token.secret())
}

/// Refreshes with `refresh_token` only if the store still holds it. What the
/// request read may be up to a second old (the session cache), and another
/// instance may have refreshed and let go of the lock since: spending the
/// token it already spent would end the session (rotation has no grace).
async fn spend_if_still_stored(
    auth: &Auth,
    id: &Id,
    refresh_token: RefreshToken,
    lock: &Lock,
) -> Outcome {
    match auth.sessions().get(id).await {
        Ok(None) => Err(RefreshFailure::SessionGone),
        Ok(Some(stored)) if spent(&stored, &refresh_token) => {
            auth.metrics().refresh("spent_elsewhere");
            Ok(())
        }
        Ok(Some(stored)) => refresh_and_store(auth, id, refresh_token, &stored, lock).await,
        // The store is not answering: the refresh could not be stored either.
        Err(_) => Err(RefreshFailure::NoAnswer),
    }
}

/// Spends the refresh token at the provider and stores the outcome, if the
/// session still exists and this instance still holds its lock.
async fn refresh_and_store(
    auth: &Auth,
    id: &Id,
    refresh_token: RefreshToken,
    user: &UserSession,
    lock: &Lock,
) -> Outcome {
    let renewed = match ask_provider(auth, refresh_token, user.subject()).await {
        Ok(renewed) => renewed,
        Err(RefreshFailure::Rejected) => {
            end_everywhere(auth, id).await;
            auth.metrics().session_ended(Ended::Liveness);
            return Err(RefreshFailure::Rejected);
        }
        Err(failure) => return Err(failure),
    };
    let ttl = auth.settings().refresh_lock_ttl;
    let mut delay = std::time::Duration::from_millis(50);
    for _ in 0..STORE_TRIES {
        // Checked (and extended) just before the write: a holder whose lock
        // expired must not write over the next holder's refresh.
        match auth.store().extend(lock, ttl).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!("the refresh lock was lost during a refresh; ending the session");
                auth.metrics().refresh("lock_lost");
                provider::revoke_quietly(auth, renewed.tokens.refresh_token.as_ref()).await;
                end_everywhere(auth, id).await;
                return Err(RefreshFailure::Rejected);
            }
            Err(_) => {}
        }
        let stored = auth
            .sessions()
            .update(id, |stored| {
                stored.tokens = renewed.tokens.clone();
                if let Some(claims) = &renewed.claims {
                    stored.follow(claims);
                }
            })
            .await;
        match stored {
            Ok(Some(_)) => {
                auth.metrics().refresh("ok");
                return Ok(());
            }
            Ok(None) => {
                // Logged out meanwhile: the new tokens must not outlive the session.
                tracing::info!("session ended during a token refresh; revoking the new token");
                auth.metrics().refresh("session_ended");
                provider::revoke_quietly(auth, renewed.tokens.refresh_token.as_ref()).await;
                return Err(RefreshFailure::SessionGone);
            }
            Err(_) => {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
    // The provider rotated the token and the store will not keep the new
    // one: no instance could use the session after this one forgets it.
    tracing::warn!("rotated tokens could not be stored; ending the session");
    auth.metrics().refresh("not_stored");
    provider::revoke_quietly(auth, renewed.tokens.refresh_token.as_ref()).await;
    end_everywhere(auth, id).await;
    Err(RefreshFailure::Rejected)
}

/// Ends session `id` in the store, so that every other holder of it sees it
/// ended too, not only the requests waiting here.
async fn end_everywhere(auth: &Auth, id: &Id) {
    if let Err(error) = auth.sessions().delete(id).await {
        error.log("end_session");
    }
}

struct Renewed {
    tokens: TokenSet,
    /// The refreshed ID token's claims, verified.
    claims: Option<serde_json::Value>,
}

async fn ask_provider(
    auth: &Auth,
    refresh_token: RefreshToken,
    subject: Option<&str>,
) -> Result<Renewed, RefreshFailure> {
    let provider = auth.provider().map_err(|_| RefreshFailure::NoAnswer)?;
    let response = match provider.refresh(auth.http(), &refresh_token).await {
        Ok(response) => response,
        Err(Upstream::Refused(code)) if code.as_str() == "invalid_grant" => {
            tracing::info!("provider refused the refresh token; the session has ended");
            auth.metrics().refresh("refused");
            return Err(RefreshFailure::Rejected);
        }
        Err(failure) => {
            auth.metrics().refresh(if failure.outcome_unknown() {
                "lost_answer"
            } else {
                "failed"
            });
            tracing::warn!(
                %failure,
                outcome_unknown = failure.outcome_unknown(),
                "token refresh failed; the session keeps its tokens and tries again later"
            );
            return Err(RefreshFailure::NoAnswer);
        }
    };
    let tokens = TokenSet::from_response(
        &response,
        &auth.settings().scopes,
        Some(refresh_token),
        auth.settings().clock.now(),
    );
    // OpenID Connect Core 12.2: a refreshed ID token is for the same subject
    // and as valid as the first. If not, nothing the provider said can be
    // trusted. A valid one gives the session the user's authorization claims
    // as they are now (`UserSession::follow`); the token itself is not kept:
    // a refresh is not a sign-in, so the session keeps the sign-in's ID
    // token, and with it its `sid` (which back-channel logout matches),
    // `auth_time` (which step-up checks) and `amr`; it is also the logout's
    // `id_token_hint`, which providers accept after it expired (RP-Initiated
    // Logout 1.0, section 2).
    let claims = match response.id_token() {
        None => None,
        Some(id_token) => match provider
            .verify_refreshed(auth.http(), id_token, subject)
            .await
        {
            Ok(claims) => Some(claims),
            Err(problem) => {
                tracing::warn!(%problem, "refreshed ID token rejected; ending the session");
                auth.metrics().refresh("refused");
                provider::revoke_quietly(auth, tokens.refresh_token.as_ref()).await;
                return Err(RefreshFailure::Rejected);
            }
        },
    };
    tracing::debug!("access token refreshed");
    Ok(Renewed { tokens, claims })
}
