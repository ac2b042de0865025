//! Several instances behind a load balancer, sharing one Redis: a session
//! begun on one is seen on every other, refreshed once among all of them,
//! ended everywhere by a logout on any, and a Redis outage is a 503, not a
//! sign-out.
//!
//! Each instance may serve a session it read less than a second ago
//! (`SESSION_CACHE_TTL`): what happens on one instance takes effect on the
//! others within that bound, and on the instance itself at once.

use crate::support;
use std::time::Duration;

use app::auth::AuthSettings;
use reqwest::StatusCode;
use support::provider::{Gate, SUBJECT};
use support::redis_cluster::RedisCluster;
use support::{
    event, sign_in_with_a_due_token, signed_webhook, RedisServer, TestApp, TestProvider,
    WEBHOOK_SECRET,
};

/// How long an instance may serve what it read before: the bound within
/// which a change made on one instance is seen on another.
const CACHE_BOUND: Duration = Duration::from_secs(1);

/// Two instances of the app on one Redis. Both are reached under the first
/// one's public URL, as behind a load balancer.
async fn two_instances(provider: &TestProvider, redis: &RedisServer) -> (TestApp, TestApp) {
    two_tuned_instances(provider, &redis.url(), |_| {}).await
}

/// The same, with settings changed by `tune` on both.
async fn two_tuned_instances(
    provider: &TestProvider,
    redis_url: &str,
    tune: impl Fn(&mut AuthSettings),
) -> (TestApp, TestApp) {
    let shared = [
        ("REDIS_URL", redis_url.to_owned()),
        ("AUTHGEAR_WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
    ];
    let env = |extra: Option<(&'static str, String)>| {
        let mut env: Vec<(&'static str, String)> = shared.to_vec();
        env.extend(extra);
        env
    };
    let a_env = env(None);
    let a = TestApp::start_tuned(provider.issuer(), &borrowed(&a_env), &tune).await;
    let b_env = env(Some(("APP_URL", a.url.clone())));
    let b = TestApp::start_tuned(provider.issuer(), &borrowed(&b_env), &tune).await;
    a.auth.provider_ready().await;
    b.auth.provider_ready().await;
    (a, b)
}

fn borrowed<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect()
}

/// Waits out the bound, counted from now: every session read that began
/// before this call is then too old to be served again.
async fn after_the_cache_bound() {
    tokio::time::sleep(CACHE_BOUND).await;
}

#[tokio::test]
async fn every_instance_lists_the_same_sessions_and_ends_them_everywhere() {
    let redis = RedisServer::start().await;
    let provider = TestProvider::start().await;
    let (a, b) = two_instances(&provider, &redis).await;
    let laptop_on_a = a.browser_as("Mozilla/5.0 (Windows NT 10.0) Gecko/20100101 Firefox/133.0");
    let laptop_on_b = b.same_browser_as(&laptop_on_a);
    let phone_on_a =
        a.browser_as("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Safari/604.1");
    laptop_on_a.sign_in().await;
    phone_on_a.sign_in().await;
    let list = |browser: support::Browser| async move {
        let page: serde_json::Value = browser
            .server_fn("sessions")
            .await
            .json()
            .await
            .expect("JSON");
        page["content"]["sessions"].clone()
    };
    let on_a = list(laptop_on_a.clone()).await;
    assert_eq!(on_a.as_array().map(Vec::len), Some(2));
    assert_eq!(
        on_a,
        list(laptop_on_b.clone()).await,
        "the same list on both"
    );

    let phone = on_a[1]["handle"].as_str().expect("handle").to_owned();
    let ended = laptop_on_b
        .server_fn_with("end_session", &[("handle", &phone)])
        .await;
    assert_eq!(ended.status(), StatusCode::OK);
    assert_eq!(list(laptop_on_a).await.as_array().map(Vec::len), Some(1));
    after_the_cache_bound().await;
    assert_eq!(
        phone_on_a.viewer().await["notice"],
        "SessionEnded",
        "ended on B, ended on A"
    );
}

#[tokio::test]
async fn instances_share_sessions_refreshes_and_logouts() {
    let redis = RedisServer::start().await;
    share_sessions_refreshes_and_logouts(&redis.url()).await;
}

#[tokio::test]
async fn instances_on_a_redis_cluster_share_sessions_refreshes_and_logouts() {
    let cluster = RedisCluster::start().await;
    share_sessions_refreshes_and_logouts(&cluster.url()).await;
}

async fn share_sessions_refreshes_and_logouts(redis_url: &str) {
    let provider = TestProvider::start().await;
    let (a, b) = two_tuned_instances(&provider, redis_url, |_| {}).await;
    let on_a = a.browser();
    let on_b = b.same_browser_as(&on_a);

    on_a.sign_in().await;
    assert_eq!(
        on_b.viewer().await["user"]["display_name"],
        "Ada Lovelace",
        "signed in on A, signed in on B"
    );

    // Signed in again, with an access token both instances find due at once.
    sign_in_with_a_due_token(&provider, &on_a).await;
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
    assert!(on_a.viewer().await["user"].is_null(), "out on A at once");
    after_the_cache_bound().await;
    assert!(
        on_b.viewer().await["user"].is_null(),
        "logged out on A, out on B within the bound"
    );
    let page = on_b.get("/").await.text().await.unwrap();
    assert!(page.contains("Welcome Guest"), "{page}");
}

#[tokio::test]
async fn a_copy_read_before_another_instance_refreshed_does_not_spend_the_token_again() {
    const CONFIRM_EVERY: Duration = Duration::from_millis(300);
    let redis = RedisServer::start().await;
    let provider = TestProvider::start().await;
    let (a, b) = two_tuned_instances(&provider, &redis.url(), |settings| {
        settings.liveness_interval = Some(CONFIRM_EVERY);
    })
    .await;
    let on_a = a.browser();
    let on_b = b.same_browser_as(&on_a);
    on_a.sign_in().await;
    let signed_in = std::time::Instant::now();
    // B reads the session, and may serve that copy for a second.
    assert_eq!(on_b.viewer().await["user"]["display_name"], "Ada Lovelace");

    // The grant is due for confirming: A refreshes, spending the token that
    // B's copy still holds.
    tokio::time::sleep(CONFIRM_EVERY.saturating_sub(signed_in.elapsed())).await;
    assert_eq!(on_a.viewer().await["user"]["display_name"], "Ada Lovelace");
    assert_eq!(provider.refresh_grants(), 1);

    // B's copy finds the grant due too. Spending its token again would be
    // refused (rotation has no grace) and end the session.
    assert_eq!(on_b.viewer().await["user"]["display_name"], "Ada Lovelace");
    assert_eq!(
        provider.refresh_grants(),
        1,
        "A's tokens were used, not renewed again"
    );
    assert_eq!(on_a.viewer().await["user"]["display_name"], "Ada Lovelace");
}

#[tokio::test]
async fn page_views_write_nothing_and_a_burst_costs_one_read_a_second() {
    let redis = RedisServer::start().await;
    let provider = TestProvider::start().await;
    let (app, _other) = two_instances(&provider, &redis).await;
    let browser = app.browser();
    browser.sign_in().await;
    browser.viewer().await;
    let provider_calls = provider.request_count();

    redis.reset_stats();
    let started = std::time::Instant::now();
    for _ in 0..20 {
        let page = browser.get("/").await.text().await.unwrap();
        assert!(page.contains("Welcome Ada Lovelace"), "{page}");
        assert_eq!(
            browser.viewer().await["user"]["display_name"],
            "Ada Lovelace"
        );
    }
    let elapsed = started.elapsed();
    let calls = redis.command_calls();
    let writes: Vec<_> = calls
        .iter()
        .filter(|(command, _)| !matches!(command.as_str(), "get" | "info" | "config|resetstat"))
        .collect();
    assert!(writes.is_empty(), "40 views wrote to the store: {calls:?}");
    // Each read is served again for up to a second.
    let reads = calls.get("get").copied().unwrap_or(0);
    let bound = 1 + elapsed.as_secs() + u64::from(elapsed.subsec_nanos() > 0);
    assert!(reads <= bound, "{reads} reads for 40 views in {elapsed:?}");
    assert_eq!(
        provider.request_count(),
        provider_calls,
        "no call to the provider while the access token is fresh"
    );
}

#[tokio::test]
async fn what_one_instance_learns_every_instance_shows_within_a_second() {
    let redis = RedisServer::start().await;
    let provider = TestProvider::start().await;
    let (a, b) = two_instances(&provider, &redis).await;
    let on_a = a.browser();
    let on_b = b.same_browser_as(&on_a);
    on_a.sign_in().await;
    // B has just read the session and shown it: it would serve both the
    // session and the page's parts rendered from it from memory.
    assert_eq!(on_b.viewer().await["user"]["display_name"], "Ada Lovelace");
    assert_eq!(on_b.names_on_the_page().await, ["Ada Lovelace"; 3]);

    // The profile changed at the provider, and Authgear told instance A.
    provider.behave(|b| b.userinfo = serde_json::json!({"name": "Ada King"}));
    assert_eq!(
        signed_webhook(&a, &event("user.profile.updated", SUBJECT)).await,
        StatusCode::OK
    );
    after_the_cache_bound().await;
    assert_eq!(on_b.viewer().await["user"]["display_name"], "Ada King");
    assert_eq!(on_b.names_on_the_page().await, ["Ada King"; 3]);

    // The user was disabled, and Authgear told instance A.
    assert_eq!(on_b.viewer().await["user"]["display_name"], "Ada King");
    assert_eq!(
        signed_webhook(&a, &event("user.disabled", SUBJECT)).await,
        StatusCode::OK
    );
    assert!(on_a.viewer().await["user"].is_null(), "out on A at once");
    after_the_cache_bound().await;
    assert!(
        on_b.viewer().await["user"].is_null(),
        "and on B within the bound"
    );
}

#[tokio::test]
async fn a_redis_outage_is_a_503_and_the_app_recovers() {
    let mut redis = RedisServer::start().await;
    let provider = TestProvider::start().await;
    let (app, _other) = two_instances(&provider, &redis).await;
    let browser = app.browser();
    browser.sign_in().await;

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
    let logout = browser.get("/logout").await;
    assert_eq!(logout.status(), StatusCode::SERVICE_UNAVAILABLE);
    let html = logout.text().await.unwrap();
    assert!(html.contains("Please try again in a moment"), "{html}");
    assert!(
        !html.contains("You are signed out") && !html.contains(">Login<"),
        "neither signed out nor offered a sign-in: {html}"
    );
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
    // Events from outside cannot be applied: the sender is told to retry,
    // never that they were refused or done.
    let event = event("user.disabled", SUBJECT);
    assert_eq!(
        signed_webhook(&app, &event).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let token = provider.logout_token(&provider.latest_sid(), |_| {});
    let backchannel = support::cookieless_client()
        .post(format!("{}/backchannel-logout", app.url))
        .form(&[("logout_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(backchannel.status(), StatusCode::SERVICE_UNAVAILABLE);

    // Back, empty (it keeps nothing on disk): the app uses it again by itself.
    redis.restart().await;
    let again = app.browser();
    support::wait_until_async("the app to reach Redis again", || async {
        again.get("/login").await.status() == StatusCode::SEE_OTHER
    })
    .await;
    again.sign_in().await;
    assert_eq!(again.viewer().await["user"]["display_name"], "Ada Lovelace");
}

#[tokio::test]
async fn a_logout_on_one_instance_during_a_refresh_on_another_stays_a_logout() {
    let redis = RedisServer::start().await;
    let provider = TestProvider::start().await;
    let (a, b) = two_instances(&provider, &redis).await;
    let on_a = a.browser();
    let on_b = b.same_browser_as(&on_a);
    sign_in_with_a_due_token(&provider, &on_a).await;
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
    after_the_cache_bound().await;
    let issued_by_the_refresh = provider.latest_refresh_token();
    support::wait_until("the refreshed token is revoked", || {
        !provider.is_refresh_token_active(&issued_by_the_refresh)
    })
    .await;
    assert!(on_a.viewer().await["user"].is_null());
    assert!(on_b.viewer().await["user"].is_null());
}

/// Two instances whose refresh lock lives `ttl` unless its holder extends it.
async fn instances_with_a_short_lock(
    provider: &TestProvider,
    redis: &RedisServer,
    ttl: Duration,
) -> (TestApp, TestApp) {
    two_tuned_instances(provider, &redis.url(), move |settings| {
        settings.refresh_lock_ttl = ttl;
    })
    .await
}

#[tokio::test]
async fn a_refresh_slower_than_its_lock_is_still_the_only_one() {
    const LOCK: Duration = Duration::from_millis(150);
    let redis = RedisServer::start().await;
    let provider = TestProvider::start().await;
    let (a, b) = instances_with_a_short_lock(&provider, &redis, LOCK).await;
    let on_a = a.browser();
    let on_b = b.same_browser_as(&on_a);
    sign_in_with_a_due_token(&provider, &on_a).await;
    let gate = Gate::new();
    provider.behave(|b| b.before_refresh_gate = Some(gate.clone()));

    let first = tokio::spawn({
        let on_a = on_a.clone();
        async move { on_a.viewer().await }
    });
    gate.arrival().await;
    // A holds the lock for several of its lifetimes while the provider
    // works; B asks meanwhile. Were the lock not extended, B would take it
    // and spend the same refresh token.
    let second = tokio::spawn({
        let on_b = on_b.clone();
        async move { on_b.viewer().await }
    });
    tokio::time::sleep(LOCK * 4).await;
    provider.behave(|b| b.before_refresh_gate = None);
    gate.open();
    for viewer in [first.await.unwrap(), second.await.unwrap()] {
        assert_eq!(viewer["user"]["display_name"], "Ada Lovelace", "{viewer}");
    }
    assert_eq!(
        provider.refresh_grants(),
        1,
        "one refresh for both instances"
    );
}

#[tokio::test]
async fn a_holder_that_dies_mid_refresh_holds_the_others_up_for_one_lock_lifetime() {
    const LOCK: Duration = Duration::from_millis(300);
    let redis = RedisServer::start().await;
    let provider = TestProvider::start().await;
    let (_a, b) = instances_with_a_short_lock(&provider, &redis, LOCK).await;
    // The instance that dies runs in a runtime of its own, which the test
    // shuts down as a process is killed: its tasks stop where they are.
    let doomed_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (issuer, redis_url, url_of_b) = (provider.issuer().to_owned(), redis.url(), b.url.clone());
    let doomed = doomed_runtime
        .spawn(async move {
            let env = [
                ("REDIS_URL", redis_url.as_str()),
                ("APP_URL", url_of_b.as_str()),
            ];
            let app = TestApp::start_tuned(&issuer, &env, move |settings| {
                settings.refresh_lock_ttl = LOCK;
            })
            .await;
            app.auth.provider_ready().await;
            app
        })
        .await
        .unwrap();
    let on_b = b.browser();
    sign_in_with_a_due_token(&provider, &on_b).await;
    let on_doomed = doomed.same_browser_as(&on_b);
    let gate = Gate::new();
    provider.behave(|b| b.before_refresh_gate = Some(gate.clone()));

    // The doomed instance takes the lock and asks the provider, then dies
    // before the provider has spent the refresh token.
    let lost = tokio::spawn(async move { on_doomed.server_fn("viewer").await });
    gate.arrival().await;
    doomed_runtime.shutdown_background();
    lost.abort();
    provider.behave(|b| b.before_refresh_gate = None);

    // B waits out the dead holder's lock (the client gives up after
    // `REQUEST_PATIENCE`), then refreshes itself.
    let viewer = on_b.viewer().await;
    assert_eq!(viewer["user"]["display_name"], "Ada Lovelace", "{viewer}");
    assert!(viewer["notice"].is_null(), "{viewer}");
    // The token the dead instance never spent was spent once, by B.
    assert_eq!(provider.refresh_grants(), 2, "the dead one's try, and B's");
    after_the_cache_bound().await;
    assert_eq!(on_b.viewer().await["user"]["display_name"], "Ada Lovelace");
}

#[tokio::test]
async fn sessions_never_visited_again_are_swept_once_with_their_tokens_revoked() {
    const DAY: Duration = Duration::from_secs(86_400);
    let redis = RedisServer::start().await;
    let provider = TestProvider::start().await;
    let clock = app::auth::Clock::adjustable();
    let (a, b) = two_tuned_instances(&provider, &redis.url(), |settings| {
        settings.clock = clock.clone();
    })
    .await;
    let (gone, active) = (a.browser(), a.browser());
    gone.sign_in().await;
    let forgotten = provider.latest_refresh_token();
    active.sign_in().await;

    clock.advance(DAY * 6);
    assert!(
        active.viewer().await["user"].is_object(),
        "a visit moves its idle deadline"
    );
    // That visit refreshed the active session's tokens.
    let kept = provider.latest_refresh_token();
    clock.advance(DAY * 2);
    // Both instances sweep at once: one of them does the work.
    let (on_a, on_b) = tokio::join!(a.auth.sweep(DAY), b.auth.sweep(DAY));
    assert_eq!(
        on_a.unwrap() + on_b.unwrap(),
        1,
        "the forgotten session, once"
    );
    assert_eq!(provider.requests("/revoke").len(), 1, "revoked once");
    assert!(
        !provider.is_refresh_token_active(&forgotten),
        "its token revoked"
    );
    assert!(
        provider.is_refresh_token_active(&kept),
        "the other one's not"
    );
    let viewer = gone.viewer().await;
    assert!(viewer["user"].is_null(), "{viewer}");
    assert_eq!(viewer["notice"], "SessionEnded", "its next visit says so");
    assert!(active.viewer().await["user"].is_object());
}

#[tokio::test]
async fn rotated_tokens_the_store_will_not_keep_end_the_session_with_its_notice() {
    let mut redis = RedisServer::start().await;
    let provider = TestProvider::start().await;
    let (app, _other) = two_instances(&provider, &redis).await;
    let browser = app.browser();
    sign_in_with_a_due_token(&provider, &browser).await;
    let gate = Gate::new();
    provider.behave(|b| b.refresh_gate = Some(gate.clone()));
    let page_view = tokio::spawn({
        let browser = browser.clone();
        async move { browser.server_fn("viewer").await.status() }
    });
    // The provider has rotated the refresh token; the store goes away before
    // the new one can be written.
    gate.arrival().await;
    redis.stop().await;
    gate.open();
    assert_eq!(
        page_view.await.unwrap(),
        StatusCode::SERVICE_UNAVAILABLE,
        "not signed in on tokens only this instance knows"
    );
    let rotated = provider.latest_refresh_token();
    assert!(
        !provider.is_refresh_token_active(&rotated),
        "the token nobody could store is revoked"
    );

    redis.restart().await;
    support::wait_until_async("the app to reach Redis again", || async {
        app.browser().get("/login").await.status() == StatusCode::SEE_OTHER
    })
    .await;
    let viewer = browser.viewer().await;
    assert!(viewer["user"].is_null(), "{viewer}");
    assert_eq!(viewer["notice"], "SessionEnded", "never a silent sign-out");
}
