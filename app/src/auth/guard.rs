//! Cross-site request forgery: every request that can change state (any
//! method but GET, HEAD, OPTIONS, TRACE), and every call of the JSON API,
//! must come from this app's own pages.
//!
//! The session cookie is `SameSite=Strict` already; this check does not
//! depend on the browser honouring that.

use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, ORIGIN};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use super::Auth;
use crate::csp;
use crate::pages::standalone;
use crate::paths;

/// Middleware: lets safe methods and same-origin requests through and
/// answers anything else with a neutral 403 page.
pub async fn reject_cross_site(State(auth): State<Auth>, request: Request, next: Next) -> Response {
    // The provider's event endpoints carry no cookie and no Origin: their
    // signatures authenticate them, and a request without one changes nothing.
    let signed_elsewhere =
        [paths::AUTHGEAR_WEBHOOK, paths::BACKCHANNEL_LOGOUT].contains(&request.uri().path());
    // The JSON API answers a GET with user data: only our pages may read it.
    let own_pages_only = request.uri().path() == paths::USERINFO_API;
    if (request.method().is_safe() && !own_pages_only)
        || signed_elsewhere
        || is_same_origin(&auth.settings().app_origin(), request.headers())
    {
        return next.run(request).await;
    }
    let value = |name| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    tracing::info!(
        kind = "cross_site",
        status = 403,
        origin = value(ORIGIN.as_str()),
        fetch_site = value("sec-fetch-site"),
        "cross-site request refused"
    );
    (
        StatusCode::FORBIDDEN,
        [
            (CACHE_CONTROL, "no-store"),
            (CONTENT_SECURITY_POLICY, csp::STANDALONE_PAGE),
        ],
        Html(standalone::forbidden()),
    )
        .into_response()
}

/// Browsers send `Sec-Fetch-Site` on every request and `Origin` on every
/// POST. A request with neither did not come from one of our pages.
fn is_same_origin(app_origin: &str, headers: &HeaderMap) -> bool {
    let value = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    match (value("sec-fetch-site"), value(ORIGIN.as_str())) {
        (Some(site), _) => site == "same-origin",
        (None, Some(origin)) => origin == app_origin,
        (None, None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "http://localhost:3000";

    fn allowed(pairs: &[(&'static str, &'static str)]) -> bool {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().expect("header value"));
        }
        is_same_origin(APP, &headers)
    }

    #[test]
    fn same_origin_requests_pass() {
        assert!(allowed(&[
            ("sec-fetch-site", "same-origin"),
            ("origin", APP)
        ]));
        assert!(allowed(&[("origin", APP)]));
    }

    #[test]
    fn cross_site_and_unmarked_requests_are_rejected() {
        assert!(!allowed(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example")
        ]));
        assert!(!allowed(&[
            ("sec-fetch-site", "same-site"),
            ("origin", "http://localhost:4000")
        ]));
        // A spoofed Origin does not outvote the browser's own Sec-Fetch-Site.
        assert!(!allowed(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", APP)
        ]));
        assert!(!allowed(&[("origin", "https://evil.example")]));
        assert!(!allowed(&[("origin", "null")]));
        assert!(!allowed(&[]));
    }
}
