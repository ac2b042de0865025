//! The backend-for-frontend: everything that talks to the identity provider or
//! touches a token. Server-side only; the browser never sees what is in here.
//!
//! A login passes through these modules in order:
//! [`flow::begin_login`] → provider → [`flow::finish_login`] → [`session`] →
//! [`tokens`] (refresh on later requests) → [`logout`].

pub mod error;
pub mod flow;
pub mod logout;
pub mod provider;
pub mod session;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use axum_extra::extract::cookie::Key;
use openidconnect::{reqwest, ClientId, ClientSecret, IssuerUrl, Scope};
use url::Url;

pub use error::AuthError;
use provider::ProviderHandle;
use tokens::Refresher;

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
    /// Encrypts the short-lived login-transaction cookie.
    pub cookie_key: Key,
    /// How long one call to the provider may take. A hung provider then
    /// costs a request this long, not forever.
    pub provider_timeout: Duration,
}

impl AuthSettings {
    pub fn redirect_url(&self) -> String {
        self.app_path("/callback")
    }

    pub fn post_logout_redirect_url(&self) -> String {
        self.app_path("/")
    }

    /// Cookies are `Secure` exactly when the app is served over https.
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

/// A cheap handle to the BFF, shared by routes and server functions.
#[derive(Clone)]
pub struct Auth(Arc<Inner>);

struct Inner {
    settings: AuthSettings,
    http: reqwest::Client,
    provider: ProviderHandle,
    refresher: Refresher,
}

impl Auth {
    /// Builds the handle and starts discovering the provider in the background:
    /// the app serves guests while the provider is unreachable.
    pub fn start(settings: AuthSettings) -> Result<Self, AuthError> {
        let http = reqwest::Client::builder()
            // Following redirects would let a provider point our server at any URL.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(settings.provider_timeout)
            .timeout(settings.provider_timeout)
            .build()
            .map_err(|error| AuthError::HttpClient(error.to_string()))?;
        let provider = ProviderHandle::discover_in_background(settings.clone(), http.clone());
        Ok(Self(Arc::new(Inner {
            settings,
            http,
            provider,
            refresher: Refresher::default(),
        })))
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.0.settings
    }

    pub fn cookie_key(&self) -> &Key {
        &self.0.settings.cookie_key
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.0.http
    }

    pub(crate) fn provider(&self) -> Result<Arc<provider::Provider>, AuthError> {
        self.0.provider.get().ok_or(AuthError::ProviderUnavailable)
    }

    /// Waits until discovery has succeeded; for start-up checks and tests.
    pub async fn provider_ready(&self) {
        self.0.provider.ready().await;
    }

    pub(crate) fn refresher(&self) -> &Refresher {
        &self.0.refresher
    }
}
