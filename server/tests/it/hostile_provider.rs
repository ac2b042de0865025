//! A provider that lies, signs badly, rotates keys, fails or is down: the app
//! refuses what it cannot trust, creates no session, says why once in its log
//! and never answers 500.

use crate::support;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::provider::{kid, Behaviour, ClaimsEdit, Failure, Signing, CLIENT_SECRET};
use support::{Logs, TestApp, TestProvider};

/// Runs one sign-in against a provider behaving as `change` says, and returns
/// the callback's status and page.
async fn sign_in_with(
    change: impl FnOnce(&mut Behaviour),
) -> (StatusCode, String, TestProvider, TestApp, support::Browser) {
    let provider = TestProvider::start().await;
    let app = TestApp::start(&provider).await;
    let browser = app.browser();
    let callback = browser.start_sign_in("/login").await;
    // The provider turns bad between the user's sign-in and the code exchange.
    provider.behave(change);
    let response = browser.get(&callback).await;
    let status = response.status();
    let page = response.text().await.unwrap();
    (status, page, provider, app, browser)
}

fn edit(f: impl Fn(&mut Value) + Send + Sync + 'static) -> Option<ClaimsEdit> {
    Some(Arc::new(f))
}

/// Leaves `claim` out of the ID token.
fn without(claim: &'static str) -> Option<ClaimsEdit> {
    edit(move |c| {
        c.as_object_mut().expect("claims object").remove(claim);
    })
}

/// The checks every rejection must pass.
async fn assert_rejected(
    case: &str,
    change: impl FnOnce(&mut Behaviour),
    status: StatusCode,
    reason: &str,
) {
    let (logs, _guard) = Logs::capture();
    let (got, page, provider, _app, browser) = sign_in_with(change).await;
    assert_eq!(got, status, "{case}: {page}");
    assert!(page.contains("Try again"), "{case}: friendly page: {page}");
    assert!(
        browser.viewer().await["user"].is_null(),
        "{case}: no session"
    );
    let rejections = logs.rejections();
    assert_eq!(rejections.len(), 1, "{case}: one log event: {rejections:?}");
    assert!(rejections[0].contains(reason), "{case}: {rejections:?}");
    let text = logs.text();
    for secret in provider
        .minted_tokens()
        .iter()
        .map(String::as_str)
        .chain([CLIENT_SECRET, "code-"])
    {
        assert!(
            !text.contains(secret),
            "{case}: the log contains {secret}: {text}"
        );
    }
}

#[tokio::test]
async fn id_tokens_that_fail_a_check_are_rejected() {
    let invalid = StatusCode::BAD_GATEWAY;
    // (case, how the provider misbehaves, the log event's kind)
    type Case = (&'static str, Box<dyn FnOnce(&mut Behaviour)>, &'static str);
    let cases: Vec<Case> = vec![
        (
            "wrong iss",
            Box::new(|b| b.id_claims = edit(|c| c["iss"] = json!("https://evil.example"))),
            "invalid_id_token",
        ),
        (
            "aud without us",
            Box::new(|b| b.id_claims = edit(|c| c["aud"] = json!("another-client"))),
            "invalid_id_token",
        ),
        (
            "no aud",
            Box::new(|b| b.id_claims = without("aud")),
            "its audience is not this client",
        ),
        (
            "us only in azp",
            Box::new(|b| {
                b.id_claims = edit(|c| {
                    c["aud"] = json!(["another-client"]);
                    c["azp"] = json!(support::provider::CLIENT_ID);
                })
            }),
            "invalid_id_token",
        ),
        // Required claims: the token response itself does not parse.
        (
            "no iat",
            Box::new(|b| b.id_claims = without("iat")),
            "token_endpoint",
        ),
        (
            "no sub",
            Box::new(|b| b.id_claims = without("sub")),
            "token_endpoint",
        ),
        (
            "expired",
            Box::new(|b| b.id_claims = edit(|c| c["exp"] = json!(1_000_000_000))),
            "invalid_id_token",
        ),
        (
            "wrong nonce",
            Box::new(|b| b.id_claims = edit(|c| c["nonce"] = json!("not-the-nonce"))),
            "invalid_id_token",
        ),
        (
            "no nonce",
            Box::new(|b| b.id_claims = without("nonce")),
            "invalid_id_token",
        ),
        (
            "at_hash of another token",
            Box::new(|b| b.id_claims = edit(|c| c["at_hash"] = json!("AAAAAAAAAAAAAAAAAAAAAA"))),
            "invalid_id_token",
        ),
        (
            "bad RS256 signature",
            Box::new(|b| b.signing = Signing::BadSignature),
            "invalid_id_token",
        ),
        (
            "alg none",
            Box::new(|b| b.signing = Signing::Unsigned),
            "invalid_id_token",
        ),
        (
            "HS256 with the client secret, advertised by the provider",
            Box::new(|b| {
                b.signing = Signing::Hs256WithClientSecret;
                b.advertised_algs = vec!["RS256", "HS256"];
                // A forger would leave out at_hash, whose check needs a public key.
                b.id_claims = without("at_hash");
            }),
            "invalid_id_token",
        ),
        (
            "userinfo about someone else",
            Box::new(|b| b.userinfo_sub = Some("someone-else".into())),
            "userinfo",
        ),
    ];
    for (case, change, reason) in cases {
        assert_rejected(case, change, invalid, reason).await;
    }
}

#[tokio::test]
async fn no_kid_with_a_single_key_is_accepted() {
    let (status, page, ..) = sign_in_with(|b| b.send_kid = false).await;
    assert_eq!(status, StatusCode::OK, "{page}");
}

#[tokio::test]
async fn no_kid_with_several_keys_is_not_accepted_blindly() {
    let (logs, _guard) = Logs::capture();
    let provider = TestProvider::start().await;
    provider.behave(|b| b.published_keys = vec![0, 1]);
    let app = TestApp::start(&provider).await;
    provider.behave(|b| b.send_kid = false);
    let browser = app.browser();
    let callback = browser.start_sign_in("/login").await;
    assert_eq!(
        browser.get(&callback).await.status(),
        StatusCode::BAD_GATEWAY
    );
    assert!(browser.viewer().await["user"].is_null());
    assert!(
        logs.rejections()[0].contains("eligible keys"),
        "{:?}",
        logs.rejections()
    );
}

#[tokio::test]
async fn a_rotated_signing_key_is_fetched_once_and_accepted() {
    let provider = TestProvider::start().await;
    let app = TestApp::start(&provider).await;
    assert_eq!(
        provider.requests("/jwks").len(),
        1,
        "discovery fetched the keys"
    );

    // The provider starts signing with a new key and publishes both.
    provider.behave(|b| {
        b.signing_key = 1;
        b.published_keys = vec![0, 1];
    });
    let browser = app.browser();
    browser.sign_in().await;
    assert_eq!(
        provider.requests("/jwks").len(),
        2,
        "one refetch for the new kid"
    );
    assert_eq!(browser.profile().await["claims"]["subject"], "user-42");

    // The new key is known now: no more fetches.
    app.browser().sign_in().await;
    assert_eq!(provider.requests("/jwks").len(), 2);
    let _ = kid(1);
}

#[tokio::test]
async fn unknown_kids_cannot_make_the_app_hammer_the_provider() {
    let provider = TestProvider::start().await;
    let app = TestApp::start(&provider).await;
    // Signed with a key the provider never publishes.
    provider.behave(|b| b.signing_key = 1);
    for _ in 0..5 {
        let browser = app.browser();
        let callback = browser.start_sign_in("/login").await;
        assert_eq!(
            browser.get(&callback).await.status(),
            StatusCode::BAD_GATEWAY
        );
    }
    assert_eq!(
        provider.requests("/jwks").len(),
        2,
        "discovery, then one rate-limited refetch"
    );
}

#[tokio::test]
async fn token_endpoint_failures_are_reported_not_crashed_on() {
    let cases: Vec<(&str, Failure, StatusCode, &str)> = vec![
        (
            "invalid_grant",
            Failure::Error(StatusCode::BAD_REQUEST, "invalid_grant"),
            StatusCode::BAD_REQUEST,
            "code_rejected",
        ),
        (
            "invalid_client",
            Failure::Error(StatusCode::UNAUTHORIZED, "invalid_client"),
            StatusCode::BAD_GATEWAY,
            "token_endpoint",
        ),
        (
            "server error",
            Failure::Error(StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
            StatusCode::BAD_GATEWAY,
            "token_endpoint",
        ),
        (
            "broken connection",
            Failure::Broken,
            StatusCode::BAD_GATEWAY,
            "token_endpoint",
        ),
    ];
    for (case, failure, status, reason) in cases {
        assert_rejected(case, |b| b.token_failure = Some(failure), status, reason).await;
    }
}

#[tokio::test]
async fn a_hung_token_endpoint_costs_the_request_its_timeout_only() {
    let started = Instant::now();
    assert_rejected(
        "slow",
        |b| b.token_failure = Some(Failure::Slow(Duration::from_secs(30))),
        StatusCode::BAD_GATEWAY,
        "token_endpoint",
    )
    .await;
    // The test app's timeout is one second; the provider would take thirty.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_provider_down_during_login_gives_a_502() {
    assert_rejected(
        "down",
        |b| b.down = true,
        StatusCode::BAD_GATEWAY,
        "token_endpoint",
    )
    .await;
}

#[tokio::test]
async fn a_provider_down_during_refresh_keeps_the_session() {
    let provider = TestProvider::start().await;
    // Retry at once, so the test need not wait out the real back-off.
    let app = TestApp::start_tuned_for(&provider, |settings| {
        settings.refresh_retry_after = Duration::ZERO;
    })
    .await;
    let browser = app.browser();
    support::sign_in_with_a_due_token(&provider, &browser).await;
    provider.behave(|b| b.down = true);
    let viewer = browser.viewer().await;
    assert_eq!(
        viewer["user"]["display_name"], "Ada Lovelace",
        "signed in until the provider says otherwise"
    );

    provider.behave(|b| b.down = false);
    assert_eq!(
        browser.viewer().await["user"]["display_name"],
        "Ada Lovelace"
    );
    assert_eq!(
        provider.refresh_grants(),
        1,
        "the refresh is tried again once the provider is back"
    );
}

#[tokio::test]
async fn a_provider_down_during_logout_still_signs_out() {
    let provider = TestProvider::start().await;
    let app = TestApp::start(&provider).await;
    let browser = app.browser();
    browser.sign_in().await;
    provider.behave(|b| b.down = true);
    let response = browser.logout().await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert!(
        support::location(&response).starts_with(&format!("{}/end_session?", provider.issuer()))
    );
    assert!(browser.viewer().await["user"].is_null());
}

#[tokio::test]
async fn an_access_token_said_to_live_for_ever_signs_in_without_a_panic() {
    for ttl in [
        1_000_000_000_000,
        u64::from(u32::MAX),
        i64::MAX.unsigned_abs(),
    ] {
        let (status, _page, _provider, _app, browser) =
            sign_in_with(|b| b.access_token_ttl = ttl).await;
        assert_eq!(status, StatusCode::OK, "expires_in {ttl}");
        let page = browser.get("/").await;
        assert_eq!(page.status(), StatusCode::OK, "expires_in {ttl}");
        assert!(page.text().await.unwrap().contains("Welcome"));
        let profile = browser.profile().await;
        let expires = profile["session"]["tokens"]["access_token_expires_at"]
            .as_str()
            .unwrap()
            .to_owned();
        let year: i32 = expires[..4].parse().unwrap();
        let this_year = time::OffsetDateTime::now_utc().year();
        assert!(year <= this_year + 1, "read as a year at most: {expires}");
    }
}

#[tokio::test]
async fn a_bloated_answer_is_refused_not_read_whole() {
    // A megabyte and more: no token or userinfo answer is that large.
    let bloat = (1 << 20) + 1;
    assert_rejected(
        "bloated token response",
        |b| b.token_padding = bloat,
        StatusCode::BAD_GATEWAY,
        "token_endpoint",
    )
    .await;
    assert_rejected(
        "bloated userinfo",
        |b| b.userinfo = json!({"name": "x".repeat(bloat)}),
        StatusCode::BAD_GATEWAY,
        "userinfo",
    )
    .await;
    // Just under the cap is read as usual.
    let (status, page, ..) = sign_in_with(|b| b.token_padding = (1 << 20) - 4096).await;
    assert_eq!(status, StatusCode::OK, "{page}");
}

#[tokio::test]
async fn a_discovery_document_that_points_elsewhere_is_refused() {
    for (endpoint, elsewhere) in [
        ("token_endpoint", "http://tokens.example/token"),
        ("revocation_endpoint", "http://revoke.example/revoke"),
        ("jwks_uri", "http://keys.example/jwks"),
    ] {
        let (logs, _guard) = Logs::capture();
        let provider = TestProvider::start().await;
        provider.behave(|b| {
            b.discovery_edit = Some(Arc::new(move |document: &mut Value| {
                document[endpoint] = json!(elsewhere);
            }))
        });
        let app = TestApp::start_with(provider.issuer(), &[]).await;
        let said = format!("its {endpoint} is not https");
        support::wait_until(&said, || logs.text().contains(&said)).await;
        assert!(!app.auth.is_provider_discovered(), "{endpoint}");
        let login = app.browser().get("/login").await;
        assert_eq!(
            login.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{endpoint}"
        );
    }
}
