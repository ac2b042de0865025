//! "Your sessions": a user sees where they are signed in, and signs the
//! other browsers out, everywhere, with their refresh tokens revoked; no
//! one reaches a session that is not theirs.

use crate::support;
use std::sync::Arc;

use reqwest::header::{HeaderMap, HeaderValue, ORIGIN};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{location, setup, Browser, Logs, TestApp, TestProvider};

const FIREFOX_ON_WINDOWS: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
const SAFARI_ON_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
const CHROME_ON_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// The sessions page's data, as `browser` gets it.
async fn sessions(browser: &Browser) -> Value {
    let response = browser.server_fn("sessions").await;
    assert_eq!(response.status(), StatusCode::OK);
    let page: Value = response.json().await.expect("sessions JSON");
    page["content"].clone()
}

/// `browser`'s list as (device, this browser) pairs, in the page's order.
async fn devices(browser: &Browser) -> Vec<(String, bool)> {
    sessions(browser).await["sessions"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|entry| {
            (
                entry["device"].as_str().expect("device").to_owned(),
                entry["this_browser"].as_bool().expect("flag"),
            )
        })
        .collect()
}

/// The handle of `browser`'s session in `lister`'s list.
async fn handle_of(lister: &Browser, device: &str) -> String {
    sessions(lister).await["sessions"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|entry| entry["device"] == device)
        .and_then(|entry| entry["handle"].as_str())
        .unwrap_or_else(|| panic!("{device} is not listed"))
        .to_owned()
}

/// The value of the session cookie `browser` holds.
fn session_id(browser: &Browser) -> String {
    browser
        .cookies()
        .split("; ")
        .find_map(|cookie| cookie.strip_prefix("session="))
        .expect("a session cookie")
        .to_owned()
}

/// Signs `browser` in and returns the refresh token its session holds.
async fn signed_in(provider: &TestProvider, browser: &Browser) -> String {
    browser.sign_in().await;
    provider.latest_refresh_token()
}

#[tokio::test]
async fn two_browsers_of_one_user_see_each_other_and_one_signs_the_other_out() {
    let (provider, app, _) = setup().await;
    let laptop = app.browser_as(FIREFOX_ON_WINDOWS);
    let phone = app.browser_as(SAFARI_ON_IPHONE);
    let laptop_token = signed_in(&provider, &laptop).await;
    let phone_token = signed_in(&provider, &phone).await;

    assert_eq!(
        devices(&laptop).await,
        [
            ("Firefox on Windows".to_owned(), true),
            ("Safari on iPhone".to_owned(), false)
        ],
        "this browser first"
    );
    assert_eq!(
        devices(&phone).await,
        [
            ("Safari on iPhone".to_owned(), true),
            ("Firefox on Windows".to_owned(), false)
        ]
    );
    let list = sessions(&laptop).await;
    let entry = &list["sessions"][1];
    for time in ["signed_in_at", "last_active_at", "ends_at"] {
        let at = entry[time].as_str().unwrap_or_default();
        assert!(at.ends_with('Z') && at.len() == 20, "{time}: {at}");
    }
    // Neither browser's cookie is on the page: a handle names a session
    // without being able to stand in for it.
    let text = list.to_string();
    assert!(!text.contains(&session_id(&laptop)) && !text.contains(&session_id(&phone)));

    // Without JavaScript: the form posts, and the browser is sent back.
    let handle = handle_of(&laptop, "Safari on iPhone").await;
    let signed_out = laptop
        .submit("/sessions", "end_session", &[("handle", &handle)])
        .await;
    assert!(
        signed_out.status().is_redirection(),
        "{}",
        signed_out.status()
    );
    // leptos_axum leaves an empty query where an error would be.
    assert_eq!(
        location(&signed_out).trim_end_matches('?'),
        format!("{}/sessions", app.url)
    );

    assert_eq!(
        devices(&laptop).await,
        [("Firefox on Windows".to_owned(), true)]
    );
    assert!(!provider.is_refresh_token_active(&phone_token), "revoked");
    assert!(provider.is_refresh_token_active(&laptop_token));
    // The phone learns it at its next page.
    let viewer = phone.viewer().await;
    assert_eq!(viewer["user"], Value::Null);
    assert_eq!(viewer["notice"], "SessionEnded");
    assert!(laptop.viewer().await["user"].is_object());

    // Again: already ended.
    let again = laptop
        .server_fn_with("end_session", &[("handle", &handle)])
        .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    assert_eq!(again.text().await.unwrap_or_default(), "\"NoSuchSession\"");
}

#[tokio::test]
async fn signing_out_everywhere_else_keeps_this_browser_alone() {
    let (provider, app, _) = setup().await;
    let browsers = [
        app.browser_as(FIREFOX_ON_WINDOWS),
        app.browser_as(SAFARI_ON_IPHONE),
        app.browser_as(CHROME_ON_LINUX),
    ];
    let mut tokens = Vec::new();
    for browser in &browsers {
        tokens.push(signed_in(&provider, browser).await);
    }
    let [this, others @ ..] = &browsers;
    assert_eq!(devices(this).await.len(), 3);

    let ended = this.server_fn("end_other_sessions").await;
    assert_eq!(ended.status(), StatusCode::OK);
    assert_eq!(ended.json::<Value>().await.expect("count"), json!(2));

    assert_eq!(
        devices(this).await,
        [("Firefox on Windows".to_owned(), true)]
    );
    for other in others {
        assert_eq!(other.viewer().await["notice"], "SessionEnded");
    }
    assert!(provider.is_refresh_token_active(&tokens[0]));
    assert!(tokens[1..]
        .iter()
        .all(|token| !provider.is_refresh_token_active(token)));
    // Nothing else to end.
    let none = this.server_fn("end_other_sessions").await;
    assert_eq!(none.json::<Value>().await.expect("count"), json!(0));
}

#[tokio::test]
async fn nobody_ends_a_session_that_is_not_theirs() {
    let (logs, _guard) = Logs::capture();
    let (provider, app, _) = setup().await;
    let victim = app.browser_as(FIREFOX_ON_WINDOWS);
    let victim_token = signed_in(&provider, &victim).await;
    let handle = handle_of(&victim, "Firefox on Windows").await;

    // Someone else, signed in as another user, who learnt the handle.
    provider.behave(|b| {
        b.id_claims = Some(Arc::new(|claims: &mut Value| {
            claims["sub"] = json!("someone-else")
        }));
        b.userinfo_sub = Some("someone-else".into());
    });
    let mallory = app.browser_as(CHROME_ON_LINUX);
    signed_in(&provider, &mallory).await;
    assert_eq!(
        devices(&mallory).await,
        [("Chrome on Linux".to_owned(), true)]
    );

    let forged = mallory
        .server_fn_with("end_session", &[("handle", &handle)])
        .await;
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        mallory.server_fn("end_other_sessions").await.status(),
        StatusCode::OK
    );
    // A guest, and a request from another site carrying the victim's own
    // cookie, end nothing either.
    let guest = app.browser();
    let refused = guest
        .server_fn_with("end_session", &[("handle", &handle)])
        .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let mut cross_site = HeaderMap::new();
    cross_site.insert(ORIGIN, HeaderValue::from_static("https://evil.example"));
    cross_site.insert(
        reqwest::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let other_origin = victim.post("/api/end_other_sessions", cross_site).await;
    assert_eq!(other_origin.status(), StatusCode::FORBIDDEN);
    // The victim's own session, named from their own browser, is not one
    // to end here: that is what logout is for.
    let own = victim
        .server_fn_with("end_session", &[("handle", &handle)])
        .await;
    assert_eq!(own.status(), StatusCode::NOT_FOUND);

    assert!(victim.viewer().await["user"].is_object(), "still signed in");
    assert!(provider.is_refresh_token_active(&victim_token));
    assert!(
        !logs.text().contains(&handle),
        "handles stay out of the log"
    );
}

#[tokio::test]
async fn a_long_list_is_cut_and_says_how_many_more() {
    let (provider, app, _) = setup().await;
    let this = app.browser_as(FIREFOX_ON_WINDOWS);
    signed_in(&provider, &this).await;
    let more = 52;
    for _ in 0..more {
        app.browser_as(SAFARI_ON_IPHONE).sign_in().await;
    }
    let list = sessions(&this).await;
    let shown = list["sessions"].as_array().expect("a list");
    assert_eq!(shown.len(), 50);
    assert_eq!(
        shown[0]["this_browser"], true,
        "this browser is always listed"
    );
    assert_eq!(list["not_shown"], json!(more + 1 - 50));

    let ended = this.server_fn("end_other_sessions").await;
    assert_eq!(ended.json::<Value>().await.expect("count"), json!(more));
    assert_eq!(sessions(&this).await["not_shown"], json!(0));
}

/// The page itself, as a browser without JavaScript gets it.
#[tokio::test]
async fn the_page_lists_the_sessions_without_javascript() {
    let (provider, app, _) = setup().await;
    let laptop = app.browser_as(FIREFOX_ON_WINDOWS);
    signed_in(&provider, &laptop).await;
    signed_in(&provider, &app.browser_as(SAFARI_ON_IPHONE)).await;
    let page = laptop.get("/sessions").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("page").replace("<!>", "");
    for shown in [
        "Your sessions",
        "Firefox on Windows",
        "This browser",
        "Safari on iPhone",
        "action=\"/api/end_session\"",
        "name=\"handle\"",
        "Sign out everywhere else",
    ] {
        assert!(html.contains(shown), "{shown} is missing: {html}");
    }
    assert_eq!(
        html.matches("action=\"/api/end_session\"").count(),
        1,
        "one form, for the other browser"
    );
    let guest = TestApp::browser(&app).get("/sessions").await;
    assert_eq!(guest.status(), StatusCode::UNAUTHORIZED);
    let html = guest.text().await.expect("page");
    assert!(html.contains("Please sign in"), "{html}");
}
