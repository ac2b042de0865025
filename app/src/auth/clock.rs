//! The time every session deadline is measured with: the system's, or for
//! tests one that they move on by days without waiting for them.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

/// The system clock, or the system clock plus an offset that only moves
/// forward (tests). Clones share the offset.
///
/// It decides the session's own times (idle timeout, lifetime, when the
/// access token is due); claims the provider signed (`exp`, `iat`) are
/// checked against the system clock, as the provider's own clock runs.
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    /// The system's clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that starts at the system's time and that [`Self::advance`]
    /// moves on.
    pub fn adjustable() -> Self {
        Self(Some(Arc::default()))
    }

    /// Moves an adjustable clock on by `by`; the system clock cannot be moved.
    pub fn advance(&self, by: std::time::Duration) {
        if let Some(offset) = &self.0 {
            let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
            offset.fetch_add(millis, Ordering::Relaxed);
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        match &self.0 {
            None => now,
            Some(offset) => {
                now.saturating_add(Duration::milliseconds(offset.load(Ordering::Relaxed)))
            }
        }
    }
}

/// A time as RFC 3339, to the second.
pub(crate) fn rfc3339(at: OffsetDateTime) -> Option<String> {
    at.replace_millisecond(0)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_adjustable_clock_moves_and_its_clones_move_with_it() {
        let day = std::time::Duration::from_secs(86_400);
        let system = Clock::system();
        system.advance(day);
        assert!(system.now() - OffsetDateTime::now_utc() < Duration::hours(1));

        let clock = Clock::adjustable();
        let shared = clock.clone();
        clock.advance(day * 3);
        let before = OffsetDateTime::now_utc();
        let ahead = shared.now() - before;
        assert!(ahead >= Duration::days(3) && ahead < Duration::days(3) + Duration::hours(1));
    }
}
