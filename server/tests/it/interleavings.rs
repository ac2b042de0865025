//! The session lifecycle when things happen at the same time or out of
//! order: logout during a refresh, signing in again, two tabs, a refresh
//! whose answer is lost. Each test forces its interleaving with a provider
//! that waits for the test's signal.

use crate::support;
use reqwest::StatusCode;
use support::provider::Gate;
use support::{location, setup, sign_in_with_a_due_token, Browser, Logs, TestApp, TestProvider};

async fn shows_guest(browser: &Browser) -> bool {
    let page = browser.get("/").await.text().await.unwrap();
    page.contains("Welcome Guest")
}

#[tokio::test]
async fn a_logout_during_a_refresh_stays_a_logout() {
    let (provider, app, browser) = setup().await;
    sign_in_with_a_due_token(&provider, &browser).await;
    let old_cookie = browser.copy(&app);
    let gate = Gate::new();
    provider.behave(|b| b.refresh_gate = Some(gate.clone()));

    // A page view starts a refresh; the provider has spent the old refresh
    // token and is about to answer when the user logs out.
    let page_view = tokio::spawn({
        let browser = browser.clone();
        async move { browser.viewer().await }
    });
    gate.arrival().await;
    assert_eq!(browser.logout().await.status(), StatusCode::FOUND);
    gate.open();

    let viewer = page_view.await.unwrap();
    assert!(
        viewer["user"].is_null(),
        "the racing request answers as a guest: {viewer}"
    );
    let issued_by_the_refresh = provider.latest_refresh_token();
    support::wait_until("the refreshed token is revoked", || {
        !provider.is_refresh_token_active(&issued_by_the_refresh)
    })
    .await;
    assert!(
        provider
            .requests("/revoke")
            .iter()
            .any(|request| request.params["token"] == issued_by_the_refresh),
        "the token the refresh produced was revoked"
    );
    assert!(shows_guest(&browser).await, "the browser's own cookie");
    assert!(shows_guest(&old_cookie).await, "the old cookie replayed");
    assert!(old_cookie.viewer().await["user"].is_null());
}

#[tokio::test]
async fn signing_in_again_ends_the_previous_session() {
    let (provider, app, browser) = setup().await;
    browser.sign_in().await;
    let first = browser.copy(&app);
    let first_refresh_token = provider.latest_refresh_token();

    browser.sign_in().await;
    assert_eq!(
        browser.viewer().await["user"]["display_name"],
        "Ada Lovelace"
    );
    assert!(
        first.viewer().await["user"].is_null(),
        "the old session is over"
    );
    assert!(shows_guest(&first).await);
    assert!(
        !provider.is_refresh_token_active(&first_refresh_token),
        "and its refresh token revoked"
    );
    assert!(provider.is_refresh_token_active(&provider.latest_refresh_token()));
}

#[tokio::test]
async fn a_sign_in_abandoned_at_the_provider_keeps_the_current_session() {
    let (_provider, _app, browser) = setup().await;
    browser.sign_in().await;
    // The user starts another sign-in and never comes back from the provider.
    browser.start_sign_in("/login").await;
    assert_eq!(
        browser.viewer().await["user"]["display_name"],
        "Ada Lovelace"
    );
}

#[tokio::test]
async fn two_sign_ins_started_in_one_browser_both_complete() {
    let (provider, app, browser) = setup().await;
    let first_tab = browser.start_sign_in("/login?return_to=/first").await;
    let second_tab = browser.start_sign_in("/login?return_to=/second").await;

    let second = browser.get(&second_tab).await;
    assert_eq!(second.status(), StatusCode::OK);
    assert!(second.text().await.unwrap().contains("0;url=/second"));
    let first = browser.get(&first_tab).await;
    assert_eq!(
        first.status(),
        StatusCode::OK,
        "the other tab's login still completes"
    );
    assert!(first.text().await.unwrap().contains("0;url=/first"));
    assert_eq!(
        browser.viewer().await["user"]["display_name"],
        "Ada Lovelace"
    );
    assert_eq!(provider.requests("/token").len(), 2);
    assert!(
        !browser.cookies().contains("login-"),
        "{}",
        browser.cookies()
    );
    let _ = app;
}

#[tokio::test]
async fn pending_sign_ins_are_bounded() {
    let (_provider, _app, browser) = setup().await;
    let callbacks: Vec<String> = {
        let mut callbacks = Vec::new();
        for _ in 0..7 {
            callbacks.push(browser.start_sign_in("/login").await);
        }
        callbacks
    };
    let pending = browser.cookies().matches("login-").count();
    assert_eq!(pending, 5, "{}", browser.cookies());
    // The newest always completes; of the others, only those still pending.
    assert_eq!(browser.get(&callbacks[6]).await.status(), StatusCode::OK);
    let mut completed = 0;
    for callback in &callbacks[..6] {
        if browser.get(callback).await.status() == StatusCode::OK {
            completed += 1;
        }
    }
    assert_eq!(completed, 4);
}

#[tokio::test]
async fn a_long_return_to_still_signs_the_user_in() {
    let (_provider, app, _browser) = setup().await;
    for (case, return_to, expected) in [
        (
            "kept",
            format!("/{}", "a".repeat(1000)),
            format!("/{}", "a".repeat(1000)),
        ),
        (
            "grows sixfold when encoded",
            format!("/{}", "é".repeat(1000)),
            "/".to_owned(),
        ),
        (
            "far too long",
            format!("/{}", "b".repeat(20_000)),
            "/".to_owned(),
        ),
    ] {
        let browser = app.browser();
        let encoded: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
        let login = browser.get(&format!("/login?return_to={encoded}")).await;
        assert_eq!(login.status(), StatusCode::SEE_OTHER, "{case}");
        for cookie in login.headers().get_all("set-cookie") {
            assert!(
                cookie.len() < 4096,
                "{case}: a {} byte cookie",
                cookie.len()
            );
        }
        let authorize = browser.get(&location(&login)).await;
        let hop = browser.get(&location(&authorize)).await;
        assert_eq!(hop.status(), StatusCode::OK, "{case}");
        let page = hop.text().await.unwrap();
        assert!(
            page.contains(&format!("0;url={expected}\"")),
            "{case}: {page}"
        );
        assert_eq!(
            browser.viewer().await["user"]["display_name"],
            "Ada Lovelace",
            "{case}"
        );
    }
}

#[tokio::test]
async fn a_refresh_whose_answer_is_lost_does_not_sign_the_user_out() {
    let (logs, _guard) = Logs::capture();
    let (provider, _app, browser) = setup().await;
    sign_in_with_a_due_token(&provider, &browser).await;
    provider.behave(|b| b.break_after_rotation = true);

    let viewer = browser.viewer().await;
    assert_eq!(viewer["user"]["display_name"], "Ada Lovelace", "{viewer}");
    provider.behave(|b| b.break_after_rotation = false);
    for _ in 0..3 {
        assert_eq!(
            browser.viewer().await["user"]["display_name"],
            "Ada Lovelace"
        );
    }
    assert_eq!(
        provider.refresh_grants(),
        1,
        "the spent token is not tried again at once"
    );
    assert!(
        logs.text().contains("outcome_unknown=true"),
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn after_a_lost_answer_a_refused_retry_says_the_session_ended() {
    let provider = TestProvider::start().await;
    let app = TestApp::start_tuned_for(&provider, |settings| {
        settings.refresh_retry_after = std::time::Duration::ZERO;
    })
    .await;
    let browser = app.browser();
    sign_in_with_a_due_token(&provider, &browser).await;
    provider.behave(|b| b.break_after_rotation = true);
    assert_eq!(
        browser.viewer().await["user"]["display_name"],
        "Ada Lovelace"
    );
    provider.behave(|b| b.break_after_rotation = false);

    // The provider did rotate the token, so the retry is refused.
    let viewer = browser.viewer().await;
    assert!(viewer["user"].is_null(), "{viewer}");
    assert_eq!(
        viewer["notice"], "SessionEnded",
        "the user is told, not silently signed out"
    );
    assert_eq!(provider.refresh_grants(), 2);
}

#[tokio::test]
async fn a_hung_provider_costs_one_timeout_per_session_per_period() {
    let (provider, _app, browser) = setup().await;
    sign_in_with_a_due_token(&provider, &browser).await;
    provider.behave(|b| {
        b.token_failure = Some(support::provider::Failure::Slow(
            std::time::Duration::from_secs(30),
        ))
    });
    for _ in 0..4 {
        assert_eq!(
            browser.viewer().await["user"]["display_name"],
            "Ada Lovelace"
        );
    }
    assert_eq!(
        provider.requests("/token").len(),
        2,
        "the sign-in, then one refresh attempt that timed out"
    );
}

#[tokio::test]
async fn a_refreshed_id_token_for_someone_else_ends_the_session() {
    let cases: [(&str, support::provider::ClaimsEdit); 3] = [
        (
            "another subject",
            std::sync::Arc::new(|c| c["sub"] = "someone-else".into()),
        ),
        (
            "another audience",
            std::sync::Arc::new(|c| c["aud"] = "another-client".into()),
        ),
        (
            "expired",
            std::sync::Arc::new(|c| c["exp"] = 1_000_000_000.into()),
        ),
    ];
    for (case, edit) in cases {
        let (provider, _app, browser) = setup().await;
        sign_in_with_a_due_token(&provider, &browser).await;
        provider.behave(|b| {
            b.refresh_id_token = true;
            b.refresh_id_claims = Some(edit);
        });
        let viewer = browser.viewer().await;
        assert!(viewer["user"].is_null(), "{case}: {viewer}");
        assert_eq!(viewer["notice"], "SessionEnded", "{case}");
        assert!(
            !provider.is_refresh_token_active(&provider.latest_refresh_token()),
            "{case}: the tokens that came with it are revoked"
        );
        assert!(shows_guest(&browser).await, "{case}");
    }
}

#[tokio::test]
async fn a_refresh_is_not_a_sign_in() {
    let (provider, _app, browser) = setup().await;
    sign_in_with_a_due_token(&provider, &browser).await;
    // The refresh brings a valid ID token that says the user signed in again
    // later, in another provider session, with another method.
    let later = time::OffsetDateTime::now_utc().unix_timestamp() + 600;
    provider.behave(|b| {
        b.refresh_id_token = true;
        b.refresh_id_claims = Some(std::sync::Arc::new(move |c| {
            c["sid"] = "a-later-provider-session".into();
            c["auth_time"] = later.into();
            c["amr"] = serde_json::json!(["otp"]);
        }));
    });
    browser.viewer().await;
    assert_eq!(provider.refresh_grants(), 1, "refreshed");
    // Read back from the store: the sign-in's `sid` (which back-channel
    // logout matches), `auth_time` (which step-up checks) and `amr` stay, as
    // a refresh proves no sign-in.
    let claims = browser.profile().await["claims"].clone();
    assert_ne!(claims["session_id"], "a-later-provider-session", "{claims}");
    assert!(claims["session_id"].is_string(), "{claims}");
    assert_ne!(claims["auth_time"], later, "{claims}");
    assert_ne!(claims["amr"], serde_json::json!(["otp"]), "{claims}");
}

#[tokio::test]
async fn invalid_client_on_refresh_keeps_the_session_and_is_logged() {
    let (logs, _guard) = Logs::capture();
    let (provider, _app, browser) = setup().await;
    sign_in_with_a_due_token(&provider, &browser).await;
    provider.behave(|b| {
        b.token_failure = Some(support::provider::Failure::Error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ))
    });
    let viewer = browser.viewer().await;
    assert_eq!(
        viewer["user"]["display_name"], "Ada Lovelace",
        "the app's credentials are wrong, not the user's session"
    );
    assert!(
        logs.text().contains("error invalid_client"),
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn an_expired_access_token_without_a_refresh_token_ends_the_session() {
    let (provider, _app, browser) = setup().await;
    provider.behave(|b| b.issue_refresh_token = false);
    sign_in_with_a_due_token(&provider, &browser).await;
    let viewer = browser.viewer().await;
    assert!(viewer["user"].is_null(), "{viewer}");
    assert_eq!(viewer["notice"], "SessionEnded");
    assert_eq!(provider.refresh_grants(), 0);
}

#[tokio::test]
async fn sign_ins_during_a_key_rotation_wait_for_one_key_refetch() {
    let (provider, app, _browser) = setup().await;
    let gate = Gate::new();
    provider.behave(|b| {
        b.signing_key = 1;
        b.published_keys = vec![0, 1];
        b.jwks_gate = Some(gate.clone());
    });
    let first = app.browser();
    let second = app.browser();
    let first_callback = first.start_sign_in("/login").await;
    let second_callback = second.start_sign_in("/login").await;

    let first_done = tokio::spawn(async move { first.get(&first_callback).await.status() });
    gate.arrival().await;
    // The second sign-in meets the new key while the first one's refetch is
    // still under way. It waits for that refetch instead of failing on the
    // rate limit (which it did, within this window, before).
    let mut second_done = tokio::spawn(async move { second.get(&second_callback).await.status() });
    let early = tokio::time::timeout(std::time::Duration::from_millis(300), &mut second_done).await;
    if let Ok(status) = early {
        panic!("the second login finished before the keys arrived: {status:?}");
    }
    gate.open();
    assert_eq!(first_done.await.unwrap(), StatusCode::OK);
    assert_eq!(second_done.await.unwrap(), StatusCode::OK);
    assert_eq!(
        provider.requests("/jwks").len(),
        2,
        "discovery, then one refetch"
    );
}

#[tokio::test]
async fn a_provider_whose_discovery_names_another_issuer_is_not_used() {
    let (logs, _guard) = Logs::capture();
    let provider = TestProvider::start().await;
    provider.behave(|b| b.discovery_issuer = Some("https://evil.example".into()));
    let app = TestApp::start_with(provider.issuer(), &[]).await;
    // Discovery is retried only after a failure: a second request proves the
    // first was refused.
    support::wait_until("discovery to be tried twice", || {
        provider.requests("/.well-known/openid-configuration").len() >= 2
    })
    .await;
    let login = app.browser().get("/login").await;
    assert_eq!(login.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        logs.text().contains("evil.example"),
        "the log says why: {}",
        logs.text()
    );
}

#[tokio::test]
async fn a_session_ends_at_its_idle_timeout_or_lifetime_and_says_so() {
    type Tune = fn(&mut app::auth::AuthSettings);
    let cases: [(&str, Tune); 2] = [
        ("idle timeout", |settings| {
            settings.idle_timeout = std::time::Duration::ZERO
        }),
        ("lifetime", |settings| {
            settings.max_lifetime = std::time::Duration::ZERO
        }),
    ];
    for (case, tune) in cases {
        let provider = TestProvider::start().await;
        let app = TestApp::start_tuned_for(&provider, tune).await;
        let browser = app.browser();
        browser.sign_in().await;
        let refresh_token = provider.latest_refresh_token();
        let viewer = browser.viewer().await;
        assert!(viewer["user"].is_null(), "{case}: {viewer}");
        assert_eq!(viewer["notice"], "SessionEnded", "{case}");
        assert!(
            !provider.is_refresh_token_active(&refresh_token),
            "{case}: revoked"
        );
        assert!(shows_guest(&browser).await, "{case}");
    }

    // With the defaults, the page says when the session will end.
    let (_provider, _app, browser) = setup().await;
    browser.sign_in().await;
    let ends_at = browser.profile().await["session"]["ends_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let ends_at =
        time::OffsetDateTime::parse(&ends_at, &time::format_description::well_known::Rfc3339)
            .unwrap();
    let in_a_week = time::OffsetDateTime::now_utc() + time::Duration::days(7);
    assert!(
        (ends_at - in_a_week).abs() < time::Duration::minutes(1),
        "{ends_at}"
    );
    let page = browser.get("/").await.text().await.unwrap();
    assert!(page.contains("Your session ends"), "{page}");
}

/// The `Max-Age` of the session cookie a response sets, if it sets one.
fn session_cookie_max_age(response: &reqwest::Response) -> Option<i64> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|cookie| cookie.starts_with("session="))
        .map(|cookie| {
            let max_age = cookie
                .split("; ")
                .find_map(|attribute| attribute.strip_prefix("Max-Age="))
                .unwrap_or_else(|| panic!("a session cookie without Max-Age: {cookie}"));
            max_age.parse().unwrap()
        })
}

#[tokio::test]
async fn an_active_user_stays_signed_in_for_the_whole_lifetime_and_no_longer() {
    const DAY: std::time::Duration = std::time::Duration::from_secs(86_400);
    let provider = TestProvider::start().await;
    let clock = app::auth::Clock::adjustable();
    let app = TestApp::start_tuned_for(&provider, |settings| settings.clock = clock.clone()).await;
    let browser = app.browser();
    let callback = browser.start_sign_in("/login").await;
    let signed_in = browser.get(&callback).await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    // Thirty days of lifetime and the day the record is kept to say it ended.
    let max_age = session_cookie_max_age(&signed_in).expect("a session cookie");
    assert!(
        (31 * 86_400 - 60..=31 * 86_400).contains(&max_age),
        "the cookie lives as long as the session: Max-Age={max_age}"
    );

    for day in 1..30 {
        clock.advance(DAY);
        let viewer = browser.server_fn("viewer").await;
        assert_eq!(
            session_cookie_max_age(&viewer),
            None,
            "day {day}: the cookie is set once"
        );
        let viewer: serde_json::Value = viewer.json().await.unwrap();
        assert!(viewer["user"].is_object(), "day {day}: {viewer}");
        assert!(
            i64::from(day) * 86_400 < max_age,
            "day {day}: the browser still sends the cookie"
        );
    }
    clock.advance(DAY);
    let viewer = browser.viewer().await;
    assert!(viewer["user"].is_null(), "day 30: {viewer}");
    assert_eq!(viewer["notice"], "SessionEnded", "day 30");

    // Seven days without a visit end a session too.
    let idle = app.browser();
    idle.sign_in().await;
    clock.advance(DAY * 6);
    assert!(idle.viewer().await["user"].is_object(), "six idle days");
    clock.advance(DAY * 7);
    let viewer = idle.viewer().await;
    assert!(viewer["user"].is_null(), "seven idle days: {viewer}");
    assert_eq!(viewer["notice"], "SessionEnded", "seven idle days");
}

#[tokio::test]
async fn a_session_past_its_deadline_is_swept_and_its_token_revoked() {
    const DAY: std::time::Duration = std::time::Duration::from_secs(86_400);
    let provider = TestProvider::start().await;
    let clock = app::auth::Clock::adjustable();
    let app = TestApp::start_tuned_for(&provider, |settings| settings.clock = clock.clone()).await;
    let (gone, active) = (app.browser(), app.browser());
    gone.sign_in().await;
    let forgotten = provider.latest_refresh_token();
    active.sign_in().await;

    clock.advance(DAY * 7 + std::time::Duration::from_secs(1));
    assert_eq!(app.auth.sweep(DAY).await.unwrap(), 2, "both idle a week");
    assert!(!provider.is_refresh_token_active(&forgotten), "revoked");
    assert_eq!(provider.requests("/revoke").len(), 2);
    let viewer = gone.viewer().await;
    assert_eq!(viewer["notice"], "SessionEnded", "{viewer}");
    assert_eq!(app.auth.sweep(DAY).await.unwrap(), 0, "one sweep a period");
}
