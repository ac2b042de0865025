//! What a browser, or someone pretending to be one, can send: forged and
//! replayed callbacks, odd encodings, cross-site requests. Every rejection is
//! a friendly 4xx page, one log event, and no session.

use crate::support;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, ORIGIN};
use reqwest::StatusCode;
use support::{Logs, TestApp, TestProvider};

async fn setup() -> (TestProvider, TestApp) {
    let provider = TestProvider::start().await;
    let app = TestApp::start(&provider).await;
    (provider, app)
}

#[tokio::test]
async fn forged_callbacks_get_a_4xx_page_and_one_log_event() {
    let (provider, app) = setup().await;
    let long = "x".repeat(10 * 1024);
    let callbacks = [
        ("no parameters", "/callback".to_owned()),
        ("no state", "/callback?code=abc".to_owned()),
        ("empty state", "/callback?code=abc&state=".to_owned()),
        (
            "10 KB parameters",
            format!("/callback?code={long}&state={long}&error_description={long}"),
        ),
        (
            "invalid percent-encoding",
            "/callback?code=%zz&state=%E0%A4%A&error=%".to_owned(),
        ),
        (
            "html in the error",
            "/callback?error=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E&state=x".to_owned(),
        ),
    ];
    for (case, url) in callbacks {
        let (logs, _guard) = Logs::capture();
        // A browser that started a real sign-in, so the state check is what is tested.
        let browser = app.browser();
        browser.start_sign_in("/login").await;
        let response = browser.get(&url).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{case}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{case}");
        assert_eq!(
            response.headers()["referrer-policy"],
            "no-referrer",
            "{case}"
        );
        let page = response.text().await.unwrap();
        assert!(page.contains("Try again"), "{case}: {page}");
        assert!(!page.contains("<img src"), "{case}: unescaped: {page}");
        assert!(page.len() < 4096, "{case}: nothing echoed at length");
        assert!(browser.viewer().await["user"].is_null(), "{case}");
        assert_eq!(
            logs.rejections().len(),
            1,
            "{case}: {:?}",
            logs.rejections()
        );
        assert!(
            logs.rejections()[0].contains("state_mismatch"),
            "{case}: {:?}",
            logs.rejections()
        );
    }
    assert!(
        provider.requests("/token").is_empty(),
        "no forged callback reached the provider"
    );
}

#[tokio::test]
async fn a_code_replayed_with_a_fresh_sign_in_is_refused_by_the_provider() {
    let (provider, app) = setup().await;
    let browser = app.browser();
    let first = browser.start_sign_in("/login").await;
    assert_eq!(browser.get(&first).await.status(), StatusCode::OK);

    // The same browser starts another sign-in and an attacker swaps in the old code.
    let second = browser.start_sign_in("/login").await;
    let old_code = support::query_param(&first, "code");
    let state = support::query_param(&second, "state");
    let replay = format!("/callback?code={old_code}&state={state}");
    let response = browser.get(&replay).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        provider.requests("/token").len(),
        2,
        "the provider saw the replay and refused it"
    );
}

#[tokio::test]
async fn open_redirect_attempts_through_sign_in_end_at_home() {
    let (_provider, app) = setup().await;
    let hostile = [
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "/%2F%2Fevil.example",
        "%2F%2Fevil.example",
        "javascript:alert(1)",
        "/%0d%0aSet-Cookie:%20x=y",
        "/%09/evil.example",
    ];
    for target in hostile {
        let browser = app.browser();
        let encoded: String = url::form_urlencoded::byte_serialize(target.as_bytes()).collect();
        let callback = browser
            .start_sign_in(&format!("/login?return_to={encoded}"))
            .await;
        let hop = browser.get(&callback).await;
        assert!(hop.headers().get("location").is_none());
        let page = hop.text().await.unwrap();
        assert!(page.contains(r#"content="0;url=/""#), "{target}: {page}");
    }
}

#[tokio::test]
async fn server_functions_refuse_other_origins() {
    let (_provider, app) = setup().await;
    let browser = app.browser();
    browser.sign_in().await;
    for function in ["viewer", "reload_profile", "logout"] {
        let mut headers = HeaderMap::new();
        headers.insert(ORIGIN, HeaderValue::from_static("https://evil.example"));
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        headers.insert(ACCEPT, HeaderValue::from_static("text/html"));
        let response = browser.post(&format!("/api/{function}"), headers).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{function}");
        assert!(response
            .text()
            .await
            .unwrap()
            .contains("did not come from this site"));
    }
    assert_eq!(
        browser.viewer().await["user"]["display_name"],
        "Ada Lovelace"
    );
}

#[tokio::test]
async fn pages_carry_security_headers_and_a_fresh_script_nonce() {
    let (_provider, app) = setup().await;
    let browser = app.browser();
    let nonce_of = |page: &str| {
        page.split("nonce=\"")
            .nth(1)
            .map(|rest| rest.split('"').next().unwrap().to_owned())
    };

    let first = browser.get("/").await;
    let headers = first.headers().clone();
    let page = first.text().await.unwrap();
    let nonce = nonce_of(&page).expect("hydration script has a nonce");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains(&format!("'nonce-{nonce}'")), "{csp}");
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(
        headers.get("strict-transport-security").is_none(),
        "no HSTS over http"
    );

    let second = browser.get("/").await.text().await.unwrap();
    assert_ne!(nonce_of(&second), Some(nonce), "a new nonce per response");

    browser.sign_in().await;
    let signed_in = browser.get("/").await;
    assert_eq!(
        signed_in.headers()["cache-control"],
        "no-store",
        "pages with user data are not cached"
    );
}

#[tokio::test]
async fn https_deployments_get_hsts_and_host_prefixed_secure_cookies() {
    let provider = TestProvider::start().await;
    let app = TestApp::start_with(provider.issuer(), &[("APP_URL", "https://app.example")]).await;
    app.auth.provider_ready().await;
    let browser = app.browser();
    let response = browser.get("/").await;
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );

    // The provider sends the browser to https://app.example/callback; this test
    // app listens on plain http, so only the path is replayed.
    let login = browser.get("/login").await;
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    // `__Host-`: Secure, Path=/ and no Domain, so no sibling subdomain can
    // plant a sign-in transaction of its own.
    assert!(cookie.starts_with("__Host-login-"), "{cookie}");
    for attribute in [
        "Secure",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/;",
        "Max-Age=600",
    ] {
        assert!(
            format!("{cookie};").contains(attribute),
            "{cookie} lacks {attribute}"
        );
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    let authorize = browser.get(&support::location(&login)).await;
    let callback = support::location(&authorize);
    let path = &callback[callback.find("/callback").unwrap()..];
    let hop = browser.get(path).await;
    let set_cookies: Vec<String> = hop
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect();
    assert!(
        set_cookies.iter().any(|c| c.starts_with("__Host-login-")
            && c.contains("Max-Age=0")
            && c.contains("Secure")),
        "removed with the attributes it was set with: {set_cookies:?}"
    );
    assert!(
        set_cookies
            .iter()
            .any(|c| c.starts_with("__Host-Http-session=") && c.contains("Secure")),
        "{set_cookies:?}"
    );

    let authorize = support::location(&login);
    assert!(
        authorize.contains("redirect_uri=https%3A%2F%2Fapp.example%2Fcallback"),
        "{authorize}"
    );
}

#[tokio::test]
async fn garbage_sent_to_server_functions_is_not_a_server_error() {
    let (_provider, app) = setup().await;
    let browser = app.browser();
    let bodies: [(&str, Vec<u8>); 4] = [
        ("application/x-www-form-urlencoded", b"%%%&&==".to_vec()),
        ("application/json", b"{not json".to_vec()),
        ("application/octet-stream", vec![0xff; 64 * 1024]),
        ("text/plain", "x".repeat(1024 * 1024).into_bytes()),
    ];
    for function in ["viewer", "reload_profile", "logout", "no_such_function"] {
        for (content_type, body) in &bodies {
            let response = browser
                .client
                .post(format!("{}/api/{function}", app.url))
                .header(ORIGIN, &app.url)
                .header("sec-fetch-site", "same-origin")
                .header("content-type", *content_type)
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert!(
                !response.status().is_server_error(),
                "{function} with {content_type}: {}",
                response.status()
            );
        }
    }
}

#[tokio::test]
async fn paths_under_the_api_that_are_no_server_function_are_not_found() {
    let (_provider, app) = setup().await;
    let browser = app.browser();
    for (method, path) in [
        ("POST", "/api/no_such_function"),
        ("GET", "/api/no_such_function"),
        ("GET", "/api/viewer"),
        ("POST", "/api/userinfo/extra"),
    ] {
        let response = browser
            .client
            .request(method.parse().unwrap(), format!("{}{path}", app.url))
            .header(ORIGIN, &app.url)
            .header("sec-fetch-site", "same-origin")
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(status == 404 || status == 405, "{method} {path}: {status}");
        assert!(
            !body.contains("register_explicit") && !body.contains("server function"),
            "{method} {path} tells the framework's internals: {body}"
        );
    }
}
