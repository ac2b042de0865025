//! An OpenID Provider in the test process, which a test can tell to
//! misbehave. It signs real RS256 tokens, checks PKCE and client credentials
//! like a real provider, and records every request it receives.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "test-client";
pub const CLIENT_SECRET: &str = "test-client-secret";
pub const SUBJECT: &str = "user-42";
/// Every token the provider mints starts with this, so tests can look for
/// leaks with one search.
pub const TOKEN_MARK: &str = "SECRETTOKEN";

/// How the ID token is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signing {
    Rs256,
    /// RS256 with one bit of the signature flipped.
    BadSignature,
    /// `alg: none` and an empty signature.
    Unsigned,
    /// HS256 keyed with the client secret: algorithm confusion.
    Hs256WithClientSecret,
}

/// How the token endpoint fails, when it does.
#[derive(Clone, Debug)]
pub enum Failure {
    /// An OAuth error response.
    Error(StatusCode, &'static str),
    /// The answer comes after this long.
    Slow(Duration),
    /// The connection breaks in the middle of the answer.
    Broken,
}

/// A point where the provider stops until the test lets it go on, so a test
/// can force an interleaving instead of hoping a sleep produces it.
pub struct Gate {
    arrived: tokio::sync::Semaphore,
    open: tokio::sync::Semaphore,
}

impl Gate {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            arrived: tokio::sync::Semaphore::new(0),
            open: tokio::sync::Semaphore::new(0),
        })
    }

    /// Waits until a request has reached the gate.
    pub async fn arrival(&self) {
        self.arrived.acquire().await.expect("gate").forget();
    }

    /// Lets one request through.
    pub fn open(&self) {
        self.open.add_permits(1);
    }

    async fn pass(&self) {
        self.arrived.add_permits(1);
        self.open.acquire().await.expect("gate").forget();
    }
}

/// A change to an ID token's claims before it is signed.
pub type ClaimsEdit = Arc<dyn Fn(&mut Value) + Send + Sync>;

/// How the provider should behave; tests change it between steps.
#[derive(Clone)]
pub struct Behaviour {
    pub access_token_ttl: u64,
    /// Added to every refresh, so concurrent requests overlap.
    pub refresh_delay: Duration,
    /// Replaces the userinfo `sub` (to impersonate someone else).
    pub userinfo_sub: Option<String>,
    pub userinfo: Value,
    /// Edits the ID token's claims before signing.
    pub id_claims: Option<ClaimsEdit>,
    pub signing: Signing,
    /// Which of the provider's keys signs, and whether its `kid` is sent.
    pub signing_key: usize,
    pub send_kid: bool,
    /// The keys the JWKS endpoint publishes, and the `use` and `alg` it
    /// publishes each of them with.
    pub published_keys: Vec<usize>,
    pub published_as: [(&'static str, &'static str); 2],
    /// The `typ` in the header of every JWT the provider signs.
    pub jwt_type: &'static str,
    /// `id_token_signing_alg_values_supported` in discovery.
    pub advertised_algs: Vec<&'static str>,
    pub token_failure: Option<Failure>,
    /// Every endpoint breaks the connection, as a provider that is down.
    pub down: bool,
    /// Refresh grants stop here after the old refresh token is spent.
    pub refresh_gate: Option<Arc<Gate>>,
    /// Refresh grants stop here before the old refresh token is spent.
    pub before_refresh_gate: Option<Arc<Gate>>,
    /// The JWKS endpoint stops here before it answers.
    pub jwks_gate: Option<Arc<Gate>>,
    /// The refresh grant spends the old token, then breaks the connection:
    /// the client cannot know the token was rotated.
    pub break_after_rotation: bool,
    pub issue_refresh_token: bool,
    /// Refresh responses carry an ID token (edited by `refresh_id_claims`).
    pub refresh_id_token: bool,
    pub refresh_id_claims: Option<ClaimsEdit>,
    /// The userinfo endpoint answers 503.
    pub userinfo_down: bool,
    /// The userinfo endpoint stops here before it answers, with the
    /// claims as they are when it goes on.
    pub userinfo_gate: Option<Arc<Gate>>,
    /// The issuer the discovery document claims.
    pub discovery_issuer: Option<String>,
    /// Edits the discovery document before it is served.
    pub discovery_edit: Option<ClaimsEdit>,
    /// The token endpoint pads its answers with this many bytes.
    pub token_padding: usize,
    /// `prompt_values_supported` in discovery (absent when empty, as Authgear's).
    pub prompt_values: Vec<&'static str>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            access_token_ttl: 3600,
            refresh_delay: Duration::from_millis(0),
            userinfo_sub: None,
            userinfo: json!({"name": "Ada Lovelace", "email": "ada@example.com", "email_verified": true}),
            id_claims: None,
            signing: Signing::Rs256,
            signing_key: 0,
            send_kid: true,
            published_keys: vec![0],
            published_as: [("sig", "RS256"); 2],
            jwt_type: "JWT",
            advertised_algs: vec!["RS256"],
            token_failure: None,
            down: false,
            refresh_gate: None,
            before_refresh_gate: None,
            jwks_gate: None,
            break_after_rotation: false,
            issue_refresh_token: true,
            refresh_id_token: false,
            refresh_id_claims: None,
            discovery_issuer: None,
            discovery_edit: None,
            token_padding: 0,
            userinfo_down: false,
            userinfo_gate: None,
            prompt_values: Vec::new(),
        }
    }
}

/// The kid of key `index`; the key ids are stable so tests can name them.
pub fn kid(index: usize) -> String {
    format!("test-key-{}", index + 1)
}

/// One request as the provider saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub path: &'static str,
    pub params: HashMap<String, String>,
}

struct Grant {
    nonce: Option<String>,
    sid: String,
    code_challenge: String,
    redirect_uri: String,
}

#[derive(Default)]
struct Records {
    codes: HashMap<String, Grant>,
    used_codes: Vec<String>,
    refresh_tokens: HashMap<String, bool>,
    access_tokens: Vec<String>,
    requests: Vec<Recorded>,
    minted: Vec<String>,
    sids: Vec<String>,
}

struct Inner {
    issuer: String,
    keys: Vec<RsaPrivateKey>,
    behaviour: Mutex<Behaviour>,
    records: Mutex<Records>,
}

#[derive(Clone)]
pub struct TestProvider(Arc<Inner>);

impl TestProvider {
    pub async fn start() -> Self {
        let (listener, issuer) = super::bind_loopback().await;
        let keys = [
            include_str!("test-signing-key.pem"),
            include_str!("test-signing-key-2.pem"),
        ]
        .map(|pem| RsaPrivateKey::from_pkcs1_pem(pem).expect("test key"))
        .to_vec();
        let provider = Self(Arc::new(Inner {
            issuer,
            keys,
            behaviour: Mutex::new(Behaviour::default()),
            records: Mutex::default(),
        }));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .route("/revoke", post(revoke))
            .route("/end_session", get(end_session))
            .layer(axum::middleware::from_fn_with_state(
                provider.clone(),
                when_down,
            ))
            .with_state(provider.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.expect("provider serves") });
        provider
    }

    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    pub fn behave(&self, change: impl FnOnce(&mut Behaviour)) {
        change(&mut self.0.behaviour.lock().unwrap());
    }

    /// Requests received at `path`, oldest first.
    /// Every request the provider has received, at any endpoint.
    pub fn request_count(&self) -> usize {
        self.0.records.lock().unwrap().requests.len()
    }

    pub fn requests(&self, path: &str) -> Vec<Recorded> {
        let records = self.0.records.lock().unwrap();
        records
            .requests
            .iter()
            .filter(|request| request.path == path)
            .cloned()
            .collect()
    }

    /// Refresh-token grants received at the token endpoint.
    pub fn refresh_grants(&self) -> usize {
        self.requests("/token")
            .iter()
            .filter(|request| {
                request.params.get("grant_type").map(String::as_str) == Some("refresh_token")
            })
            .count()
    }

    /// Every token string this provider has handed out.
    pub fn minted_tokens(&self) -> Vec<String> {
        self.0.records.lock().unwrap().minted.clone()
    }

    /// Ends every grant at the provider, as an administrator would.
    pub fn revoke_all_refresh_tokens(&self) {
        for active in self.0.records.lock().unwrap().refresh_tokens.values_mut() {
            *active = false;
        }
    }

    pub fn is_refresh_token_active(&self, token: &str) -> bool {
        self.0
            .records
            .lock()
            .unwrap()
            .refresh_tokens
            .get(token)
            .copied()
            .unwrap_or(false)
    }

    fn record(&self, path: &'static str, params: HashMap<String, String>) {
        self.0
            .records
            .lock()
            .unwrap()
            .requests
            .push(Recorded { path, params });
    }

    fn mint(&self, kind: &str) -> String {
        let token = format!("{TOKEN_MARK}-{kind}-{:032x}", rand::random::<u128>());
        self.0.records.lock().unwrap().minted.push(token.clone());
        token
    }

    fn behaviour(&self) -> Behaviour {
        self.0.behaviour.lock().unwrap().clone()
    }

    fn sign(&self, claims: &Value) -> String {
        let behaviour = self.behaviour();
        let alg = match behaviour.signing {
            Signing::Rs256 | Signing::BadSignature => "RS256",
            Signing::Unsigned => "none",
            Signing::Hs256WithClientSecret => "HS256",
        };
        let mut header = json!({"alg": alg, "typ": behaviour.jwt_type});
        if behaviour.send_kid {
            header["kid"] = json!(kid(behaviour.signing_key));
        }
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let key = &self.0.keys[behaviour.signing_key];
        let signature = match behaviour.signing {
            Signing::Rs256 => SigningKey::<Sha256>::new(key.clone())
                .sign(signing_input.as_bytes())
                .to_vec(),
            Signing::BadSignature => {
                let mut signature = SigningKey::<Sha256>::new(key.clone())
                    .sign(signing_input.as_bytes())
                    .to_vec();
                signature[0] ^= 1;
                signature
            }
            Signing::Unsigned => Vec::new(),
            Signing::Hs256WithClientSecret => {
                use hmac::Mac;
                let mut mac = hmac::Hmac::<Sha256>::new_from_slice(CLIENT_SECRET.as_bytes())
                    .expect("hmac key");
                mac.update(signing_input.as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
        };
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    fn id_token(
        &self,
        nonce: Option<&str>,
        access_token: &str,
        edit: Option<ClaimsEdit>,
    ) -> String {
        let now = now();
        let digest = Sha256::digest(access_token.as_bytes());
        let mut claims = json!({
            "iss": self.0.issuer,
            "aud": CLIENT_ID,
            "sub": SUBJECT,
            "iat": now,
            "exp": now + 300,
            "auth_time": now,
            "at_hash": URL_SAFE_NO_PAD.encode(&digest[..16]),
        });
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        if let Some(edit) = edit {
            edit(&mut claims);
        }
        self.sign(&claims)
    }

    /// A token response; `id_claims` edits its ID token, if it has one.
    fn token_response(&self, nonce: Option<&str>, id_token: Option<Option<ClaimsEdit>>) -> Value {
        let behaviour = self.0.behaviour.lock().unwrap().clone();
        let access_token = self.mint("access");
        self.0
            .records
            .lock()
            .unwrap()
            .access_tokens
            .push(access_token.clone());
        let mut response = json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": behaviour.access_token_ttl,
            "scope": "openid offline_access",
        });
        if behaviour.issue_refresh_token {
            let refresh_token = self.mint("refresh");
            self.0
                .records
                .lock()
                .unwrap()
                .refresh_tokens
                .insert(refresh_token.clone(), true);
            response["refresh_token"] = json!(refresh_token);
        }
        if let Some(edit) = id_token {
            response["id_token"] = json!(self.id_token(nonce, &access_token, edit));
        }
        let padding = self.behaviour().token_padding;
        if padding > 0 {
            response["padding"] = json!("x".repeat(padding));
        }
        response
    }

    /// The provider session (`sid`) of the latest sign-in.
    pub fn latest_sid(&self) -> String {
        self.0
            .records
            .lock()
            .unwrap()
            .sids
            .last()
            .cloned()
            .expect("a sign-in")
    }

    /// A Back-Channel Logout token for `sid` and the test subject, signed as
    /// the provider signs ID tokens, then edited by `edit`.
    pub fn logout_token(&self, sid: &str, edit: impl Fn(&mut Value)) -> String {
        let now = now();
        let mut claims = json!({
            "iss": self.0.issuer,
            "aud": CLIENT_ID,
            "sub": SUBJECT,
            "sid": sid,
            "iat": now,
            "exp": now + 120,
            "jti": format!("jti-{:032x}", rand::random::<u128>()),
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        });
        edit(&mut claims);
        self.sign(&claims)
    }

    /// The refresh token minted last.
    pub fn latest_refresh_token(&self) -> String {
        self.minted_tokens()
            .into_iter()
            .rev()
            .find(|token| token.contains("-refresh-"))
            .expect("a refresh token was minted")
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({"error": error}))).into_response()
}

async fn discovery(State(provider): State<TestProvider>) -> Json<Value> {
    provider.record("/.well-known/openid-configuration", HashMap::new());
    let issuer = provider.issuer();
    let claimed = provider
        .behaviour()
        .discovery_issuer
        .unwrap_or_else(|| issuer.to_owned());
    let mut document = json!({
        "issuer": claimed,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "end_session_endpoint": format!("{issuer}/end_session"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": provider.behaviour().advertised_algs,
        "scopes_supported": ["openid", "offline_access"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
    });
    let prompt_values = provider.behaviour().prompt_values;
    if !prompt_values.is_empty() {
        document["prompt_values_supported"] = json!(prompt_values);
    }
    if let Some(edit) = provider.behaviour().discovery_edit {
        edit(&mut document);
    }
    Json(document)
}

async fn jwks(State(provider): State<TestProvider>) -> Json<Value> {
    provider.record("/jwks", HashMap::new());
    if let Some(gate) = provider.behaviour().jwks_gate {
        gate.pass().await;
    }
    let keys: Vec<Value> = provider
        .behaviour()
        .published_keys
        .iter()
        .map(|&index| {
            let public = provider.0.keys[index].to_public_key();
            json!({
                "kty": "RSA",
                "use": provider.behaviour().published_as[index].0,
                "alg": provider.behaviour().published_as[index].1,
                "kid": kid(index),
                "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
                "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
            })
        })
        .collect();
    Json(json!({ "keys": keys }))
}

/// A response whose body breaks off: the client sees a dropped connection.
fn broken() -> Response {
    let body = futures_util::stream::once(async {
        Err::<axum::body::Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "gone",
        ))
    });
    (StatusCode::OK, axum::body::Body::from_stream(body)).into_response()
}

async fn when_down(
    State(provider): State<TestProvider>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if provider.behaviour().down {
        return broken();
    }
    next.run(request).await
}

async fn authorize(
    State(provider): State<TestProvider>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    provider.record("/authorize", params.clone());
    let (Some(redirect_uri), Some(state), Some(challenge)) = (
        params.get("redirect_uri"),
        params.get("state"),
        params.get("code_challenge"),
    ) else {
        return (
            StatusCode::BAD_REQUEST,
            "missing redirect_uri, state or code_challenge",
        )
            .into_response();
    };
    if params.get("code_challenge_method").map(String::as_str) != Some("S256")
        || params.get("client_id").map(String::as_str) != Some(CLIENT_ID)
    {
        return (StatusCode::BAD_REQUEST, "bad client_id or PKCE method").into_response();
    }
    // The user signs in at once: there is no sign-in form in this provider.
    let code = format!("code-{:032x}", rand::random::<u128>());
    provider.0.records.lock().unwrap().codes.insert(
        code.clone(),
        Grant {
            nonce: params.get("nonce").cloned(),
            // As Authgear's: `base64url("<session type>:<session id>")`.
            sid: URL_SAFE_NO_PAD.encode(format!("offline_grant:{:032x}", rand::random::<u128>())),
            code_challenge: challenge.clone(),
            redirect_uri: redirect_uri.clone(),
        },
    );
    let target = format!(
        "{redirect_uri}?code={code}&state={}",
        url::form_urlencoded::byte_serialize(state.as_bytes()).collect::<String>()
    );
    Redirect::to(&target).into_response()
}

fn client_authenticated(headers: &HeaderMap) -> bool {
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        == Some(expected.as_str())
}

async fn token(
    State(provider): State<TestProvider>,
    headers: HeaderMap,
    Form(params): Form<HashMap<String, String>>,
) -> Response {
    provider.record("/token", params.clone());
    if !client_authenticated(&headers) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    match provider.behaviour().token_failure {
        Some(Failure::Error(status, error)) => return oauth_error(status, error),
        Some(Failure::Slow(delay)) => tokio::time::sleep(delay).await,
        Some(Failure::Broken) => return broken(),
        None => {}
    }
    match params.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = params.get("code").cloned().unwrap_or_default();
            let grant = {
                let mut records = provider.0.records.lock().unwrap();
                if records.used_codes.contains(&code) {
                    None
                } else {
                    records.used_codes.push(code.clone());
                    records.codes.remove(&code)
                }
            };
            let Some(grant) = grant else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            };
            let verifier = params.get("code_verifier").cloned().unwrap_or_default();
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if challenge != grant.code_challenge
                || params.get("redirect_uri") != Some(&grant.redirect_uri)
            {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            provider
                .0
                .records
                .lock()
                .unwrap()
                .sids
                .push(grant.sid.clone());
            let sid = grant.sid.clone();
            let later = provider.behaviour().id_claims;
            let edit: ClaimsEdit = Arc::new(move |claims: &mut Value| {
                claims["sid"] = json!(sid);
                if let Some(later) = &later {
                    later(claims);
                }
            });
            Json(provider.token_response(grant.nonce.as_deref(), Some(Some(edit)))).into_response()
        }
        Some("refresh_token") => {
            if let Some(gate) = provider.behaviour().before_refresh_gate {
                gate.pass().await;
            }
            let presented = params.get("refresh_token").cloned().unwrap_or_default();
            // Rotation with no grace period: a refresh token works once.
            let active = provider
                .0
                .records
                .lock()
                .unwrap()
                .refresh_tokens
                .insert(presented, false)
                .unwrap_or(false);
            if !active {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            // Slow, stopped or broken after the old token is spent: a client
            // that gives up now has lost it.
            let behaviour = provider.behaviour();
            tokio::time::sleep(behaviour.refresh_delay).await;
            if let Some(gate) = behaviour.refresh_gate {
                gate.pass().await;
            }
            if behaviour.break_after_rotation {
                return broken();
            }
            let id_token = behaviour
                .refresh_id_token
                .then_some(behaviour.refresh_id_claims);
            Json(provider.token_response(None, id_token)).into_response()
        }
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    }
}

async fn userinfo(State(provider): State<TestProvider>, headers: HeaderMap) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    provider.record(
        "/userinfo",
        HashMap::from([("access_token".into(), bearer.clone())]),
    );
    if !provider
        .0
        .records
        .lock()
        .unwrap()
        .access_tokens
        .contains(&bearer)
    {
        return (StatusCode::UNAUTHORIZED, "invalid_token").into_response();
    }
    let gate = provider.behaviour().userinfo_gate;
    if let Some(gate) = gate {
        gate.pass().await;
    }
    let behaviour = provider.0.behaviour.lock().unwrap().clone();
    if behaviour.userinfo_down {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let mut claims = behaviour.userinfo;
    claims["sub"] = json!(behaviour.userinfo_sub.unwrap_or_else(|| SUBJECT.into()));
    Json(claims).into_response()
}

async fn revoke(
    State(provider): State<TestProvider>,
    headers: HeaderMap,
    Form(params): Form<HashMap<String, String>>,
) -> Response {
    provider.record("/revoke", params.clone());
    if !client_authenticated(&headers) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if let Some(token) = params.get("token") {
        provider
            .0
            .records
            .lock()
            .unwrap()
            .refresh_tokens
            .insert(token.clone(), false);
    }
    StatusCode::OK.into_response()
}

async fn end_session(
    State(provider): State<TestProvider>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    provider.record("/end_session", params);
    (StatusCode::OK, "signed out at the provider").into_response()
}
