//! The two kinds of cookie the app sets, and every attribute of each.
//!
//! - **The session cookie**: an opaque random id, nothing else. `HttpOnly`,
//!   `SameSite=Strict` (no other site can make the browser send it: the
//!   strongest CSRF defence there is), `Path=/`.
//! - **One sign-in cookie per sign-in in progress**, named after
//!   its `state`, so two tabs can sign in at once. Encrypted with
//!   `APP_SECRET_KEY` (the browser can neither read nor forge it), `HttpOnly`,
//!   `SameSite=Lax` (it must come back with the provider's cross-site
//!   redirect, which a `Strict` cookie would not), `Path=/`, ten minutes.
//!
//! On https both carry `Secure` and the `__Host-` prefix, which pins a cookie
//! to this exact origin: a sibling subdomain cannot plant one (cookie
//! tossing). The session cookie is `__Host-Http-session`: browsers that know
//! the `__Host-Http-` prefix also refuse one set from script, and the others
//! still apply every `__Host-` rule to it.
//!
//! The session cookie lives as long as the session can (see
//! `Sessions::create`); the idle timeout is the server's to enforce.

use axum::http::HeaderMap;
use axum_extra::extract::cookie::{Cookie, PrivateCookieJar, SameSite};
use tower_sessions::SessionManagerLayer;

use super::flow::{SignInTransaction, SIGN_IN_LIFETIME};
use super::session::Sessions;
use super::{AuthError, AuthSettings};

/// Logins one browser may have in progress; starting another drops the oldest.
pub(crate) const MAX_PENDING_SIGN_INS: usize = 5;

/// The session cookie's policy, applied by tower-sessions to every response.
pub(crate) fn session_layer(
    sessions: Sessions,
    settings: &AuthSettings,
) -> SessionManagerLayer<Sessions> {
    let secure = settings.secure_cookies();
    SessionManagerLayer::new(sessions)
        .with_name(if secure {
            "__Host-Http-session"
        } else {
            "session"
        })
        .with_secure(secure)
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_path("/")
}

/// The sign-in cookies a request carries.
pub(crate) struct SignInCookies {
    jar: PrivateCookieJar,
    secure: bool,
}

impl SignInCookies {
    pub fn from_headers(headers: &HeaderMap, settings: &AuthSettings) -> Self {
        Self {
            jar: PrivateCookieJar::from_headers(headers, settings.cookie_key.clone()),
            secure: settings.secure_cookies(),
        }
    }

    fn prefix(&self) -> &'static str {
        if self.secure {
            "__Host-login-"
        } else {
            "login-"
        }
    }

    /// Every sign-in in progress that decrypts and reads, with its cookie's name.
    fn pending(&self) -> Vec<(String, Option<SignInTransaction>)> {
        self.jar
            .iter()
            .filter(|cookie| cookie.name().starts_with(self.prefix()))
            .map(|cookie| {
                let transaction = serde_json::from_str(cookie.value()).ok();
                (cookie.name().to_owned(), transaction)
            })
            .collect()
    }

    /// Remembers a new sign-in, dropping the oldest ones beyond the limit.
    pub fn remember(self, transaction: &SignInTransaction) -> Result<PrivateCookieJar, AuthError> {
        let mut pending = self.pending();
        pending.sort_by_key(|(_, transaction)| transaction.as_ref().map(|t| t.started_at));
        let excess = (pending.len() + 1).saturating_sub(MAX_PENDING_SIGN_INS);
        let value = serde_json::to_string(transaction).map_err(|_| AuthError::SessionStore)?;
        let name = format!("{}{}", self.prefix(), transaction.state.secret());
        let cookie = self.cookie(name, value);
        let mut jar = self.jar.clone();
        for (name, _) in pending.into_iter().take(excess) {
            jar = jar.remove(self.cookie(name, String::new()));
        }
        Ok(jar.add(cookie))
    }

    /// The sign-in whose `state` the callback names, spent whatever happens
    /// next; and whether this browser has other sign-ins in progress.
    pub fn take(self, state: Option<&str>) -> (PrivateCookieJar, Option<SignInTransaction>, bool) {
        let name = state
            .filter(|state| is_state_token(state))
            .map(|state| format!("{}{state}", self.prefix()));
        let mut transaction = None;
        let mut others = false;
        for (pending, found) in self.pending() {
            if Some(&pending) == name.as_ref() {
                transaction = found;
            } else {
                others = true;
            }
        }
        let jar = match name {
            // Removed with the attributes it was set with: browsers ignore the
            // removal of a `__Host-` cookie that lacks them.
            Some(name) if transaction.is_some() => {
                self.jar.clone().remove(self.cookie(name, String::new()))
            }
            _ => self.jar.clone(),
        };
        (jar, transaction, others)
    }

    /// The one builder of sign-in cookies, for setting and removing alike.
    fn cookie(&self, name: String, value: String) -> Cookie<'static> {
        Cookie::build((name, value))
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .max_age(SIGN_IN_LIFETIME)
            .build()
    }
}

/// `openidconnect`'s states are 22 URL-safe base64 characters; a callback's
/// `state` that could not be one names no cookie.
fn is_state_token(state: &str) -> bool {
    (1..=64).contains(&state.len())
        && state
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
