//! What happens to a session on each request ([`current`]): a session past
//! its idle timeout or lifetime ends before anything else; an active one has
//! its idle deadline moved on (once a minute at most); an access token that
//! is due, or a grant not confirmed for `liveness_interval`, is renewed
//! (`refresh`); a profile an event marked as changed is fetched again
//! (`profile`). Nothing else reaches the provider.

use std::sync::Arc;

use time::OffsetDateTime;
use tower_sessions::Session;

use super::metrics::Ended;
use super::refresh::RefreshFailure;
use super::session::{self, UserSession};
use super::{profile, provider, Auth, AuthError};

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
    let Some(user) = auth.sessions().get_cached(session).await? else {
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
        auth.metrics()
            .session_ended(Ended::at_deadline(user.ends_at, now));
        provider::revoke_quietly(auth, user.tokens.refresh_token.as_ref()).await;
        auth.sessions().delete_current(session).await?;
        return Ok(Current::Ended);
    }
    let user = if user.activity_is_due(auth.settings(), now) {
        match extend(auth, session, user, now).await? {
            Some(extended) => extended,
            None => {
                auth.sessions().delete_current(session).await?;
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
    let extended = auth
        .sessions()
        .update(&id, |stored| {
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
            auth.sessions().delete_current(session).await?;
            auth.metrics().session_ended(Ended::Lifetime);
            return Ok(Current::Ended);
        }
        return Ok(Current::SignedIn(user));
    };
    match auth.refresher().refresh(auth, id, &refresh_token).await {
        // The tokens are in the store: read the session back from there.
        Ok(()) => match auth.sessions().get(&id).await? {
            Some(renewed) => Ok(Current::SignedIn(Arc::new(renewed))),
            None => {
                auth.sessions().delete_current(session).await?;
                Ok(Current::Guest)
            }
        },
        Err(RefreshFailure::Rejected) => {
            auth.sessions().delete_current(session).await?;
            Ok(Current::Ended)
        }
        Err(RefreshFailure::SessionGone) => {
            auth.sessions().delete_current(session).await?;
            Ok(Current::Guest)
        }
        Err(RefreshFailure::NoAnswer) => Ok(Current::SignedIn(user)),
    }
}
