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
    CoreErrorResponseType, CoreGenderClaim, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode,
    CoreResponseType, CoreSubjectIdentifierType, CoreTokenResponse,
};
use openidconnect::{
    reqwest, AccessToken, AdditionalProviderMetadata, AuthorizationCode, EndSessionUrl,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpClientError, JsonWebKeySetUrl,
    LogoutProviderMetadata, PkceCodeVerifier, ProviderMetadata, RedirectUrl, RefreshToken,
    RequestTokenError, RevocationUrl, StandardErrorResponse, SubjectIdentifier, UserInfoError,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

mod http;
mod keys;

use super::error::{OAuthCode, Upstream};
use super::{Auth, AuthSettings};
use http::{check_endpoints, error_chain, http_failure, reqwest_failure, DiscoveryHttp};
use keys::Keys;

pub(crate) use http::ProviderHttp;
pub(crate) use keys::verified_payload;

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

type TokenError = RequestTokenError<
    HttpClientError<reqwest::Error>,
    StandardErrorResponse<CoreErrorResponseType>,
>;

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
        let metadata = http
            .timed(
                "discovery",
                Metadata::discover_async(settings.issuer.clone(), &guarded),
            )
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
        let request = self
            .client
            .exchange_code(code)
            .map_err(|_| Upstream::Malformed)?
            .set_pkce_verifier(pkce_verifier);
        http.timed("token", request.request_async(http))
            .await
            .map_err(|error| token_failure(&error))
    }

    /// Spends a refresh token for new tokens.
    pub async fn refresh(
        &self,
        http: &ProviderHttp,
        refresh_token: &RefreshToken,
    ) -> Result<CoreTokenResponse, Upstream> {
        let request = self
            .client
            .exchange_refresh_token(refresh_token)
            .map_err(|_| Upstream::Malformed)?;
        http.timed("token", request.request_async(http))
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
        let request = self
            .client
            .user_info(access_token.clone(), subject)
            .map_err(|_| Upstream::Malformed)?;
        http.timed("userinfo", request.request_async(http))
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
        let request = http
            .client()
            .post(url.url().clone())
            // RFC 6749 §2.3.1: credentials are form-encoded before Basic encoding.
            .basic_auth(
                encode(self.settings.client_id.as_str()),
                Some(encode(self.settings.client_secret.secret())),
            )
            .form(&[
                ("token", refresh_token.secret().as_str()),
                ("token_type_hint", "refresh_token"),
            ]);
        let response = http
            .timed("revocation", request.send())
            .await
            .map_err(|error| reqwest_failure(&error))?;
        if response.status().is_success() {
            Ok(true)
        } else {
            Err(Upstream::Status(response.status().as_u16()))
        }
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
