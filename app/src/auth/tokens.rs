//! The token lifecycle: what the server holds ([`TokenSet`]), when the access
//! token is due, and renewing it ([`current`]).
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
//!
//! A refresh is also how a session checks, every `liveness_interval`, that
//! the provider has not revoked its grant; and `current` ends sessions past
//! their idle timeout or lifetime before anything else.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::future::{BoxFuture, FutureExt, Shared};
use openidconnect::core::CoreTokenResponse;
use openidconnect::{AccessToken, OAuth2TokenResponse, RefreshToken, Scope, TokenResponse};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use tower_sessions::session::Id;
use tower_sessions::Session;
use tracing::Instrument;

use super::error::Upstream;
use super::session::{self, UserSession};
use super::store::{Lock, Store};
use super::{logout, profile, Auth, AuthError};
use crate::model::TokenMeta;

/// Renew when this much of the lifetime is left, or a quarter of it for
/// short-lived tokens, so a token is never sent just as it expires.
const REFRESH_MARGIN: Duration = Duration::seconds(30);

/// An access token said to live longer is taken to live this long: a
/// provider's `expires_in` of 10^12 must not overflow a date.
const MAX_LIFETIME: Duration = Duration::days(365);

/// How long a refresh's outcome is remembered, so that a request which read
/// the old refresh token just before the refresh was stored reads the new
/// tokens instead of spending the old one again.
const REMEMBER_OUTCOME: std::time::Duration = std::time::Duration::from_secs(60);

/// Tries of a store write of rotated tokens before the session is ended.
const STORE_TRIES: u32 = 3;

/// How often an instance waiting for another's refresh looks again.
const WAIT_STEP: std::time::Duration = std::time::Duration::from_millis(25);

/// The OAuth tokens and what is known about them. Times are kept to the
/// millisecond: with whole seconds, a short-lived token could look due again
/// the moment it was renewed, depending on where a second boundary fell.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct TokenSet {
    pub access_token: AccessToken,
    pub refresh_token: Option<RefreshToken>,
    #[serde(with = "time::serde::timestamp::milliseconds_i64::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// After this the access token is renewed before use.
    #[serde(with = "time::serde::timestamp::milliseconds_i64::option")]
    pub refresh_after: Option<OffsetDateTime>,
    /// When the provider issued these tokens: the last time it confirmed
    /// the grant.
    #[serde(with = "time::serde::timestamp::milliseconds_i64::option", default)]
    pub obtained_at: Option<OffsetDateTime>,
    pub scopes: Vec<String>,
}

impl TokenSet {
    pub fn new(
        access_token: AccessToken,
        refresh_token: Option<RefreshToken>,
        lifetime: Option<Duration>,
        scopes: Vec<String>,
        now: OffsetDateTime,
    ) -> Self {
        let lifetime = lifetime.map(|lifetime| lifetime.clamp(Duration::ZERO, MAX_LIFETIME));
        Self {
            access_token,
            refresh_token,
            expires_at: lifetime.map(|lifetime| now.saturating_add(lifetime)),
            refresh_after: lifetime.map(|lifetime| {
                now.saturating_add(lifetime - (lifetime / 4_i32).min(REFRESH_MARGIN))
            }),
            obtained_at: Some(now),
            scopes,
        }
    }

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
            .map(|lifetime| Duration::try_from(lifetime).unwrap_or(MAX_LIFETIME));
        let scopes = response
            .scopes()
            .map(|granted| granted.as_slice())
            .unwrap_or(requested)
            .iter()
            .map(|scope| scope.to_string())
            .collect();
        Self::new(
            response.access_token().clone(),
            response.refresh_token().cloned().or(previous_refresh_token),
            lifetime,
            scopes,
            now,
        )
    }

    pub fn needs_refresh(&self, now: OffsetDateTime) -> bool {
        self.refresh_after.is_some_and(|at| now >= at)
    }

    /// True when the provider has not confirmed the grant for `interval`.
    pub fn needs_confirming(
        &self,
        interval: Option<std::time::Duration>,
        now: OffsetDateTime,
    ) -> bool {
        match (
            interval.and_then(|i| Duration::try_from(i).ok()),
            self.obtained_at,
        ) {
            (Some(interval), Some(at)) => now >= at.saturating_add(interval),
            _ => false,
        }
    }

    /// Whole seconds the access token stays valid after `now`, if the
    /// provider said when it expires.
    pub fn expires_in(&self, now: OffsetDateTime) -> Option<u64> {
        self.expires_at
            .map(|at| (at - now).whole_seconds().max(0).unsigned_abs())
    }

    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    pub fn meta(&self) -> TokenMeta {
        TokenMeta {
            access_token_expires_at: self.expires_at.and_then(session::rfc3339),
            scopes: self.scopes.clone(),
            has_refresh_token: self.refresh_token.is_some(),
        }
    }
}

/// What a request finds in its session.
#[derive(Clone)]
pub(crate) enum Current {
    SignedIn(Arc<UserSession>),
    Guest,
    /// The request named a session that has ended (a limit reached, the
    /// provider refused its tokens, logout elsewhere, an event): it is gone
    /// now, and so is the cookie after this response.
    Ended,
}

/// The session's user with an access token that is good to use, refreshing
/// it first if it is due. Makes no provider call otherwise.
pub(crate) async fn current(auth: &Auth, session: &Session) -> Result<Current, AuthError> {
    let named_a_session = session.id().is_some();
    let Some(user) = session::load_recent(auth.store(), session).await? else {
        // A cookie whose session is no longer stored: tower-sessions removes
        // the cookie, so the notice is given once.
        return Ok(if named_a_session {
            Current::Ended
        } else {
            Current::Guest
        });
    };
    let now = auth.settings().clock.now();
    if now >= user.deadline() {
        // Idle too long, or past its lifetime: over, and its refresh token
        // with it.
        tracing::info!("session reached its idle timeout or lifetime");
        logout::revoke_quietly(auth, user.tokens.refresh_token.as_ref()).await;
        session::end(session).await?;
        return Ok(Current::Ended);
    }
    let user = if user.activity_is_due(auth.settings(), now) {
        match extend(auth, session, user, now).await? {
            Some(extended) => extended,
            None => {
                session::end(session).await?;
                return Ok(Current::Ended);
            }
        }
    } else {
        user
    };
    // A provider that tells the app nothing is asked now and then whether
    // the grant still stands: a refresh fails once it was revoked.
    let confirm = user.tokens.refresh_token.is_some()
        && user
            .tokens
            .needs_confirming(auth.settings().liveness_interval, now);
    let user = if user.tokens.needs_refresh(now) || confirm {
        match renew(auth, session, user, now).await? {
            Current::SignedIn(user) => user,
            other => return Ok(other),
        }
    } else {
        user
    };
    if user.profile_is_stale() {
        return Ok(Current::SignedIn(
            profile::catch_up(auth, session, user).await,
        ));
    }
    Ok(Current::SignedIn(user))
}

/// Moves the idle deadline on: the user is active. Requests that arrive
/// together all find it due; the first moves it, the others find it moved.
/// `None` if the session ended meanwhile.
async fn extend(
    auth: &Auth,
    session: &Session,
    user: Arc<UserSession>,
    now: OffsetDateTime,
) -> Result<Option<Arc<UserSession>>, AuthError> {
    let Some(id) = session.id() else {
        return Ok(None);
    };
    let settings = auth.settings();
    let (_, idle_until) = session::deadlines(settings, now);
    let extended = session::update(auth.store(), &id, |stored| {
        if stored.activity_is_due(settings, now) {
            stored.idle_until = idle_until.min(stored.ends_at);
        }
    })
    .await;
    match extended {
        Ok(extended) => Ok(extended.map(Arc::new)),
        // A missed extension costs at most a minute of idle time: the page
        // view goes on.
        Err(error) => {
            error.log("activity");
            Ok(Some(user))
        }
    }
}

/// Renews the access token of a session whose token is due.
async fn renew(
    auth: &Auth,
    session: &Session,
    user: Arc<UserSession>,
    now: OffsetDateTime,
) -> Result<Current, AuthError> {
    let (Some(refresh_token), Some(id)) = (user.tokens.refresh_token.clone(), session.id()) else {
        if user.tokens.is_expired(now) {
            // Nothing can renew it: the sign-in is over.
            session::end(session).await?;
            return Ok(Current::Ended);
        }
        return Ok(Current::SignedIn(user));
    };
    match auth.refresher().refresh(auth, id, &refresh_token).await {
        // The tokens are in the store: read the session back from there.
        Ok(()) => match session::stored(auth.store(), &id).await? {
            Some(renewed) => Ok(Current::SignedIn(Arc::new(renewed))),
            None => {
                session::end(session).await?;
                Ok(Current::Guest)
            }
        },
        Err(RefreshFailure::Rejected) => {
            session::end(session).await?;
            Ok(Current::Ended)
        }
        Err(RefreshFailure::SessionGone) => {
            session::end(session).await?;
            Ok(Current::Guest)
        }
        Err(RefreshFailure::NoAnswer) => Ok(Current::SignedIn(user)),
    }
}

/// Why a refresh gave no new tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RefreshFailure {
    /// The provider refused the refresh, or answered for someone else: the
    /// session is over.
    Rejected,
    /// The session ended (logout) while the refresh was in flight.
    SessionGone,
    /// No usable answer: keep the tokens, try again later.
    NoAnswer,
}

/// `Ok`: the store holds tokens newer than the ones spent.
type Outcome = Result<(), RefreshFailure>;

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
    async fn refresh(&self, auth: &Auth, id: Id, refresh_token: &RefreshToken) -> Outcome {
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
            Ok(None) => match session::stored(auth.store(), id).await {
                Ok(None) => return Err(RefreshFailure::SessionGone),
                Ok(Some(stored)) if spent(&stored, &refresh_token) => return Ok(()),
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
    match session::stored(auth.store(), id).await {
        Ok(None) => Err(RefreshFailure::SessionGone),
        Ok(Some(stored)) if spent(&stored, &refresh_token) => Ok(()),
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
                logout::revoke_quietly(auth, renewed.tokens.refresh_token.as_ref()).await;
                end_everywhere(auth, id).await;
                return Err(RefreshFailure::Rejected);
            }
            Err(_) => {}
        }
        let stored = session::update(auth.store(), id, |stored| {
            stored.tokens = renewed.tokens.clone();
            if let Some(claims) = &renewed.claims {
                stored.follow(claims);
            }
        })
        .await;
        match stored {
            Ok(Some(_)) => return Ok(()),
            Ok(None) => {
                // Logged out meanwhile: the new tokens must not outlive the session.
                tracing::info!("session ended during a token refresh; revoking the new token");
                logout::revoke_quietly(auth, renewed.tokens.refresh_token.as_ref()).await;
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
    logout::revoke_quietly(auth, renewed.tokens.refresh_token.as_ref()).await;
    end_everywhere(auth, id).await;
    Err(RefreshFailure::Rejected)
}

/// Ends session `id` in the store, so that every other holder of it sees it
/// ended too, not only the requests waiting here.
async fn end_everywhere(auth: &Auth, id: &Id) {
    if let Err(error) = auth.store().end(id).await {
        tracing::warn!(%error, "an ended session could not be removed");
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
            return Err(RefreshFailure::Rejected);
        }
        Err(failure) => {
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
                logout::revoke_quietly(auth, tokens.refresh_token.as_ref()).await;
                return Err(RefreshFailure::Rejected);
            }
        },
    };
    tracing::debug!("access token refreshed");
    Ok(Renewed { tokens, claims })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(millis: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).expect("time")
    }

    fn tokens(lifetime: Duration, now: OffsetDateTime) -> TokenSet {
        TokenSet::new(
            AccessToken::new("a".into()),
            None,
            Some(lifetime),
            vec![],
            now,
        )
    }

    #[test]
    fn refresh_is_due_a_margin_before_expiry() {
        let issued = at(1_800_000_000_000);
        let hour = tokens(Duration::hours(1), issued);
        let due = 1_800_000_000_000 + 3_600_000 - 30_000;
        assert!(!hour.needs_refresh(at(due - 1)));
        assert!(hour.needs_refresh(at(due)));
        assert!(!hour.is_expired(at(1_800_003_599_999)));
        assert!(hour.is_expired(at(1_800_003_600_000)));
    }

    #[test]
    fn short_lifetimes_are_precise_to_the_millisecond() {
        // Issued just before a second boundary: with whole seconds this
        // token would be due at once, or a whole second late.
        let issued = at(1_800_000_000_999);
        let second = tokens(Duration::seconds(1), issued);
        assert!(!second.needs_refresh(issued));
        assert!(!second.needs_refresh(at(1_800_000_001_748)));
        assert!(
            second.needs_refresh(at(1_800_000_001_749)),
            "a quarter before expiry"
        );
        assert!(!second.is_expired(at(1_800_000_001_998)));
        assert!(second.is_expired(at(1_800_000_001_999)));
    }

    #[test]
    fn a_token_without_lifetime_is_never_due() {
        let now = at(0);
        let forever = TokenSet::new(AccessToken::new("a".into()), None, None, vec![], now);
        assert!(!forever.needs_refresh(at(i64::MAX / 2_000_000)));
        assert!(!forever.is_expired(at(i64::MAX / 2_000_000)));
    }

    proptest::proptest! {
        /// Whatever `expires_in` a provider sends, and whenever, the token
        /// set is made without a panic, and is due before it expires.
        #[test]
        fn any_lifetime_makes_a_token_set(
            seconds in proptest::prelude::any::<u64>(),
            now in -377_705_116_800_i64..=253_402_300_799_i64,
        ) {
            let now = OffsetDateTime::from_unix_timestamp(now).expect("in range");
            let lifetime = Duration::try_from(std::time::Duration::from_secs(seconds))
                .unwrap_or(MAX_LIFETIME);
            let set = tokens(lifetime, now);
            let (due, expires) = (set.refresh_after.expect("due"), set.expires_at.expect("expiry"));
            proptest::prop_assert!(now <= due && due <= expires);
            proptest::prop_assert!(expires - now <= MAX_LIFETIME);
            let _ = set.expires_in(now);
            let _ = set.needs_confirming(Some(std::time::Duration::MAX), now);
        }
    }

    #[test]
    fn times_survive_the_store_to_the_millisecond() {
        let set = tokens(Duration::milliseconds(1500), at(1_800_000_000_123));
        let stored = serde_json::to_string(&set).expect("json");
        let back: TokenSet = serde_json::from_str(&stored).expect("json");
        assert_eq!(back.expires_at, Some(at(1_800_000_001_623)));
        assert_eq!(back.refresh_after, set.refresh_after);
    }
}
