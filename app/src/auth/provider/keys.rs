//! The provider's signing keys and the checks of every ID token against
//! them: asymmetric algorithms only, the key's own use and type, and a
//! rate-limited refetch when a token names a key not seen yet.

use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKey, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
};
use openidconnect::{ClaimsVerificationError, JsonWebKey, SignatureVerificationError};

use super::http::{error_chain, ProviderHttp};
use super::Provider;
use serde::Deserialize;

use crate::auth::error::IdTokenProblem;

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

/// The provider's signing keys, and how many times they have been fetched.
pub(super) struct Keys {
    pub(super) set: CoreJsonWebKeySet,
    pub(super) generation: u64,
}

impl Provider {
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
        match http
            .timed("jwks", CoreJsonWebKeySet::fetch_async(&self.jwks_uri, http))
            .await
        {
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
