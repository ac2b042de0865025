//! The identity provider as this app knows it, and every call made to it:
//! discovery (in the background, retried until it answers), the token
//! endpoint, userinfo, revocation and the signing keys.
//!
//! Failures come back as [`Upstream`] values, never as the provider's own
//! words: a hostile or broken provider cannot put text into a log line or a page.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod,
    CoreErrorResponseType, CoreGenderClaim, CoreGrantType, CoreIdToken, CoreIdTokenVerifier,
    CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType,
    CoreSubjectIdentifierType, CoreTokenResponse,
};
use openidconnect::{
    reqwest, AccessToken, AdditionalProviderMetadata, AuthorizationCode, ClaimsVerificationError,
    EndSessionUrl, EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpClientError, JsonWebKey,
    JsonWebKeySetUrl, LogoutProviderMetadata, PkceCodeVerifier, ProviderMetadata, RedirectUrl,
    RefreshToken, RequestTokenError, RevocationUrl, SignatureVerificationError,
    StandardErrorResponse, SubjectIdentifier, UserInfoError,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::error::{IdTokenProblem, OAuthCode, Upstream};
use super::{Auth, AuthSettings};

/// The client as discovery leaves it: an authorization endpoint for sure, a
/// token and userinfo endpoint if the provider lists them.
type OidcClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Discovery fields that `openidconnect`'s core metadata leaves out.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct ExtraMetadata {
    #[serde(default)]
    revocation_endpoint: Option<RevocationUrl>,
    #[serde(default)]
    backchannel_logout_supported: Option<bool>,
    #[serde(default)]
    prompt_values_supported: Option<Vec<String>>,
}
impl AdditionalProviderMetadata for ExtraMetadata {}

type Metadata = ProviderMetadata<
    LogoutProviderMetadata<ExtraMetadata>,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// Userinfo claims `openidconnect` does not model (Authgear's own,
/// `custom_attributes`), kept as they came.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub(crate) struct OtherClaims {
    #[serde(flatten)]
    claims: serde_json::Map<String, serde_json::Value>,
}
impl openidconnect::AdditionalClaims for OtherClaims {}

pub(crate) type UserinfoClaims = openidconnect::UserInfoClaims<OtherClaims, CoreGenderClaim>;

/// Only asymmetric signatures are accepted on ID tokens. Allowing HMAC would
/// let anyone who knows the client secret mint tokens, and a provider that
/// advertises `HS256` would make the client secret a signing key.
const ALLOWED_ID_TOKEN_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// A stream of ID tokens with unknown key ids must not turn into a stream of
/// JWKS downloads: after one refetch, the next waits this long.
const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

type TokenError = RequestTokenError<
    HttpClientError<reqwest::Error>,
    StandardErrorResponse<CoreErrorResponseType>,
>;

/// The most any answer of the provider may weigh: a discovery document, a
/// key set, a token or userinfo response is a few kilobytes.
const MAX_BODY: usize = 1 << 20;

/// The HTTP client of every call to the provider: it follows no redirect
/// (which would let a provider point this server at any URL), gives up after
/// `provider_timeout`, and reads at most [`MAX_BODY`] of any answer.
#[derive(Clone)]
pub(crate) struct ProviderHttp(reqwest::Client);

impl ProviderHttp {
    pub fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()
            .map(Self)
    }
}

type HttpError = HttpClientError<reqwest::Error>;

impl<'c> openidconnect::AsyncHttpClient<'c> for ProviderHttp {
    type Error = HttpError;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<openidconnect::HttpResponse, HttpError>>
                + Send
                + 'c,
        >,
    >;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(Box::new)?;
            let mut response = self.0.execute(request).await.map_err(Box::new)?;
            let mut answer = openidconnect::http::Response::builder()
                .status(response.status())
                .version(response.version());
            for (name, value) in response.headers() {
                answer = answer.header(name, value);
            }
            let body = read_capped(&mut response).await?;
            answer.body(body).map_err(HttpClientError::Http)
        })
    }
}

/// The body of `response`, or an error past [`MAX_BODY`] bytes, however
/// the provider sends it (with a length, or chunked without one).
async fn read_capped(response: &mut reqwest::Response) -> Result<Vec<u8>, HttpError> {
    let too_large = || HttpClientError::Other("the provider's answer is too large".to_owned());
    if response
        .content_length()
        .is_some_and(|length| length > MAX_BODY as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Box::new)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Where the provider's discovery document may send this server (and the
/// browser): every endpoint over https, unless the issuer and the endpoint
/// are both on this machine; for an Authgear-hosted issuer, every endpoint on
/// the issuer's own origin. A document that points elsewhere would send the
/// client secret or the tokens there.
fn check_endpoints<'a>(
    issuer: &url::Url,
    authgear_hosted: bool,
    endpoints: impl IntoIterator<Item = (&'static str, &'a url::Url)>,
) -> Result<(), String> {
    let on_this_machine = |url: &url::Url| url.host().is_some_and(|host| super::is_loopback(&host));
    for (name, endpoint) in endpoints {
        let secure = endpoint.scheme() == "https"
            || (endpoint.scheme() == "http"
                && on_this_machine(issuer)
                && on_this_machine(endpoint));
        if !secure {
            return Err(format!("its {name} is not https: {endpoint}"));
        }
        if authgear_hosted && endpoint.origin() != issuer.origin() {
            return Err(format!(
                "its {name} is not on the issuer's origin: {endpoint}"
            ));
        }
    }
    Ok(())
}

/// [`ProviderHttp`] for discovery: the key set's URL, which the document
/// names, passes [`check_endpoints`] before anything is sent there.
struct DiscoveryHttp<'a> {
    http: &'a ProviderHttp,
    settings: &'a AuthSettings,
    discovery_url: url::Url,
}

impl<'c> openidconnect::AsyncHttpClient<'c> for DiscoveryHttp<'_> {
    type Error = HttpError;
    type Future = <ProviderHttp as openidconnect::AsyncHttpClient<'c>>::Future;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        let checked = url::Url::parse(&request.uri().to_string())
            .map_err(|error| error.to_string())
            .and_then(|target| {
                if target == self.discovery_url {
                    return Ok(());
                }
                check_endpoints(
                    self.settings.issuer.url(),
                    self.settings.is_authgear_hosted(),
                    [("jwks_uri", &target)],
                )
            });
        match checked {
            Ok(()) => self.http.call(request),
            Err(reason) => Box::pin(std::future::ready(Err(HttpClientError::Other(reason)))),
        }
    }
}

/// The provider's signing keys, and how many times they have been fetched.
struct Keys {
    set: CoreJsonWebKeySet,
    generation: u64,
}

/// A discovered provider.
pub(crate) struct Provider {
    pub client: OidcClient,
    pub end_session: Option<EndSessionUrl>,
    /// The provider says it sends OpenID Connect Back-Channel Logout tokens.
    pub backchannel_logout: bool,
    /// The provider lists `create` in `prompt_values_supported`.
    pub prompt_create: bool,
    revocation: Option<RevocationUrl>,
    settings: AuthSettings,
    jwks_uri: JsonWebKeySetUrl,
    keys: RwLock<Keys>,
    /// Held while the keys are refetched, so that every sign-in that meets a
    /// new key waits for the one download; holds when the last one started.
    refetch: tokio::sync::Mutex<Option<Instant>>,
}

impl Provider {
    async fn discover(settings: &AuthSettings, http: &ProviderHttp) -> Result<Self, String> {
        // Discovery fetches the key set from where the document says: the
        // same rule applies to it before the request is sent.
        let guarded = DiscoveryHttp {
            http,
            settings,
            discovery_url: settings
                .issuer
                .join(".well-known/openid-configuration")
                .map_err(|error| error.to_string())?,
        };
        // The discovery document is public: its errors may be logged as they are.
        let metadata = Metadata::discover_async(settings.issuer.clone(), &guarded)
            .await
            .map_err(|error| error_chain(&error))?;
        let extra = metadata.additional_metadata().clone();
        let endpoints = [
            (
                "authorization_endpoint",
                Some(metadata.authorization_endpoint().url()),
            ),
            (
                "token_endpoint",
                metadata.token_endpoint().map(|url| url.url()),
            ),
            (
                "userinfo_endpoint",
                metadata.userinfo_endpoint().map(|url| url.url()),
            ),
            ("jwks_uri", Some(metadata.jwks_uri().url())),
            (
                "revocation_endpoint",
                extra
                    .additional_metadata
                    .revocation_endpoint
                    .as_ref()
                    .map(|url| url.url()),
            ),
            (
                "end_session_endpoint",
                extra.end_session_endpoint.as_ref().map(|url| url.url()),
            ),
        ];
        check_endpoints(
            settings.issuer.url(),
            settings.is_authgear_hosted(),
            endpoints
                .into_iter()
                .filter_map(|(name, url)| Some((name, url?))),
        )?;
        let jwks_uri = metadata.jwks_uri().clone();
        let jwks = metadata.jwks().clone();
        let redirect_url =
            RedirectUrl::new(settings.redirect_url()).map_err(|error| error.to_string())?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            settings.client_id.clone(),
            Some(settings.client_secret.clone()),
        )
        .set_redirect_uri(redirect_url);
        Ok(Self {
            client,
            end_session: extra.end_session_endpoint,
            backchannel_logout: extra
                .additional_metadata
                .backchannel_logout_supported
                .unwrap_or(false),
            prompt_create: extra
                .additional_metadata
                .prompt_values_supported
                .as_ref()
                .is_some_and(|values| values.iter().any(|value| value == "create")),
            revocation: extra.additional_metadata.revocation_endpoint,
            settings: settings.clone(),
            jwks_uri,
            keys: RwLock::new(Keys {
                set: jwks,
                generation: 0,
            }),
            refetch: tokio::sync::Mutex::new(None),
        })
    }

    /// Exchanges an authorization code (with its PKCE verifier) for tokens.
    pub async fn exchange_code(
        &self,
        http: &ProviderHttp,
        code: AuthorizationCode,
        pkce_verifier: PkceCodeVerifier,
    ) -> Result<CoreTokenResponse, Upstream> {
        self.client
            .exchange_code(code)
            .map_err(|_| Upstream::Malformed)?
            .set_pkce_verifier(pkce_verifier)
            .request_async(http)
            .await
            .map_err(|error| token_failure(&error))
    }

    /// Spends a refresh token for new tokens.
    pub async fn refresh(
        &self,
        http: &ProviderHttp,
        refresh_token: &RefreshToken,
    ) -> Result<CoreTokenResponse, Upstream> {
        self.client
            .exchange_refresh_token(refresh_token)
            .map_err(|_| Upstream::Malformed)?
            .request_async(http)
            .await
            .map_err(|error| token_failure(&error))
    }

    /// The user's claims from the userinfo endpoint. An answer about anyone
    /// but `subject` is refused.
    pub async fn userinfo(
        &self,
        http: &ProviderHttp,
        access_token: &AccessToken,
        subject: Option<&str>,
    ) -> Result<UserinfoClaims, Upstream> {
        let subject = subject.map(|sub| SubjectIdentifier::new(sub.to_owned()));
        self.client
            .user_info(access_token.clone(), subject)
            .map_err(|_| Upstream::Malformed)?
            .request_async(http)
            .await
            .map_err(|error| match error {
                UserInfoError::ClaimsVerification(_) => Upstream::WrongSubject,
                UserInfoError::Request(error) => http_failure(&error),
                UserInfoError::Response(status, ..) => Upstream::Status(status.as_u16()),
                UserInfoError::Parse(_) | UserInfoError::Other(_) => Upstream::Malformed,
                _ => Upstream::Malformed,
            })
    }

    /// Revokes a refresh token (RFC 7009) with the client's credentials.
    /// `Ok(false)` when the provider has no revocation endpoint.
    ///
    /// Sent by hand rather than with `openidconnect`'s `revoke_token`, which
    /// refuses any `http` endpoint, the local development provider's included.
    pub async fn revoke(
        &self,
        http: &ProviderHttp,
        refresh_token: &RefreshToken,
    ) -> Result<bool, Upstream> {
        let Some(url) = &self.revocation else {
            return Ok(false);
        };
        let encode = |value: &str| {
            url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
        };
        let response = http
            .0
            .post(url.url().clone())
            // RFC 6749 §2.3.1: credentials are form-encoded before Basic encoding.
            .basic_auth(
                encode(self.settings.client_id.as_str()),
                Some(encode(self.settings.client_secret.secret())),
            )
            .form(&[
                ("token", refresh_token.secret().as_str()),
                ("token_type_hint", "refresh_token"),
            ])
            .send()
            .await
            .map_err(|error| reqwest_failure(&error))?;
        if response.status().is_success() {
            Ok(true)
        } else {
            Err(Upstream::Status(response.status().as_u16()))
        }
    }

    /// Runs `check` on an ID token with a verifier of signature, issuer,
    /// audience and expiry. If the token is signed with a key we do not know,
    /// the provider may have rotated its keys: fetch them again (once for all
    /// the sign-ins that meet the new key, and rate-limited) and check once more.
    pub async fn verify<T>(
        &self,
        http: &ProviderHttp,
        check: impl Fn(&CoreIdTokenVerifier<'static>) -> Result<T, ClaimsVerificationError>,
    ) -> Result<T, IdTokenProblem> {
        let (verifier, generation) = self.id_token_verifier();
        match check(&verifier) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) if self.refetch_jwks(http, generation).await => {
                check(&self.id_token_verifier().0).map_err(|error| id_token_problem(&error))
            }
            result => result.map_err(|error| id_token_problem(&error)),
        }
    }

    /// Checks an ID token that came with refreshed tokens: as valid as the
    /// first one (no nonce this time) and about the same subject. Returns
    /// its claims.
    pub async fn verify_refreshed(
        &self,
        http: &ProviderHttp,
        id_token: &CoreIdToken,
        subject: Option<&str>,
    ) -> Result<serde_json::Value, IdTokenProblem> {
        let no_nonce = |_: Option<&openidconnect::Nonce>| Ok(());
        let refreshed = self
            .verify(http, |verifier| {
                Ok(id_token.claims(verifier, no_nonce)?.subject().to_string())
            })
            .await?;
        if Some(refreshed.as_str()) != subject {
            return Err(IdTokenProblem::Subject);
        }
        verified_payload(&id_token.to_string()).ok_or(IdTokenProblem::Malformed)
    }

    /// The claims of a JWT the provider signed (a logout token), after its
    /// signature checks out against the provider's keys (refetched, as for
    /// ID tokens, when it names a key we do not know), with a key meant for
    /// signatures with this algorithm. A `typ` in its header must be one of
    /// `types`. Its claims are the caller's to check.
    pub async fn verify_signed_claims(
        &self,
        http: &ProviderHttp,
        token: &str,
        types: &[&str],
    ) -> Result<serde_json::Value, IdTokenProblem> {
        let (signing_input, signature) = token.rsplit_once('.').ok_or(IdTokenProblem::Malformed)?;
        let (header, payload) = signing_input
            .split_once('.')
            .ok_or(IdTokenProblem::Malformed)?;
        let decode = |part: &str| {
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, part)
                .map_err(|_| IdTokenProblem::Malformed)
        };
        #[derive(Deserialize)]
        struct Header {
            alg: CoreJwsSigningAlgorithm,
            kid: Option<openidconnect::JsonWebKeyId>,
            typ: Option<String>,
        }
        let header: Header =
            serde_json::from_slice(&decode(header)?).map_err(|_| IdTokenProblem::Malformed)?;
        // RFC 8725 §3.11: an explicit type is checked, so that a token made
        // for another purpose cannot pass for this one. `application/` may
        // be left out (RFC 7515 §4.1.9).
        if let Some(declared) = &header.typ {
            let declared = declared.to_ascii_lowercase();
            if !types.contains(&declared.strip_prefix("application/").unwrap_or(&declared)) {
                return Err(IdTokenProblem::Type);
            }
        }
        if header.alg == CoreJwsSigningAlgorithm::None {
            return Err(IdTokenProblem::Unsigned);
        }
        if !ALLOWED_ID_TOKEN_ALGS.contains(&header.alg) {
            return Err(IdTokenProblem::Algorithm);
        }
        let signature = decode(signature)?;
        let check = |keys: &CoreJsonWebKeySet| {
            let candidates: Vec<&CoreJsonWebKey> = keys
                .keys()
                .iter()
                .filter(|key| header.kid.is_none() || key.key_id() == header.kid.as_ref())
                .filter(|key| signs_with(key, &header.alg))
                .collect();
            match candidates.as_slice() {
                [] => Err(IdTokenProblem::UnknownKey),
                [key] => key
                    .verify_signature(&header.alg, signing_input.as_bytes(), &signature)
                    .map_err(|_| IdTokenProblem::Signature),
                _ => Err(IdTokenProblem::AmbiguousKey),
            }
        };
        let (checked, generation) = {
            let keys = self
                .keys
                .read()
                .unwrap_or_else(|poison| poison.into_inner());
            (check(&keys.set), keys.generation)
        };
        match checked {
            Err(IdTokenProblem::UnknownKey) if self.refetch_jwks(http, generation).await => {
                let keys = self
                    .keys
                    .read()
                    .unwrap_or_else(|poison| poison.into_inner());
                check(&keys.set)?;
            }
            other => other?,
        }
        serde_json::from_slice(&decode(payload)?).map_err(|_| IdTokenProblem::Malformed)
    }

    fn id_token_verifier(&self) -> (CoreIdTokenVerifier<'static>, u64) {
        let keys = self
            .keys
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        let verifier = CoreIdTokenVerifier::new_confidential_client(
            self.settings.client_id.clone(),
            self.settings.client_secret.clone(),
            self.settings.issuer.clone(),
            keys.set.clone(),
        )
        .set_allowed_algs(ALLOWED_ID_TOKEN_ALGS);
        (verifier, keys.generation)
    }

    fn generation(&self) -> u64 {
        self.keys
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .generation
    }

    /// True if the keys changed since `seen`: fetched now, or by another
    /// sign-in while this one waited.
    async fn refetch_jwks(&self, http: &ProviderHttp, seen: u64) -> bool {
        let mut last = self.refetch.lock().await;
        if self.generation() != seen {
            return true;
        }
        if last.is_some_and(|at| at.elapsed() < JWKS_REFETCH_INTERVAL) {
            tracing::info!("ID token signed with an unknown key; JWKS refetch is rate-limited");
            return false;
        }
        *last = Some(Instant::now());
        match CoreJsonWebKeySet::fetch_async(&self.jwks_uri, http).await {
            Ok(set) => {
                tracing::info!(keys = set.keys().len(), "provider signing keys refetched");
                let mut keys = self
                    .keys
                    .write()
                    .unwrap_or_else(|poison| poison.into_inner());
                keys.set = set;
                keys.generation += 1;
                true
            }
            Err(error) => {
                tracing::warn!(reason = %error_chain(&error), "provider signing keys could not be refetched");
                false
            }
        }
    }
}

/// True if `key` may verify a signature made with `alg`: published for
/// signatures (or for any use), of the algorithm's key type, and for that
/// algorithm when it names one.
fn signs_with(key: &CoreJsonWebKey, alg: &CoreJwsSigningAlgorithm) -> bool {
    use openidconnect::{JsonWebKeyAlgorithm, JsonWebKeyUse, JwsSigningAlgorithm};
    key.key_use().is_none_or(JsonWebKeyUse::allows_signature)
        && alg.key_type().as_ref() == Some(key.key_type())
        && match key.signing_alg() {
            JsonWebKeyAlgorithm::Unspecified => true,
            JsonWebKeyAlgorithm::Algorithm(key_alg) => key_alg == alg,
            JsonWebKeyAlgorithm::Unsupported => false,
        }
}

/// The payload of a JWT whose signature has already been verified.
pub(crate) fn verified_payload(jwt: &str) -> Option<serde_json::Value> {
    let payload = jwt.split('.').nth(1)?;
    let bytes =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn id_token_problem(error: &ClaimsVerificationError) -> IdTokenProblem {
    use ClaimsVerificationError as Claims;
    use SignatureVerificationError as Signature;
    match error {
        Claims::Expired(_) => IdTokenProblem::Expired,
        Claims::InvalidAudience(_) => IdTokenProblem::Audience,
        Claims::InvalidIssuer(_) => IdTokenProblem::Issuer,
        Claims::InvalidNonce(_) => IdTokenProblem::Nonce,
        Claims::InvalidSubject(_) => IdTokenProblem::Subject,
        Claims::SignatureVerification(signature) => match signature {
            Signature::NoSignature => IdTokenProblem::Unsigned,
            Signature::DisallowedAlg(_) | Signature::UnsupportedAlg(_) => IdTokenProblem::Algorithm,
            Signature::NoMatchingKey => IdTokenProblem::UnknownKey,
            Signature::AmbiguousKeyId(_) => IdTokenProblem::AmbiguousKey,
            _ => IdTokenProblem::Signature,
        },
        _ => IdTokenProblem::Malformed,
    }
}

/// What a failed token-endpoint call amounts to.
fn token_failure(error: &TokenError) -> Upstream {
    match error {
        RequestTokenError::ServerResponse(response) => {
            Upstream::Refused(OAuthCode::new(response.error().as_ref()))
        }
        RequestTokenError::Request(error) => http_failure(error),
        RequestTokenError::Parse(..) | RequestTokenError::Other(_) => Upstream::Malformed,
    }
}

fn http_failure(error: &HttpClientError<reqwest::Error>) -> Upstream {
    match error {
        HttpClientError::Reqwest(error) => reqwest_failure(error),
        HttpClientError::Io(_) => Upstream::Broken,
        _ => Upstream::Malformed,
    }
}

fn reqwest_failure(error: &reqwest::Error) -> Upstream {
    if error.is_timeout() {
        Upstream::Timeout
    } else if error.is_connect() {
        Upstream::Unreachable
    } else if let Some(status) = error.status() {
        Upstream::Status(status.as_u16())
    } else {
        Upstream::Broken
    }
}

/// The provider once discovery has succeeded, `None` until then.
pub(crate) struct ProviderHandle(watch::Receiver<Option<Arc<Provider>>>);

impl ProviderHandle {
    /// Starts discovery in a task that retries with a growing delay, so the
    /// app starts and serves guests while the provider is down.
    pub fn discover_in_background(settings: AuthSettings, http: ProviderHttp) -> Self {
        let (sender, receiver) = watch::channel(None);
        tokio::spawn(async move {
            let mut delay = Duration::from_secs(1);
            loop {
                match Provider::discover(&settings, &http).await {
                    Ok(provider) => {
                        tracing::info!(issuer = %settings.issuer.as_str(), "identity provider discovered");
                        sender.send_replace(Some(Arc::new(provider)));
                        return;
                    }
                    Err(reason) => {
                        tracing::warn!(
                            issuer = %settings.issuer.as_str(),
                            %reason,
                            retry_in_seconds = delay.as_secs(),
                            "identity provider unreachable or invalid; sign-in is unavailable until it answers"
                        );
                    }
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        });
        Self(receiver)
    }

    pub fn get(&self) -> Option<Arc<Provider>> {
        self.0.borrow().clone()
    }

    pub async fn ready(&self) {
        let mut receiver = self.0.clone();
        // An error means the discovery task ended without a provider: nothing to wait for.
        let _ = receiver.wait_for(Option::is_some).await;
    }
}

/// An error and its causes on one line, for errors about public material
/// (the discovery document, the key set): `openidconnect` puts the useful
/// part (connection refused, bad JSON) in the source chain.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Revokes a refresh token at the provider, if there is one to revoke. A
/// failure is logged, not returned: the session is over either way, and an
/// unrevoked token still expires. False only when the provider was asked
/// and did not confirm (or could not be asked).
pub(crate) async fn revoke_quietly(auth: &Auth, refresh_token: Option<&RefreshToken>) -> bool {
    let Some(refresh_token) = refresh_token else {
        return true;
    };
    let Ok(provider) = auth.provider() else {
        return false;
    };
    match provider.revoke(auth.http(), refresh_token).await {
        Ok(true) => {
            tracing::debug!("refresh token revoked");
            true
        }
        // The provider has no revocation endpoint: nothing more to do.
        Ok(false) => true,
        Err(failure) => {
            tracing::warn!(%failure, "token revocation failed");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> url::Url {
        url::Url::parse(text).expect("url")
    }

    #[test]
    fn endpoints_must_be_https_and_authgear_s_on_its_own_origin() {
        let check = |issuer: &str, authgear: bool, endpoint: &str| {
            check_endpoints(&url(issuer), authgear, [("token_endpoint", &url(endpoint))])
        };
        let authgear = "https://myapp.authgear.cloud";
        assert!(check(authgear, true, "https://myapp.authgear.cloud/oauth2/token").is_ok());
        for elsewhere in [
            "https://evil.example/token",
            "https://other.authgear.cloud/oauth2/token",
            "https://myapp.authgear.cloud:8443/oauth2/token",
            "http://myapp.authgear.cloud/oauth2/token",
        ] {
            let refused = check(authgear, true, elsewhere).expect_err(elsewhere);
            assert!(refused.contains("token_endpoint"), "{refused}");
        }
        // Another provider may keep its endpoints on other hosts, over https.
        assert!(check(
            "https://idp.example",
            false,
            "https://api.idp.example/token"
        )
        .is_ok());
        assert!(check("https://idp.example", false, "http://api.idp.example/token").is_err());
        // Plain http only from this machine to this machine.
        assert!(check(
            "http://127.0.0.1:4000",
            false,
            "http://127.0.0.1:4000/token"
        )
        .is_ok());
        assert!(check("http://localhost:4000", false, "http://[::1]:4001/token").is_ok());
        assert!(check("http://127.0.0.1:4000", false, "http://evil.example/token").is_err());
        assert!(check("https://idp.example", false, "http://127.0.0.1/token").is_err());
    }
}
