//! Cross-site request forgery: every request that can change state (any
//! method but GET, HEAD, OPTIONS, TRACE) must come from this app's own pages.
//!
//! The session cookie is `SameSite=Strict` already; this check does not
//! depend on the browser honouring that.

use app::auth::AuthError;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;

use crate::{routes, AppState};

pub async fn reject_cross_site(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.method().is_safe() {
        return next.run(request).await;
    }
    match check(&state.auth.settings().app_origin(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(error) => routes::problem(&state, "csrf", error),
    }
}

/// Browsers send `Sec-Fetch-Site` on every request and `Origin` on every
/// POST. A request with neither did not come from one of our pages.
pub fn check(app_origin: &str, headers: &HeaderMap) -> Result<(), AuthError> {
    let value = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let fetch_site = value("sec-fetch-site");
    let origin = value(header::ORIGIN.as_str());
    let allowed = match (fetch_site, origin) {
        (Some(site), _) => site == "same-origin",
        (None, Some(origin)) => origin == app_origin,
        (None, None) => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(AuthError::CrossSite {
            origin: origin.map(str::to_owned),
            fetch_site: fetch_site.map(str::to_owned),
        })
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
        check(APP, &headers).is_ok()
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
