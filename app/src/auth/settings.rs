//! What the BFF needs to know, validated by the server's configuration.

use std::time::Duration;

use axum_extra::extract::cookie::Key;
use hmac::{Hmac, Mac};
use openidconnect::{ClientId, ClientSecret, IssuerUrl, Scope};
use sha2::Sha256;
use url::Url;

use super::Clock;
use crate::paths;

/// Settings the server reads from its configuration, already validated.
#[derive(Clone)]
pub struct AuthSettings {
    pub issuer: IssuerUrl,
    pub client_id: ClientId,
    pub client_secret: ClientSecret,
    /// The app's public origin: the redirect URIs are built from it, never
    /// from the request's `Host` header.
    pub app_url: Url,
    pub scopes: Vec<Scope>,
    /// Encrypts the short-lived sign-in cookies.
    pub cookie_key: Key,
    /// How long one call to the provider may take. A hung provider then
    /// costs a request this long, not forever.
    pub provider_timeout: Duration,
    /// After a refresh that failed without an answer (provider down, hung,
    /// connection reset), how long a session waits before trying again.
    pub refresh_retry_after: Duration,
    /// The cross-instance refresh lock expires this long after its holder
    /// last extended it (every third of it while the refresh runs): a holder
    /// that died holds the other instances up for this long at most.
    pub refresh_lock_ttl: Duration,
    /// A session ends after this long without activity…
    pub idle_timeout: Duration,
    /// …and this long after sign-in, whatever the activity.
    pub max_lifetime: Duration,
    /// Verifies Authgear's webhooks; without it the webhook endpoint is off.
    pub webhook_secret: Option<WebhookSecret>,
    /// Accept Back-Channel Logout when the provider offers it.
    pub backchannel_logout: bool,
    /// For providers that tell the app nothing: how often a session confirms
    /// with the provider that its grant is still valid (by refreshing), so a
    /// revocation there ends the session here within this time.
    pub liveness_interval: Option<Duration>,
    /// Pages that need a recent sign-in ask for one no older than this.
    pub step_up_max_age: Duration,
    /// The role (Authgear's `…/claims/user/roles`) that opens the admin page.
    pub admin_role: String,
    /// The provider's account settings page, where users change their
    /// profile, password and sign-in methods: Authgear's `<issuer>/settings`.
    pub account_settings: Option<Url>,
    /// How long an instance may serve a session it read from the store
    /// without reading it again (at most a second). A logout, refresh or
    /// provider event on another instance takes effect here within this.
    pub session_cache_ttl: Duration,
    /// What time it is for the session's deadlines and the token's expiry.
    pub clock: Clock,
}

impl AuthSettings {
    /// Defaults for the tunables; the four values that identify the app
    /// and its provider must be given.
    pub fn new(
        issuer: IssuerUrl,
        client_id: ClientId,
        client_secret: ClientSecret,
        app_url: Url,
        cookie_key: Key,
    ) -> Self {
        Self {
            issuer,
            client_id,
            client_secret,
            app_url,
            scopes: ["openid", "offline_access"]
                .map(|scope| Scope::new(scope.to_owned()))
                .to_vec(),
            cookie_key,
            provider_timeout: Duration::from_secs(10),
            refresh_retry_after: Duration::from_secs(60),
            refresh_lock_ttl: Duration::from_secs(3),
            // Shorter than Authgear's own refresh-token limits (30 days idle,
            // 52 weeks in all): a cookie left on a shared computer is worth a
            // week at most, and everyone signs in again once a month.
            idle_timeout: Duration::from_secs(7 * 86_400),
            max_lifetime: Duration::from_secs(30 * 86_400),
            webhook_secret: None,
            backchannel_logout: true,
            liveness_interval: Some(Duration::from_secs(5 * 60)),
            step_up_max_age: Duration::from_secs(5 * 60),
            admin_role: "admin".to_owned(),
            account_settings: None,
            session_cache_ttl: Duration::from_secs(1),
            clock: Clock::system(),
        }
        .with_account_settings(None)
    }

    /// Links to the provider's settings page: `Some(true)` always,
    /// `Some(false)` never, `None` when the issuer is an Authgear-hosted
    /// domain or the local development provider (which has a stand-in page).
    pub fn with_account_settings(mut self, shown: Option<bool>) -> Self {
        self.account_settings = shown
            .unwrap_or(self.is_authgear_hosted() || self.is_local_provider())
            .then(|| {
                Url::parse(&format!(
                    "{}/settings",
                    self.issuer.as_str().trim_end_matches('/')
                ))
                .ok()
            })
            .flatten();
        self
    }

    /// The issuer is a project on Authgear's own cloud.
    pub fn is_authgear_hosted(&self) -> bool {
        let host = self
            .issuer
            .url()
            .host_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        [".authgear.cloud", ".authgearapps.com"]
            .iter()
            .any(|suffix| host.ends_with(suffix))
    }

    pub fn redirect_url(&self) -> String {
        self.app_path(paths::CALLBACK)
    }

    pub fn post_logout_redirect_url(&self) -> String {
        self.app_path(paths::HOME)
    }

    /// Cookies are `Secure` (and `__Host-` prefixed) exactly when the app is
    /// served over https.
    pub fn secure_cookies(&self) -> bool {
        self.app_url.scheme() == "https"
    }

    /// A provider on this machine is the local development one.
    pub fn is_local_provider(&self) -> bool {
        self.issuer
            .url()
            .host()
            .is_some_and(|host| is_loopback(&host))
    }

    /// The app's origin as browsers send it in the `Origin` header.
    pub fn app_origin(&self) -> String {
        self.app_url.origin().ascii_serialization()
    }

    fn app_path(&self, path: &str) -> String {
        format!("{}{}", self.app_origin(), path)
    }
}

/// True for `localhost` and loopback addresses: the only hosts where plain
/// http is acceptable.
pub fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// The webhook signing secret. Never printed.
#[derive(Clone)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    /// True if `signature` is this secret's HMAC-SHA256 of `body`, compared
    /// in constant time.
    pub(super) fn signed(&self, body: &[u8], signature: &[u8]) -> bool {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.0.as_bytes()) else {
            return false;
        };
        mac.update(body);
        mac.verify_slice(signature).is_ok()
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_the_hmac_of_the_exact_body() {
        let secret = WebhookSecret::new("s3cret".into());
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").expect("key");
        mac.update(b"{}");
        let good = mac.finalize().into_bytes();
        assert!(secret.signed(b"{}", &good));
        assert!(!secret.signed(b"{} ", &good), "another body");
        assert!(!secret.signed(b"{}", &good[..31]), "a shorter signature");
        assert!(!WebhookSecret::new("other".into()).signed(b"{}", &good));
        assert_eq!(format!("{secret:?}"), "WebhookSecret(…)");
    }
}
