//! Sessions nobody comes back to: past their idle timeout or lifetime, their
//! refresh tokens are revoked at the provider before their records leave
//! the store, rather than live on there until they expire.
//!
//! One instance sweeps per period (a claim in the store); it finds the
//! sessions by the store's deadline index (SQLite: an indexed column; Redis:
//! a sorted set), never by reading every record.

use std::time::Duration;

use super::metrics::Ended;
use super::{provider, Auth, AuthError};

/// Sessions read and ended per round trip to the store.
const BATCH: usize = 100;

/// Ends the sessions past their deadline, if no instance did in the last
/// `period`; returns how many it ended. A session whose token the provider
/// would not revoke is left for the next sweep (its record still expires a
/// day after its deadline).
pub(crate) async fn once(auth: &Auth, period: Duration) -> Result<usize, AuthError> {
    // Held for a little less than the period: the same instance's next tick
    // comes exactly a period later and must find it free.
    let claim = auth
        .store()
        .claim("sweep", period.saturating_sub(period / 10))
        .await
        .map_err(super::session::store_error)?;
    if !claim {
        return Ok(0);
    }
    let now = auth.settings().clock.now();
    let mut ended = 0;
    loop {
        let due = auth.sessions().due(now, BATCH).await?;
        let batch = due.len();
        let mut ended_here = 0;
        for id in due {
            let Some(user) = auth.sessions().get(&id).await? else {
                continue;
            };
            if user.deadline() > now
                || !provider::revoke_quietly(auth, user.tokens.refresh_token.as_ref()).await
            {
                continue;
            }
            auth.sessions().delete(&id).await?;
            auth.metrics()
                .session_ended(Ended::at_deadline(user.ends_at, now));
            ended_here += 1;
        }
        ended += ended_here;
        if batch < BATCH || ended_here == 0 {
            break;
        }
    }
    if ended > 0 {
        tracing::info!(
            ended,
            "sessions past their deadline ended, their refresh tokens revoked"
        );
    }
    Ok(ended)
}

/// [`once`] every `period`, for as long as it is polled.
pub(crate) async fn every(auth: Auth, period: Duration) {
    let mut ticks = tokio::time::interval(period);
    loop {
        ticks.tick().await;
        if let Err(error) = once(&auth, period).await {
            error.log("sweep");
        }
    }
}
