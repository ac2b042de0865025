//! The identity provider as this app knows it: discovered once, in the
//! background, and retried until it answers.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod, CoreGrantType,
    CoreIdTokenVerifier, CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType,
    CoreSubjectIdentifierType,
};
use openidconnect::{
    reqwest, AdditionalProviderMetadata, ClaimsVerificationError, EndSessionUrl, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, JsonWebKeySetUrl, LogoutProviderMetadata, ProviderMetadata,
    RedirectUrl, RevocationUrl, SignatureVerificationError,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::AuthSettings;

/// The client as discovery leaves it: an authorization endpoint for sure, a
/// token and userinfo endpoint if the provider lists them.
pub type OidcClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Discovery fields that `openidconnect`'s core metadata leaves out.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RevocationMetadata {
    #[serde(default)]
    pub revocation_endpoint: Option<RevocationUrl>,
}
impl AdditionalProviderMetadata for RevocationMetadata {}

type Metadata = ProviderMetadata<
    LogoutProviderMetadata<RevocationMetadata>,
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

/// A discovered provider.
pub struct Provider {
    pub client: OidcClient,
    pub end_session: Option<EndSessionUrl>,
    pub revocation: Option<RevocationUrl>,
    settings: AuthSettings,
    jwks_uri: JsonWebKeySetUrl,
    /// The provider's signing keys, refetched when it signs with a new one.
    jwks: RwLock<CoreJsonWebKeySet>,
    last_jwks_refetch: Mutex<Option<Instant>>,
}

impl Provider {
    pub async fn discover(settings: &AuthSettings, http: &reqwest::Client) -> Result<Self, String> {
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
            revocation: extra.additional_metadata.revocation_endpoint,
            settings: settings.clone(),
            jwks_uri,
            jwks: RwLock::new(jwks),
            last_jwks_refetch: Mutex::new(None),
        })
    }

    /// Runs `check` on an ID token with a verifier of signature, issuer,
    /// audience and expiry. If the token is signed with a key we do not know,
    /// the provider may have rotated its keys: fetch them again (rate-limited)
    /// and check once more.
    pub async fn verify<T>(
        &self,
        http: &reqwest::Client,
        check: impl Fn(&CoreIdTokenVerifier<'static>) -> Result<T, ClaimsVerificationError>,
    ) -> Result<T, ClaimsVerificationError> {
        match check(&self.id_token_verifier()) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) if self.refetch_jwks(http).await => check(&self.id_token_verifier()),
            result => result,
        }
    }

    fn id_token_verifier(&self) -> CoreIdTokenVerifier<'static> {
        let jwks = self
            .jwks
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone();
        CoreIdTokenVerifier::new_confidential_client(
            self.settings.client_id.clone(),
            self.settings.client_secret.clone(),
            self.settings.issuer.clone(),
            jwks,
        )
        .set_allowed_algs(ALLOWED_ID_TOKEN_ALGS)
    }

    /// True if new keys were fetched.
    async fn refetch_jwks(&self, http: &reqwest::Client) -> bool {
        {
            let mut last = self
                .last_jwks_refetch
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            if last.is_some_and(|at| at.elapsed() < JWKS_REFETCH_INTERVAL) {
                tracing::info!("ID token signed with an unknown key; JWKS refetch is rate-limited");
                return false;
            }
            *last = Some(Instant::now());
        }
        match CoreJsonWebKeySet::fetch_async(&self.jwks_uri, http).await {
            Ok(jwks) => {
                tracing::info!(keys = jwks.keys().len(), "provider signing keys refetched");
                *self
                    .jwks
                    .write()
                    .unwrap_or_else(|poison| poison.into_inner()) = jwks;
                true
            }
            Err(error) => {
                tracing::warn!(reason = %error_chain(&error), "provider signing keys could not be refetched");
                false
            }
        }
    }
}

/// The provider once discovery has succeeded, `None` until then.
pub struct ProviderHandle(watch::Receiver<Option<Arc<Provider>>>);

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
                            "identity provider unreachable; sign-in is unavailable until it answers"
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

/// An error and its causes on one line: `openidconnect` puts the useful part
/// (connection refused, bad JSON) in the source chain.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
