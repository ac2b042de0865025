//! The backend-for-frontend: everything that talks to the identity provider,
//! touches a token or sets a cookie. Server-side only; the browser never sees
//! what is in here.
//!
//! A sign-in, file by file:
//! `routes` (`GET /login`) → `flow::begin` → `cookies` (one sign-in transaction
//! per `state`) → the provider → `routes` (`GET /callback`) →
//! `flow::check_callback` → `flow::finish` (`provider` calls) → `session`
//! (`Sessions::create`: a new session in the `store`) → `lifecycle` (what each later request
//! does to it: deadlines, and a fresh access token from `refresh` when
//! `tokens` are due) → `logout`. `guard` keeps other sites' requests out;
//! `events` and `sweep` end sessions when the provider says so or their
//! time is up; `user_sessions` lists a user's sessions and ends the others
//! at their request; `metrics` counts all of it; `error` turns every
//! failure into a page once.
//!
//! Apart from the [`Auth`] handle, which every module is given, the modules
//! use each other in one direction only (`scripts/auth-layers` checks it).
//!
//! The public surface is what a server needs to wire it up: the [`Auth`]
//! handle, its [`AuthSettings`], the [`Store`] and the [`Sessions`] kept in
//! it (what the session layer reads and writes through), the [`Metrics`]
//! to serve, [`routes`], the [`reject_cross_site`] middleware, and
//! [`AuthError`].

mod authorize;
mod clock;
mod cookies;
mod error;
mod events;
mod flow;
mod guard;
mod lifecycle;
mod limits;
mod logout;
mod metrics;
mod profile;
mod provider;
mod refresh;
mod routes;
mod session;
mod settings;
mod step_up;
mod store;
mod sweep;
mod tokens;
mod user_api;
mod user_sessions;

use std::sync::Arc;

use tower_sessions::SessionManagerLayer;

pub use clock::Clock;
pub use error::AuthError;
pub use guard::reject_cross_site;
pub use metrics::Metrics;
pub use routes::routes;
pub use session::Sessions;
pub use settings::{is_loopback, AuthSettings, WebhookSecret};
pub use store::{Store, StoreError};

pub(crate) use clock::rfc3339;
pub(crate) use lifecycle::{current, Current};
pub(crate) use logout::logout;
pub(crate) use profile::reload as reload_profile;
pub(crate) use session::UserSession;
pub(crate) use step_up::StepUp;
pub(crate) use user_sessions::{
    end_one as end_session, end_others as end_other_sessions, list as list_sessions,
};

use provider::{Provider, ProviderHandle, ProviderHttp};
use refresh::Refresher;

/// A cheap handle to the BFF, shared by routes and server functions.
#[derive(Clone)]
pub struct Auth(Arc<Inner>);

struct Inner {
    settings: AuthSettings,
    sessions: Sessions,
    http: ProviderHttp,
    provider: ProviderHandle,
    refresher: Refresher,
    limits: limits::ActionLimits,
    metrics: Arc<Metrics>,
}

impl Auth {
    /// Builds the handle and starts discovering the provider in the background:
    /// the app serves guests while the provider is unreachable.
    pub fn start(settings: AuthSettings, store: Store) -> Result<Self, AuthError> {
        let metrics = Arc::new(Metrics::default());
        let http = ProviderHttp::new(settings.provider_timeout, Arc::clone(&metrics))
            .map_err(|_| AuthError::HttpClient)?;
        let provider = ProviderHandle::discover_in_background(settings.clone(), http.clone());
        let sessions = Sessions::new(
            store
                .sealed_with(settings.cookie_key.master())
                .measured_by(Arc::clone(&metrics)),
            settings.session_cache_ttl,
        );
        Ok(Self(Arc::new(Inner {
            settings,
            sessions,
            http,
            provider,
            refresher: Refresher::default(),
            limits: limits::ActionLimits::default(),
            metrics,
        })))
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.0.settings
    }

    /// The session layer, with the session cookie's policy: it must wrap
    /// [`routes`] and every route whose server functions use the session.
    pub fn session_layer(&self) -> SessionManagerLayer<Sessions> {
        cookies::session_layer(self.0.sessions.clone(), &self.0.settings)
    }

    /// Ends the sessions past their idle timeout or lifetime, revoking
    /// their refresh tokens, every `period`, one instance at a time.
    pub async fn sweep_every(self, period: std::time::Duration) {
        sweep::every(self, period).await;
    }

    /// One sweep now, unless an instance swept in the last `period`;
    /// returns how many sessions it ended.
    pub async fn sweep(&self, period: std::time::Duration) -> Result<usize, AuthError> {
        sweep::once(self, period).await
    }

    /// Counters and latencies of this instance, for `/metrics`.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// Waits until discovery has succeeded; for start-up checks and tests.
    pub async fn provider_ready(&self) {
        self.0.provider.ready().await;
    }

    /// True if the session store answers now.
    pub async fn store_is_reachable(&self) -> bool {
        self.0.sessions.store().is_reachable().await
    }

    /// True once discovery has succeeded.
    pub fn is_provider_discovered(&self) -> bool {
        self.0.provider.get().is_some()
    }

    /// Signed-in sessions: the one way to read or change them.
    pub(crate) fn sessions(&self) -> &Sessions {
        &self.0.sessions
    }

    /// The session store beneath, for its locks and one-time claims.
    pub(crate) fn store(&self) -> &Store {
        self.0.sessions.store()
    }

    pub(crate) fn http(&self) -> &ProviderHttp {
        &self.0.http
    }

    pub(crate) fn provider(&self) -> Result<Arc<Provider>, AuthError> {
        self.0.provider.get().ok_or(AuthError::ProviderUnavailable)
    }

    pub(crate) fn refresher(&self) -> &Refresher {
        &self.0.refresher
    }

    /// Counts one provider-backed action of session `id`; refuses it past
    /// the session's limit.
    pub(crate) fn limit_action(
        &self,
        id: Option<tower_sessions::session::Id>,
    ) -> Result<(), AuthError> {
        match id {
            Some(id) if !self.0.limits.allow(&id) => Err(AuthError::TooManyRequests),
            _ => Ok(()),
        }
    }
}
