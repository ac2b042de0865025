//! One error type for the whole sign-in flow, turned into a status code and a
//! friendly sentence at the edge.
//!
//! `Display` is for the logs: it says what was rejected and why, and never
//! carries a token, code, secret or cookie value (the variants have no room
//! for one). `user_message` is for the page.

use axum::http::StatusCode;

#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    #[error("the identity provider has not been reached yet")]
    ProviderUnavailable,
    #[error("the provider returned error {error:?}")]
    ProviderDenied {
        error: String,
        description: Option<String>,
    },
    #[error(
        "callback without a login transaction cookie (expired, already used, or another browser)"
    )]
    NoLoginInProgress,
    #[error("callback state does not match this browser's login transaction")]
    StateMismatch,
    #[error("callback without an authorization code")]
    MissingCode,
    #[error("the token endpoint rejected the authorization code: {0}")]
    CodeRejected(String),
    #[error("the token endpoint could not be used: {0}")]
    TokenEndpoint(String),
    #[error("the token response has no ID token")]
    MissingIdToken,
    #[error("the ID token is not valid: {0}")]
    InvalidIdToken(String),
    #[error("the userinfo endpoint could not be used: {0}")]
    UserInfo(String),
    #[error("the session store failed: {0}")]
    SessionStore(String),
    #[error("request from another site (origin {origin:?}, sec-fetch-site {fetch_site:?})")]
    CrossSite {
        origin: Option<String>,
        fetch_site: Option<String>,
    },
    #[error("the HTTP client could not be built: {0}")]
    HttpClient(String),
}

impl AuthError {
    pub fn status(&self) -> StatusCode {
        use AuthError::*;
        match self {
            ProviderDenied { .. }
            | NoLoginInProgress
            | StateMismatch
            | MissingCode
            | CodeRejected(_) => StatusCode::BAD_REQUEST,
            CrossSite { .. } => StatusCode::FORBIDDEN,
            TokenEndpoint(_) | MissingIdToken | InvalidIdToken(_) | UserInfo(_) => {
                StatusCode::BAD_GATEWAY
            }
            ProviderUnavailable | SessionStore(_) | HttpClient(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    /// A short sentence for a person. Provider-supplied text is included as
    /// plain data; the page that shows it escapes it.
    pub fn user_message(&self) -> String {
        use AuthError::*;
        match self {
            ProviderUnavailable | HttpClient(_) => {
                "Sign-in is unavailable right now. Please try again in a moment.".into()
            }
            ProviderDenied { error, description } => match description {
                Some(description) => format!("The sign-in did not complete: {description} ({error})."),
                None => format!("The sign-in did not complete ({error})."),
            },
            NoLoginInProgress => {
                "This sign-in link has expired or was already used. Please sign in again.".into()
            }
            StateMismatch | MissingCode | CodeRejected(_) => {
                "This sign-in response is not valid for this browser. Please sign in again.".into()
            }
            TokenEndpoint(_) | MissingIdToken | InvalidIdToken(_) | UserInfo(_) => {
                "The identity provider sent an answer we could not trust, so you were not signed in."
                    .into()
            }
            SessionStore(_) => "We could not save your session. Please try again.".into(),
            CrossSite { .. } => "This request did not come from this site.".into(),
        }
    }

    /// A stable name for the log event.
    pub fn kind(&self) -> &'static str {
        use AuthError::*;
        match self {
            ProviderUnavailable => "provider_unavailable",
            ProviderDenied { .. } => "provider_denied",
            NoLoginInProgress => "no_login_in_progress",
            StateMismatch => "state_mismatch",
            MissingCode => "missing_code",
            CodeRejected(_) => "code_rejected",
            TokenEndpoint(_) => "token_endpoint",
            MissingIdToken => "missing_id_token",
            InvalidIdToken(_) => "invalid_id_token",
            UserInfo(_) => "userinfo",
            SessionStore(_) => "session_store",
            CrossSite { .. } => "cross_site",
            HttpClient(_) => "http_client",
        }
    }

    /// Records the rejection as one structured event.
    pub fn log(&self, step: &'static str) {
        if self.status().is_server_error() {
            tracing::warn!(step, kind = self.kind(), status = self.status().as_u16(), reason = %self, "auth request failed");
        } else {
            tracing::info!(step, kind = self.kind(), status = self.status().as_u16(), reason = %self, "auth request rejected");
        }
    }
}

impl From<tower_sessions::session::Error> for AuthError {
    fn from(error: tower_sessions::session::Error) -> Self {
        AuthError::SessionStore(error.to_string())
    }
}
