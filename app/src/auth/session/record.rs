//! The signed-in user as the server keeps them ([`UserSession`]), the form
//! the store holds it in, and its deadlines.

use openidconnect::core::CoreIdToken;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::shown::ShownOnce;
use crate::auth::provider::verified_payload;
use crate::auth::store::Index;
use crate::auth::tokens::TokenSet;
use crate::auth::AuthSettings;
use crate::claims::UserClaims;

/// The key of the user's record inside the session.
pub(super) const KEY: &str = "user";

/// Everything the server keeps about a signed-in user.
///
/// Stored as [`Stored`]: each claim once. The ID token's claims are read
/// back from the token itself, which is kept anyway for `id_token_hint`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "Stored", into = "Stored")]
pub(crate) struct UserSession {
    /// Sent back as `id_token_hint` on logout and step-up.
    pub id_token: CoreIdToken,
    /// The ID token's claims, as verified at sign-in: the payload of
    /// `id_token`, decoded once, with the `refreshed` claims in place of its
    /// own.
    pub claims: Value,
    /// The authorization claims of the last refreshed ID token (`null`: the
    /// provider no longer sends it).
    pub refreshed: Map<String, Value>,
    pub userinfo: Value,
    pub tokens: TokenSet,
    /// How many times the provider said the profile changed…
    pub profile_changes: u64,
    /// …and how many of those changes `userinfo` has caught up with: while
    /// it is behind, the next page view fetches userinfo again. A change
    /// that arrives during a fetch counts after it, so it is never lost.
    pub profile_seen: u64,
    /// The session's lifetime ends here, whatever the activity.
    pub ends_at: OffsetDateTime,
    /// And here, unless activity moves it on.
    pub idle_until: OffsetDateTime,
    /// What it signed in from ("Firefox on Windows"), for the user's list
    /// of their sessions.
    pub device: Option<String>,
    /// What pages show of it, made on first use: a session read once and
    /// served to many requests (see [`SessionCache`](super::cache)) is made
    /// ready once.
    pub shown: ShownOnce,
}

/// A [`UserSession`] as the store holds it: each claim once.
#[derive(Serialize, Deserialize)]
struct Stored {
    id_token: CoreIdToken,
    /// Userinfo's claims, but for those with the same value in the ID
    /// token…
    userinfo: Value,
    /// …which are only named here, and read back from the ID token.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    userinfo_as_id_token: Vec<String>,
    /// Claims of the last refreshed ID token, in place of the first one's.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    refreshed: Map<String, Value>,
    tokens: TokenSet,
    #[serde(default)]
    profile_changes: u64,
    #[serde(default)]
    profile_seen: u64,
    #[serde(with = "time::serde::timestamp::milliseconds_i64")]
    ends_at: OffsetDateTime,
    #[serde(with = "time::serde::timestamp::milliseconds_i64")]
    idle_until: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device: Option<String>,
}

impl TryFrom<Stored> for UserSession {
    type Error = &'static str;

    fn try_from(stored: Stored) -> Result<Self, Self::Error> {
        // Verified before it was stored; the store is ours.
        let mut claims = verified_payload(&stored.id_token.to_string())
            .ok_or("the stored ID token is unreadable")?;
        overlay(&mut claims, &stored.refreshed);
        let mut userinfo = stored.userinfo;
        if let Value::Object(own) = &mut userinfo {
            for name in stored.userinfo_as_id_token {
                if let Some(value) = claims.get(&name) {
                    own.insert(name, value.clone());
                }
            }
        }
        Ok(Self {
            id_token: stored.id_token,
            claims,
            refreshed: stored.refreshed,
            userinfo,
            tokens: stored.tokens,
            profile_changes: stored.profile_changes,
            profile_seen: stored.profile_seen,
            ends_at: stored.ends_at,
            idle_until: stored.idle_until,
            device: stored.device,
            shown: ShownOnce::default(),
        })
    }
}

impl From<UserSession> for Stored {
    fn from(user: UserSession) -> Self {
        let mut userinfo = user.userinfo;
        let mut userinfo_as_id_token = Vec::new();
        if let Value::Object(own) = &mut userinfo {
            own.retain(|name, value| {
                let repeated = user.claims.get(name) == Some(value);
                if repeated {
                    userinfo_as_id_token.push(name.clone());
                }
                !repeated
            });
        }
        Self {
            id_token: user.id_token,
            userinfo,
            userinfo_as_id_token,
            refreshed: user.refreshed,
            tokens: user.tokens,
            profile_changes: user.profile_changes,
            profile_seen: user.profile_seen,
            ends_at: user.ends_at,
            idle_until: user.idle_until,
            device: user.device,
        }
    }
}

/// Puts each of `claims` in `into`, or takes it out where it is `null`.
fn overlay(into: &mut Value, claims: &Map<String, Value>) {
    let Value::Object(into) = into else {
        return;
    };
    for (name, value) in claims {
        if value.is_null() {
            into.remove(name);
        } else {
            into.insert(name.clone(), value.clone());
        }
    }
}

/// Activity moves the idle deadline on at most this often, so that a page
/// view costs no store write.
const ACTIVITY_GRANULARITY: time::Duration = time::Duration::minutes(1);

/// A record stays in the store this long after its session ended, so that
/// the user's next visit can say so and revoke its refresh token; then the
/// store drops it.
pub(super) const ENDED_RECORD_KEPT: time::Duration = time::Duration::days(1);

/// When a session signed in at `now` ends, by idle timeout and lifetime.
pub(crate) fn deadlines(
    settings: &AuthSettings,
    now: OffsetDateTime,
) -> (OffsetDateTime, OffsetDateTime) {
    let span = |duration: std::time::Duration| {
        time::Duration::try_from(duration).unwrap_or(time::Duration::MAX)
    };
    (
        now.saturating_add(span(settings.max_lifetime)),
        now.saturating_add(span(settings.idle_timeout)),
    )
}

impl UserSession {
    /// When the session ends, unless activity extends it.
    pub fn deadline(&self) -> OffsetDateTime {
        self.ends_at.min(self.idle_until)
    }

    /// True when the idle deadline is due to be moved on: the last move was
    /// at least `ACTIVITY_GRANULARITY` ago.
    pub fn activity_is_due(&self, settings: &AuthSettings, now: OffsetDateTime) -> bool {
        let (_, idle_until) = deadlines(settings, now);
        idle_until - self.idle_until >= ACTIVITY_GRANULARITY && self.idle_until < self.ends_at
    }

    /// Takes the authorization claims (`claims::AUTHORIZATION`) of a
    /// refreshed ID token, verified, in place of those the session had, in
    /// the ID token's claims and in userinfo alike (userinfo is read first,
    /// and must not keep a role the provider took away). `sid`, `auth_time`
    /// and `amr` stay the sign-in's.
    pub fn follow(&mut self, refreshed: &Value) {
        for name in crate::claims::AUTHORIZATION {
            let value = refreshed.get(name).cloned().unwrap_or(Value::Null);
            self.refreshed.insert(name.to_owned(), value);
        }
        overlay(&mut self.claims, &self.refreshed);
        if let Value::Object(userinfo) = &self.userinfo {
            let held: Map<String, Value> = self
                .refreshed
                .iter()
                .filter(|(name, _)| userinfo.contains_key(name.as_str()))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect();
            overlay(&mut self.userinfo, &held);
        }
    }

    /// The provider said the profile changed.
    pub fn profile_changed(&mut self) {
        self.profile_changes = self.profile_changes.saturating_add(1);
    }

    /// True while `userinfo` is older than the provider's last change.
    pub fn profile_is_stale(&self) -> bool {
        self.profile_seen < self.profile_changes
    }

    /// The user's subject identifier at the provider.
    pub fn subject(&self) -> Option<&str> {
        self.claims.get("sub").and_then(Value::as_str)
    }

    /// The user's claims, typed: userinfo first, as it is the fresher.
    pub fn claims(&self) -> UserClaims {
        UserClaims::from_sources(&[&self.userinfo, &self.claims])
    }

    /// When the sign-in's ID token was issued (`iat`): when this session
    /// began.
    pub fn issued_at(&self) -> Option<OffsetDateTime> {
        self.claims
            .get("iat")
            .and_then(Value::as_i64)
            .and_then(|seconds| OffsetDateTime::from_unix_timestamp(seconds).ok())
    }

    /// When the user last signed in at the provider (`auth_time`).
    pub fn signed_in_at(&self) -> Option<OffsetDateTime> {
        self.claims
            .get("auth_time")
            .and_then(Value::as_i64)
            .and_then(|seconds| OffsetDateTime::from_unix_timestamp(seconds).ok())
    }
}

/// What a stored record is filed under: its user's subject and provider
/// session id, so that events about either can end it, and its deadline, so
/// that the sweep finds it.
pub(crate) fn index_of(record: &tower_sessions::session::Record) -> Index {
    let user = record.data.get(KEY);
    let at = |name: &str| {
        user.and_then(|user| user.get(name))
            .and_then(Value::as_i64)
            .and_then(|millis| {
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).ok()
            })
    };
    let deadline = match (at("ends_at"), at("idle_until")) {
        (Some(ends), Some(idle)) => Some(ends.min(idle)),
        (ends, idle) => ends.or(idle),
    };
    let claims = user
        .and_then(|user| user.get("id_token"))
        .and_then(Value::as_str)
        .and_then(verified_payload);
    let claim = |name: &str| {
        claims
            .as_ref()
            .and_then(|claims| claims.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Index {
        subject: claim("sub"),
        sid: claim("sid"),
        deadline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openidconnect::{AccessToken, RefreshToken};
    use serde_json::json;
    use std::str::FromStr;

    const ACCESS: &str = "ACCESS-TOKEN-VALUE-123";
    const REFRESH: &str = "REFRESH-TOKEN-VALUE-456";
    // A syntactically valid JWT; the view must not show it either.
    const ID_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2V4YW1wbGUuYXV0aGdlYXIuY2xvdWQiLCJhdWQiOiJjIiwiZXhwIjoxODAwMDAwMDAwLCJpYXQiOjE3MDAwMDAwMDAsInN1YiI6InVzZXItNDIifQ.c2lnbmF0dXJl";

    fn user() -> UserSession {
        let issued = OffsetDateTime::from_unix_timestamp(1_799_996_400).expect("time");
        UserSession {
            id_token: CoreIdToken::from_str(ID_TOKEN).expect("jwt"),
            claims: json!({"sub": "user-42", "iss": "https://example.authgear.cloud"}),
            refreshed: Map::new(),
            userinfo: json!({"sub": "user-42", "email": "ada@example.com"}),
            tokens: TokenSet::new(
                AccessToken::new(ACCESS.into()),
                Some(RefreshToken::new(REFRESH.into())),
                Some(time::Duration::hours(1)),
                vec!["openid".into(), "offline_access".into()],
                issued,
            ),
            profile_changes: 0,
            profile_seen: 0,
            ends_at: issued + time::Duration::days(30),
            idle_until: issued + time::Duration::days(7),
            device: None,
            shown: ShownOnce::default(),
        }
    }

    #[test]
    fn what_pages_show_never_contains_a_token() {
        let user = user();
        let view = user.home(OffsetDateTime::now_utc());
        let shown = serde_json::to_string(&view).expect("json");
        for secret in [ACCESS, REFRESH, ID_TOKEN, "eyJ"] {
            assert!(!shown.contains(secret), "{secret} leaked into {shown}");
        }
        assert_eq!(user.shown().display_name, "ada@example.com");
        let session = &view.profile.session;
        assert!(session.tokens.has_refresh_token);
        assert_eq!(
            session.tokens.access_token_expires_at.as_deref(),
            Some("2027-01-15T08:00:00Z")
        );
        assert_eq!(user.subject(), Some("user-42"));
        assert_eq!(
            session.ends_at, "2027-01-22T07:00:00Z",
            "the idle deadline, first"
        );
    }

    #[test]
    fn a_part_is_rendered_once_per_session_read() {
        let user = user();
        let renders = std::cell::Cell::new(0);
        let render = |subject: &str| {
            renders.set(renders.get() + 1);
            Some(format!("<p>{subject}</p>"))
        };
        let subject = || user.shown().profile.claims.subject.clone();
        let part = |key| user.shown().part(key, || render(&subject()));
        assert_eq!(part((1, 0)).as_deref(), Some("<p>user-42</p>"));
        assert_eq!(part((1, 0)).as_deref(), Some("<p>user-42</p>"));
        assert_eq!(renders.get(), 1, "shown twice, rendered once");
        part((1, 1));
        part((2, 0));
        assert_eq!(renders.get(), 3, "another variant, another part");
        // A session is cloned to be changed: the copy shows nothing old.
        user.clone().shown().part((1, 0), || render("changed"));
        assert_eq!(renders.get(), 4);
        assert_eq!(user.shown().part((3, 0), || None), None, "nothing to keep");
    }

    #[test]
    fn the_store_holds_each_claim_once_and_reads_back_the_same_session() {
        let mut user = user();
        user.claims = verified_payload(ID_TOKEN).expect("payload");
        user.userinfo = json!({"sub": "user-42", "email": "ada@example.com", "iss": "elsewhere"});
        let stored = serde_json::to_value(&user).expect("json");
        assert_eq!(stored.get("claims"), None, "the ID token holds them");
        assert_eq!(
            stored["userinfo"],
            json!({"email": "ada@example.com", "iss": "elsewhere"}),
            "sub is the ID token's"
        );
        assert_eq!(stored["userinfo_as_id_token"], json!(["sub"]));
        let text = stored.to_string();
        assert_eq!(text.matches("ada@example.com").count(), 1);

        let read: UserSession = serde_json::from_value(stored).expect("read back");
        assert_eq!(read.userinfo, user.userinfo);
        assert_eq!(read.claims, user.claims);
        assert_eq!(read.subject(), Some("user-42"));
    }

    #[test]
    fn activity_moves_the_idle_deadline_at_most_once_a_minute() {
        let settings = AuthSettings::new(
            openidconnect::IssuerUrl::new("https://example.authgear.cloud".into()).expect("url"),
            openidconnect::ClientId::new("c".into()),
            openidconnect::ClientSecret::new("s".into()),
            url::Url::parse("https://app.example").expect("url"),
            axum_extra::extract::cookie::Key::generate(),
        );
        let signed_in = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time");
        let (ends_at, idle_until) = deadlines(&settings, signed_in);
        let mut user = user();
        user.ends_at = ends_at;
        user.idle_until = idle_until;
        let later = |seconds| signed_in + time::Duration::seconds(seconds);
        assert!(!user.activity_is_due(&settings, later(59)));
        assert!(user.activity_is_due(&settings, later(60)));
        assert_eq!(user.deadline(), idle_until);
        // Near the end of its lifetime, the lifetime decides.
        user.idle_until = ends_at;
        assert!(!user.activity_is_due(&settings, later(86_400 * 29)));
        assert_eq!(user.deadline(), ends_at);
    }
}
