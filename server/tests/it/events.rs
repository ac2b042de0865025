//! Sessions ended from outside the app: Authgear's signed webhooks,
//! OpenID Connect Back-Channel Logout, and the periodic check that a grant
//! still stands. Every forged or replayed request changes nothing.

use crate::support;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::provider::{Gate, Signing, CLIENT_SECRET, SUBJECT};
use support::{
    event, setup, sign, signed_webhook, webhook, Browser, Logs, TestApp, TestProvider,
    WEBHOOK_SECRET,
};

async fn app_with_webhooks(provider: &TestProvider) -> TestApp {
    let app = TestApp::start_with(
        provider.issuer(),
        &[("AUTHGEAR_WEBHOOK_SECRET", WEBHOOK_SECRET)],
    )
    .await;
    app.auth.provider_ready().await;
    app
}

async fn signed_in(browser: &Browser) -> bool {
    !browser.viewer().await["user"].is_null()
}

#[tokio::test]
async fn authgear_events_end_every_session_of_the_user() {
    for kind in [
        "user.disabled",
        "user.deleted",
        "user.deletion_scheduled",
        "user.session.terminated",
    ] {
        let provider = TestProvider::start().await;
        let app = app_with_webhooks(&provider).await;
        let (phone, laptop) = (app.browser(), app.browser());
        phone.sign_in().await;
        laptop.sign_in().await;
        let body = event(kind, SUBJECT);
        assert_eq!(signed_webhook(&app, &body).await, StatusCode::OK, "{kind}");
        // The next page each browser opens says so.
        for browser in [&phone, &laptop] {
            let viewer = browser.viewer().await;
            assert!(viewer["user"].is_null(), "{kind}: {viewer}");
            assert_eq!(viewer["notice"], "SessionEnded", "{kind}");
        }
        assert!(!signed_in(&phone).await, "{kind}");
    }
}

#[tokio::test]
async fn unsigned_or_forged_webhooks_change_nothing() {
    let (logs, _guard) = Logs::capture();
    let provider = TestProvider::start().await;
    let app = app_with_webhooks(&provider).await;
    let browser = app.browser();
    browser.sign_in().await;
    let body = event("user.disabled", SUBJECT);
    let bytes = serde_json::to_vec(&body).unwrap();
    for (case, signature) in [
        ("no signature", None),
        ("another secret", Some(sign("not-the-secret", &bytes))),
        ("another body", Some(sign(WEBHOOK_SECRET, b"{}"))),
        ("not hex", Some("zz".to_owned())),
        (
            "truncated",
            Some(sign(WEBHOOK_SECRET, &bytes)[..40].to_owned()),
        ),
    ] {
        assert_eq!(
            webhook(&app, &body, signature).await,
            StatusCode::UNAUTHORIZED,
            "{case}"
        );
        assert!(signed_in(&browser).await, "{case}: nothing changed");
    }
    assert!(!logs.text().contains(WEBHOOK_SECRET));

    // Events the app does not use are acknowledged and change nothing.
    let unused = event("user.authenticated", SUBJECT);
    assert_eq!(signed_webhook(&app, &unused).await, StatusCode::OK);
    assert!(signed_in(&browser).await);

    // Another user's event ends only that user's sessions.
    let other = event("user.disabled", "someone-else");
    assert_eq!(signed_webhook(&app, &other).await, StatusCode::OK);
    assert!(signed_in(&browser).await);
}

#[tokio::test]
async fn a_replayed_event_changes_nothing() {
    let provider = TestProvider::start().await;
    let app = app_with_webhooks(&provider).await;
    let before = app.browser();
    before.sign_in().await;
    // Dated an hour ahead, so that only its id can tell a replay from news.
    let mut body = event("user.signed_out", SUBJECT);
    body["context"]["timestamp"] = json!(time::OffsetDateTime::now_utc().unix_timestamp() + 3600);
    assert_eq!(signed_webhook(&app, &body).await, StatusCode::OK);
    assert!(!signed_in(&before).await, "the event applies once");

    let after = app.browser();
    after.sign_in().await;
    assert_eq!(
        signed_webhook(&app, &body).await,
        StatusCode::OK,
        "acknowledged"
    );
    assert!(signed_in(&after).await, "the replay ended nothing");

    // An event without an id or a time cannot be told from its replay.
    for missing in ["/id", "/context/timestamp"] {
        let mut body = event("user.disabled", SUBJECT);
        let (parent, name) = missing.rsplit_once('/').unwrap();
        body.pointer_mut(if parent.is_empty() { "" } else { parent })
            .and_then(Value::as_object_mut)
            .unwrap()
            .remove(name);
        assert_eq!(
            signed_webhook(&app, &body).await,
            StatusCode::BAD_REQUEST,
            "{missing}"
        );
        assert!(signed_in(&after).await, "{missing}");
    }
}

#[tokio::test]
async fn a_late_sign_out_leaves_a_newer_sign_in_alone() {
    let provider = TestProvider::start().await;
    let app = app_with_webhooks(&provider).await;
    let browser = app.browser();
    browser.sign_in().await;
    for kind in ["user.signed_out", "user.disabled"] {
        let mut late = event(kind, SUBJECT);
        late["context"]["timestamp"] =
            json!(time::OffsetDateTime::now_utc().unix_timestamp() - 3600);
        assert_eq!(signed_webhook(&app, &late).await, StatusCode::OK, "{kind}");
        assert!(
            signed_in(&browser).await,
            "{kind}: signed in after it happened"
        );
    }
    // The same event, on time, ends it.
    assert_eq!(
        signed_webhook(&app, &event("user.signed_out", SUBJECT)).await,
        StatusCode::OK
    );
    assert!(!signed_in(&browser).await);
}

#[tokio::test]
async fn an_event_that_names_a_session_ends_that_one() {
    let provider = TestProvider::start().await;
    let app = app_with_webhooks(&provider).await;
    let (phone, laptop) = (app.browser(), app.browser());
    laptop.sign_in().await;
    // Authgear's newer events list the sessions, older ones name one.
    for field in ["sessions", "session"] {
        phone.sign_in().await;
        let named = support::authgear_session(&provider.latest_sid());
        let mut body = event("user.signed_out", SUBJECT);
        body["payload"][field] = if field == "sessions" {
            json!([named])
        } else {
            named
        };
        assert_eq!(signed_webhook(&app, &body).await, StatusCode::OK, "{field}");
        assert!(!signed_in(&phone).await, "{field}: the session it names");
        assert!(signed_in(&laptop).await, "{field}: the other one stays");
    }
}

#[tokio::test]
async fn without_a_secret_the_webhook_endpoint_is_off() {
    let (_provider, app, browser) = setup().await;
    browser.sign_in().await;
    let body = event("user.disabled", SUBJECT);
    assert_eq!(signed_webhook(&app, &body).await, StatusCode::NOT_FOUND);
    assert!(signed_in(&browser).await);
}

#[tokio::test]
async fn a_profile_event_makes_the_next_page_show_the_new_profile() {
    for kind in ["user.profile.updated", "identity.email.updated"] {
        let provider = TestProvider::start().await;
        let app = app_with_webhooks(&provider).await;
        let browser = app.browser();
        browser.sign_in().await;
        provider.behave(|b| b.userinfo = json!({"name": "Ada King", "email": "ada@example.com"}));
        assert_eq!(
            browser.viewer().await["user"]["display_name"],
            "Ada Lovelace",
            "{kind}"
        );
        assert_eq!(
            browser.names_on_the_page().await,
            ["Ada Lovelace"; 3],
            "{kind}"
        );

        let body = event(kind, SUBJECT);
        assert_eq!(signed_webhook(&app, &body).await, StatusCode::OK, "{kind}");
        assert_eq!(
            browser.viewer().await["user"]["display_name"],
            "Ada King",
            "{kind}"
        );
        assert_eq!(browser.names_on_the_page().await, ["Ada King"; 3], "{kind}");
        let calls = provider.requests("/userinfo").len();
        browser.viewer().await;
        assert_eq!(
            provider.requests("/userinfo").len(),
            calls,
            "{kind}: fetched once"
        );
    }
}

#[tokio::test]
async fn a_profile_change_that_arrives_during_a_fetch_is_not_lost() {
    let provider = TestProvider::start().await;
    let app = app_with_webhooks(&provider).await;
    let browser = app.browser();
    browser.sign_in().await;
    let gate = Gate::new();
    provider.behave(|b| {
        b.userinfo = json!({"name": "Ada King"});
        b.userinfo_gate = Some(gate.clone());
    });
    let first = event("user.profile.updated", SUBJECT);
    assert_eq!(signed_webhook(&app, &first).await, StatusCode::OK);
    // A page view starts fetching the changed profile…
    let page_view = tokio::spawn({
        let browser = browser.clone();
        async move { browser.viewer().await }
    });
    gate.arrival().await;
    // …and the name changes again at the provider before it answers. The
    // answer on its way predates this second change.
    let second = event("user.profile.updated", SUBJECT);
    assert_eq!(signed_webhook(&app, &second).await, StatusCode::OK);
    gate.open();
    assert_eq!(page_view.await.unwrap()["user"]["display_name"], "Ada King");

    provider.behave(|b| {
        b.userinfo = json!({"name": "Ada Byron"});
        b.userinfo_gate = None;
    });
    assert_eq!(
        browser.viewer().await["user"]["display_name"],
        "Ada Byron",
        "the second change is fetched too"
    );
}

#[tokio::test]
async fn a_changed_profile_the_provider_cannot_serve_costs_one_try_per_period() {
    let provider = TestProvider::start().await;
    let app = app_with_webhooks(&provider).await;
    let browser = app.browser();
    browser.sign_in().await;
    provider.behave(|b| b.userinfo_down = true);
    let calls = provider.requests("/userinfo").len();
    let body = event("user.profile.updated", SUBJECT);
    assert_eq!(signed_webhook(&app, &body).await, StatusCode::OK);
    for _ in 0..3 {
        assert_eq!(
            browser.viewer().await["user"]["display_name"],
            "Ada Lovelace",
            "the page shows what it has"
        );
    }
    assert_eq!(
        provider.requests("/userinfo").len(),
        calls + 1,
        "one try, not one per page view"
    );
}

async fn backchannel(app: &TestApp, token: &str) -> StatusCode {
    support::cookieless_client()
        .post(format!("{}/backchannel-logout", app.url))
        .form(&[("logout_token", token)])
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_backchannel_logout_token_ends_the_matching_session_once() {
    let (provider, app, browser) = setup().await;
    browser.sign_in().await;
    let sid = provider.latest_sid();
    let bystander = app.browser();
    bystander.sign_in().await;

    let token = provider.logout_token(&sid, |_| {});
    assert_eq!(backchannel(&app, &token).await, StatusCode::OK);
    assert!(!signed_in(&browser).await, "the session of that sid ended");
    assert!(
        signed_in(&bystander).await,
        "another provider session of the user did not"
    );
    assert_eq!(
        backchannel(&app, &token).await,
        StatusCode::BAD_REQUEST,
        "a replay"
    );

    // Without a sid, every session of the subject ends.
    let token = provider.logout_token(&sid, |claims| {
        claims.as_object_mut().unwrap().remove("sid");
    });
    assert_eq!(backchannel(&app, &token).await, StatusCode::OK);
    assert!(!signed_in(&bystander).await);
}

#[tokio::test]
async fn hostile_logout_tokens_are_refused_and_end_nothing() {
    let (logs, _guard) = Logs::capture();
    let (provider, app, browser) = setup().await;
    browser.sign_in().await;
    let sid = provider.latest_sid();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    type Edit = Box<dyn Fn(&mut Value)>;
    let remove = |claim: &'static str| -> Edit {
        Box::new(move |c: &mut Value| {
            c.as_object_mut().unwrap().remove(claim);
        })
    };
    let cases: Vec<(&str, Edit)> = vec![
        (
            "wrong iss",
            Box::new(|c| c["iss"] = json!("https://evil.example")),
        ),
        (
            "wrong aud",
            Box::new(|c| c["aud"] = json!("another-client")),
        ),
        ("no iat", remove("iat")),
        ("old iat", Box::new(move |c| c["iat"] = json!(now - 3600))),
        (
            "iat in the future",
            Box::new(move |c| c["iat"] = json!(now + 3600)),
        ),
        ("expired", Box::new(move |c| c["exp"] = json!(now - 600))),
        ("no exp", remove("exp")),
        ("no jti", remove("jti")),
        ("no events", remove("events")),
        (
            "another event",
            Box::new(|c| c["events"] = json!({"https://example.com/other": {}})),
        ),
        (
            "no sid and no sub",
            Box::new(|c| {
                c.as_object_mut().unwrap().remove("sid");
                c.as_object_mut().unwrap().remove("sub");
            }),
        ),
        ("a nonce", Box::new(|c| c["nonce"] = json!("n"))),
    ];
    for (case, edit) in cases {
        let token = provider.logout_token(&sid, edit);
        assert_eq!(
            backchannel(&app, &token).await,
            StatusCode::BAD_REQUEST,
            "{case}"
        );
        assert!(signed_in(&browser).await, "{case}: nothing ended");
    }
    for (case, signing) in [
        ("alg none", Signing::Unsigned),
        ("bad signature", Signing::BadSignature),
        (
            "HS256 with the client secret",
            Signing::Hs256WithClientSecret,
        ),
    ] {
        provider.behave(|b| b.signing = signing);
        let token = provider.logout_token(&sid, |_| {});
        assert_eq!(
            backchannel(&app, &token).await,
            StatusCode::BAD_REQUEST,
            "{case}"
        );
        assert!(signed_in(&browser).await, "{case}: nothing ended");
    }
    provider.behave(|b| {
        b.signing = Signing::Rs256;
        b.signing_key = 1; // never published
    });
    let token = provider.logout_token(&sid, |_| {});
    assert_eq!(
        backchannel(&app, &token).await,
        StatusCode::BAD_REQUEST,
        "unknown key"
    );
    assert_eq!(
        backchannel(&app, "not.a.jwt").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(backchannel(&app, "").await, StatusCode::BAD_REQUEST);
    assert!(signed_in(&browser).await);
    assert!(!logs.text().contains(CLIENT_SECRET));
}

#[tokio::test]
async fn a_logout_token_of_another_type_or_key_is_refused() {
    type Change = fn(&mut support::provider::Behaviour);
    // Key 2 signs the logout tokens; ID tokens are signed with key 1.
    let cases: [(&str, Change, StatusCode); 6] = [
        ("its own typ", |b| b.jwt_type = "logout+jwt", StatusCode::OK),
        ("the generic typ", |_| {}, StatusCode::OK),
        (
            "an access token's typ",
            |b| b.jwt_type = "at+jwt",
            StatusCode::BAD_REQUEST,
        ),
        (
            "a key published for encryption",
            |b| b.published_as[1] = ("enc", "RS256"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "a key published for another alg",
            |b| b.published_as[1] = ("sig", "RS512"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "a key published for HMAC",
            |b| b.published_as[1] = ("sig", "HS256"),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (case, change, status) in cases {
        let provider = TestProvider::start().await;
        // The keys as the app fetches them at start; ID tokens typed as usual.
        provider.behave(|b| {
            b.published_keys = vec![0, 1];
            change(b);
            b.jwt_type = "JWT";
        });
        let app = TestApp::start(&provider).await;
        let browser = app.browser();
        browser.sign_in().await;
        provider.behave(|b| {
            b.signing_key = 1;
            change(b);
        });
        let token = provider.logout_token(&provider.latest_sid(), |_| {});
        assert_eq!(backchannel(&app, &token).await, status, "{case}");
        assert_eq!(
            signed_in(&browser).await,
            status != StatusCode::OK,
            "{case}: ended only when accepted"
        );
    }
}

#[tokio::test]
async fn backchannel_logout_can_be_switched_off() {
    let provider = TestProvider::start().await;
    let app = TestApp::start_with(provider.issuer(), &[("BACKCHANNEL_LOGOUT", "off")]).await;
    app.auth.provider_ready().await;
    let browser = app.browser();
    browser.sign_in().await;
    let token = provider.logout_token(&provider.latest_sid(), |_| {});
    assert_eq!(backchannel(&app, &token).await, StatusCode::NOT_FOUND);
    assert!(signed_in(&browser).await);
}

#[tokio::test]
async fn a_grant_revoked_at_the_provider_ends_the_session_at_the_next_check() {
    // Checked on every page view here; every five minutes by default.
    let provider = TestProvider::start().await;
    let app = TestApp::start_tuned_for(&provider, |settings| {
        settings.liveness_interval = Some(std::time::Duration::ZERO);
    })
    .await;
    let browser = app.browser();
    browser.sign_in().await;
    provider.revoke_all_refresh_tokens();
    let viewer = browser.viewer().await;
    assert!(viewer["user"].is_null(), "{viewer}");
    assert_eq!(viewer["notice"], "SessionEnded");

    // The control: with the default interval the same revocation is not
    // seen yet, and the page view costs no provider call.
    let (provider, _app, browser) = setup().await;
    browser.sign_in().await;
    provider.revoke_all_refresh_tokens();
    assert!(signed_in(&browser).await);
    assert_eq!(provider.refresh_grants(), 0);
}
