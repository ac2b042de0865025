//! Server functions: thin wrappers that find who is looking, call into
//! `auth`, and translate its errors. They run on the server; the browser
//! calls them over HTTP under `paths::API_PREFIX`.
//!
//! Each page of the app has one, which answers a [`Page`]: who is looking
//! and what the page shows. The first page of a visit is rendered on the
//! server, which calls the function in the same process and sends its answer
//! along with the HTML; every later page is one call from the browser. A
//! page that needs a signed-in user answers a typed [`ApiError`] otherwise:
//! `SignedOut` or `SessionEnded` (401), `Forbidden` (403).

use leptos::prelude::*;

use crate::model::{AdminAccess, ApiError, Home, Page, SecurityCheck, SessionList, Viewer};

/// Who is looking, as JSON: what the not-found and sign-out pages show.
#[server(endpoint = "viewer")]
pub async fn current_viewer() -> Result<Viewer, ApiError> {
    Visit::of_request().await?.viewer()
}

/// The home page: "Welcome Guest", or the signed-in user's profile and
/// session. Calls the provider only when the access token is due.
#[server(endpoint = "home")]
pub async fn load_home() -> Result<Page<Option<Home>>, ApiError> {
    let visit = Visit::of_request().await?;
    Ok(Page {
        viewer: visit.viewer()?,
        content: visit
            .signed_in()
            .map(|user| user.home(visit.auth.settings().clock.now())),
    })
}

/// The security page's gate: a sign-in no older than the configured step-up
/// age. An older one must go through the provider again (the page sends the
/// browser there); a user who cannot sign in again is told why instead.
#[server(endpoint = "security")]
pub async fn load_security() -> Result<Page<SecurityCheck>, ApiError> {
    use crate::auth::{rfc3339, StepUp};
    let visit = Visit::of_request().await?;
    let user = visit.user()?;
    let content = match StepUp::of(user, visit.auth.settings()) {
        StepUp::Recent { at, until } => SecurityCheck::Confirmed {
            signed_in_at: rfc3339(at).unwrap_or_default(),
            recent_until: until.and_then(rfc3339).unwrap_or_default(),
            methods: user.shown().profile.claims.amr.clone(),
        },
        StepUp::Impossible => {
            respond(Some(axum::http::StatusCode::FORBIDDEN));
            SecurityCheck::CannotReauthenticate
        }
        StepUp::Needed => SecurityCheck::Reauthenticate {
            to: format!(
                "{}?return_to={}",
                crate::paths::REAUTHENTICATE,
                crate::paths::SECURITY
            ),
        },
    };
    Ok(Page {
        viewer: visit.viewer()?,
        content,
    })
}

/// The admin page's gate: the configured role, from the provider's claims.
#[server(endpoint = "admin")]
pub async fn load_admin() -> Result<Page<AdminAccess>, ApiError> {
    let visit = Visit::of_request().await?;
    let user = visit.user()?;
    let role = visit.auth.settings().admin_role.clone();
    if !user.shown().profile.claims.has_role(&role) {
        tracing::info!(
            kind = "forbidden",
            status = 403,
            "admin page refused: role missing"
        );
        respond(Some(axum::http::StatusCode::FORBIDDEN));
        return Err(ApiError::Forbidden { role });
    }
    Ok(Page {
        viewer: visit.viewer()?,
        content: AdminAccess {
            role,
            name: user.shown().display_name.clone(),
        },
    })
}

/// The "Your sessions" page: the user's sessions on this app, across
/// instances, as the store holds them now.
#[server(endpoint = "sessions")]
pub async fn load_sessions() -> Result<Page<SessionList>, ApiError> {
    let visit = Visit::of_request().await?;
    let user = visit.user()?;
    let listed = match visit.sessions.clone() {
        Some(read_ahead) => read_ahead,
        None => {
            let session = request_session().await?;
            crate::auth::list_sessions(&visit.auth, &session, user).await
        }
    };
    let content = listed.map_err(to_api_error)?;
    Ok(Page {
        viewer: visit.viewer()?,
        content,
    })
}

/// Signs out another session of the user, named by its `handle` on the
/// sessions page: everywhere, its refresh token revoked. A handle that is
/// not one of the user's other sessions ends nothing (404).
#[server(endpoint = "end_session")]
pub async fn end_session(handle: String) -> Result<(), ApiError> {
    let visit = Visit::of_request().await?;
    let user = visit.user()?;
    let session = request_session().await?;
    let ended = crate::auth::end_session(&visit.auth, &session, user, &handle)
        .await
        .map_err(to_api_error)?;
    if !ended {
        respond(Some(axum::http::StatusCode::NOT_FOUND));
        return Err(ApiError::NoSuchSession);
    }
    Ok(())
}

/// Signs out every session of the user but this browser's; answers how
/// many ended.
#[server(endpoint = "end_other_sessions")]
pub async fn end_other_sessions() -> Result<usize, ApiError> {
    let visit = Visit::of_request().await?;
    let user = visit.user()?;
    let session = request_session().await?;
    crate::auth::end_other_sessions(&visit.auth, &session, user)
        .await
        .map_err(to_api_error)
}

/// Fetches the user's profile again from the provider's userinfo endpoint,
/// refreshing the access token first if needed.
#[server(endpoint = "reload_profile")]
pub async fn reload_profile() -> Result<(), ApiError> {
    let visit = Visit::of_request().await?;
    let user = visit.user()?;
    let session = request_session().await?;
    crate::auth::reload_profile(&visit.auth, &session, user)
        .await
        .map_err(to_api_error)?
        .ok_or_else(|| {
            respond(Some(axum::http::StatusCode::UNAUTHORIZED));
            ApiError::SessionEnded
        })
}

/// Ends the session here and at the provider. The browser is sent to the
/// provider's end-session endpoint, which sends it back to the home page.
/// Posted by a plain form: the browser leaves the app.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), ApiError> {
    let auth = request_auth()?;
    let session = request_session().await?;
    let next = crate::auth::logout(&auth, &session)
        .await
        .map_err(to_api_error)?;
    leptos_axum::redirect(&next);
    Ok(())
}

/// Who is looking, settled once per request.
///
/// A page rendered on the server settles it before rendering (`page` in
/// `server/src/lib.rs` calls [`Visit::settle`] and provides it), so the
/// server functions the page calls in the same process read that answer
/// instead of the session again. A server function called over HTTP
/// settles it itself. What is derived from the session read lives in the
/// session itself (`auth::UserSession::shown`), made once per read.
#[cfg(feature = "ssr")]
#[derive(Clone)]
pub struct Visit {
    auth: crate::auth::Auth,
    current: Result<crate::auth::Current, crate::auth::AuthError>,
    /// The sessions page's list, read ahead (see [`Visit::read_ahead`]).
    sessions: Option<Result<SessionList, crate::auth::AuthError>>,
}

#[cfg(feature = "ssr")]
impl Visit {
    /// Reads the request's session, renewing its tokens when they are due.
    /// A failure is logged here, once.
    pub async fn settle(auth: &crate::auth::Auth, session: &tower_sessions::Session) -> Self {
        let current = crate::auth::current(auth, session).await;
        if let Err(error) = &current {
            error.log("visit");
        }
        Self {
            auth: auth.clone(),
            current,
            sessions: None,
        }
    }

    /// Reads what the page at `path` shows beyond the session itself (the
    /// sessions page's list, from the store) before the server renders it,
    /// so that it renders in one pass, as every other page does.
    pub async fn read_ahead(&mut self, path: &str, session: &tower_sessions::Session) {
        if path != crate::paths::SESSIONS {
            return;
        }
        if let Ok(crate::auth::Current::SignedIn(user)) = &self.current {
            self.sessions = Some(crate::auth::list_sessions(&self.auth, session, user).await);
        }
    }

    /// Makes this the answer for the rest of the request.
    pub fn provide(&self) {
        provide_context(self.clone());
    }

    /// The status a page takes when who is looking could not be told.
    pub fn failure_status(&self) -> Option<axum::http::StatusCode> {
        self.current
            .as_ref()
            .err()
            .map(crate::auth::AuthError::status)
    }

    /// The visit settled for this request, or settled now.
    async fn of_request() -> Result<Self, ApiError> {
        respond(None);
        if let Some(visit) = use_context::<Self>() {
            return Ok(visit);
        }
        let auth = request_auth()?;
        let session = request_session().await?;
        Ok(Self::settle(&auth, &session).await)
    }

    /// Who is looking, as every page shows it.
    pub fn viewer(&self) -> Result<Viewer, ApiError> {
        use crate::auth::Current;
        use crate::model::{Account, Notice};
        let settings = self.auth.settings();
        let (user, notice) = match self.current.as_ref().map_err(failed)? {
            Current::SignedIn(user) => {
                let shown = user.shown();
                let account = Account {
                    display_name: shown.display_name.clone(),
                    is_admin: shown.profile.claims.has_role(&settings.admin_role),
                };
                (Some(account), None)
            }
            Current::Guest => (None, None),
            Current::Ended => (None, Some(Notice::SessionEnded)),
        };
        Ok(Viewer {
            user,
            notice,
            local_provider: settings.is_local_provider(),
            account_settings: settings.account_settings.is_some(),
        })
    }

    /// The signed-in user, if any.
    pub(crate) fn signed_in(&self) -> Option<&std::sync::Arc<crate::auth::UserSession>> {
        match &self.current {
            Ok(crate::auth::Current::SignedIn(user)) => Some(user),
            _ => None,
        }
    }

    /// The signed-in user, or why there is none: 401 for a guest or an
    /// ended session.
    fn user(&self) -> Result<&std::sync::Arc<crate::auth::UserSession>, ApiError> {
        use crate::auth::Current;
        match self.current.as_ref().map_err(failed)? {
            Current::SignedIn(user) => Ok(user),
            Current::Guest => {
                respond(Some(axum::http::StatusCode::UNAUTHORIZED));
                Err(ApiError::SignedOut)
            }
            Current::Ended => {
                respond(Some(axum::http::StatusCode::UNAUTHORIZED));
                Err(ApiError::SessionEnded)
            }
        }
    }
}

/// A failure to tell who is looking, already logged by [`Visit::settle`].
#[cfg(feature = "ssr")]
fn failed(error: &crate::auth::AuthError) -> ApiError {
    respond(Some(error.status()));
    error.clone().into()
}

/// The BFF handle.
#[cfg(feature = "ssr")]
fn request_auth() -> Result<crate::auth::Auth, ApiError> {
    use_context::<crate::auth::Auth>().ok_or_else(|| {
        tracing::error!("the server function has no auth context; see server/src/lib.rs");
        ApiError::Internal
    })
}

/// This request's session.
#[cfg(feature = "ssr")]
async fn request_session() -> Result<tower_sessions::Session, ApiError> {
    leptos_axum::extract::<tower_sessions::Session>()
        .await
        .map_err(|_| {
            tracing::error!("the server function has no session; is the session layer around it?");
            ApiError::Internal
        })
}

/// The one place a server function sets its response's headers: every answer
/// depends on the session, so none may be stored by a cache; an error also
/// sets its status.
#[cfg(feature = "ssr")]
fn respond(status: Option<axum::http::StatusCode>) {
    use axum::http::{header, HeaderValue};
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(status) = status {
            response.set_status(status);
        }
    }
}

/// The browser learns what it can act on, and nothing of the server's inner
/// workings: those go to the log.
#[cfg(feature = "ssr")]
fn to_api_error(error: crate::auth::AuthError) -> ApiError {
    error.log("server_fn");
    respond(Some(error.status()));
    error.into()
}
