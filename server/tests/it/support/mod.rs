//! A real server on a free port, wired to a real provider, driven by an
//! HTTP client that keeps cookies like a browser.

pub mod provider;
pub mod redis_cluster;

use std::collections::HashMap;
use std::sync::Arc;

use app::auth::{Auth, AuthSettings, Store};
use leptos::config::LeptosOptions;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{HeaderMap, LOCATION, ORIGIN};
use reqwest::{redirect, Client, Response, StatusCode};
use server::config::{Config, SessionStoreConfig};
use server::{router, AppState};
use tempfile::TempDir;

pub use provider::{TestProvider, TOKEN_MARK};

pub struct TestApp {
    pub url: String,
    pub auth: Auth,
    // Keeps the session database alive as long as the app.
    _dir: TempDir,
}

impl TestApp {
    pub async fn start(provider: &TestProvider) -> Self {
        let app = Self::start_with(provider.issuer(), &[]).await;
        app.auth.provider_ready().await;
        app
    }

    /// Starts the app against `issuer`, with some variables changed, without
    /// waiting for discovery.
    pub async fn start_with(issuer: &str, overrides: &[(&'static str, &str)]) -> Self {
        Self::start_tuned(issuer, overrides, |_| {}).await
    }

    /// Starts the app against `provider` with settings changed by `tune`, and
    /// waits for discovery.
    pub async fn start_tuned_for(
        provider: &TestProvider,
        tune: impl FnOnce(&mut AuthSettings),
    ) -> Self {
        let app = Self::start_tuned(provider.issuer(), &[], tune).await;
        app.auth.provider_ready().await;
        app
    }

    /// Starts the app against `issuer` with some variables and settings
    /// changed, without waiting for discovery.
    pub async fn start_tuned(
        issuer: &str,
        overrides: &[(&'static str, &str)],
        tune: impl FnOnce(&mut AuthSettings),
    ) -> Self {
        Logs::subscribe();
        let (listener, url) = bind_loopback().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let env = HashMap::from([
            ("AUTHGEAR_DOMAIN", issuer.to_owned()),
            ("AUTHGEAR_CLIENT_ID", provider::CLIENT_ID.to_owned()),
            ("AUTHGEAR_CLIENT_SECRET", provider::CLIENT_SECRET.to_owned()),
            (
                "APP_SECRET_KEY",
                "test-key-0123456789abcdef0123456789abcdef".to_owned(),
            ),
            ("APP_URL", url.clone()),
            (
                "SESSION_DB_PATH",
                dir.path().join("sessions.db").display().to_string(),
            ),
        ]);
        let mut env = env;
        env.extend(
            overrides
                .iter()
                .map(|(name, value)| (*name, value.to_string())),
        );
        let mut config = Config::from_lookup(|name| env.get(name).cloned()).expect("config");
        // Tests of a hung provider should not wait the production timeout.
        config.auth.provider_timeout = std::time::Duration::from_secs(1);
        tune(&mut config.auth);
        let store = match &config.session_store {
            SessionStoreConfig::Sqlite(path) => Store::sqlite(path).await,
            SessionStoreConfig::Redis(url) => Store::redis(url.as_str()).await,
        }
        .expect("store");
        let auth = Auth::start(config.auth, store).expect("auth");
        let leptos_options = LeptosOptions::builder()
            .output_name("authgear-leptos")
            .build();
        let app = router(AppState {
            leptos_options,
            auth: auth.clone(),
        });
        tokio::spawn(async move { axum::serve(listener, app).await.expect("app serves") });
        Self {
            url,
            auth,
            _dir: dir,
        }
    }

    /// A browser that shares `other`'s cookies, as one browser behind a load
    /// balancer reaches every instance with the same cookie.
    pub fn same_browser_as(&self, other: &Browser) -> Browser {
        Browser {
            app: self.url.clone(),
            client: other.client.clone(),
            jar: other.jar.clone(),
        }
    }

    pub fn browser(&self) -> Browser {
        self.browser_as("")
    }

    /// A browser that sends `user_agent` (none when empty).
    pub fn browser_as(&self, user_agent: &str) -> Browser {
        let jar = Arc::new(Jar::default());
        let mut client = Client::builder()
            .cookie_provider(jar.clone())
            .redirect(redirect::Policy::none())
            .timeout(REQUEST_PATIENCE);
        if !user_agent.is_empty() {
            client = client.user_agent(user_agent);
        }
        Browser {
            app: self.url.clone(),
            client: client.build().expect("client"),
            jar,
        }
    }
}

/// A listener on a free loopback port, and its URL.
pub async fn bind_loopback() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let url = format!(
        "http://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );
    (listener, url)
}

/// No request of a test may take longer: a server that stops answering fails
/// the test with the request's name instead of hanging the suite.
pub const REQUEST_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// A client with no cookies, as a provider or a webhook sender is.
pub fn cookieless_client() -> Client {
    Client::builder()
        .timeout(REQUEST_PATIENCE)
        .build()
        .expect("client")
}

/// A provider, an app signed in with it, and a browser.
pub async fn setup() -> (TestProvider, TestApp, Browser) {
    let provider = TestProvider::start().await;
    let app = TestApp::start(&provider).await;
    let browser = app.browser();
    (provider, app, browser)
}

/// Signs in with an access token that is due for renewal at once, so a test
/// of refreshes needs no clock and no sleep.
pub async fn sign_in_with_a_due_token(provider: &TestProvider, browser: &Browser) {
    provider.behave(|b| b.access_token_ttl = 0);
    browser.sign_in().await;
    provider.behave(|b| b.access_token_ttl = 3600);
}

/// Waits until `condition` holds, checking every few milliseconds: for
/// effects that happen in another task. Panics after ten seconds.
pub async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "waited in vain for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Like [`wait_until`], for a condition that must be awaited.
pub async fn wait_until_async<F: std::future::Future<Output = bool>>(
    what: &str,
    condition: impl Fn() -> F,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !condition().await {
        assert!(
            std::time::Instant::now() < deadline,
            "waited in vain for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A loopback address where nothing answers: the port is bound, so no other
/// test can be given it while the socket lives, but never listened on, so
/// connections are refused.
pub fn closed_port() -> (tokio::net::TcpSocket, String) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("address"))
        .expect("bind a loopback port");
    let url = format!(
        "http://127.0.0.1:{}",
        socket.local_addr().expect("addr").port()
    );
    (socket, url)
}

/// The value of query parameter `name` in `url` (a full URL or a path).
pub fn query_param(url: &str, name: &str) -> String {
    let url = url::Url::parse("http://localhost/")
        .expect("base")
        .join(url)
        .expect("URL");
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

/// One browser: a cookie jar and the app's address. Follows no redirect by
/// itself, so tests see every hop.
#[derive(Clone)]
pub struct Browser {
    pub app: String,
    pub client: Client,
    pub jar: Arc<Jar>,
}

pub fn location(response: &Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

impl Browser {
    /// The `Cookie` header this browser would send to the app's home page.
    pub fn cookies(&self) -> String {
        let url = self.app.parse().expect("app URL");
        self.jar
            .cookies(&url)
            .and_then(|value| value.to_str().ok().map(str::to_owned))
            .unwrap_or_default()
    }

    /// A new browser holding the cookies this one holds now, as an old copy
    /// of the cookie jar would.
    pub fn copy(&self, app: &TestApp) -> Browser {
        let copy = app.browser();
        for cookie in self
            .cookies()
            .split("; ")
            .filter(|cookie| !cookie.is_empty())
        {
            copy.set_cookie(&format!("{cookie}; Path=/"));
        }
        copy
    }

    /// Plants a cookie, as an attacker or an old copy of the jar would.
    pub fn set_cookie(&self, cookie: &str) {
        let url = self.app.parse().expect("app URL");
        self.jar.add_cookie_str(cookie, &url);
    }

    pub async fn get(&self, path_or_url: &str) -> Response {
        let url = if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.app)
        };
        self.client
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET {url}: {error}"))
    }

    /// Starts a sign-in and returns the provider's redirect back to `/callback`.
    pub async fn start_sign_in(&self, sign_in_path: &str) -> String {
        let start = self.get(sign_in_path).await;
        assert_eq!(
            start.status(),
            StatusCode::SEE_OTHER,
            "/login redirects to the provider"
        );
        let authorize = self.get(&location(&start)).await;
        assert_eq!(
            authorize.status(),
            StatusCode::SEE_OTHER,
            "provider redirects back"
        );
        location(&authorize)
    }

    /// A complete sign-in; returns the hop page's HTML.
    pub async fn sign_in(&self) -> String {
        let callback = self.start_sign_in("/login").await;
        let response = self.get(&callback).await;
        assert_eq!(response.status(), StatusCode::OK, "callback succeeds");
        response.text().await.expect("body")
    }

    /// Calls a server function as a script on the page does.
    pub async fn server_fn(&self, name: &str) -> Response {
        self.client
            .post(format!("{}/api/{name}", self.app))
            .header(ORIGIN, &self.app)
            .header("sec-fetch-site", "same-origin")
            .send()
            .await
            .expect("server fn")
    }

    /// Calls a server function with arguments, as a script on the page does.
    pub async fn server_fn_with(&self, name: &str, form: &[(&str, &str)]) -> Response {
        self.client
            .post(format!("{}/api/{name}", self.app))
            .header(ORIGIN, &self.app)
            .header("sec-fetch-site", "same-origin")
            .form(form)
            .send()
            .await
            .expect("server fn")
    }

    /// Posts a form of the page at `page` to a server function, as a
    /// browser without JavaScript does.
    pub async fn submit(&self, page: &str, name: &str, form: &[(&str, &str)]) -> Response {
        self.client
            .post(format!("{}/api/{name}", self.app))
            .header(ORIGIN, &self.app)
            .header("sec-fetch-site", "same-origin")
            .header(reqwest::header::ACCEPT, "text/html")
            .header(reqwest::header::REFERER, format!("{}{page}", self.app))
            .form(form)
            .send()
            .await
            .expect("form")
    }

    /// Who is looking, as the app's pages learn it (`/api/viewer`).
    pub async fn viewer(&self) -> serde_json::Value {
        let response = self.server_fn("viewer").await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("viewer JSON")
    }

    /// The signed-in user's profile as the home page shows it
    /// (`/api/home`): their claims and the session. `null` for a guest.
    pub async fn profile(&self) -> serde_json::Value {
        let response = self.server_fn("home").await;
        assert_eq!(response.status(), StatusCode::OK);
        let page: serde_json::Value = response.json().await.expect("home JSON");
        page["content"]["profile"].clone()
    }

    /// The user's name as the home page shows it: in the user's menu, in the
    /// profile card, and in the session view's userinfo.
    pub async fn names_on_the_page(&self) -> [String; 3] {
        let page = self.get("/").await.text().await.expect("page");
        // Without the markers hydration finds its way by.
        let page = page.replace("<!>", "");
        // What follows `start`, up to `end`, from `from` on.
        let after = |from: &str, start: &str, end: &str| {
            let rest = &page[page.find(from)?..];
            let rest = &rest[rest.find(start)? + start.len()..];
            Some(rest[..rest.find(end)?].to_owned())
        };
        [
            after("<header", "<span class=\"menu-name\">", "<"),
            after("<dl", "<dt>Name</dt><dd>", "<"),
            after("\"userinfo\": {", "\"name\": \"", "\""),
        ]
        .map(|name| name.unwrap_or_else(|| panic!("a name is missing from the page: {page}")))
    }

    /// The logout form's POST, as a browser without JavaScript sends it.
    pub async fn logout(&self) -> Response {
        self.client
            .post(format!("{}/api/logout", self.app))
            .header(ORIGIN, &self.app)
            .header("sec-fetch-site", "same-origin")
            .header(reqwest::header::ACCEPT, "text/html")
            .send()
            .await
            .expect("logout")
    }

    pub async fn post(&self, path: &str, headers: HeaderMap) -> Response {
        self.client
            .post(format!("{}{path}", self.app))
            .headers(headers)
            .send()
            .await
            .expect("POST")
    }
}

/// This test's log output. `#[tokio::test]` runs the test, the app and the
/// provider on one thread, so what is logged on that thread is the test's.
///
/// One subscriber for the whole test binary, writing to the buffer of the
/// thread that logs, rather than a subscriber per test: `tracing` caches
/// per call site whether anyone listens, and a test that sets its own
/// subscriber while another thread reaches a call site for the first time
/// can find that call site cached as unheard, and lose its events.
#[derive(Clone, Default)]
pub struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

thread_local! {
    static CAPTURING: std::cell::RefCell<Option<Logs>> = const { std::cell::RefCell::new(None) };
}

/// Writes to the capturing test's buffer, if this thread's test captures.
struct ThisThread;

impl std::io::Write for ThisThread {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        CAPTURING.with(|capturing| {
            if let Some(logs) = &*capturing.borrow() {
                logs.0.lock().expect("log buffer").extend_from_slice(bytes);
            }
        });
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Stops the capture when the test is over.
pub struct Capture;

impl Drop for Capture {
    fn drop(&mut self) {
        CAPTURING.with(|capturing| capturing.borrow_mut().take());
    }
}

impl Logs {
    /// Installs the test binary's one subscriber. Called before any app
    /// starts, so that no call site is met before there is a subscriber.
    fn subscribe() {
        static SUBSCRIBER: std::sync::Once = std::sync::Once::new();
        SUBSCRIBER.call_once(|| {
            tracing_subscriber::fmt()
                .with_ansi(false)
                .with_env_filter("info")
                .with_writer(|| ThisThread)
                .init();
        });
    }

    pub fn capture() -> (Self, Capture) {
        Self::subscribe();
        let logs = Self::default();
        CAPTURING.with(|capturing| *capturing.borrow_mut() = Some(logs.clone()));
        (logs, Capture)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }

    /// The rejection events ("auth request rejected/failed") logged so far.
    pub fn rejections(&self) -> Vec<String> {
        self.text()
            .lines()
            .filter(|line| line.contains("auth request"))
            .map(str::to_owned)
            .collect()
    }
}

/// A throwaway Redis on a free loopback port, stopped when dropped. Needs
/// `redis-server` on PATH (scripts/setup installs it).
pub struct RedisServer {
    child: Option<std::process::Child>,
    pub port: u16,
}

impl RedisServer {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut server = Self { child: None, port };
        server.restart().await;
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// How many times each command ran since the last [`Self::reset_stats`]:
    /// what crossed the wire to the store.
    pub fn command_calls(&self) -> std::collections::HashMap<String, u64> {
        let stats = self.cli(&["INFO", "commandstats"]);
        stats
            .lines()
            .filter_map(|line| {
                let (name, fields) = line.strip_prefix("cmdstat_")?.split_once(':')?;
                let calls = fields
                    .split(',')
                    .find_map(|field| field.strip_prefix("calls="))?;
                Some((name.to_owned(), calls.parse().ok()?))
            })
            .collect()
    }

    pub fn reset_stats(&self) {
        self.cli(&["CONFIG", "RESETSTAT"]);
    }

    fn cli(&self, args: &[&str]) -> String {
        let output = std::process::Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli on PATH (it comes with redis-server)");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Starts it again on the same port, empty.
    pub async fn restart(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server on PATH (scripts/setup installs it)");
        self.child = Some(child);
        let port = self.port;
        wait_until("redis-server to listen", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
        .await;
    }

    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let port = self.port;
        wait_until("redis-server to stop", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        })
        .await;
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The secret the tests' Authgear webhooks are signed with.
pub const WEBHOOK_SECRET: &str = "test-webhook-secret-0123456789abcdef";

/// Authgear's signature of a webhook body: hex HMAC-SHA256.
pub fn sign(secret: &str, body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Posts a webhook as Authgear does: no cookie, no Origin, a signature.
pub async fn webhook(
    app: &TestApp,
    body: &serde_json::Value,
    signature: Option<String>,
) -> reqwest::StatusCode {
    let body = serde_json::to_vec(body).unwrap();
    let mut request = cookieless_client()
        .post(format!("{}/webhooks/authgear", app.url))
        .header("content-type", "application/json")
        .body(body);
    if let Some(signature) = signature {
        request = request.header("x-authgear-body-signature", signature);
    }
    request.send().await.unwrap().status()
}

/// Posts a webhook signed with [`WEBHOOK_SECRET`].
pub async fn signed_webhook(app: &TestApp, body: &serde_json::Value) -> reqwest::StatusCode {
    let signature = sign(WEBHOOK_SECRET, &serde_json::to_vec(body).unwrap());
    webhook(app, body, Some(signature)).await
}

/// An Authgear event of `kind` about the user `subject`.
pub fn event(kind: &str, subject: &str) -> serde_json::Value {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    serde_json::json!({
        "id": format!("{:032x}", rand::random::<u128>()),
        "seq": 42,
        "type": kind,
        "payload": {"user": {"id": subject}},
        "context": {"timestamp": now},
    })
}

/// A session as Authgear's events name it, for the provider session `sid`.
pub fn authgear_session(sid: &str) -> serde_json::Value {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sid)
        .expect("an Authgear-shaped sid");
    let raw = String::from_utf8(raw).expect("text");
    let (kind, id) = raw.split_once(':').expect("type:id");
    serde_json::json!({"id": id, "type": kind})
}
