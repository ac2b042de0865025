//! `/metrics`: the counters move as people sign in, tokens are refreshed,
//! sessions end and events arrive; the listener is the operator's alone,
//! and nothing in it names a user, a session or a token.

use crate::support;

use reqwest::StatusCode;
use support::provider::{SUBJECT, TOKEN_MARK};
use support::{
    bind_loopback, cookieless_client, event, sign_in_with_a_due_token, signed_webhook, TestApp,
    TestProvider, WEBHOOK_SECRET,
};

/// The app's metrics, as Prometheus scrapes them.
struct Scraper(String);

impl Scraper {
    async fn start(app: &TestApp) -> Self {
        let (listener, url) = bind_loopback().await;
        tokio::spawn(server::serve_metrics(listener, app.auth.clone()));
        Self(format!("{url}/metrics"))
    }

    async fn text(&self) -> String {
        let response = cookieless_client()
            .get(&self.0)
            .send()
            .await
            .expect("scrape");
        assert_eq!(response.status(), StatusCode::OK);
        let kind = response.headers()[reqwest::header::CONTENT_TYPE].clone();
        assert!(
            kind.to_str()
                .is_ok_and(|kind| kind.starts_with("application/openmetrics-text")),
            "{kind:?}"
        );
        response.text().await.expect("text")
    }

    /// The value of one series, `name{labels}`; 0 when it has not been seen.
    async fn value(&self, series: &str) -> f64 {
        sample(&self.text().await, series)
    }
}

fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.trim().parse().expect("a number"))
}

#[tokio::test]
async fn the_counters_move_as_sessions_begin_renew_and_end() {
    let provider = TestProvider::start().await;
    let app = TestApp::start_with(
        provider.issuer(),
        &[("AUTHGEAR_WEBHOOK_SECRET", WEBHOOK_SECRET)],
    )
    .await;
    app.auth.provider_ready().await;
    let metrics = Scraper::start(&app).await;
    assert_eq!(
        metrics
            .value(r#"authgear_provider_call_seconds_count{endpoint="discovery",outcome="ok"}"#)
            .await,
        1.0
    );

    // A sign-in, and a forged callback.
    let browser = app.browser();
    browser.sign_in().await;
    let forged = app
        .browser()
        .get("/callback?code=forged&state=forged")
        .await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    let text = metrics.text().await;
    assert_eq!(
        sample(&text, r#"authgear_sign_ins_total{outcome="ok"}"#),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            r#"authgear_sign_ins_total{outcome="no_sign_in_in_progress"}"#
        ),
        1.0
    );
    for endpoint in ["token", "userinfo"] {
        let series = format!(
            r#"authgear_provider_call_seconds_count{{endpoint="{endpoint}",outcome="ok"}}"#
        );
        assert_eq!(sample(&text, &series), 1.0, "{series}");
    }
    assert!(
        sample(
            &text,
            r#"authgear_store_operation_seconds_count{operation="create",outcome="ok"}"#
        ) >= 1.0
    );

    // A refresh.
    sign_in_with_a_due_token(&provider, &browser).await;
    assert!(browser.viewer().await["user"].is_object());
    assert_eq!(
        metrics
            .value(r#"authgear_refreshes_total{outcome="ok"}"#)
            .await,
        1.0
    );
    assert_eq!(
        metrics
            .value(r#"authgear_sessions_ended_total{cause="replaced"}"#)
            .await,
        1.0,
        "the second sign-in replaced the first session"
    );

    // Page views read through the session cache: a burst finds it warm.
    let lookups = |text: &str| {
        (
            sample(
                text,
                r#"authgear_session_cache_lookups_total{result="hit"}"#,
            ),
            sample(
                text,
                r#"authgear_session_cache_lookups_total{result="miss"}"#,
            ),
        )
    };
    let (hits, misses) = lookups(&metrics.text().await);
    assert!(misses >= 1.0);
    loop {
        browser.viewer().await;
        browser.viewer().await;
        let (now_hits, now_misses) = lookups(&metrics.text().await);
        assert!(now_hits + now_misses > hits + misses);
        if now_hits > hits {
            break;
        }
    }

    // A webhook that ends the user's sessions, and a logout.
    let status = signed_webhook(&app, &event("user.disabled", SUBJECT)).await;
    assert_eq!(status, StatusCode::OK);
    let text = metrics.text().await;
    assert_eq!(
        sample(
            &text,
            r#"authgear_webhook_events_total{event="user.disabled",outcome="applied"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(&text, r#"authgear_sessions_ended_total{cause="webhook"}"#),
        1.0
    );
    browser.sign_in().await;
    let cookie = browser.cookies();
    assert!(cookie.starts_with("session="));
    assert_eq!(browser.logout().await.status(), StatusCode::FOUND);
    assert_eq!(
        metrics
            .value(r#"authgear_sessions_ended_total{cause="logout"}"#)
            .await,
        1.0
    );
    assert!(
        metrics
            .value(r#"authgear_provider_call_seconds_count{endpoint="revocation",outcome="ok"}"#)
            .await
            >= 1.0
    );

    // Requests, by the route that served them.
    let made_up = "/no-such-page-e2f9";
    assert_eq!(
        app.browser().get(made_up).await.status(),
        StatusCode::NOT_FOUND
    );
    let text = metrics.text().await;
    assert!(
        sample(
            &text,
            r#"authgear_http_request_seconds_count{route="/api/viewer",method="POST",status="200"}"#
        ) >= 1.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"authgear_http_request_seconds_count{route="unmatched",method="GET",status="404"}"#
        ),
        1.0
    );

    // Nothing in it names anyone.
    for secret in [
        SUBJECT,
        TOKEN_MARK,
        "ada@example.com",
        "Ada Lovelace",
        made_up,
        "forged",
        cookie.as_str(),
    ]
    .into_iter()
    .filter(|secret| !secret.is_empty())
    {
        assert!(!text.contains(secret), "{secret} is in the metrics");
    }
    assert!(text.ends_with("# EOF\n"), "one complete exposition");
}

#[tokio::test]
async fn the_public_port_has_no_metrics() {
    let provider = TestProvider::start().await;
    let app = TestApp::start_with(provider.issuer(), &[("METRICS_ADDR", "127.0.0.1:0")]).await;
    let response = app.browser().get("/metrics").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let page = response.text().await.expect("page");
    assert!(!page.contains("authgear_"), "{page}");
}
