//! The data that crosses the wire between the server and the browser.
//!
//! Compiled on both sides. Nothing here can hold a token: the types only have
//! room for claims and metadata, so a secret cannot leak by accident.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::claims::UserClaims;

/// Who is looking at the app: what every page needs (the header, the
/// notices). Shared by the whole app in the browser, and carried by every
/// page's data, so each navigation brings it up to date.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Viewer {
    pub user: Option<Account>,
    pub notice: Option<Notice>,
    /// True when the app talks to the local development provider, not Authgear.
    pub local_provider: bool,
    /// The provider has an account settings page to link to.
    pub account_settings: bool,
}

/// The signed-in user, as every page's header shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub display_name: String,
    /// The user holds the role that opens the admin page.
    pub is_admin: bool,
}

/// What one page shows: who is looking, and the page's own content. Every
/// page's server function answers one.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Page<T> {
    pub viewer: Viewer,
    pub content: T,
}

/// The home page's content for a signed-in user.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Home {
    pub profile: Profile,
    /// Seconds until the access token the server holds expires, as of this
    /// answer: the API panel's clock starts from it without calling the API.
    pub access_token_expires_in: Option<u64>,
}

/// The user's profile and session, as one session read shows them: the
/// same for every page made from that read.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Profile {
    pub claims: UserClaims,
    /// RFC 3339 time of the user's last sign-in at the provider (`auth_time`).
    pub signed_in_at: Option<String>,
    pub session: SessionDetails,
}

/// The security page: it needs a recent sign-in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SecurityCheck {
    /// The user signed in recently enough.
    Confirmed {
        /// RFC 3339 times: the sign-in, and when it stops counting as recent.
        signed_in_at: String,
        recent_until: String,
        methods: Vec<String>,
    },
    /// The sign-in is too old: the browser goes to `to`, which leaves the
    /// app for the provider.
    Reauthenticate { to: String },
    /// The account has no way to sign in again (an anonymous user).
    CannotReauthenticate,
}

/// The admin page, for a user with the admin role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminAccess {
    pub role: String,
    pub name: String,
}

/// The "Your sessions" page: the user's sessions on this app, on every
/// instance of it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionList {
    /// This browser's first, then the most recently active.
    pub sessions: Vec<SessionEntry>,
    /// Sessions past the list's bound, not shown. Signing out everywhere
    /// else ends them too.
    pub not_shown: usize,
}

/// One session of the user, as the list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEntry {
    /// Names the session when the user ends it: a hash of its id, never the
    /// id (the value of that browser's cookie).
    pub handle: String,
    /// What it signed in from: "Firefox on Windows".
    pub device: String,
    /// RFC 3339 times: the sign-in, the last activity the store knows of (to
    /// the minute), and when the session ends unless activity extends it.
    pub signed_in_at: Option<String>,
    pub last_active_at: String,
    pub ends_at: String,
    /// The session of the browser looking at the list.
    pub this_browser: bool,
}

/// What the JSON API (`paths::USERINFO_API`) answers: the protected API's
/// response, and how long the access token the server used stays valid.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ApiCall {
    /// The API's JSON as the server indented it: the page shows it as it
    /// comes, with no JSON value type in the browser's code.
    pub response: Box<RawValue>,
    pub access_token_expires_in: Option<u64>,
}

/// The session as the page shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionDetails {
    /// RFC 3339 time at which the session ends (idle timeout or lifetime,
    /// whichever comes first) unless activity extends it.
    pub ends_at: String,
    pub tokens: TokenMeta,
    /// The session as indented JSON, for people to read: the end, the ID
    /// token's claims, userinfo's and the token facts. Made on the server,
    /// and carried as JSON (not as a string of it, escaped once more).
    pub json: Box<RawValue>,
}

/// Facts about the tokens the server holds, never the tokens themselves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenMeta {
    /// RFC 3339 time at which the access token expires, when the provider said.
    pub access_token_expires_at: Option<String>,
    pub scopes: Vec<String>,
    pub has_refresh_token: bool,
}

/// A one-off message for whoever is looking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Notice {
    /// The session ended: logout elsewhere, a limit reached, the provider
    /// or an Authgear event ended it.
    SessionEnded,
}

impl Notice {
    pub fn text(self) -> &'static str {
        match self {
            Notice::SessionEnded => "Your session ended. Please sign in again.",
        }
    }
}

/// Why a server function failed, in words a person can act on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ApiError {
    /// Nobody is signed in (401).
    #[error("Please sign in first.")]
    SignedOut,
    /// The session this browser had has ended (401).
    #[error("Your session ended. Please sign in again.")]
    SessionEnded,
    /// Signed in, without the role the page needs (403).
    #[error("This page is for users with the {role} role.")]
    Forbidden { role: String },
    #[error("The identity provider is unavailable right now. Please try again in a moment.")]
    Unavailable,
    /// This session asked for provider-backed actions too often (429).
    #[error("Too many requests. Please wait a moment and try again.")]
    TooManyRequests,
    /// The session to end is not one of the user's, or has ended (404).
    #[error("That session has already ended.")]
    NoSuchSession,
    /// Something on the server failed (its store, its setup); the log says what.
    #[error("Something went wrong on our side. Please try again in a moment.")]
    Internal,
    /// The request did not reach the function, its answer did not come back,
    /// or the request could not be read.
    #[error("The request failed: {0}")]
    Transport(String),
}

impl leptos::server_fn::error::FromServerFnError for ApiError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(error: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        // On the server, the error's text is the server's business: the
        // browser gets a fixed sentence. A request whose body cannot be read
        // is the client's mistake: 400, not the 500 a server function error
        // gets by default.
        #[cfg(feature = "ssr")]
        {
            use leptos::server_fn::error::ServerFnErrorErr::{Args, Deserialization, MissingArg};
            if matches!(error, Args(_) | Deserialization(_) | MissingArg(_)) {
                if let Some(response) =
                    leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
                {
                    response.set_status(axum::http::StatusCode::BAD_REQUEST);
                }
                return ApiError::Transport("the request could not be read".into());
            }
            ApiError::Internal
        }
        // In the browser: what went wrong with the request, for the person.
        #[cfg(not(feature = "ssr"))]
        ApiError::Transport(error.to_string())
    }
}

/// The claims tried, in order, for the name in "Welcome <name>".
const NAME_CLAIMS: [&str; 5] = ["name", "email", "phone_number", "preferred_username", "sub"];

/// Picks the friendliest name the provider gave us.
///
/// Sources are searched in the order given (userinfo first: it is fresher than
/// the ID token), and a blank value counts as missing, so a user with no name
/// is greeted by email, phone, username or, at worst, subject identifier.
pub fn display_name(sources: &[&Value]) -> String {
    NAME_CLAIMS
        .iter()
        .flat_map(|claim| sources.iter().map(move |source| source.get(claim)))
        .flatten()
        .filter_map(Value::as_str)
        .map(str::trim)
        .find(|value| !value.is_empty())
        .unwrap_or("there")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn display_name_prefers_name() {
        let info = json!({"name": "Ada Lovelace", "email": "ada@example.com", "sub": "u1"});
        assert_eq!(display_name(&[&info]), "Ada Lovelace");
    }

    #[test]
    fn display_name_falls_back_in_order() {
        let cases = [
            (
                json!({"email": "ada@example.com", "phone_number": "+1", "sub": "u1"}),
                "ada@example.com",
            ),
            (
                json!({"phone_number": "+44 20", "preferred_username": "ada", "sub": "u1"}),
                "+44 20",
            ),
            (json!({"preferred_username": "ada", "sub": "u1"}), "ada"),
            (json!({"sub": "u1"}), "u1"),
        ];
        for (claims, expected) in cases {
            assert_eq!(display_name(&[&claims]), expected, "claims: {claims}");
        }
    }

    #[test]
    fn display_name_skips_blank_and_non_string_values() {
        let info = json!({"name": "  ", "email": 42, "preferred_username": "ada", "sub": "u1"});
        assert_eq!(display_name(&[&info]), "ada");
    }

    #[test]
    fn display_name_searches_every_source_before_falling_back() {
        let userinfo = json!({"sub": "u1"});
        let id_token = json!({"sub": "u1", "email": "ada@example.com"});
        assert_eq!(display_name(&[&userinfo, &id_token]), "ada@example.com");
    }

    #[test]
    fn display_name_has_a_last_resort() {
        assert_eq!(display_name(&[&json!({})]), "there");
    }
}
