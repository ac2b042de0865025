//! Several instances behind a load balancer, sharing one Redis: a session
//! begun on one is seen on every other, refreshed once among all of them,
//! ended everywhere by a logout on any, and a Redis outage is a 503, not a
//! sign-out.

#![allow(clippy::unwrap_used)] // Test code: a panic is a failed test.

mod support;

use reqwest::StatusCode;
use support::provider::Gate;
use support::{login_with_a_due_token, RedisServer, TestApp, TestProvider};

/// Two instances of the app on one Redis. Both are reached under the first
/// one's public URL, as behind a load balancer.
async fn two_instances(provider: &TestProvider, redis: &RedisServer) -> (TestApp, TestApp) {
    let a = TestApp::start_with(provider.issuer(), &[("REDIS_URL", &redis.url())]).await;
    let b = TestApp::start_with(
        provider.issuer(),
        &[("REDIS_URL", &redis.url()), ("APP_URL", &a.url)],
    )
    .await;
    a.auth.provider_ready().await;
    b.auth.provider_ready().await;
    (a, b)
}

#[tokio::test]
async fn instances_share_sessions_refreshes_and_logouts() {
    let redis = RedisServer::start().await;
    let provider = TestProvider::start().await;
    let (a, b) = two_instances(&provider, &redis).await;
    let on_a = a.browser();
    let on_b = b.same_browser_as(&on_a);

    on_a.login().await;
    assert_eq!(
        on_b.viewer().await["user"]["display_name"],
        "Ada Lovelace",
        "signed in on A, signed in on B"
    );

    // Signed in again, with an access token both instances find due at once.
    login_with_a_due_token(&provider, &on_a).await;
    let gate = Gate::new();
    provider.behave(|b| b.refresh_gate = Some(gate.clone()));
    let calls: Vec<_> = (0..4)
        .flat_map(|_| [on_a.clone(), on_b.clone()])
        .map(|browser| tokio::spawn(async move { browser.viewer().await }))
        .collect();
    gate.arrival().await;
    // Time for every request to reach its instance. Exactly one grant passes
    // however long this is; a lock that did not hold shows as extra grants.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    gate.open();
    for call in calls {
        assert_eq!(call.await.unwrap()["user"]["display_name"], "Ada Lovelace");
    }
    assert_eq!(
        provider.refresh_grants(),
        1,
        "one refresh-token grant for eight requests on two instances"
    );

    assert_eq!(on_a.logout().await.status(), StatusCode::FOUND);
    assert!(
        on_b.viewer().await["user"].is_null(),
        "logged out on A, out on B"
    );
    let page = on_b.get("/").await.text().await.unwrap();
    assert!(page.contains("Welcome Guest"), "{page}");
}

#[tokio::test]
async fn a_redis_outage_is_a_503_and_the_app_recovers() {
    let mut redis = RedisServer::start().await;
    let provider = TestProvider::start().await;
    let (app, _other) = two_instances(&provider, &redis).await;
    let browser = app.browser();
    browser.login().await;

    redis.stop().await;
    let page = browser.get("/").await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        page.headers().get_all("set-cookie").iter().next().is_none(),
        "the session cookie is kept for when Redis is back"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("Please try again in a moment"), "{html}");
    assert!(!html.contains("Welcome Guest"), "not a silent sign-out");
    let viewer = browser.server_fn("viewer").await;
    assert_eq!(viewer.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        viewer.json::<serde_json::Value>().await.unwrap(),
        "Internal"
    );
    let guest = app.browser().get("/").await;
    assert_eq!(guest.status(), StatusCode::OK, "guests are still served");
    assert_eq!(
        app.browser().get("/readyz").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(app.browser().get("/healthz").await.status(), StatusCode::OK);

    // Back, empty (it keeps nothing on disk): the app uses it again by itself.
    redis.restart().await;
    let again = app.browser();
    support::wait_until_async("the app to reach Redis again", || async {
        again.get("/login").await.status() == StatusCode::SEE_OTHER
    })
    .await;
    again.login().await;
    assert_eq!(again.viewer().await["user"]["display_name"], "Ada Lovelace");
}

#[tokio::test]
async fn a_logout_on_one_instance_during_a_refresh_on_another_stays_a_logout() {
    let redis = RedisServer::start().await;
    let provider = TestProvider::start().await;
    let (a, b) = two_instances(&provider, &redis).await;
    let on_a = a.browser();
    let on_b = b.same_browser_as(&on_a);
    login_with_a_due_token(&provider, &on_a).await;
    let gate = Gate::new();
    provider.behave(|b| b.refresh_gate = Some(gate.clone()));

    // B starts a refresh; the user logs out on A while the provider answers.
    let page_view = tokio::spawn({
        let on_b = on_b.clone();
        async move { on_b.viewer().await }
    });
    gate.arrival().await;
    assert_eq!(on_a.logout().await.status(), StatusCode::FOUND);
    gate.open();

    assert!(page_view.await.unwrap()["user"].is_null());
    let issued_by_the_refresh = provider.latest_refresh_token();
    support::wait_until("the refreshed token is revoked", || {
        !provider.is_refresh_token_active(&issued_by_the_refresh)
    })
    .await;
    assert!(on_a.viewer().await["user"].is_null());
    assert!(on_b.viewer().await["user"].is_null());
}
