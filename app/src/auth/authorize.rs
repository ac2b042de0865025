//! What a sign-in asks the provider for, beyond the protocol's minimum: which
//! page to open (sign in or sign up), whether to ask for the password again
//! (step-up), and the language and theme the provider's pages should use.
//!
//! Authgear reads `x_page=signup` to open its sign-up page; it does not
//! implement `prompt=create`, which is sent only to providers whose
//! discovery document lists it. `ui_locales` comes from the browser's
//! `Accept-Language`, `x_color_scheme` from the browser's colour scheme, so
//! Authgear's pages look like the app's.

use std::time::Duration;

use axum::http::HeaderMap;
use openidconnect::core::{CoreAuthDisplay, CoreAuthPrompt, CoreIdToken, CoreResponseType};
use openidconnect::{AuthorizationRequest, LanguageTag};

/// At most this many languages go to the provider, most preferred first.
const MAX_UI_LOCALES: usize = 3;
/// A language tag longer than this is not one a provider would know.
const MAX_TAG_LEN: usize = 35;

/// Why the browser is sent to the provider.
pub(crate) enum Intent {
    SignIn,
    SignUp,
    /// The signed-in user proves again who they are: a password prompt
    /// whatever the provider's session, for the user the token names.
    Reauthenticate {
        id_token_hint: Box<CoreIdToken>,
        max_age: Duration,
    },
}

/// The browser's light or dark scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ColorScheme {
    Light,
    Dark,
}

impl ColorScheme {
    /// The `Sec-CH-Prefers-Color-Scheme` client hint (a quoted string), which
    /// browsers send once the app's pages asked for it (`Accept-CH`).
    fn from_hint(value: &str) -> Option<Self> {
        match value.trim().trim_matches('"') {
            "light" => Some(Self::Light),
            "dark" => Some(Self::Dark),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Light => "light",
            Self::Dark => "dark",
        }
    }
}

/// The client hint the app's pages ask browsers for.
pub(crate) const COLOR_SCHEME_HINT: &str = "sec-ch-prefers-color-scheme";

/// Everything a sign-in adds to the authorization request.
pub(crate) struct AuthorizeOptions {
    pub intent: Intent,
    pub ui_locales: Vec<String>,
    pub color_scheme: Option<ColorScheme>,
}

impl AuthorizeOptions {
    /// The options for `intent`, with language and scheme from the request.
    pub fn from_headers(intent: Intent, headers: &HeaderMap) -> Self {
        let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
        Self {
            intent,
            ui_locales: header("accept-language")
                .map(ui_locales)
                .unwrap_or_default(),
            color_scheme: header(COLOR_SCHEME_HINT).and_then(ColorScheme::from_hint),
        }
    }

    /// Adds the options to `request`. `prompt_create`: the provider lists
    /// `create` in `prompt_values_supported`.
    pub fn apply<'a>(
        &'a self,
        request: AuthorizationRequest<'a, CoreAuthDisplay, CoreAuthPrompt, CoreResponseType>,
        prompt_create: bool,
    ) -> AuthorizationRequest<'a, CoreAuthDisplay, CoreAuthPrompt, CoreResponseType> {
        let request = match &self.intent {
            Intent::SignIn => request,
            Intent::SignUp if prompt_create => request
                .add_extra_param("x_page", "signup")
                .add_prompt(CoreAuthPrompt::Extension("create".to_owned())),
            Intent::SignUp => request.add_extra_param("x_page", "signup"),
            Intent::Reauthenticate {
                id_token_hint,
                max_age,
            } => request
                .add_prompt(CoreAuthPrompt::Login)
                .set_max_age(*max_age)
                .set_id_token_hint(id_token_hint),
        };
        let request = self.ui_locales.iter().fold(request, |request, tag| {
            request.add_ui_locale(LanguageTag::new(tag.clone()))
        });
        match self.color_scheme {
            Some(scheme) => request.add_extra_param("x_color_scheme", scheme.as_str()),
            None => request,
        }
    }
}

/// The languages of an `Accept-Language` header, most preferred first: only
/// well-formed tags (`en`, `zh-Hant-TW`), no wildcard, nothing with `q=0`,
/// each once, at most `MAX_UI_LOCALES`.
pub(crate) fn ui_locales(accept_language: &str) -> Vec<String> {
    let mut weighted: Vec<(String, u16)> = Vec::new();
    // A header of hundreds of entries is not a person's preference list.
    for entry in accept_language.split(',').take(16) {
        let mut parts = entry.split(';');
        let tag = parts.next().unwrap_or_default().trim();
        let weight = parts
            .find_map(|param| param.trim().strip_prefix("q="))
            .map_or(Some(1000), quality);
        let (Some(weight), true) = (weight, is_language_tag(tag)) else {
            continue;
        };
        if weight > 0
            && !weighted
                .iter()
                .any(|(seen, _)| seen.eq_ignore_ascii_case(tag))
        {
            weighted.push((tag.to_owned(), weight));
        }
    }
    // Stable: equal weights keep the header's order.
    weighted.sort_by_key(|(_, weight)| std::cmp::Reverse(*weight));
    weighted
        .into_iter()
        .take(MAX_UI_LOCALES)
        .map(|(tag, _)| tag)
        .collect()
}

/// A quality value (`0`, `0.8`, `1.000`) in thousandths.
fn quality(value: &str) -> Option<u16> {
    let value = value.trim();
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// `language[-subtag]*`: 2–8 letters, then subtags of 1–8 letters or digits.
fn is_language_tag(tag: &str) -> bool {
    let mut subtags = tag.split('-');
    let language_ok = subtags.next().is_some_and(|lang| {
        (2..=8).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_alphabetic())
    });
    tag.len() <= MAX_TAG_LEN
        && language_ok
        && subtags.all(|sub| {
            (1..=8).contains(&sub.len()) && sub.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use openidconnect::core::{CoreClient, CoreJsonWebKeySet};
    use openidconnect::{AuthUrl, AuthenticationFlow, ClientId, CsrfToken, IssuerUrl, Nonce};

    use super::*;

    /// The authorization URL's query for `options`, as the provider sees it.
    fn query(options: &AuthorizeOptions, prompt_create: bool) -> HashMap<String, String> {
        let client = CoreClient::new(
            ClientId::new("client".into()),
            IssuerUrl::new("https://myapp.authgear.cloud".into()).expect("issuer"),
            CoreJsonWebKeySet::default(),
        )
        .set_auth_uri(
            AuthUrl::new("https://myapp.authgear.cloud/oauth2/authorize".into()).expect("url"),
        );
        let request = client.authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        let (url, _, _) = options.apply(request, prompt_create).url();
        url.query_pairs().into_owned().collect()
    }

    fn options(intent: Intent) -> AuthorizeOptions {
        AuthorizeOptions {
            intent,
            ui_locales: Vec::new(),
            color_scheme: None,
        }
    }

    /// An ID token as the provider signed it (the signature is not checked here).
    fn id_token() -> CoreIdToken {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        let part = |json: &str| URL_SAFE_NO_PAD.encode(json);
        let header = part(r#"{"alg":"RS256"}"#);
        let claims = part(
            r#"{"iss":"https://myapp.authgear.cloud","aud":"client","sub":"user-1","exp":1900000000,"iat":1800000000}"#,
        );
        format!("{header}.{claims}.c2lnbmF0dXJl")
            .parse()
            .expect("a JWT")
    }

    #[test]
    fn a_plain_sign_in_adds_nothing() {
        let query = query(&options(Intent::SignIn), true);
        for absent in [
            "x_page",
            "prompt",
            "max_age",
            "id_token_hint",
            "ui_locales",
            "x_color_scheme",
        ] {
            assert!(!query.contains_key(absent), "{absent} in {query:?}");
        }
    }

    #[test]
    fn sign_up_opens_authgears_sign_up_page() {
        let query = query(&options(Intent::SignUp), false);
        assert_eq!(query.get("x_page").map(String::as_str), Some("signup"));
        assert_eq!(
            query.get("prompt"),
            None,
            "Authgear does not implement prompt=create"
        );
    }

    #[test]
    fn sign_up_asks_for_prompt_create_only_where_discovery_lists_it() {
        let query = query(&options(Intent::SignUp), true);
        assert_eq!(query.get("prompt").map(String::as_str), Some("create"));
        assert_eq!(query.get("x_page").map(String::as_str), Some("signup"));
    }

    #[test]
    fn reauthentication_asks_for_a_fresh_sign_in_of_the_same_user() {
        let query = query(
            &options(Intent::Reauthenticate {
                id_token_hint: Box::new(id_token()),
                max_age: Duration::from_secs(300),
            }),
            true,
        );
        assert_eq!(query.get("prompt").map(String::as_str), Some("login"));
        assert_eq!(query.get("max_age").map(String::as_str), Some("300"));
        assert_eq!(
            query.get("id_token_hint").map(String::as_str),
            Some(id_token().to_string().as_str())
        );
        assert_eq!(query.get("x_page"), None);
    }

    #[test]
    fn language_and_scheme_follow_the_browser() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "accept-language",
            "fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5"
                .parse()
                .expect("header"),
        );
        headers.insert(COLOR_SCHEME_HINT, "\"dark\"".parse().expect("header"));
        let query = query(
            &AuthorizeOptions::from_headers(Intent::SignIn, &headers),
            false,
        );
        assert_eq!(
            query.get("ui_locales").map(String::as_str),
            Some("fr-CH fr en")
        );
        assert_eq!(
            query.get("x_color_scheme").map(String::as_str),
            Some("dark")
        );
    }

    #[test]
    fn a_browser_that_says_nothing_gets_no_language_or_scheme() {
        let query = query(
            &AuthorizeOptions::from_headers(Intent::SignIn, &HeaderMap::new()),
            false,
        );
        assert!(!query.contains_key("ui_locales") && !query.contains_key("x_color_scheme"));
    }

    #[test]
    fn only_light_and_dark_are_schemes() {
        assert_eq!(
            ColorScheme::from_hint("\"light\""),
            Some(ColorScheme::Light)
        );
        assert_eq!(ColorScheme::from_hint("dark"), Some(ColorScheme::Dark));
        for hostile in [
            "",
            "\"\"",
            "\"no-preference\"",
            "dark&x_page=signup",
            "\"DARK\"",
            "red",
        ] {
            assert_eq!(ColorScheme::from_hint(hostile), None, "{hostile}");
        }
    }

    #[test]
    fn languages_in_order_of_preference() {
        assert_eq!(
            ui_locales("da, en-GB;q=0.8, en;q=0.7"),
            ["da", "en-GB", "en"]
        );
        assert_eq!(ui_locales("en;q=0.1, ja;q=1.0"), ["ja", "en"]);
        assert_eq!(ui_locales("zh-Hant-TW"), ["zh-Hant-TW"]);
        // Equal weights keep the header's order; duplicates count once.
        assert_eq!(ui_locales("de, fr, de-AT, FR"), ["de", "fr", "de-AT"]);
    }

    #[test]
    fn at_most_a_few_languages() {
        assert_eq!(ui_locales("a1, en, fr, de, es, it").len(), 3);
        let many = (0..10_000)
            .map(|i| format!("x{i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(ui_locales(&many).len() <= 3);
    }

    #[test]
    fn malformed_and_refused_languages_are_dropped() {
        for hostile in [
            "",
            "*",
            "en;q=0",
            "en;q=2",
            "en;q=-1",
            "en;q=0.12345",
            "en;q=abc",
            "e",
            "english-language-tag-that-is-far-too-long",
            "en_US",
            "en-",
            "-en",
            "en--US",
            "<script>",
            "en US",
            "1234",
            "en-US&x_page=signup",
            "ελληνικά",
            "\u{0}en",
        ] {
            assert!(
                ui_locales(hostile).is_empty(),
                "{hostile:?} gave {:?}",
                ui_locales(hostile)
            );
        }
        // A bad entry does not spoil the good ones around it.
        assert_eq!(
            ui_locales("<script>, en;q=0.5, fr;q=oops, de"),
            ["de", "en"]
        );
    }
}
