//! The Authgear features beyond "Welcome <name>", over HTTP: what the
//! authorization request asks for (sign-up, language, theme, step-up), the
//! step-up's checks on what comes back, the role-gated page, the JSON API
//! called on the user's behalf, and the account settings link.

use crate::support;
use std::sync::Arc;

use reqwest::header::{HeaderMap, ACCEPT, ORIGIN};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{location, query_param, setup, Browser, Logs, TestApp, TestProvider, TOKEN_MARK};

const ROLES: &str = "https://authgear.com/claims/user/roles";
const CAN_REAUTHENTICATE: &str = "https://authgear.com/claims/user/can_reauthenticate";

/// The query of the authorization request the provider received last.
fn last_authorization(provider: &TestProvider) -> std::collections::HashMap<String, String> {
    provider
        .requests("/authorize")
        .pop()
        .expect("an authorization request")
        .params
}

/// The ID tokens the provider issues from now on carry `edit`'s changes.
fn id_claims(provider: &TestProvider, edit: impl Fn(&mut Value) + Send + Sync + 'static) {
    provider.behave(|b| b.id_claims = Some(Arc::new(edit)));
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A page, as a browser navigating to it asks for it.
async fn page(browser: &Browser, path: &str) -> reqwest::Response {
    browser
        .client
        .get(format!("{}{path}", browser.app))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap()
}

/// The JSON API, as the API panel calls it.
async fn api(browser: &Browser) -> reqwest::Response {
    browser
        .client
        .get(format!("{}/api/userinfo", browser.app))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_session_cannot_make_the_app_hammer_the_provider() {
    let (provider, app, browser) = setup().await;
    browser.sign_in().await;
    let calls = provider.requests("/userinfo").len();
    // A burst of five goes through; the limit refills at two a second, so
    // twenty calls in a row meet it however slowly they run.
    let mut answers = Vec::new();
    for _ in 0..20 {
        let response = api(&browser).await;
        answers.push((response.status(), response.json::<Value>().await.unwrap()));
    }
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert!(
        answers[..5].iter().all(|(s, _)| *s == StatusCode::OK),
        "{answers:?}"
    );
    assert!(
        answers
            .iter()
            .any(|answer| *answer == (StatusCode::TOO_MANY_REQUESTS, json!("TooManyRequests"))),
        "{answers:?}"
    );
    assert_eq!(
        provider.requests("/userinfo").len(),
        calls + ok,
        "only the allowed calls reached the provider"
    );
    let mut reloads = Vec::new();
    for _ in 0..20 {
        reloads.push(browser.server_fn("reload_profile").await.status());
    }
    assert!(
        reloads.contains(&StatusCode::TOO_MANY_REQUESTS),
        "the same limit: {reloads:?}"
    );
    // Another session is not held back.
    let other = app.browser();
    other.sign_in().await;
    assert_eq!(api(&other).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn sign_up_opens_the_sign_up_page_without_prompt_create() {
    let (provider, _app, browser) = setup().await;
    let callback = browser.start_sign_in("/signup").await;
    let query = last_authorization(&provider);
    assert_eq!(query.get("x_page").map(String::as_str), Some("signup"));
    assert_eq!(query.get("prompt"), None);
    let response = browser.get(&callback).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the sign-up signs the user in"
    );
    assert!(browser.viewer().await["user"].is_object());
}

#[tokio::test]
async fn sign_up_asks_for_prompt_create_where_discovery_lists_it() {
    let provider = TestProvider::start().await;
    provider.behave(|b| b.prompt_values = vec!["none", "login", "consent", "create"]);
    let app = TestApp::start(&provider).await;
    app.browser().start_sign_in("/signup").await;
    let query = last_authorization(&provider);
    assert_eq!(query.get("prompt").map(String::as_str), Some("create"));
    assert_eq!(query.get("x_page").map(String::as_str), Some("signup"));
}

#[tokio::test]
async fn language_and_scheme_go_to_the_provider_and_nothing_else_does() {
    let (provider, _app, browser) = setup().await;
    let login = browser
        .client
        .get(format!("{}/login", browser.app))
        .header("accept-language", "pt-BR,pt;q=0.9,en;q=0.5,<script>;q=0.8")
        .header("sec-ch-prefers-color-scheme", "\"dark\"")
        .send()
        .await
        .unwrap();
    let to = location(&login);
    assert_eq!(query_param(&to, "ui_locales"), "pt-BR pt en");
    assert_eq!(query_param(&to, "x_color_scheme"), "dark");

    let login = browser
        .client
        .get(format!("{}/login", browser.app))
        .header(
            "accept-language",
            "*, xx-invalid-tag-that-is-far-too-long-to-be-real",
        )
        .header("sec-ch-prefers-color-scheme", "\"dark\"&x_page=signup")
        .send()
        .await
        .unwrap();
    let to = url::Url::parse(&location(&login)).unwrap();
    let keys: Vec<String> = to.query_pairs().map(|(key, _)| key.into_owned()).collect();
    for absent in ["ui_locales", "x_color_scheme", "x_page", "prompt"] {
        assert!(!keys.iter().any(|key| key == absent), "{absent} in {to}");
    }
    drop(provider);
}

#[tokio::test]
async fn an_old_sign_in_is_stepped_up_for_the_same_user() {
    let (provider, _app, browser) = setup().await;
    id_claims(&provider, |claims| {
        claims["auth_time"] = json!(unix_now() - 3600)
    });
    browser.sign_in().await;

    let security = page(&browser, "/security").await;
    assert_eq!(security.status(), StatusCode::FOUND);
    assert_eq!(location(&security), "/reauthenticate?return_to=/security");

    let start = browser.get("/reauthenticate?return_to=/security").await;
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let to = location(&start);
    assert_eq!(query_param(&to, "prompt"), "login");
    assert_eq!(query_param(&to, "max_age"), "300");
    let hint = query_param(&to, "id_token_hint");
    assert_eq!(hint.split('.').count(), 3, "the session's ID token");

    // The provider asks for the password again; the new token says so.
    id_claims(&provider, |claims| claims["auth_time"] = json!(unix_now()));
    let callback = location(&browser.get(&to).await);
    let hop = browser.get(&callback).await;
    assert_eq!(hop.status(), StatusCode::OK);
    assert!(hop.text().await.unwrap().contains("url=/security"));

    let security = page(&browser, "/security").await;
    assert_eq!(security.status(), StatusCode::OK);
    assert!(security.text().await.unwrap().contains("You confirmed it"));
}

#[tokio::test]
async fn a_step_up_by_someone_else_changes_nothing_and_gives_their_tokens_back() {
    let (logs, _guard) = Logs::capture();
    let (provider, _app, browser) = setup().await;
    id_claims(&provider, |claims| {
        claims["auth_time"] = json!(unix_now() - 3600)
    });
    browser.sign_in().await;
    let before = browser.cookies();

    let to = location(&browser.get("/reauthenticate?return_to=/security").await);
    id_claims(&provider, |claims| {
        claims["sub"] = json!("someone-else");
        claims["auth_time"] = json!(unix_now());
    });
    provider.behave(|b| b.userinfo_sub = Some("someone-else".into()));
    let callback = location(&browser.get(&to).await);
    let refused = browser.get(&callback).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body = refused.text().await.unwrap();
    assert!(body.contains("different user"), "{body}");
    // "Try again" asks for a step-up again, not a plain sign-in that could
    // quietly become the other user's.
    assert!(body.contains("href=\"/reauthenticate\""), "{body}");
    assert!(!body.contains(TOKEN_MARK));
    assert!(
        !provider.is_refresh_token_active(&provider.latest_refresh_token()),
        "revoked"
    );
    let rejections = logs.rejections();
    assert_eq!(rejections.len(), 1, "{rejections:?}");
    assert!(rejections[0].contains("kind=\"step_up\""), "{rejections:?}");
    assert!(!logs.text().contains(TOKEN_MARK), "no token in the log");

    // Still the same session, still the first user, still needing a step-up.
    assert_eq!(browser.cookies(), before);
    assert_eq!(browser.profile().await["claims"]["subject"], "user-42");
    assert_eq!(
        page(&browser, "/security").await.status(),
        StatusCode::FOUND
    );
}

#[tokio::test]
async fn a_step_up_the_provider_did_not_perform_is_refused() {
    let (provider, _app, browser) = setup().await;
    let long_ago = unix_now() - 3600;
    id_claims(&provider, move |claims| {
        claims["auth_time"] = json!(long_ago)
    });
    browser.sign_in().await;
    // A provider that ignores prompt=login and max_age sends the old time back.
    let to = location(&browser.get("/reauthenticate?return_to=/security").await);
    let callback = location(&browser.get(&to).await);
    let refused = browser.get(&callback).await;
    assert_eq!(refused.status(), StatusCode::BAD_GATEWAY);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("did not confirm a new sign-in"));
    assert!(!provider.is_refresh_token_active(&provider.latest_refresh_token()));
    assert!(
        browser.viewer().await["user"].is_object(),
        "still signed in"
    );
}

#[tokio::test]
async fn a_user_who_cannot_sign_in_again_is_told_why_and_never_sent_to_the_provider() {
    let (provider, _app, browser) = setup().await;
    id_claims(&provider, |claims| {
        claims["auth_time"] = json!(unix_now() - 3600);
        claims[CAN_REAUTHENTICATE] = json!(false);
    });
    browser.sign_in().await;
    let authorizations = provider.requests("/authorize").len();

    let security = page(&browser, "/security").await;
    assert_eq!(security.status(), StatusCode::FORBIDDEN);
    assert!(security.text().await.unwrap().contains("no password"));
    let start = browser.get("/reauthenticate?return_to=/security").await;
    assert_eq!(start.status(), StatusCode::FORBIDDEN);
    assert_eq!(provider.requests("/authorize").len(), authorizations);
}

#[tokio::test]
async fn a_recent_sign_in_opens_the_security_page_and_a_guest_is_asked_to_sign_in() {
    let (_provider, app, browser) = setup().await;
    let guest = page(&app.browser(), "/security").await;
    assert_eq!(guest.status(), StatusCode::UNAUTHORIZED);
    assert!(guest
        .text()
        .await
        .unwrap()
        .contains("/login?return_to=/security"));

    browser.sign_in().await;
    let security = page(&browser, "/security").await;
    assert_eq!(security.status(), StatusCode::OK);
    assert!(security.text().await.unwrap().contains("You confirmed it"));
}

#[tokio::test]
async fn the_admin_page_needs_the_role() {
    let provider = TestProvider::start().await;
    let app = TestApp::start_with(provider.issuer(), &[("ADMIN_ROLE", "ops")]).await;
    app.auth.provider_ready().await;

    let guest = page(&app.browser(), "/admin").await;
    assert_eq!(guest.status(), StatusCode::UNAUTHORIZED);

    for (roles, status) in [
        (json!(["ops"]), StatusCode::OK),
        (json!(["admin", "viewer"]), StatusCode::FORBIDDEN),
        (json!([]), StatusCode::FORBIDDEN),
        // Hostile shapes grant nothing.
        (json!({"ops": true}), StatusCode::FORBIDDEN),
        (json!("ops "), StatusCode::FORBIDDEN),
        (json!([["ops"]]), StatusCode::FORBIDDEN),
        (Value::Null, StatusCode::FORBIDDEN),
    ] {
        let claim = roles.clone();
        id_claims(&provider, move |claims| claims[ROLES] = claim.clone());
        let browser = app.browser();
        browser.sign_in().await;
        let admin = page(&browser, "/admin").await;
        assert_eq!(admin.status(), status, "roles {roles}");
        let body = admin.text().await.unwrap();
        if status == StatusCode::OK {
            assert!(body.contains("You have the"), "{body}");
        } else {
            assert!(body.contains("You do not have access"), "{body}");
        }
    }
}

#[tokio::test]
async fn a_role_removed_at_the_provider_closes_admin_at_the_next_refresh() {
    let provider = TestProvider::start().await;
    let app = TestApp::start(&provider).await;
    let admin = |claims: &mut Value| claims[ROLES] = json!(["admin"]);
    // Authgear sends the roles in the ID token and in userinfo alike; every
    // access token here is due at once, so every page view refreshes.
    id_claims(&provider, admin);
    provider.behave(|b| {
        b.userinfo[ROLES] = json!(["admin"]);
        b.access_token_ttl = 0;
        b.refresh_id_token = true;
        b.refresh_id_claims = Some(Arc::new(admin));
    });
    let browser = app.browser();
    browser.sign_in().await;
    assert_eq!(page(&browser, "/admin").await.status(), StatusCode::OK);

    // The role is taken away in the portal: the next ID token lacks it,
    // while userinfo, not fetched again, still holds the old list.
    let refreshes = provider.refresh_grants();
    provider.behave(|b| {
        b.refresh_id_claims = Some(Arc::new(|claims: &mut Value| {
            claims.as_object_mut().unwrap().remove(ROLES);
        }));
    });
    let closed = page(&browser, "/admin").await;
    assert!(provider.refresh_grants() > refreshes, "a refresh happened");
    assert_eq!(closed.status(), StatusCode::FORBIDDEN);
    assert!(closed
        .text()
        .await
        .unwrap()
        .contains("You do not have access"));
    let profile = browser.profile().await;
    assert_eq!(profile["claims"]["roles"], json!([]), "{profile}");
    assert!(
        profile["claims"]["session_id"].is_string(),
        "the sign-in's sid stays: {profile}"
    );

    // Given back, it opens the page again at the next refresh.
    provider.behave(|b| b.refresh_id_claims = Some(Arc::new(admin)));
    assert_eq!(page(&browser, "/admin").await.status(), StatusCode::OK);
}

/// A server function as the app's router calls it after a navigation:
/// status, content type and the JSON body.
async fn page_data(browser: &Browser, function: &str) -> (StatusCode, String, Value) {
    let response = browser.server_fn(function).await;
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let text = response.text().await.unwrap();
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{function}: not JSON: {text}"));
    (status, content_type, body)
}

#[tokio::test]
async fn page_functions_answer_typed_errors_for_a_guest_an_ended_session_and_a_missing_role() {
    let provider = TestProvider::start().await;
    let app = TestApp::start_with(
        provider.issuer(),
        &[("AUTHGEAR_WEBHOOK_SECRET", support::WEBHOOK_SECRET)],
    )
    .await;
    app.auth.provider_ready().await;

    // A guest: the pages that need a user say so, never with a page of HTML.
    let guest = app.browser();
    for function in ["admin", "security", "reload_profile"] {
        let (status, content_type, body) = page_data(&guest, function).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{function}");
        assert!(
            content_type.starts_with("application/json"),
            "{function}: {content_type}"
        );
        assert_eq!(body, json!("SignedOut"), "{function}");
    }
    // Pages open to everyone answer who is looking.
    let (status, _, home) = page_data(&guest, "home").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        home["viewer"]["user"].is_null() && home["content"].is_null(),
        "{home}"
    );

    // Signed in without the role.
    let browser = app.browser();
    browser.sign_in().await;
    let (status, content_type, body) = page_data(&browser, "admin").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    assert_eq!(body, json!({"Forbidden": {"role": "admin"}}));
    let (status, _, security) = page_data(&browser, "security").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(security["viewer"]["user"]["display_name"], "Ada Lovelace");
    assert!(security["content"]["Confirmed"].is_object(), "{security}");

    // Ended from outside (an Authgear event): the next call says so, once.
    let (phone, laptop) = (browser.copy(&app), browser);
    assert_eq!(
        support::signed_webhook(&app, &support::event("user.disabled", "user-42")).await,
        StatusCode::OK
    );
    let (status, _, body) = page_data(&laptop, "admin").await;
    assert_eq!(
        (status, body),
        (StatusCode::UNAUTHORIZED, json!("SessionEnded"))
    );
    let (status, _, body) = page_data(&laptop, "security").await;
    assert_eq!(
        (status, body),
        (StatusCode::UNAUTHORIZED, json!("SignedOut")),
        "the cookie went with the first answer"
    );
    let (status, _, home) = page_data(&phone, "home").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(home["viewer"]["notice"], "SessionEnded", "{home}");
    assert!(home["viewer"]["user"].is_null(), "{home}");
}

#[tokio::test]
async fn the_api_calls_userinfo_with_the_servers_token() {
    let (provider, _app, browser) = setup().await;
    browser.sign_in().await;
    let calls = provider.requests("/userinfo").len();
    let response = api(&browser).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let body = response.text().await.unwrap();
    assert!(!body.contains(TOKEN_MARK), "{body}");
    let call: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(call["response"]["email"], "ada@example.com");
    let left = call["access_token_expires_in"].as_u64().unwrap();
    assert!((3500..=3600).contains(&left), "{left}");
    assert_eq!(provider.requests("/userinfo").len(), calls + 1);
}

#[tokio::test]
async fn the_api_renews_a_due_token_before_the_call() {
    let (provider, _app, browser) = setup().await;
    support::sign_in_with_a_due_token(&provider, &browser).await;
    let response = api(&browser).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(provider.refresh_grants(), 1);
    let call: Value = response.json().await.unwrap();
    assert!(call["access_token_expires_in"].as_u64().unwrap() > 3000);
}

#[tokio::test]
async fn the_api_is_for_this_apps_pages_and_signed_in_users_only() {
    let (provider, app, browser) = setup().await;
    browser.sign_in().await;
    let calls = provider.requests("/userinfo").len();
    for (site, origin) in [
        (Some("cross-site"), Some("https://evil.example")),
        (Some("same-site"), None),
        (Some("none"), None),
        (None, Some("https://evil.example")),
        (None, None),
    ] {
        let mut headers = HeaderMap::new();
        if let Some(site) = site {
            headers.insert("sec-fetch-site", site.parse().unwrap());
        }
        if let Some(origin) = origin {
            headers.insert(ORIGIN, origin.parse().unwrap());
        }
        let response = browser
            .client
            .get(format!("{}/api/userinfo", browser.app))
            .headers(headers)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{site:?} {origin:?}"
        );
        assert!(!response.text().await.unwrap().contains("ada@example.com"));
    }
    assert_eq!(
        provider.requests("/userinfo").len(),
        calls,
        "nothing reached the API"
    );

    let guest = api(&app.browser()).await;
    assert_eq!(guest.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(guest.json::<Value>().await.unwrap(), json!("SignedOut"));
}

#[tokio::test]
async fn an_api_that_is_down_gets_a_clear_answer() {
    let (provider, _app, browser) = setup().await;
    browser.sign_in().await;
    provider.behave(|b| b.userinfo_down = true);
    let response = api(&browser).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!("Unavailable")
    );
    assert!(
        browser.viewer().await["user"].is_object(),
        "still signed in"
    );
}

#[tokio::test]
async fn account_settings_go_to_the_provider_and_the_profile_is_fetched_on_return() {
    let (provider, _app, browser) = setup().await;
    browser.sign_in().await;
    let viewer = browser.viewer().await;
    assert_eq!(
        viewer["account_settings"], true,
        "the local provider has a settings page"
    );

    let settings = browser.get("/account-settings").await;
    assert_eq!(settings.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&settings),
        format!("{}/settings", provider.issuer())
    );

    // At the provider, the user changes their name.
    provider.behave(|b| b.userinfo["name"] = json!("Ada King"));
    let calls = provider.requests("/userinfo").len();
    let viewer = browser.viewer().await;
    assert_eq!(viewer["user"]["display_name"], "Ada King");
    browser.viewer().await;
    assert_eq!(
        provider.requests("/userinfo").len(),
        calls + 1,
        "fetched once"
    );
}

#[tokio::test]
async fn account_settings_are_not_linked_for_providers_without_them() {
    let provider = TestProvider::start().await;
    let app = TestApp::start_with(provider.issuer(), &[("AUTHGEAR_ACCOUNT_SETTINGS", "off")]).await;
    app.auth.provider_ready().await;
    let browser = app.browser();
    browser.sign_in().await;
    assert_eq!(browser.viewer().await["account_settings"], false);
    assert_eq!(
        browser.get("/account-settings").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_page_shows_typed_claims_and_keeps_unknown_ones() {
    let (provider, _app, browser) = setup().await;
    id_claims(&provider, |claims| {
        claims[ROLES] = json!(["admin"]);
        claims["amr"] = json!(["pwd", "otp"]);
        claims["x_tenant"] = json!("acme");
    });
    provider.behave(|b| b.userinfo["custom_attributes"] = json!({"team": "engines"}));
    browser.sign_in().await;
    let claims = browser.profile().await["claims"].clone();
    assert_eq!(claims["roles"], json!(["admin"]));
    assert_eq!(claims["amr"], json!(["pwd", "otp"]));
    assert_eq!(claims["email"], "ada@example.com");
    assert_eq!(
        claims["custom_attributes"],
        json!([["team", "\"engines\""]])
    );
    assert!(claims["other"]
        .as_array()
        .unwrap()
        .contains(&json!(["x_tenant", "\"acme\""])));
    assert!(claims["auth_time"].is_i64());
}
