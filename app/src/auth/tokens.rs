//! What the server holds for a signed-in user: the OAuth tokens
//! ([`TokenSet`]) and when the access token is due for renewal. Renewing
//! it is `refresh`'s job; deciding when, on each request, `lifecycle`'s.

use openidconnect::core::CoreTokenResponse;
use openidconnect::{AccessToken, OAuth2TokenResponse, RefreshToken, Scope};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::clock::rfc3339;
use crate::model::TokenMeta;

/// Renew when this much of the lifetime is left, or a quarter of it for
/// short-lived tokens, so a token is never sent just as it expires.
const REFRESH_MARGIN: Duration = Duration::seconds(30);

/// An access token said to live longer is taken to live this long: a
/// provider's `expires_in` of 10^12 must not overflow a date.
const MAX_LIFETIME: Duration = Duration::days(365);

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
            access_token_expires_at: self.expires_at.and_then(rfc3339),
            scopes: self.scopes.clone(),
            has_refresh_token: self.refresh_token.is_some(),
        }
    }
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
