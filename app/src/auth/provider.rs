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
use super::AuthSettings;

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
    /// Held while the keys are refetched, so that every login that meets a
    /// new key waits for the one download; holds when the last one started.
    refetch: tokio::sync::Mutex<Option<Instant>>,
}

impl Provider {
    async fn discover(settings: &AuthSettings, http: &reqwest::Client) -> Result<Self, String> {
        // The discovery document is public: its errors may be logged as they are.
        let metadata = Metadata::discover_async(settings.issuer.clone(), http)
            .await
            .map_err(|error| error_chain(&error))?;
        let extra = metadata.additional_metadata().clone();
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
        http: &reqwest::Client,
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
        http: &reqwest::Client,
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
        http: &reqwest::Client,
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
        http: &reqwest::Client,
        refresh_token: &RefreshToken,
    ) -> Result<bool, Upstream> {
        let Some(url) = &self.revocation else {
            return Ok(false);
        };
        let encode = |value: &str| {
            url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
        };
        let response = http
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
    /// the logins that meet the new key, and rate-limited) and check once more.
    pub async fn verify<T>(
        &self,
        http: &reqwest::Client,
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
        http: &reqwest::Client,
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
        http: &reqwest::Client,
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
    /// login while this one waited.
    async fn refetch_jwks(&self, http: &reqwest::Client, seen: u64) -> bool {
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
    pub fn discover_in_background(settings: AuthSettings, http: reqwest::Client) -> Self {
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
