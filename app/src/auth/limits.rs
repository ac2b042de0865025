//! How often one session may make the app call the provider on its behalf
//! (the API call, reloading the profile): a browser, or a script holding a
//! stolen cookie, cannot turn this server into a stream of provider calls.

use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tower_sessions::session::Id;

/// A burst of this many calls…
const BURST: NonZeroU32 = NonZeroU32::new(5).expect("non-zero");
/// …then this many a second.
const PER_SECOND: NonZeroU32 = NonZeroU32::new(2).expect("non-zero");
/// Sessions the limiter remembers before it forgets the idle ones.
const REMEMBERED: usize = 10_000;

/// Per-session limits on provider-backed actions, on this instance.
pub(crate) struct ActionLimits(DefaultKeyedRateLimiter<Id>);

impl Default for ActionLimits {
    fn default() -> Self {
        Self(RateLimiter::keyed(
            Quota::per_second(PER_SECOND).allow_burst(BURST),
        ))
    }
}

impl ActionLimits {
    /// True if session `id` may make one more provider-backed call now.
    pub fn allow(&self, id: &Id) -> bool {
        let allowed = self.0.check_key(id).is_ok();
        if self.0.len() > REMEMBERED {
            self.0.retain_recent();
        }
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_nothing_for_that_session_alone() {
        let limits = ActionLimits::default();
        let (one, other) = (Id::default(), Id::default());
        let allowed = (0..20).filter(|_| limits.allow(&one)).count();
        assert_eq!(allowed, 5, "the burst, and no more at once");
        assert!(limits.allow(&other), "another session is not held back");
    }
}
