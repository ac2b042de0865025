//! "Your sessions": the signed-in user's sessions on this app, on every
//! instance, as the user sees them, and signing out the other ones. Each
//! is ended as a logout ends one: its refresh token revoked, its record
//! gone, so that its browser is told "Your session ended" on its next page.
//!
//! Only sessions of the same user (`sub`) are ever listed or ended: a
//! session is named by a hash of its id (never the id, which is the value
//! of that browser's cookie), looked for among the user's own sessions.

use time::OffsetDateTime;
use tower_sessions::session::Id;
use tower_sessions::Session;

use super::clock::rfc3339;
use super::metrics::Ended;
use super::provider::revoke_quietly;
use super::session::UserSession;
use super::store::Store;
use super::{Auth, AuthError};
use crate::model::{SessionEntry, SessionList};

/// Sessions listed at most: this browser's, then the most recently active.
/// The rest are counted, and "Sign out everywhere else" ends them too.
pub(crate) const MAX_LISTED: usize = 50;

/// The user's sessions that have not ended.
pub(crate) async fn list(
    auth: &Auth,
    session: &Session,
    user: &UserSession,
) -> Result<SessionList, AuthError> {
    let Some(subject) = user.subject() else {
        return Ok(SessionList::default());
    };
    let now = auth.settings().clock.now();
    let idle_timeout =
        time::Duration::try_from(auth.settings().idle_timeout).unwrap_or(time::Duration::MAX);
    let this = session.id();
    let mut entries: Vec<_> = auth
        .sessions()
        .all_of(subject)
        .await?
        .into_iter()
        .filter(|(_, other)| other.deadline() > now)
        .map(|(id, other)| {
            let this_browser = Some(id) == this;
            let last_active = last_active(other.idle_until, other.issued_at(), idle_timeout, now);
            let entry = SessionEntry {
                handle: Store::key_of(&id),
                device: other
                    .device
                    .clone()
                    .unwrap_or_else(|| "An unknown device".to_owned()),
                signed_in_at: other.issued_at().and_then(rfc3339),
                last_active_at: rfc3339(last_active).unwrap_or_default(),
                ends_at: rfc3339(other.deadline()).unwrap_or_default(),
                this_browser,
            };
            (this_browser, last_active, entry)
        })
        .collect();
    entries.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    let not_shown = entries.len().saturating_sub(MAX_LISTED);
    entries.truncate(MAX_LISTED);
    Ok(SessionList {
        sessions: entries.into_iter().map(|(_, _, entry)| entry).collect(),
        not_shown,
    })
}

/// The last activity the store knows of: activity moves the idle deadline
/// to a full idle timeout ahead, at most once a minute.
fn last_active(
    idle_until: OffsetDateTime,
    signed_in: Option<OffsetDateTime>,
    idle_timeout: time::Duration,
    now: OffsetDateTime,
) -> OffsetDateTime {
    let moved_at = idle_until.saturating_sub(idle_timeout);
    moved_at.max(signed_in.unwrap_or(moved_at)).min(now)
}

/// Ends the user's session named `handle`, if it is one of theirs and not
/// this browser's (which signs out with the logout button). False when
/// there is no such session, or it ended meanwhile.
pub(crate) async fn end_one(
    auth: &Auth,
    session: &Session,
    user: &UserSession,
    handle: &str,
) -> Result<bool, AuthError> {
    let Some(subject) = user.subject() else {
        return Ok(false);
    };
    auth.limit_action(session.id())?;
    let this = session.id();
    let named = auth
        .sessions()
        .ids_of(subject)
        .await?
        .into_iter()
        .find(|id| Some(*id) != this && Store::key_of(id) == handle);
    match named {
        Some(id) => end(auth, &id).await,
        None => Ok(false),
    }
}

/// Ends every session of the user but this browser's; returns how many.
pub(crate) async fn end_others(
    auth: &Auth,
    session: &Session,
    user: &UserSession,
) -> Result<usize, AuthError> {
    let Some(subject) = user.subject() else {
        return Ok(0);
    };
    auth.limit_action(session.id())?;
    let this = session.id();
    let mut ended = 0;
    for id in auth.sessions().ids_of(subject).await? {
        if Some(id) != this && end(auth, &id).await? {
            ended += 1;
        }
    }
    Ok(ended)
}

async fn end(auth: &Auth, id: &Id) -> Result<bool, AuthError> {
    let Some(ended) = auth.sessions().delete(id).await? else {
        return Ok(false);
    };
    tracing::info!("a session ended by its user from another session");
    auth.metrics().session_ended(Ended::SignedOutElsewhere);
    revoke_quietly(auth, ended.tokens.refresh_token.as_ref()).await;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_activity_is_read_from_the_idle_deadline() {
        let at = |seconds: i64| {
            OffsetDateTime::from_unix_timestamp(1_800_000_000 + seconds).expect("time")
        };
        let hour = time::Duration::hours(1);
        let (signed_in, now) = (Some(at(0)), at(900));
        let idle_until = at(600) + hour;
        assert_eq!(last_active(idle_until, signed_in, hour, now), at(600));
        // Never before the sign-in, never after now.
        assert_eq!(last_active(idle_until, signed_in, hour * 2, now), at(0));
        assert_eq!(
            last_active(idle_until, signed_in, time::Duration::ZERO, now),
            now
        );
    }
}
