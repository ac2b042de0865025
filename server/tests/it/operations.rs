//! What operators rely on: probes, request ids in responses and logs.

use crate::support;
use reqwest::StatusCode;
use support::{setup, Logs, TestApp};

#[tokio::test]
async fn probes_tell_liveness_from_readiness() {
    // Every test of this file logs to its own subscriber: a thread that logs
    // nowhere could leave the request span switched off for the others.
    let (_logs, _guard) = Logs::capture();
    let (_reserved, dead) = support::closed_port();
    let app = TestApp::start_with(&dead, &[]).await;
    let browser = app.browser();
    assert_eq!(
        browser.get("/healthz").await.status(),
        StatusCode::OK,
        "up, provider or not"
    );
    let ready = browser.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(ready
        .text()
        .await
        .unwrap()
        .contains("provider: not discovered"));
    assert!(
        !browser.cookies().contains("session"),
        "probes touch no session"
    );

    let (_provider, app, browser) = setup().await;
    let ready = browser.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.text().await.unwrap(), "store: ok\nprovider: ok\n");
    let _ = app;
}

#[tokio::test]
async fn every_response_and_log_line_of_a_request_carries_its_id() {
    let (logs, _guard) = Logs::capture();
    let (_provider, app, browser) = setup().await;
    let page = browser.get("/").await;
    let id = page.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let other = browser.get("/").await.headers()["x-request-id"].clone();
    assert_ne!(other.to_str().unwrap(), id, "one per request");

    // A load balancer's id is kept, and is on the request's log lines.
    let response = support::cookieless_client()
        .get(format!("{}/callback?state=forged", app.url))
        .header("x-request-id", "lb-7f3a")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "lb-7f3a");
    let line = logs
        .rejections()
        .into_iter()
        .find(|line| line.contains("no_sign_in_in_progress"))
        .expect("the rejection was logged");
    assert!(
        line.contains("id=lb-7f3a") || line.contains("id=\"lb-7f3a\""),
        "{line}\n{}",
        logs.text()
    );
    assert!(
        !line.contains("forged"),
        "no query string in the log: {line}"
    );
}
