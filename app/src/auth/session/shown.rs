//! What pages show of a session ([`Shown`]): made from the session alone,
//! never from a request, once per session read.

use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use time::OffsetDateTime;

use super::UserSession;
use crate::auth::clock::rfc3339;
use crate::model::{display_name, Home, Profile, SessionDetails, TokenMeta};

/// What pages show of a session: made from it alone, never from a request.
pub(crate) struct Shown {
    /// The name in "Welcome <name>" and in the user's menu.
    pub display_name: String,
    pub profile: Profile,
    /// Parts of pages made from this read alone, as HTML, each rendered the
    /// first time a page needs it (see `components::once_per_read`).
    parts: Mutex<Vec<(PartKey, Arc<str>)>>,
}

/// A part of a page: the function that renders it, and which copy of it.
pub(crate) type PartKey = (usize, u8);

impl Shown {
    /// The HTML of the part known as `key`, rendered by `render` if no page
    /// made from this read has needed it yet; `None` if it cannot be.
    pub fn part(&self, key: PartKey, render: impl FnOnce() -> Option<String>) -> Option<Arc<str>> {
        let kept = |parts: &[(PartKey, Arc<str>)]| {
            parts
                .iter()
                .find(|(kept, _)| *kept == key)
                .map(|(_, html)| Arc::clone(html))
        };
        // A lock is only poisoned by a panic while it is held, which
        // nothing here can cause; if it were, the part is rendered again.
        if let Some(html) = self.parts.lock().ok().and_then(|parts| kept(&parts)) {
            return Some(html);
        }
        let html: Arc<str> = render()?.into();
        if let Ok(mut parts) = self.parts.lock() {
            if kept(&parts).is_none() {
                parts.push((key, Arc::clone(&html)));
            }
        }
        Some(html)
    }
}

/// [`Shown`], made on first use. A clone starts empty: a session is cloned
/// to be changed, and must not show what it was before.
#[derive(Default)]
pub(crate) struct ShownOnce(OnceLock<Shown>);

impl Clone for ShownOnce {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl UserSession {
    /// What pages show of the session: claims and token metadata, no
    /// token. Made once per session read.
    pub fn shown(&self) -> &Shown {
        self.shown.0.get_or_init(|| self.make_shown())
    }

    /// The home page's content: the profile [`Self::shown`] holds, and the
    /// access token's remaining time counted now.
    pub fn home(&self, now: OffsetDateTime) -> Home {
        Home {
            profile: self.shown().profile.clone(),
            access_token_expires_in: self.tokens.expires_in(now),
        }
    }

    fn make_shown(&self) -> Shown {
        /// The session as the JSON view shows it.
        #[derive(Serialize)]
        struct Json<'a> {
            ends_at: &'a str,
            id_token_claims: &'a Value,
            userinfo: &'a Value,
            tokens: &'a TokenMeta,
        }
        let ends_at = rfc3339(self.deadline()).unwrap_or_default();
        let tokens = self.tokens.meta();
        let json = serde_json::to_string_pretty(&Json {
            ends_at: &ends_at,
            id_token_claims: &self.claims,
            userinfo: &self.userinfo,
            tokens: &tokens,
        })
        .ok()
        .and_then(|json| RawValue::from_string(json).ok())
        .unwrap_or_else(|| RawValue::NULL.to_owned());
        Shown {
            display_name: display_name(&[&self.userinfo, &self.claims]),
            profile: Profile {
                claims: self.claims(),
                signed_in_at: self.signed_in_at().and_then(rfc3339),
                session: SessionDetails {
                    ends_at,
                    tokens,
                    json,
                },
            },
            parts: Mutex::default(),
        }
    }
}
