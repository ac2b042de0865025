//! The claims Authgear sends about a user, typed.
//!
//! Read leniently from the provider's JSON (userinfo, then the ID token): a
//! claim of the wrong type counts as absent, long values are cut, long
//! lists are capped. A provider that lies or bloats cannot break the page
//! or grow it without bound; the raw JSON view still shows what it sent.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Authgear's own claims, in the ID token and in userinfo.
pub const IS_ANONYMOUS: &str = "https://authgear.com/claims/user/is_anonymous";
pub const IS_VERIFIED: &str = "https://authgear.com/claims/user/is_verified";
pub const CAN_REAUTHENTICATE: &str = "https://authgear.com/claims/user/can_reauthenticate";
pub const ROLES: &str = "https://authgear.com/claims/user/roles";

/// The claims that decide what a user may do. A session takes them from
/// every refreshed ID token, so a change at the provider (a role removed,
/// an email verified) reaches the app at the next refresh.
pub const AUTHORIZATION: [&str; 5] = [
    ROLES,
    IS_VERIFIED,
    CAN_REAUTHENTICATE,
    IS_ANONYMOUS,
    "email_verified",
];

/// Longest text kept from one claim, in characters.
const MAX_TEXT: usize = 256;
/// Most entries kept from one list or object claim.
const MAX_ENTRIES: usize = 32;

/// What the provider says about the signed-in user.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserClaims {
    /// `sub`: the user's identifier at the provider.
    pub subject: String,
    /// `sid`: the provider's session.
    pub session_id: Option<String>,
    /// `auth_time`: when the user last proved who they are (Unix seconds).
    pub auth_time: Option<i64>,
    /// `amr`: how they did (`pwd`, `otp`, `mfa`, …).
    pub amr: Vec<String>,
    pub is_anonymous: bool,
    pub is_verified: bool,
    /// False when the user has nothing to sign in again with (an anonymous
    /// user, for one): asking them to re-authenticate would be a dead end.
    /// Providers that do not say are assumed to allow it.
    pub can_reauthenticate: bool,
    pub roles: Vec<String>,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub preferred_username: Option<String>,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub phone_number: Option<String>,
    pub phone_number_verified: Option<bool>,
    pub picture: Option<String>,
    pub locale: Option<String>,
    /// Authgear's `custom_attributes` (from userinfo), as `name → JSON`.
    pub custom_attributes: Vec<(String, String)>,
    /// Every other claim, as `name → JSON`, so nothing the provider sends
    /// goes unseen.
    pub other: Vec<(String, String)>,
}

/// Claims read into a field above, or part of the protocol, so not "other".
const KNOWN: [&str; 30] = [
    "sub",
    "sid",
    "auth_time",
    "amr",
    IS_ANONYMOUS,
    IS_VERIFIED,
    CAN_REAUTHENTICATE,
    ROLES,
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "picture",
    "locale",
    "custom_attributes",
    "iss",
    "aud",
    "azp",
    "exp",
    "iat",
    "nbf",
    "jti",
    "nonce",
    "at_hash",
    "c_hash",
    "s_hash",
];

impl UserClaims {
    /// Reads the claims from `sources`, the first that has a claim winning:
    /// pass userinfo before the ID token, as userinfo is the fresher.
    pub fn from_sources(sources: &[&Value]) -> Self {
        let first = |name: &str| sources.iter().find_map(|source| source.get(name));
        let text = |name: &str| first(name).and_then(text);
        let flag = |name: &str| first(name).and_then(Value::as_bool);
        let list = |name: &str| first(name).map(texts).unwrap_or_default();
        Self {
            subject: text("sub").unwrap_or_default(),
            session_id: text("sid"),
            auth_time: first("auth_time").and_then(unix_seconds),
            amr: list("amr"),
            is_anonymous: flag(IS_ANONYMOUS).unwrap_or(false),
            is_verified: flag(IS_VERIFIED).unwrap_or(false),
            can_reauthenticate: flag(CAN_REAUTHENTICATE).unwrap_or(true),
            roles: list(ROLES),
            name: text("name"),
            given_name: text("given_name"),
            family_name: text("family_name"),
            preferred_username: text("preferred_username"),
            email: text("email"),
            email_verified: flag("email_verified"),
            phone_number: text("phone_number"),
            phone_number_verified: flag("phone_number_verified"),
            picture: text("picture").filter(|url| url.starts_with("https://")),
            locale: text("locale"),
            custom_attributes: first("custom_attributes")
                .and_then(Value::as_object)
                .map(entries)
                .unwrap_or_default(),
            other: others(sources),
        }
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|held| held == role)
    }
}

/// A non-blank string, cut to `MAX_TEXT` characters.
fn text(value: &Value) -> Option<String> {
    let value = value.as_str()?.trim();
    (!value.is_empty()).then(|| cut(value))
}

fn cut(value: &str) -> String {
    match value.char_indices().nth(MAX_TEXT) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}

/// The strings of a list (one string counts as a list of one), capped.
/// Entries are keys (roles, methods): kept exactly, never trimmed, so
/// `"admin "` is not `admin`.
fn texts(value: &Value) -> Vec<String> {
    let key = |value: &Value| value.as_str().filter(|key| !key.trim().is_empty()).map(cut);
    match value {
        Value::Array(items) => items.iter().filter_map(key).take(MAX_ENTRIES).collect(),
        Value::String(_) => key(value).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// A whole number of seconds between 1970 and 9999.
fn unix_seconds(value: &Value) -> Option<i64> {
    value
        .as_i64()
        .filter(|seconds| (0..=253_402_300_799).contains(seconds))
}

fn entries(object: &Map<String, Value>) -> Vec<(String, String)> {
    object
        .iter()
        .take(MAX_ENTRIES)
        .map(|(name, value)| (cut(name), cut(&value.to_string())))
        .collect()
}

/// Claims no field above reads, from every source, each name once.
fn others(sources: &[&Value]) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    for source in sources {
        let Some(object) = source.as_object() else {
            continue;
        };
        for (name, value) in object {
            if seen.len() == MAX_ENTRIES {
                return seen;
            }
            if !KNOWN.contains(&name.as_str()) && !seen.iter().any(|(kept, _)| kept == name) {
                seen.push((name.clone(), cut(&value.to_string())));
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn authgear_id_token() -> Value {
        json!({
            "iss": "https://myapp.authgear.cloud",
            "aud": ["client"],
            "exp": 1_900_000_000,
            "iat": 1_800_000_000,
            "sub": "user-1",
            "sid": "sid-1",
            "auth_time": 1_800_000_000,
            "amr": ["pwd", "otp"],
            IS_ANONYMOUS: false,
            IS_VERIFIED: true,
            CAN_REAUTHENTICATE: true,
            ROLES: ["admin", "editor"],
        })
    }

    #[test]
    fn reads_every_authgear_claim() {
        let userinfo = json!({
            "sub": "user-1",
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "email_verified": true,
            "phone_number": "+44 20 7946 0000",
            "phone_number_verified": false,
            "custom_attributes": {"team": "engines", "level": 3},
            "x_department": "analytics",
        });
        let claims = UserClaims::from_sources(&[&userinfo, &authgear_id_token()]);
        assert_eq!(claims.subject, "user-1");
        assert_eq!(claims.session_id.as_deref(), Some("sid-1"));
        assert_eq!(claims.auth_time, Some(1_800_000_000));
        assert_eq!(claims.amr, ["pwd", "otp"]);
        assert!(!claims.is_anonymous);
        assert!(claims.is_verified);
        assert!(claims.can_reauthenticate);
        assert_eq!(claims.roles, ["admin", "editor"]);
        assert!(claims.has_role("admin") && !claims.has_role("owner"));
        assert_eq!(claims.name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(claims.email_verified, Some(true));
        assert_eq!(claims.phone_number_verified, Some(false));
        assert_eq!(
            claims.custom_attributes,
            [
                ("level".into(), "3".into()),
                ("team".into(), "\"engines\"".into())
            ]
        );
        // Unknown claims are kept; protocol claims are not "other".
        assert_eq!(
            claims.other,
            [("x_department".into(), "\"analytics\"".into())]
        );
    }

    #[test]
    fn userinfo_wins_over_the_id_token() {
        let userinfo = json!({"sub": "user-1", ROLES: ["viewer"], "name": "New Name"});
        let id_token = json!({"sub": "user-1", ROLES: ["admin"], "name": "Old Name"});
        let claims = UserClaims::from_sources(&[&userinfo, &id_token]);
        assert_eq!(claims.roles, ["viewer"]);
        assert_eq!(claims.name.as_deref(), Some("New Name"));
    }

    #[test]
    fn a_provider_that_says_nothing_allows_reauthentication() {
        let claims = UserClaims::from_sources(&[&json!({"sub": "u"})]);
        assert!(claims.can_reauthenticate);
        assert!(!claims.is_anonymous && !claims.is_verified);
        assert!(claims.roles.is_empty() && claims.amr.is_empty());
        let anonymous = json!({"sub": "u", IS_ANONYMOUS: true, CAN_REAUTHENTICATE: false});
        let claims = UserClaims::from_sources(&[&anonymous]);
        assert!(claims.is_anonymous && !claims.can_reauthenticate);
    }

    #[test]
    fn wrong_types_count_as_absent() {
        let hostile = json!({
            "sub": 42,
            "sid": {"a": 1},
            "auth_time": "yesterday",
            "amr": 7,
            IS_ANONYMOUS: "true",
            IS_VERIFIED: 1,
            CAN_REAUTHENTICATE: "false",
            ROLES: {"admin": true},
            "name": ["Ada"],
            "email_verified": "yes",
            "custom_attributes": ["not", "an", "object"],
        });
        let claims = UserClaims::from_sources(&[&hostile]);
        assert_eq!(claims.subject, "");
        assert_eq!(claims.session_id, None);
        assert_eq!(claims.auth_time, None);
        assert!(claims.amr.is_empty());
        assert!(!claims.is_anonymous && !claims.is_verified);
        assert!(claims.can_reauthenticate, "only a real `false` says no");
        assert!(claims.roles.is_empty(), "a role map grants nothing");
        assert!(!claims.has_role("admin"));
        assert_eq!(claims.name, None);
        assert_eq!(claims.email_verified, None);
        assert!(claims.custom_attributes.is_empty());
        for (name, _) in &claims.other {
            assert!(!KNOWN.contains(&name.as_str()), "{name} is not other");
        }
    }

    #[test]
    fn only_string_roles_count() {
        let claims = UserClaims::from_sources(&[&json!({ROLES: ["admin", 1, null, ["x"], "  "]})]);
        assert_eq!(claims.roles, ["admin"]);
        // A single string is a list of one.
        let claims = UserClaims::from_sources(&[&json!({ROLES: "admin"})]);
        assert_eq!(claims.roles, ["admin"]);
        // Keys are exact.
        let claims = UserClaims::from_sources(&[&json!({ROLES: ["admin ", " admin"]})]);
        assert!(!claims.has_role("admin"));
    }

    #[test]
    fn oversized_values_are_cut_and_capped() {
        let huge = "x".repeat(100_000);
        let many: Vec<String> = (0..10_000).map(|i| format!("role-{i}")).collect();
        let attributes: Map<String, Value> = (0..10_000)
            .map(|i| (format!("a{i:05}"), json!(huge)))
            .collect();
        let mut id_token = json!({
            "sub": huge,
            "name": huge,
            ROLES: many,
            "custom_attributes": attributes,
        });
        for i in 0..10_000 {
            id_token[format!("extra{i}")] = json!(i);
        }
        let claims = UserClaims::from_sources(&[&id_token]);
        assert_eq!(claims.subject.chars().count(), MAX_TEXT + 1);
        assert!(claims
            .name
            .as_deref()
            .is_some_and(|name| name.ends_with('…')));
        assert_eq!(claims.roles.len(), MAX_ENTRIES);
        assert_eq!(claims.custom_attributes.len(), MAX_ENTRIES);
        assert!(claims
            .custom_attributes
            .iter()
            .all(|(_, value)| value.chars().count() <= MAX_TEXT + 1));
        assert_eq!(claims.other.len(), MAX_ENTRIES);
        // The serialized claims stay small whatever the provider sent.
        let size = serde_json::to_string(&claims)
            .map(|json| json.len())
            .unwrap_or(0);
        assert!(size < 64 * 1024, "{size} bytes");
    }

    #[test]
    fn cutting_respects_characters() {
        let long = "é".repeat(MAX_TEXT + 10);
        let cut = text(&json!(long)).unwrap_or_default();
        assert_eq!(cut.chars().count(), MAX_TEXT + 1);
    }

    #[test]
    fn auth_time_must_be_a_plausible_time() {
        for bad in [
            json!(-1),
            json!(1.5),
            json!(1e300),
            json!(i64::MAX),
            json!(null),
        ] {
            let claims = UserClaims::from_sources(&[&json!({"auth_time": bad})]);
            assert_eq!(claims.auth_time, None, "{bad}");
        }
    }

    #[test]
    fn only_https_pictures_are_kept() {
        for (url, kept) in [
            ("https://cdn.example.com/a.png", true),
            ("http://cdn.example.com/a.png", false),
            ("javascript:alert(1)", false),
            ("data:image/png;base64,AAAA", false),
        ] {
            let claims = UserClaims::from_sources(&[&json!({"picture": url})]);
            assert_eq!(claims.picture.is_some(), kept, "{url}");
        }
    }
}
