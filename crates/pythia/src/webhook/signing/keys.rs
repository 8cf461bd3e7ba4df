//! Signing and verifying keys in their Standard Webhooks text forms.
//!
//! | prefix | what | scheme |
//! | --- | --- | --- |
//! | `whsec_` | a shared secret, base64 | `v1`, HMAC-SHA256 |
//! | `whsk_` | an Ed25519 secret key (32-byte seed, or seed and public key), base64 | `v1a` |
//! | `whpk_` | an Ed25519 public key (32 bytes), base64 | `v1a`, verify only |

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The HMAC-SHA256 state with the key already absorbed.
pub(crate) type HmacSha256 = Hmac<Sha256>;

const HMAC_PREFIX: &str = "whsec_";
const ED25519_SECRET_PREFIX: &str = "whsk_";
const ED25519_PUBLIC_PREFIX: &str = "whpk_";

/// Why a secret or key could not be read. The message never contains the key itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key text is empty.
    #[error("the signing key is empty")]
    Empty,
    /// The text after the prefix is not valid base64.
    #[error("the signing key is not valid base64 after its `{prefix}` prefix")]
    Base64 {
        /// The prefix the key starts with (`whsec_`, `whsk_` or `whpk_`).
        prefix: &'static str,
    },
    /// The decoded key has the wrong length for its scheme.
    #[error("the `{prefix}` key decodes to {actual} bytes, expected {expected}")]
    Length {
        /// The prefix the key starts with.
        prefix: &'static str,
        /// The number of bytes decoded.
        actual: usize,
        /// The accepted length(s), in words.
        expected: &'static str,
    },
    /// An Ed25519 secret key whose public half does not match its seed.
    #[error("the `whsk_` key's public half does not match its secret half")]
    Mismatch,
    /// A public key given where a signing key is needed.
    #[error("a `whpk_` public key can verify but not sign")]
    PublicKeyCannotSign,
}

impl KeyError {
    /// Whether trying again could help: never, the key text must change.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

fn decode(prefix: &'static str, text: &str) -> Result<Vec<u8>, KeyError> {
    let decoded = STANDARD
        .decode(text.trim())
        .map_err(|_| KeyError::Base64 { prefix })?;
    if decoded.is_empty() {
        return Err(KeyError::Empty);
    }
    Ok(decoded)
}

/// A `v1` shared secret (`whsec_...`), with the HMAC key schedule computed once.
///
/// Its `Debug` output never shows the secret.
#[derive(Clone)]
pub struct HmacSecret {
    mac: HmacSha256,
}

impl HmacSecret {
    /// Reads a `whsec_` secret. Text without the prefix is taken as the base64 key itself, as
    /// other Standard Webhooks libraries do.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(KeyError::Empty);
        }
        let encoded = text.strip_prefix(HMAC_PREFIX).unwrap_or(text);
        let key = decode(HMAC_PREFIX, encoded)?;
        Ok(Self::from_bytes(&key))
    }

    /// A secret from raw key bytes.
    pub fn from_bytes(key: &[u8]) -> Self {
        // HMAC accepts keys of any length, so this cannot fail.
        let mac = HmacSha256::new_from_slice(key).expect("hmac takes keys of any length");
        HmacSecret { mac }
    }

    /// A fresh random 24-byte secret, for tests and for operators creating endpoints.
    pub fn generate() -> Self {
        let key: [u8; 24] = rand::random();
        Self::from_bytes(&key)
    }

    /// The HMAC state with the key absorbed, ready for `update` calls.
    pub(crate) fn mac(&self) -> HmacSha256 {
        self.mac.clone()
    }
}

impl fmt::Debug for HmacSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HmacSecret(whsec_<redacted>)")
    }
}

/// A `v1a` Ed25519 secret key (`whsk_...`).
///
/// Its `Debug` output never shows the key.
#[derive(Clone)]
pub struct Ed25519SecretKey {
    key: ed25519_dalek::SigningKey,
}

impl Ed25519SecretKey {
    /// Reads a `whsk_` key: base64 of the 32-byte seed, or of the seed followed by the 32-byte
    /// public key (which must match).
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(KeyError::Empty);
        }
        let encoded = text.strip_prefix(ED25519_SECRET_PREFIX).unwrap_or(text);
        let bytes = decode(ED25519_SECRET_PREFIX, encoded)?;
        let seed: [u8; 32] = match bytes.len() {
            32 | 64 => bytes[..32].try_into().expect("checked length"),
            actual => {
                return Err(KeyError::Length {
                    prefix: ED25519_SECRET_PREFIX,
                    actual,
                    expected: "32 or 64",
                })
            }
        };
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        if bytes.len() == 64 && key.verifying_key().as_bytes()[..] != bytes[32..] {
            return Err(KeyError::Mismatch);
        }
        Ok(Ed25519SecretKey { key })
    }

    /// A fresh random key pair.
    pub fn generate() -> Self {
        let seed: [u8; 32] = rand::random();
        Ed25519SecretKey {
            key: ed25519_dalek::SigningKey::from_bytes(&seed),
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> Ed25519PublicKey {
        Ed25519PublicKey {
            key: self.key.verifying_key(),
        }
    }

    /// The key in `whsk_` form (seed only). Handle with care: this is the secret.
    pub fn to_text(&self) -> String {
        format!(
            "{ED25519_SECRET_PREFIX}{}",
            STANDARD.encode(self.key.to_bytes())
        )
    }

    pub(crate) fn signing_key(&self) -> &ed25519_dalek::SigningKey {
        &self.key
    }
}

impl fmt::Debug for Ed25519SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ed25519SecretKey(whsk_<redacted>)")
    }
}

/// A `v1a` Ed25519 public key (`whpk_...`), for receivers.
#[derive(Clone, PartialEq, Eq)]
pub struct Ed25519PublicKey {
    key: ed25519_dalek::VerifyingKey,
}

impl Ed25519PublicKey {
    /// Reads a `whpk_` key: base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(KeyError::Empty);
        }
        let encoded = text.strip_prefix(ED25519_PUBLIC_PREFIX).unwrap_or(text);
        let bytes = decode(ED25519_PUBLIC_PREFIX, encoded)?;
        let array: [u8; 32] = bytes.as_slice().try_into().map_err(|_| KeyError::Length {
            prefix: ED25519_PUBLIC_PREFIX,
            actual: bytes.len(),
            expected: "32",
        })?;
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(&array).map_err(|_| KeyError::Length {
                prefix: ED25519_PUBLIC_PREFIX,
                actual: 32,
                expected: "32 bytes forming a curve point",
            })?;
        Ok(Ed25519PublicKey { key })
    }

    /// The key in `whpk_` form; public keys may be shown and shared.
    pub fn to_text(&self) -> String {
        format!(
            "{ED25519_PUBLIC_PREFIX}{}",
            STANDARD.encode(self.key.as_bytes())
        )
    }

    pub(crate) fn verifying_key(&self) -> &ed25519_dalek::VerifyingKey {
        &self.key
    }
}

impl fmt::Debug for Ed25519PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519PublicKey({})", self.to_text())
    }
}

/// A key that signs outgoing webhooks: `v1` (HMAC) or `v1a` (Ed25519).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum SigningKey {
    /// A shared `whsec_` secret, signs `v1`.
    Hmac(HmacSecret),
    /// An Ed25519 `whsk_` key, signs `v1a`.
    Ed25519(Ed25519SecretKey),
}

impl SigningKey {
    /// Reads a `whsec_` or `whsk_` key; text with neither prefix is taken as a base64 HMAC
    /// secret.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.starts_with(ED25519_SECRET_PREFIX) {
            Ed25519SecretKey::parse(text).map(SigningKey::Ed25519)
        } else if text.starts_with(ED25519_PUBLIC_PREFIX) {
            Err(KeyError::PublicKeyCannotSign)
        } else {
            HmacSecret::parse(text).map(SigningKey::Hmac)
        }
    }
}

impl From<HmacSecret> for SigningKey {
    fn from(secret: HmacSecret) -> Self {
        SigningKey::Hmac(secret)
    }
}

impl From<Ed25519SecretKey> for SigningKey {
    fn from(key: Ed25519SecretKey) -> Self {
        SigningKey::Ed25519(key)
    }
}

/// A key that checks incoming webhooks.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum VerifyingKey {
    /// A shared `whsec_` secret, checks `v1`.
    Hmac(HmacSecret),
    /// An Ed25519 public key, checks `v1a`.
    Ed25519(Ed25519PublicKey),
}

impl VerifyingKey {
    /// Reads a `whsec_`, `whpk_` or `whsk_` key (a secret key verifies with its public half);
    /// text with no prefix is taken as a base64 HMAC secret.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.starts_with(ED25519_PUBLIC_PREFIX) {
            Ed25519PublicKey::parse(text).map(VerifyingKey::Ed25519)
        } else if text.starts_with(ED25519_SECRET_PREFIX) {
            Ed25519SecretKey::parse(text).map(|key| VerifyingKey::Ed25519(key.public_key()))
        } else {
            HmacSecret::parse(text).map(VerifyingKey::Hmac)
        }
    }
}

impl From<HmacSecret> for VerifyingKey {
    fn from(secret: HmacSecret) -> Self {
        VerifyingKey::Hmac(secret)
    }
}

impl From<Ed25519PublicKey> for VerifyingKey {
    fn from(key: Ed25519PublicKey) -> Self {
        VerifyingKey::Ed25519(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_secret() {
        let hmac = SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let ed = Ed25519SecretKey::generate();
        let text = ed.to_text();

        let shown = format!("{hmac:?} {ed:?} {:?}", SigningKey::from(ed.clone()));

        assert!(!shown.contains("MfKQ9r8"));
        assert!(!shown.contains(&text[5..]));
    }

    #[test]
    fn bad_keys_give_errors_without_the_key() {
        let base64 = HmacSecret::parse("whsec_not*base64").unwrap_err();
        let empty = HmacSecret::parse("whsec_").unwrap_err();
        let short = Ed25519SecretKey::parse("whsk_AAAA").unwrap_err();
        let public = SigningKey::parse("whpk_AAAA").unwrap_err();

        assert!(matches!(base64, KeyError::Base64 { .. }));
        assert!(!base64.to_string().contains("not*base64"));
        assert!(matches!(empty, KeyError::Base64 { .. } | KeyError::Empty));
        assert!(matches!(short, KeyError::Length { actual: 3, .. }));
        assert_eq!(public, KeyError::PublicKeyCannotSign);
    }

    #[test]
    fn ed25519_keys_round_trip_through_their_text_forms() {
        let secret = Ed25519SecretKey::generate();

        let again = Ed25519SecretKey::parse(&secret.to_text()).unwrap();
        let public = Ed25519PublicKey::parse(&secret.public_key().to_text()).unwrap();

        assert_eq!(again.public_key(), secret.public_key());
        assert_eq!(public, secret.public_key());
    }

    #[test]
    fn a_64_byte_ed25519_key_must_carry_its_own_public_half() {
        let secret = Ed25519SecretKey::generate();
        let mut bytes = secret.signing_key().to_keypair_bytes().to_vec();
        let good = format!("whsk_{}", STANDARD.encode(&bytes));
        bytes[40] ^= 1;
        let bad = format!("whsk_{}", STANDARD.encode(&bytes));

        assert!(Ed25519SecretKey::parse(&good).is_ok());
        assert_eq!(
            Ed25519SecretKey::parse(&bad).unwrap_err(),
            KeyError::Mismatch
        );
    }
}
