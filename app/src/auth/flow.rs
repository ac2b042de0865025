//! The authorization code flow: sending the browser to the provider
//! ([`begin_login`]) and checking what comes back ([`finish_login`]).
//!
//! What ties the two halves together is a [`LoginTransaction`]: the `state`,
//! `nonce` and PKCE verifier of one login, kept in a short-lived encrypted
//! cookie bound to this browser. It is a separate cookie from the session
//! because it must survive the cross-site return from the provider, which the
//! `SameSite=Strict` session cookie does not.

use openidconnect::core::{CoreErrorResponseType, CoreResponseType, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthenticationFlow, AuthorizationCode, ClaimsVerificationError, CsrfToken,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RequestTokenError,
    TokenResponse,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use url::Url;

use super::provider::error_chain;
use super::session::{AuthSession, TokenSet};
use super::{Auth, AuthError};

/// The secrets of one login in progress.
#[derive(Serialize, Deserialize)]
pub struct LoginTransaction {
    state: CsrfToken,
    nonce: Nonce,
    pkce_verifier: PkceCodeVerifier,
    return_to: String,
}

/// Where to send the browser, and what to remember until it comes back.
pub fn begin_login(
    auth: &Auth,
    return_to: Option<&str>,
) -> Result<(Url, LoginTransaction), AuthError> {
    let provider = auth.provider()?;
    let settings = auth.settings();
    let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = settings
        .scopes
        .iter()
        // `openidconnect` always sends `openid` itself.
        .filter(|scope| scope.as_str() != "openid")
        .fold(
            provider.client.authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            ),
            |request, scope| request.add_scope(scope.clone()),
        )
        .set_pkce_challenge(pkce_challenge)
        .url();
    let return_to = safe_return_to(&settings.app_url, return_to);
    Ok((
        url,
        LoginTransaction {
            state,
            nonce,
            pkce_verifier,
            return_to,
        },
    ))
}

/// The query parameters of the provider's redirect back to `/callback`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Provider text we show is cut to this many characters.
const MAX_ECHO: usize = 200;

impl CallbackParams {
    /// Reads the raw query leniently: any byte sequence gives some answer, and
    /// the checks that follow reject what does not belong to a real login.
    pub fn parse(query: Option<&str>) -> Self {
        let mut params = Self::default();
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let slot = match &*key {
                "code" => &mut params.code,
                "state" => &mut params.state,
                "error" => &mut params.error,
                "error_description" => &mut params.error_description,
                _ => continue,
            };
            // The first value wins, as in most servers; later duplicates are ignored.
            if slot.is_none() {
                *slot = Some(value.into_owned());
            }
        }
        params.error = params.error.map(|text| truncate(&text));
        params.error_description = params.error_description.map(|text| truncate(&text));
        params
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(MAX_ECHO).collect()
}

/// A completed login: the session to store and where to send the browser.
pub struct LoginResult {
    pub session: AuthSession,
    pub return_to: String,
}

/// Checks the provider's answer and, if every check passes, builds the session.
///
/// Order matters: nothing is sent to the provider until `state` proves the
/// answer belongs to a login this browser started.
pub async fn finish_login(
    auth: &Auth,
    params: CallbackParams,
    transaction: Option<LoginTransaction>,
) -> Result<LoginResult, AuthError> {
    let transaction = transaction.ok_or(AuthError::NoLoginInProgress)?;
    if params.state.as_deref() != Some(transaction.state.secret().as_str()) {
        return Err(AuthError::StateMismatch);
    }
    if let Some(error) = params.error {
        return Err(AuthError::ProviderDenied {
            error,
            description: params.error_description,
        });
    }
    let code = params
        .code
        .filter(|code| !code.is_empty())
        .ok_or(AuthError::MissingCode)?;

    let provider = auth.provider()?;
    let response = provider
        .client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|error| AuthError::TokenEndpoint(error.to_string()))?
        .set_pkce_verifier(transaction.pkce_verifier)
        .request_async(auth.http())
        .await
        .map_err(|error| match error {
            RequestTokenError::ServerResponse(response)
                if *response.error() == CoreErrorResponseType::InvalidGrant =>
            {
                AuthError::CodeRejected(response.error().to_string())
            }
            other => AuthError::TokenEndpoint(error_chain(&other)),
        })?;

    let id_token = response.id_token().ok_or(AuthError::MissingIdToken)?;
    let claims = provider
        .verify(auth.http(), |verifier| {
            let claims = id_token.claims(verifier, &transaction.nonce)?;
            // The access token must be the one this ID token was issued with.
            if let Some(expected) = claims.access_token_hash() {
                let other = |error: &dyn std::fmt::Display| {
                    ClaimsVerificationError::Other(error.to_string())
                };
                let alg = id_token.signing_alg().map_err(|e| other(&e))?;
                let key = id_token.signing_key(verifier).map_err(|e| other(&e))?;
                let actual = AccessTokenHash::from_token(response.access_token(), alg, key)
                    .map_err(|e| other(&e))?;
                if actual != *expected {
                    return Err(other(&"at_hash does not match the access token"));
                }
            }
            Ok(claims.clone())
        })
        .await
        .map_err(|error| AuthError::InvalidIdToken(error_chain(&error)))?;

    // Asking for the ID token's subject makes `openidconnect` reject a
    // userinfo answer about anybody else.
    let userinfo: CoreUserInfoClaims = provider
        .client
        .user_info(
            response.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .map_err(|error| AuthError::UserInfo(error.to_string()))?
        .request_async(auth.http())
        .await
        .map_err(|error| AuthError::UserInfo(error_chain(&error)))?;

    let session = AuthSession {
        id_token: id_token.clone(),
        id_token_claims: serde_json::to_value(&claims).unwrap_or_default(),
        userinfo: serde_json::to_value(&userinfo).unwrap_or_default(),
        tokens: TokenSet::from_response(
            &response,
            &auth.settings().scopes,
            None,
            OffsetDateTime::now_utc(),
        ),
    };
    Ok(LoginResult {
        session,
        return_to: transaction.return_to,
    })
}

/// Paths a login must not return to: they would start another login (a loop
/// at the provider's expense) or call a server function.
const SIGN_IN_PATHS: [&str; 3] = ["/login", "/callback", "/api/"];

/// Accepts a `return_to` only if it is a path on this app.
///
/// Anything else (another origin, a scheme such as `javascript:`,
/// `//host` and `/\host` which browsers read as another host, control
/// characters, or something too long to be a real link) is replaced by `/`,
/// so the login can never become an open redirect.
pub fn safe_return_to(app_url: &Url, candidate: Option<&str>) -> String {
    const MAX_LEN: usize = 2048;
    let Some(candidate) = candidate else {
        return "/".into();
    };
    let plausible = candidate.len() <= MAX_LEN
        && candidate.starts_with('/')
        && !candidate.starts_with("//")
        && !candidate
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace());
    if !plausible {
        return "/".into();
    }
    // Resolving against our own origin and comparing origins is the check
    // that cannot be fooled by tricks the rules above did not think of.
    match app_url.join(candidate) {
        Ok(url) if url.origin() == app_url.origin() => {
            let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
            // A path that decodes to `//host` or to control characters is
            // harmless to browsers but not to every proxy or log in front of
            // an app: refuse it too.
            let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
            if SIGN_IN_PATHS
                .iter()
                .any(|prefix| url.path().starts_with(prefix))
                || decoded.starts_with("//")
                || decoded.starts_with("/\\")
                || decoded.chars().any(char::is_control)
            {
                "/".into()
            } else {
                path.to_owned()
            }
        }
        _ => "/".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(candidate: &str) -> String {
        let app = Url::parse("http://localhost:3000").expect("url");
        safe_return_to(&app, Some(candidate))
    }

    #[test]
    fn local_paths_are_kept() {
        assert_eq!(check("/"), "/");
        assert_eq!(check("/logout"), "/logout");
        assert_eq!(check("/a/b?x=1&y=%2F"), "/a/b?x=1&y=%2F");
        assert_eq!(check("/a/../b"), "/b");
        assert_eq!(
            check("/search?next=https://evil.example"),
            "/search?next=https://evil.example"
        );
    }

    #[test]
    fn fragments_are_dropped() {
        assert_eq!(check("/page#top"), "/page");
    }

    #[test]
    fn hostile_targets_become_home() {
        let long = format!("/{}", "a".repeat(5000));
        let hostile = [
            "",
            "https://evil.example",
            "http://localhost:3000.evil.example/",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/%2F%2Fevil.example",
            "/%2f%2fevil.example",
            "/%5Cevil.example",
            "/%0d%0aSet-Cookie:%20x=y",
            "/a%00b",
            "/login",
            "/login?return_to=/login",
            "/callback?code=x",
            "/./login",
            "/api/logout",
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,hi",
            "evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            " /x",
            "/x y",
            "/\u{0}x",
            "/\u{7f}x",
            &long,
        ];
        for candidate in hostile {
            assert_eq!(check(candidate), "/", "{candidate:?}");
        }
        let app = Url::parse("http://localhost:3000").expect("url");
        assert_eq!(safe_return_to(&app, None), "/");
    }

    #[test]
    fn callback_params_are_read_leniently() {
        let params = CallbackParams::parse(Some("code=a%20b&state=s&state=second&extra=1"));
        assert_eq!(params.code.as_deref(), Some("a b"));
        assert_eq!(params.state.as_deref(), Some("s"), "the first value wins");
        assert_eq!(CallbackParams::parse(None), CallbackParams::default());
        // Invalid percent-encoding and bytes still give an answer.
        let odd = CallbackParams::parse(Some("code=%zz%&state=%FF%FE&error=%"));
        assert_eq!(odd.code.as_deref(), Some("%zz%"));
        assert!(odd.state.is_some());
        let long = CallbackParams::parse(Some(&format!("error={}", "x".repeat(10_000))));
        assert_eq!(long.error.map(|e| e.len()), Some(MAX_ECHO));
    }

    /// What every answer of `safe_return_to` must be, whatever the input.
    fn assert_local(app: &Url, out: &str) {
        assert!(
            out.starts_with('/') && !out.starts_with("//") && !out.starts_with("/\\"),
            "{out:?}"
        );
        assert!(!out.chars().any(|c| c.is_control() || c == '\\'), "{out:?}");
        let decoded = percent_encoding::percent_decode_str(out).decode_utf8_lossy();
        assert!(
            !decoded.starts_with("//") && !decoded.starts_with("/\\"),
            "{out:?}"
        );
        assert_eq!(
            app.join(out).expect("joins").origin(),
            app.origin(),
            "{out:?}"
        );
    }

    proptest::proptest! {
        #[test]
        fn return_to_is_always_a_local_path(candidate in proptest::prelude::any::<String>()) {
            let app = Url::parse("http://localhost:3000").expect("url");
            assert_local(&app, &safe_return_to(&app, Some(&candidate)));
        }

        #[test]
        fn return_to_from_path_like_input_is_local(candidate in "[/\\\\%a-zA-Z0-9.:@?#&=+ \t-]{0,40}") {
            let app = Url::parse("https://app.example").expect("url");
            assert_local(&app, &safe_return_to(&app, Some(&candidate)));
        }

        #[test]
        fn any_callback_query_parses(query in proptest::prelude::any::<String>()) {
            let params = CallbackParams::parse(Some(&query));
            for echoed in [&params.error, &params.error_description] {
                proptest::prop_assert!(echoed.as_ref().is_none_or(|text| text.chars().count() <= MAX_ECHO));
            }
        }

        #[test]
        fn callback_queries_of_raw_bytes_parse(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096)) {
            let query = String::from_utf8_lossy(&bytes);
            let _ = CallbackParams::parse(Some(&query));
        }
    }
}
