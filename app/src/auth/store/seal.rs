//! What the store holds of a session is worth nothing to someone who reads
//! it (a backup, a replica, a leaked dump): records are filed under a hash
//! of the session id, never the id the cookie carries, and sealed with
//! AES-256-GCM under a key derived from `APP_SECRET_KEY`.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store;

/// Bytes of the nonce that starts every sealed record.
const NONCE_LEN: usize = 12;

/// Seals and opens records, and names them in the store.
#[derive(Clone)]
pub(crate) struct Seal(Aes256Gcm);

impl std::fmt::Debug for Seal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seal(…)")
    }
}

impl Seal {
    /// A seal whose key is derived from `secret` for this use alone: the
    /// same secret encrypts the sign-in cookies under another derived key.
    pub fn derived_from(secret: &[u8]) -> Self {
        let key = <Hmac<Sha256> as Mac>::new_from_slice(secret)
            .map(|mac| mac.chain_update(b"authgear-leptos session store v1"))
            .map(|mac| mac.finalize().into_bytes())
            .unwrap_or_default();
        Self(Aes256Gcm::new(&key))
    }

    /// A seal with a random key, for a store no one configured: what it
    /// writes is unreadable after a restart, never readable by others.
    pub fn random() -> Self {
        Self(Aes256Gcm::new(&Aes256Gcm::generate_key(&mut OsRng)))
    }

    /// Where session `id` is filed: its SHA-256, so that the store never
    /// holds the value a cookie carries.
    pub fn key_of(id: &Id) -> String {
        hex::encode(Sha256::digest(id.to_string().as_bytes()))
    }

    /// `plain`, encrypted and authenticated, as text.
    pub fn seal(&self, plain: &[u8]) -> Option<String> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self.0.encrypt(&nonce, plain).ok()?;
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        Some(STANDARD_NO_PAD.encode(bytes))
    }

    /// What [`Self::seal`] sealed; `None` for anything else (a record sealed
    /// under another key, altered, or written in the clear).
    pub fn open(&self, sealed: &str) -> Option<Vec<u8>> {
        let bytes = STANDARD_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        self.0.decrypt(Nonce::from_slice(nonce), sealed).ok()
    }
}

impl Seal {
    /// `record` as the backends keep it.
    pub fn record(&self, record: &Record) -> session_store::Result<Sealed> {
        let text = serde_json::to_vec(record)
            .ok()
            .and_then(|plain| self.seal(&plain))
            .ok_or_else(|| {
                session_store::Error::Encode("the session record could not be sealed".into())
            })?;
        Ok(Sealed {
            key: Self::key_of(&record.id),
            text,
            expires_at: record.expiry_date,
        })
    }

    /// The record sealed as `text`. Neither the decoder's message nor the
    /// text is kept: they may quote the record.
    pub fn open_record(&self, text: &str) -> session_store::Result<Record> {
        self.open(text)
            .and_then(|plain| serde_json::from_slice(&plain).ok())
            .ok_or_else(|| {
                session_store::Error::Decode("the stored session record is unreadable".into())
            })
    }
}

/// A record as the backends keep it: filed under a hash of its session id,
/// sealed.
pub(crate) struct Sealed {
    pub key: String,
    pub text: String,
    pub expires_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_key_opens_what_it_sealed() {
        let seal = Seal::derived_from(b"test-key-0123456789abcdef0123456789abcdef");
        let sealed = seal.seal(b"REFRESH-TOKEN").expect("sealed");
        assert!(!sealed.contains("REFRESH"), "{sealed}");
        assert_ne!(
            seal.seal(b"REFRESH-TOKEN"),
            Some(sealed.clone()),
            "a fresh nonce each time"
        );
        assert_eq!(seal.open(&sealed).as_deref(), Some(&b"REFRESH-TOKEN"[..]));

        let other = Seal::derived_from(b"another-key-0123456789abcdef012345678");
        assert_eq!(other.open(&sealed), None, "another key");
        let mut altered = STANDARD_NO_PAD.decode(&sealed).expect("base64");
        if let Some(last) = altered.last_mut() {
            *last ^= 1;
        }
        assert_eq!(seal.open(&STANDARD_NO_PAD.encode(altered)), None, "altered");
        assert_eq!(seal.open("{\"id\": 1}"), None, "in the clear");
    }

    #[test]
    fn a_session_is_filed_under_a_hash_of_its_id() {
        let id = Id::default();
        let key = Seal::key_of(&id);
        assert_eq!(key.len(), 64);
        assert!(!key.contains(&id.to_string()));
        assert_eq!(key, Seal::key_of(&id), "the same id, the same key");
    }
}
