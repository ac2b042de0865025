//! The Content-Security-Policy of the app's pages.
//!
//! Scripts run only if they carry this response's nonce (Leptos puts it on
//! its hydration scripts) or come from this origin; nothing may frame the
//! page; forms may post only here and to the provider, where logout sends
//! the browser on.

use leptos::prelude::*;

/// For pages the server sends outside the app (errors, the sign-in hop):
/// they run no script at all.
pub const STANDALONE_PAGE: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The policy for one rendering of the app.
pub fn app_page(nonce: &str, provider_origin: Option<&str>, live_reload: bool) -> String {
    let form_action = match provider_origin {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_owned(),
    };
    // `cargo leptos watch` reloads the page over a websocket on another port.
    let connect = if live_reload { "'self' ws:" } else { "'self'" };
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src {connect}; object-src 'none'; \
         form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// Sets the policy on the response being rendered. Called from the shell.
pub fn apply() {
    use axum::http::{header::CONTENT_SECURITY_POLICY, HeaderValue};
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    let provider = use_context::<crate::auth::Auth>()
        .map(|auth| auth.settings().issuer.url().origin().ascii_serialization());
    // `cargo leptos watch` sets this for the server's whole life: read it once.
    static LIVE_RELOAD: std::sync::LazyLock<bool> =
        std::sync::LazyLock::new(|| std::env::var_os("LEPTOS_WATCH").is_some());
    if let Ok(value) = HeaderValue::from_str(&app_page(&nonce, provider.as_deref(), *LIVE_RELOAD)) {
        response.insert_header(CONTENT_SECURITY_POLICY, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_need_the_nonce_and_framing_is_refused() {
        let policy = app_page("abc123", Some("https://myapp.authgear.cloud"), false);
        assert!(policy.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval';"));
        assert!(!policy.contains("unsafe-inline"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(policy.contains("form-action 'self' https://myapp.authgear.cloud;"));
        assert!(policy.contains("connect-src 'self';"));
        assert!(app_page("n", None, true).contains("connect-src 'self' ws:;"));
    }
}
