//! The sign-in flow end to end over HTTP: a real server, a real session
//! store, and a provider in the test process that can be made to misbehave.

use crate::support;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, ORIGIN, SET_COOKIE};
use reqwest::StatusCode;
use support::{location, setup, sign_in_with_a_due_token, Logs, TestApp, TestProvider, TOKEN_MARK};

fn assert_no_tokens(provider: &TestProvider, text: &str, place: &str) {
    assert!(
        !text.contains(TOKEN_MARK),
        "{place} contains a token: {text}"
    );
    for token in provider.minted_tokens() {
        assert!(!text.contains(&token), "{place} contains token {token}");
    }
}

#[tokio::test]
async fn sign_in_shows_the_user_and_keeps_tokens_on_the_server() {
    let (logs, _guard) = Logs::capture();
    let (provider, _app, browser) = setup().await;
    let login = browser.get("/login").await;
    let authorize_url = location(&login);
    assert!(authorize_url.starts_with(&format!("{}/authorize?", provider.issuer())));
    let authorize = &provider.requests("/authorize");
    assert!(authorize.is_empty(), "nothing reached the provider yet");

    let callback = browser.get(&authorize_url).await;
    let sent = &provider.requests("/authorize")[0].params;
    assert_eq!(sent["response_type"], "code");
    assert_eq!(sent["scope"], "openid offline_access");
    assert_eq!(sent["code_challenge_method"], "S256");
    assert!(sent["state"].len() >= 16 && sent["nonce"].len() >= 16);

    let hop = browser.get(&location(&callback)).await;
    assert_eq!(hop.status(), StatusCode::OK);
    assert_eq!(hop.headers()["referrer-policy"], "no-referrer");
    let cookies: Vec<String> = hop
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect();
    let session_cookie = cookies
        .iter()
        .find(|c| c.starts_with("session="))
        .expect("session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(
            session_cookie.contains(attribute),
            "{session_cookie} lacks {attribute}"
        );
    }
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("login-") && c.contains("Max-Age=0")),
        "the sign-in cookie is removed: {cookies:?}"
    );
    let hop_html = hop.text().await.unwrap();
    assert!(
        hop_html.contains(r#"http-equiv="refresh" content="0;url=/""#),
        "{hop_html}"
    );

    let page = browser.get("/").await.text().await.unwrap();
    assert!(page.contains("Welcome Ada Lovelace"), "{page}");
    assert!(page.contains("ada@example.com"));
    assert_no_tokens(&provider, &page, "the home page");

    let viewer = browser.viewer().await;
    assert_eq!(viewer["user"]["display_name"], "Ada Lovelace");
    assert_no_tokens(&provider, &viewer.to_string(), "the viewer response");
    let profile = browser.profile().await;
    assert_eq!(profile["claims"]["subject"], "user-42");
    assert_eq!(
        profile["session"]["json"]["id_token_claims"]["sub"],
        "user-42"
    );
    assert_eq!(profile["session"]["tokens"]["has_refresh_token"], true);
    assert_no_tokens(&provider, &profile.to_string(), "the home page's data");

    let userinfo_calls = provider.requests("/userinfo").len();
    browser.get("/").await;
    browser.viewer().await;
    assert_eq!(
        provider.requests("/userinfo").len(),
        userinfo_calls,
        "page views do not call the provider"
    );
    assert_eq!(provider.refresh_grants(), 0);
    let log = logs.text();
    assert!(log.contains("user signed in"), "{log}");
    assert_no_tokens(&provider, &log, "the server log");
}

#[tokio::test]
async fn a_local_return_to_is_remembered_and_any_other_is_ignored() {
    let (_provider, app, browser) = setup().await;
    let callback = browser
        .start_sign_in("/login?return_to=%2Flogout%3Fx%3D1")
        .await;
    let hop = browser.get(&callback).await.text().await.unwrap();
    assert!(hop.contains("0;url=/logout?x=1"), "{hop}");

    for hostile in [
        "https%3A%2F%2Fevil.example",
        "%2F%2Fevil.example",
        "%2F%5Cevil.example",
        "javascript%3Aalert(1)",
    ] {
        let browser = app.browser();
        let callback = browser
            .start_sign_in(&format!("/login?return_to={hostile}"))
            .await;
        let hop = browser.get(&callback).await.text().await.unwrap();
        assert!(hop.contains(r#"content="0;url=/""#), "{hostile}: {hop}");
    }
}

#[tokio::test]
async fn a_wrong_state_is_rejected_before_the_provider_is_asked() {
    let (provider, _app, browser) = setup().await;
    let callback = browser.start_sign_in("/login").await;
    let forged = callback.replace("state=", "state=forged");
    let response = browser.get(&forged).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = response.text().await.unwrap();
    assert!(page.contains("not valid for this browser"), "{page}");
    assert!(page.contains("Try again"));
    assert!(
        provider.requests("/token").is_empty(),
        "the code was not exchanged"
    );
    assert!(browser.viewer().await["user"].is_null());

    // A forgery names no sign-in of this browser, so it spends none: the
    // genuine answer still signs in, once.
    assert_eq!(browser.get(&callback).await.status(), StatusCode::OK);
    assert_eq!(provider.requests("/token").len(), 1);
    assert_eq!(
        browser.get(&callback).await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_callback_from_another_browser_or_replayed_is_rejected() {
    let (provider, app, browser) = setup().await;
    let callback = browser.start_sign_in("/login").await;

    let other = app.browser();
    let response = other.get(&callback).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("expired or was already used"));

    assert_eq!(browser.get(&callback).await.status(), StatusCode::OK);
    let replay = browser.get(&callback).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        provider.requests("/token").len(),
        1,
        "only the first use reached the provider"
    );
    assert!(other.viewer().await["user"].is_null());
}

#[tokio::test]
async fn a_provider_error_is_named_and_its_free_text_is_not_echoed() {
    let (provider, _app, browser) = setup().await;
    let callback = browser.start_sign_in("/login").await;
    let state = support::query_param(&callback, "state");
    let url = format!(
        "/callback?error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E+Call+0800&state={state}"
    );
    let response = browser.get(&url).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("Sign-in cancelled") && page.contains("You cancelled the sign-in"),
        "{page}"
    );
    assert!(
        !page.contains("alert(1)") && !page.contains("0800"),
        "{page}"
    );
    assert!(provider.requests("/token").is_empty());
    assert!(browser.viewer().await["user"].is_null());
}

#[tokio::test]
async fn userinfo_about_someone_else_is_rejected() {
    let (provider, _app, browser) = setup().await;
    provider.behave(|b| b.userinfo_sub = Some("someone-else".into()));
    let callback = browser.start_sign_in("/login").await;
    let response = browser.get(&callback).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(response.text().await.unwrap().contains("could not trust"));
    assert!(
        browser.viewer().await["user"].is_null(),
        "no half-made session"
    );
}

#[tokio::test]
async fn a_session_id_planted_before_sign_in_does_not_survive_it() {
    let (_provider, _app, browser) = setup().await;
    // A syntactically valid id an attacker could have planted.
    let planted = "session=AAAAAAAAAAAAAAAAAAAAAA";
    browser.set_cookie(&format!("{planted}; Path=/"));
    browser.sign_in().await;
    let cookies = browser.cookies();
    assert!(cookies.contains("session="), "{cookies}");
    assert!(!cookies.contains(planted), "{cookies}");
    assert!(!browser.viewer().await["user"].is_null());
}

#[tokio::test]
async fn concurrent_requests_refresh_a_due_token_once() {
    let (logs, _guard) = Logs::capture();
    let (provider, _app, browser) = setup().await;
    sign_in_with_a_due_token(&provider, &browser).await;
    let gate = support::provider::Gate::new();
    provider.behave(|b| b.refresh_gate = Some(gate.clone()));

    let calls: Vec<_> = (0..8)
        .map(|_| {
            let browser = browser.clone();
            tokio::spawn(async move { browser.viewer().await })
        })
        .collect();
    // Every request is in before the one refresh may answer.
    gate.arrival().await;
    // Time for the other seven to arrive. A correct single flight passes
    // however long this is; a broken one shows as extra grants refused.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    gate.open();
    for call in calls {
        let viewer = call.await.unwrap();
        assert_eq!(
            viewer["user"]["display_name"], "Ada Lovelace",
            "every request stays signed in"
        );
    }
    assert_eq!(
        provider.refresh_grants(),
        1,
        "one refresh for eight requests"
    );

    browser.viewer().await;
    assert_eq!(
        provider.refresh_grants(),
        1,
        "a fresh token is used without calling the provider"
    );
    assert_no_tokens(&provider, &logs.text(), "the server log");
}

#[tokio::test]
async fn the_stored_session_keeps_the_rotated_refresh_token() {
    let (provider, app, browser) = setup().await;
    sign_in_with_a_due_token(&provider, &browser).await;
    provider.behave(|b| b.access_token_ttl = 0);
    browser.viewer().await;
    let rotated = provider.latest_refresh_token();
    provider.behave(|b| b.access_token_ttl = 3600);

    // Another copy of the cookie, as another tab would send it.
    let other_tab = browser.copy(&app);
    assert_eq!(
        other_tab.viewer().await["user"]["display_name"],
        "Ada Lovelace"
    );
    let grants = provider.requests("/token");
    assert_eq!(grants.len(), 3, "sign-in and two refreshes");
    assert_eq!(
        grants[2].params["refresh_token"], rotated,
        "the second refresh spent the token the first one stored"
    );
}

#[tokio::test]
async fn a_refused_refresh_ends_the_session_with_a_note() {
    let (provider, _app, browser) = setup().await;
    sign_in_with_a_due_token(&provider, &browser).await;
    provider.revoke_all_refresh_tokens();

    let viewer = browser.viewer().await;
    assert!(viewer["user"].is_null(), "{viewer}");
    assert_eq!(viewer["notice"], "SessionEnded");
    let page = browser.get("/").await.text().await.unwrap();
    assert!(page.contains("Welcome Guest"), "{page}");
    assert_eq!(
        browser.viewer().await["notice"],
        serde_json::Value::Null,
        "the note is shown once"
    );
}

#[tokio::test]
async fn logout_revokes_and_sends_the_browser_to_end_session() {
    let (logs, _guard) = Logs::capture();
    let (provider, app, browser) = setup().await;
    browser.sign_in().await;
    let old_cookies = browser.cookies();

    // The form post a browser without JavaScript makes.
    let response = browser.logout().await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let target = url::Url::parse(&location(&response)).unwrap();
    assert_eq!(
        target.as_str().split('?').next().unwrap(),
        format!("{}/end_session", provider.issuer())
    );
    let params: std::collections::HashMap<_, _> = target.query_pairs().into_owned().collect();
    assert_eq!(params["post_logout_redirect_uri"], format!("{}/", app.url));
    assert_eq!(params["client_id"], "test-client");
    assert_eq!(params["id_token_hint"].split('.').count(), 3, "a JWT");

    let revoked = provider.requests("/revoke");
    assert_eq!(revoked.len(), 1);
    let token = &revoked[0].params["token"];
    assert!(token.contains("-refresh-"), "the refresh token was revoked");
    assert!(!provider.is_refresh_token_active(token));

    assert!(browser.viewer().await["user"].is_null());
    // Replaying the old cookie finds nothing: the session is gone from the store.
    let replay = app.browser();
    for cookie in old_cookies.split("; ") {
        replay.set_cookie(&format!("{cookie}; Path=/"));
    }
    assert!(replay.viewer().await["user"].is_null());
    assert!(replay
        .get("/")
        .await
        .text()
        .await
        .unwrap()
        .contains("Welcome Guest"));
    assert_no_tokens(&provider, &logs.text(), "the server log");
}

#[tokio::test]
async fn cross_site_logout_and_get_logout_do_not_sign_out() {
    let (_provider, app, browser) = setup().await;
    browser.sign_in().await;

    let mut forged = HeaderMap::new();
    forged.insert(ORIGIN, HeaderValue::from_static("https://evil.example"));
    forged.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
    forged.insert(ACCEPT, HeaderValue::from_static("text/html"));
    let response = browser.post("/api/logout", forged).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(browser.post("/api/logout", HeaderMap::new()).await.status() == StatusCode::FORBIDDEN);

    let page = browser.get("/logout").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Sign out") && html.contains("Logout"),
        "{html}"
    );

    assert_eq!(
        browser.viewer().await["user"]["display_name"],
        "Ada Lovelace",
        "still signed in"
    );
    let _ = app;
}

#[tokio::test]
async fn an_unreachable_provider_leaves_guests_served_and_sign_in_unavailable() {
    let (_reserved, dead) = support::closed_port();
    let app = TestApp::start_with(&dead, &[]).await;
    let browser = app.browser();

    let login = browser.get("/login").await;
    assert_eq!(login.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(login
        .text()
        .await
        .unwrap()
        .contains("Sign-in is unavailable right now"));
    let page = browser.get("/").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Welcome Guest"));
}

#[tokio::test]
async fn reload_profile_fetches_userinfo_with_a_fresh_token() {
    let (provider, _app, browser) = setup().await;
    sign_in_with_a_due_token(&provider, &browser).await;
    provider.behave(|b| {
        b.userinfo = serde_json::json!({"name": "Ada King", "email": "ada@example.com"});
    });

    let response = browser.server_fn("reload_profile").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        provider.refresh_grants(),
        1,
        "the expired access token was refreshed first"
    );
    let userinfo = provider.requests("/userinfo");
    let last_token = &userinfo.last().unwrap().params["access_token"];
    assert_ne!(
        last_token, &userinfo[0].params["access_token"],
        "userinfo got the new access token"
    );
    assert_eq!(browser.viewer().await["user"]["display_name"], "Ada King");

    let guest = support::TestApp::start(&provider).await.browser();
    let refused = guest.server_fn("reload_profile").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!("SignedOut"),
        "a guest is told to sign in"
    );
}

#[tokio::test]
async fn a_refresh_outlives_the_request_that_started_it() {
    let (provider, _app, browser) = setup().await;
    sign_in_with_a_due_token(&provider, &browser).await;
    let gate = support::provider::Gate::new();
    provider.behave(|b| b.refresh_gate = Some(gate.clone()));

    // The browser goes away while the provider is answering the refresh.
    let request = tokio::spawn({
        let browser = browser.clone();
        async move { browser.server_fn("viewer").await }
    });
    gate.arrival().await;
    request.abort();
    assert!(request.await.unwrap_err().is_cancelled());
    provider.behave(|b| b.refresh_gate = None);
    gate.open();

    let viewer = browser.viewer().await;
    assert_eq!(viewer["user"]["display_name"], "Ada Lovelace", "{viewer}");
    assert_eq!(
        provider.refresh_grants(),
        1,
        "the rotated token was kept, not spent again"
    );
}

#[tokio::test]
async fn a_new_secret_key_ends_every_session_with_its_notice() {
    let provider = TestProvider::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sessions.db").display().to_string();
    let before = TestApp::start_with(provider.issuer(), &[("SESSION_DB_PATH", &db)]).await;
    before.auth.provider_ready().await;
    let browser = before.browser();
    browser.sign_in().await;
    assert!(browser.viewer().await["user"].is_object());

    // The same store, the key rotated: the record is there, and unreadable.
    let after = TestApp::start_with(
        provider.issuer(),
        &[
            ("SESSION_DB_PATH", &db),
            ("APP_SECRET_KEY", "rotated-key-0123456789abcdef0123456789ab"),
        ],
    )
    .await;
    after.auth.provider_ready().await;
    let moved = after.same_browser_as(&browser);
    let viewer = moved.viewer().await;
    assert!(viewer["user"].is_null(), "{viewer}");
    assert_eq!(viewer["notice"], "SessionEnded", "said once");
    let page = moved.get("/").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Welcome Guest"));
    assert!(moved.viewer().await["notice"].is_null(), "and only once");
}
