//! The authorization code flow: sending the browser to the provider
//! ([`begin`]), checking what comes back ([`check_callback`], pure), and the
//! provider calls that turn a good answer into a signed-in user ([`finish`]).
//!
//! What ties the two halves together is a [`SignInTransaction`]: the `state`,
//! `nonce` and PKCE verifier of one sign-in, kept in a short-lived encrypted
//! cookie of its own (see `cookies`), one per sign-in in progress.

use openidconnect::core::CoreResponseType;
use openidconnect::{
    AccessTokenHash, AuthenticationFlow, AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, TokenResponse,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use url::Url;

use super::authorize::AuthorizeOptions;
use super::error::{Endpoint, IdTokenProblem, OAuthCode, Upstream};
use super::provider;
use super::session::{self, UserSession};
use super::tokens::TokenSet;
use super::{profile, step_up};
use super::{Auth, AuthError};
use crate::paths;

/// Enough time to type a password, not enough to linger.
pub(crate) const SIGN_IN_LIFETIME: time::Duration = time::Duration::minutes(10);

/// The secrets of one sign-in in progress.
#[derive(Serialize, Deserialize)]
pub(crate) struct SignInTransaction {
    pub state: CsrfToken,
    nonce: Nonce,
    pkce_verifier: PkceCodeVerifier,
    pub return_to: String,
    /// Unix seconds. The cookie's `Max-Age` is a request to the browser;
    /// this is what the server enforces.
    pub started_at: i64,
    /// The session this sign-in replaces, ended when it completes.
    pub replaces: Option<String>,
    /// A step-up: the subject who must sign in again.
    #[serde(default)]
    pub step_up: Option<String>,
}

/// Where to send the browser, and what to remember until it comes back.
///
/// `replaces` is the browser's current session; `step_up`, the subject who
/// must sign in again (see `authorize::Intent::Reauthenticate`).
pub(crate) fn begin(
    auth: &Auth,
    options: &AuthorizeOptions,
    return_to: Option<&str>,
    replaces: Option<String>,
    step_up: Option<String>,
) -> Result<(Url, SignInTransaction), AuthError> {
    let provider = auth.provider()?;
    let settings = auth.settings();
    let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let request = settings
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
        .set_pkce_challenge(pkce_challenge);
    let (url, state, nonce) = options.apply(request, provider.prompt_create).url();
    let transaction = SignInTransaction {
        state,
        nonce,
        pkce_verifier,
        return_to: safe_return_to(&settings.app_url, return_to),
        started_at: OffsetDateTime::now_utc().unix_timestamp(),
        replaces,
        step_up,
    };
    Ok((url, transaction))
}

/// The query parameters of the provider's redirect back to `/callback`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

impl CallbackParams {
    /// Reads the raw query leniently: any byte sequence gives some answer, and
    /// the checks that follow reject what does not belong to a real sign-in.
    /// `error_description` is not read: it is free text that anyone who can
    /// send a link could fill with words the app would then show as its own.
    pub fn parse(query: Option<&str>) -> Self {
        let mut params = Self::default();
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let slot = match &*key {
                "code" => &mut params.code,
                "state" => &mut params.state,
                "error" => &mut params.error,
                _ => continue,
            };
            // The first value wins, as in most servers; later duplicates are ignored.
            if slot.is_none() {
                *slot = Some(value.into_owned());
            }
        }
        params
    }
}

/// Checks the provider's answer against the sign-in it claims to finish, and
/// returns the code to exchange. Nothing here calls the provider: a callback
/// that does not belong to a sign-in this browser started goes no further.
///
/// `transaction` is the one found for the callback's `state`, if any;
/// `others_pending` says whether this browser has other sign-ins in progress.
pub(crate) fn check_callback(
    params: CallbackParams,
    transaction: Option<&SignInTransaction>,
    others_pending: bool,
    now: OffsetDateTime,
) -> Result<AuthorizationCode, AuthError> {
    let Some(transaction) = transaction else {
        return Err(if others_pending {
            AuthError::StateMismatch
        } else {
            AuthError::NoSignInInProgress
        });
    };
    if params.state.as_deref() != Some(transaction.state.secret().as_str()) {
        return Err(AuthError::StateMismatch);
    }
    if now.unix_timestamp() - transaction.started_at > SIGN_IN_LIFETIME.whole_seconds() {
        return Err(AuthError::NoSignInInProgress);
    }
    if let Some(error) = params.error {
        return Err(AuthError::ProviderDenied(OAuthCode::new(&error)));
    }
    params
        .code
        .filter(|code| !code.is_empty())
        .map(AuthorizationCode::new)
        .ok_or(AuthError::MissingCode)
}

/// Exchanges the code, checks the ID token and fetches the profile: the
/// signed-in user, or why there is none.
pub(crate) async fn finish(
    auth: &Auth,
    code: AuthorizationCode,
    transaction: SignInTransaction,
) -> Result<UserSession, AuthError> {
    let provider = auth.provider()?;
    let response = provider
        .exchange_code(auth.http(), code, transaction.pkce_verifier)
        .await
        .map_err(|failure| match failure {
            Upstream::Refused(code) if code.as_str() == "invalid_grant" => AuthError::CodeRejected,
            failure => AuthError::Provider {
                endpoint: Endpoint::Token,
                failure,
            },
        })?;

    let id_token = response.id_token().ok_or(AuthError::MissingIdToken)?;
    let (claims, at_hash_matches) = provider
        .verify(auth.http(), |verifier| {
            let claims = id_token.claims(verifier, &transaction.nonce)?;
            // The access token must be the one this ID token was issued with.
            let at_hash_matches = match claims.access_token_hash() {
                None => true,
                Some(expected) => {
                    let other = |error: &dyn std::fmt::Display| {
                        openidconnect::ClaimsVerificationError::Other(error.to_string())
                    };
                    let alg = id_token.signing_alg().map_err(|e| other(&e))?;
                    let key = id_token.signing_key(verifier).map_err(|e| other(&e))?;
                    AccessTokenHash::from_token(response.access_token(), alg, key)
                        .map_err(|e| other(&e))?
                        == *expected
                }
            };
            Ok((claims.clone(), at_hash_matches))
        })
        .await
        .map_err(AuthError::InvalidIdToken)?;
    if !at_hash_matches {
        return Err(AuthError::InvalidIdToken(IdTokenProblem::AccessTokenHash));
    }

    let userinfo = profile::fetch(
        auth,
        response.access_token(),
        Some(claims.subject().as_str()),
    )
    .await?;

    let now = auth.settings().clock.now();
    let (ends_at, idle_until) = session::deadlines(auth.settings(), now);
    // The verified token's own claims, all of them: `openidconnect`'s typed
    // claims leave out those it does not model, such as `sid`.
    let claims = provider::verified_payload(&id_token.to_string())
        .ok_or(AuthError::InvalidIdToken(IdTokenProblem::Malformed))?;
    if let Some(subject) = &transaction.step_up {
        if let Err(problem) =
            step_up::confirmed(&claims, subject, transaction.started_at, auth.settings())
        {
            // These tokens prove nothing this app asked for: give them back.
            provider::revoke_quietly(auth, response.refresh_token()).await;
            return Err(AuthError::StepUp(problem));
        }
    }
    Ok(UserSession {
        id_token: id_token.clone(),
        claims,
        refreshed: Default::default(),
        userinfo,
        tokens: TokenSet::from_response(&response, &auth.settings().scopes, None, now),
        profile_changes: 0,
        profile_seen: 0,
        ends_at,
        idle_until,
        device: None,
        shown: Default::default(),
    })
}

/// Paths a sign-in must not return to: they would start another sign-in (a loop
/// at the provider's expense) or call a server function.
const SIGN_IN_PATHS: [&str; 6] = [
    paths::LOGIN,
    paths::SIGNUP,
    paths::REAUTHENTICATE,
    paths::ACCOUNT_SETTINGS,
    paths::CALLBACK,
    paths::API_PREFIX,
];

/// The longest `return_to` kept, counted after percent-encoding, so that the
/// sign-in cookie stays well under the 4 KB browsers accept.
pub(crate) const MAX_RETURN_TO: usize = 1024;

/// Accepts a `return_to` only if it is a path on this app.
///
/// Anything else (another origin, a scheme such as `javascript:`,
/// `//host` and `/\host` which browsers read as another host, control
/// characters, or something too long to be a real link) is replaced by `/`,
/// so the sign-in can never become an open redirect.
pub fn safe_return_to(app_url: &Url, candidate: Option<&str>) -> String {
    const MAX_LEN: usize = 2048;
    let Some(candidate) = candidate else {
        return paths::HOME.into();
    };
    let plausible = candidate.len() <= MAX_LEN
        && candidate.starts_with('/')
        && !candidate.starts_with("//")
        && !candidate
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace());
    if !plausible {
        return paths::HOME.into();
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
                || path.len() > MAX_RETURN_TO
            {
                paths::HOME.into()
            } else {
                path.to_owned()
            }
        }
        _ => paths::HOME.into(),
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
        let ignored = CallbackParams::parse(Some("error=e&error_description=call+us"));
        assert_eq!(ignored.error.as_deref(), Some("e"));
    }

    #[test]
    fn a_return_to_that_grows_when_encoded_is_limited_after_encoding() {
        // 300 characters that become 1,800 bytes once percent-encoded.
        let accented = format!("/{}", "é".repeat(300));
        assert!(accented.len() < MAX_RETURN_TO);
        assert_eq!(check(&accented), "/");
        let fits = format!("/{}", "é".repeat(100));
        assert_eq!(check(&fits), format!("/{}", "%C3%A9".repeat(100)));
        let ascii = format!("/{}", "a".repeat(MAX_RETURN_TO - 1));
        assert_eq!(check(&ascii), ascii, "the limit itself is kept");
        assert_eq!(check(&format!("{ascii}b")), "/");
    }

    fn transaction(state: &str, started_at: i64) -> SignInTransaction {
        SignInTransaction {
            state: CsrfToken::new(state.into()),
            nonce: Nonce::new("n".into()),
            pkce_verifier: PkceCodeVerifier::new("v".repeat(43)),
            return_to: "/".into(),
            started_at,
            replaces: None,
            step_up: None,
        }
    }

    fn callback(query: &str) -> CallbackParams {
        CallbackParams::parse(Some(query))
    }

    #[test]
    fn a_callback_is_checked_against_its_own_sign_in_only() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time");
        let started = now.unix_timestamp() - 60;
        let pending = transaction("s1", started);
        let check = |query: &str, found: Option<&SignInTransaction>, others: bool| {
            check_callback(callback(query), found, others, now).map(|code| code.secret().clone())
        };

        assert_eq!(
            check("code=c&state=s1", Some(&pending), false),
            Ok("c".into())
        );
        assert_eq!(
            check("code=c&state=s2", None, true),
            Err(AuthError::StateMismatch),
            "another login of this browser is not this one"
        );
        assert_eq!(
            check("code=c&state=s2", None, false),
            Err(AuthError::NoSignInInProgress)
        );
        assert_eq!(
            check("code=c&state=s2", Some(&pending), false),
            Err(AuthError::StateMismatch),
            "the state must be the transaction's own"
        );
        assert_eq!(
            check("state=s1", Some(&pending), false),
            Err(AuthError::MissingCode)
        );
        assert_eq!(
            check("code=&state=s1", Some(&pending), false),
            Err(AuthError::MissingCode)
        );
        assert_eq!(
            check("error=access_denied&state=s1", Some(&pending), false),
            Err(AuthError::ProviderDenied(OAuthCode::new("access_denied")))
        );
        assert_eq!(
            check("error=access_denied&state=forged", None, true),
            Err(AuthError::StateMismatch),
            "an error that belongs to no login is a forgery first"
        );
        let stale = transaction(
            "s1",
            now.unix_timestamp() - SIGN_IN_LIFETIME.whole_seconds() - 1,
        );
        assert_eq!(
            check("code=c&state=s1", Some(&stale), false),
            Err(AuthError::NoSignInInProgress),
            "the server enforces the lifetime, whatever the browser kept"
        );
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
            let _ = CallbackParams::parse(Some(&query));
        }

        #[test]
        fn callback_queries_of_raw_bytes_parse(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096)) {
            let query = String::from_utf8_lossy(&bytes);
            let _ = CallbackParams::parse(Some(&query));
        }
    }
}
