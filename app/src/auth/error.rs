//! One error type for the sign-in flow, turned into a response once, here.
//!
//! No variant has room for free text: a token, a code, a secret or a raw
//! provider answer cannot reach a log line or a page through an error. What
//! went wrong is said with enums whose every message is written below.

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::csp;
use crate::pages::standalone;
use crate::paths;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the identity provider has not been reached yet")]
    ProviderUnavailable,
    #[error("the provider answered the sign-in with error {0}")]
    ProviderDenied(OAuthCode),
    #[error("callback without a sign-in transaction (expired, already used, or another browser)")]
    NoSignInInProgress,
    #[error("callback state does not match any sign-in this browser started")]
    StateMismatch,
    #[error("callback without an authorization code")]
    MissingCode,
    #[error("the token endpoint rejected the authorization code")]
    CodeRejected,
    #[error("the {endpoint} failed: {failure}")]
    Provider {
        endpoint: Endpoint,
        failure: Upstream,
    },
    #[error("the token response has no ID token")]
    MissingIdToken,
    #[error("the ID token is not valid: {0}")]
    InvalidIdToken(IdTokenProblem),
    #[error("the session store failed")]
    SessionStore,
    #[error("the HTTP client could not be built")]
    HttpClient,
    #[error("the step-up sign-in did not count: {0}")]
    StepUp(StepUpProblem),
    #[error("the user has no way to sign in again")]
    CannotReauthenticate,
    #[error("the session asked the provider too often")]
    TooManyRequests,
}

/// Why a step-up sign-in (`prompt=login`) was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StepUpProblem {
    #[error("another user signed in")]
    OtherUser,
    #[error("the ID token's auth_time is not after the step-up began")]
    NotFresh,
}

/// An OAuth error code as a provider (or whoever forged the callback) sent
/// it, kept only if it looks like one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthCode(String);

impl OAuthCode {
    pub fn new(code: &str) -> Self {
        let plausible = (1..=64).contains(&code.len())
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        Self(if plausible { code } else { "unrecognised" }.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for OAuthCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The provider endpoint a call went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Endpoint {
    #[error("token endpoint")]
    Token,
    #[error("userinfo endpoint")]
    Userinfo,
}

/// How a call to the provider failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Upstream {
    #[error("no answer in time")]
    Timeout,
    #[error("could not connect")]
    Unreachable,
    #[error("the connection broke")]
    Broken,
    #[error("unexpected HTTP status {0}")]
    Status(u16),
    #[error("an answer that is not what the protocol says")]
    Malformed,
    #[error("error {0}")]
    Refused(OAuthCode),
    #[error("an answer about another subject")]
    WrongSubject,
}

impl Upstream {
    /// True when the request may have been processed although no answer
    /// came back: a refresh token sent this way may have been rotated.
    pub fn outcome_unknown(&self) -> bool {
        !matches!(self, Upstream::Unreachable | Upstream::Refused(_))
    }
}

/// Why an ID token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenProblem {
    #[error("it has expired")]
    Expired,
    #[error("its audience is not this client")]
    Audience,
    #[error("its issuer is not the provider")]
    Issuer,
    #[error("its nonce does not match the sign-in")]
    Nonce,
    #[error("its subject is not the session's user")]
    Subject,
    #[error("its at_hash does not match the access token")]
    AccessTokenHash,
    #[error("it is not signed")]
    Unsigned,
    #[error("its signing algorithm is not allowed")]
    Algorithm,
    #[error("it is signed with a key the provider does not publish")]
    UnknownKey,
    #[error("several eligible keys match and it names none")]
    AmbiguousKey,
    #[error("its signature does not verify")]
    Signature,
    #[error("it is malformed")]
    Malformed,
    #[error("its header declares another type of token")]
    Type,
}

impl AuthError {
    pub fn status(&self) -> StatusCode {
        use AuthError::*;
        match self {
            ProviderDenied(_) | NoSignInInProgress | StateMismatch | MissingCode | CodeRejected => {
                StatusCode::BAD_REQUEST
            }
            StepUp(StepUpProblem::OtherUser) | CannotReauthenticate => StatusCode::FORBIDDEN,
            Provider { .. }
            | MissingIdToken
            | InvalidIdToken(_)
            | StepUp(StepUpProblem::NotFresh) => StatusCode::BAD_GATEWAY,
            ProviderUnavailable | SessionStore | HttpClient => StatusCode::SERVICE_UNAVAILABLE,
            TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// The problem page's heading.
    pub fn title(&self) -> &'static str {
        use AuthError::*;
        match self {
            ProviderUnavailable | HttpClient | SessionStore => "Sign-in is unavailable",
            ProviderDenied(code) if code.as_str() == "access_denied" => "Sign-in cancelled",
            NoSignInInProgress => "This sign-in has expired",
            StepUp(_) | CannotReauthenticate => "We could not confirm it's you",
            _ => "We could not sign you in",
        }
    }

    /// Where "Try again" leads: a failed step-up is tried again as a
    /// step-up (a plain sign-in could quietly become someone else's).
    pub fn retry_path(&self) -> &'static str {
        match self {
            AuthError::StepUp(_) => paths::REAUTHENTICATE,
            AuthError::CannotReauthenticate => paths::HOME,
            _ => paths::LOGIN,
        }
    }

    /// A short sentence for a person.
    pub fn user_message(&self) -> String {
        use AuthError::*;
        match self {
            ProviderUnavailable | HttpClient => {
                "Sign-in is unavailable right now. Please try again in a moment.".into()
            }
            ProviderDenied(code) if code.as_str() == "access_denied" => {
                "You cancelled the sign-in at the identity provider, so nothing changed.".into()
            }
            ProviderDenied(code) => format!("The sign-in did not complete ({code})."),
            NoSignInInProgress => {
                "This sign-in link has expired or was already used. Please sign in again.".into()
            }
            StateMismatch | MissingCode | CodeRejected => {
                "This sign-in response is not valid for this browser. Please sign in again.".into()
            }
            Provider { .. } | MissingIdToken | InvalidIdToken(_) => {
                "The identity provider sent an answer we could not trust, so you were not signed in."
                    .into()
            }
            SessionStore => "We could not save your session. Please try again.".into(),
            StepUp(StepUpProblem::OtherUser) => {
                "You signed in as a different user. You are still signed in as before; sign in as yourself to continue."
                    .into()
            }
            StepUp(StepUpProblem::NotFresh) => {
                "The identity provider did not confirm a new sign-in. Please try again.".into()
            }
            CannotReauthenticate => {
                "Your account has no password or other sign-in method to confirm it's you with.".into()
            }
            TooManyRequests => "Too many requests. Please wait a moment and try again.".into(),
        }
    }

    /// A stable name for the log event.
    pub fn kind(&self) -> &'static str {
        use AuthError::*;
        match self {
            ProviderUnavailable => "provider_unavailable",
            ProviderDenied(_) => "provider_denied",
            NoSignInInProgress => "no_sign_in_in_progress",
            StateMismatch => "state_mismatch",
            MissingCode => "missing_code",
            CodeRejected => "code_rejected",
            Provider {
                endpoint: Endpoint::Token,
                ..
            } => "token_endpoint",
            Provider {
                endpoint: Endpoint::Userinfo,
                ..
            } => "userinfo",
            MissingIdToken => "missing_id_token",
            InvalidIdToken(_) => "invalid_id_token",
            SessionStore => "session_store",
            HttpClient => "http_client",
            StepUp(_) => "step_up",
            CannotReauthenticate => "cannot_reauthenticate",
            TooManyRequests => "too_many_requests",
        }
    }

    /// Records the rejection as one structured event.
    pub fn log(&self, step: &'static str) {
        let (kind, status) = (self.kind(), self.status().as_u16());
        if self.status().is_server_error() {
            tracing::warn!(step, kind, status, reason = %self, "auth request failed");
        } else {
            tracing::info!(step, kind, status, reason = %self, "auth request rejected");
        }
    }
}

/// What a server function or the JSON API tells the browser: what it can act
/// on, nothing of the server's inner workings (the log has those).
impl From<AuthError> for crate::model::ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::SessionStore | AuthError::HttpClient => Self::Internal,
            AuthError::TooManyRequests => Self::TooManyRequests,
            _ => Self::Unavailable,
        }
    }
}

/// The friendly sign-in problem page, with the error's status and one log event.
impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        self.log("sign_in");
        (
            self.status(),
            [
                (CACHE_CONTROL, "no-store"),
                (CONTENT_SECURITY_POLICY, csp::STANDALONE_PAGE),
            ],
            Html(standalone::problem(
                self.title(),
                self.user_message(),
                self.retry_path(),
            )),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plausible_oauth_codes_are_kept() {
        assert_eq!(OAuthCode::new("access_denied").as_str(), "access_denied");
        for hostile in [
            "",
            "<script>",
            "Access Denied",
            "SECRETTOKEN-abc",
            &"a".repeat(65),
        ] {
            assert_eq!(
                OAuthCode::new(hostile).as_str(),
                "unrecognised",
                "{hostile}"
            );
        }
    }

    #[test]
    fn every_kind_has_a_status_and_a_message() {
        let all = [
            AuthError::ProviderUnavailable,
            AuthError::ProviderDenied(OAuthCode::new("access_denied")),
            AuthError::NoSignInInProgress,
            AuthError::StateMismatch,
            AuthError::MissingCode,
            AuthError::CodeRejected,
            AuthError::Provider {
                endpoint: Endpoint::Token,
                failure: Upstream::Timeout,
            },
            AuthError::MissingIdToken,
            AuthError::InvalidIdToken(IdTokenProblem::Expired),
            AuthError::SessionStore,
            AuthError::HttpClient,
            AuthError::StepUp(StepUpProblem::OtherUser),
            AuthError::StepUp(StepUpProblem::NotFresh),
            AuthError::CannotReauthenticate,
        ];
        for error in all {
            assert!(error.status().is_client_error() || error.status().is_server_error());
            assert!(!error.user_message().is_empty());
            assert_ne!(error.status(), StatusCode::INTERNAL_SERVER_ERROR, "{error}");
        }
    }
}
