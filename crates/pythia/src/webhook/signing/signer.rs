//! Signing outgoing webhooks.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::Signer as _;
use hmac::Mac;

use super::keys::{KeyError, SigningKey};

/// Signs webhooks with one or more keys, the Standard Webhooks way.
///
/// The signed content is `{id}.{timestamp}.{body}` and the result is the value of the
/// `webhook-signature` header: one `v1,<base64>` (HMAC-SHA256) or `v1a,<base64>` (Ed25519)
/// entry per key, separated by spaces, so that a receiver that knows any of the keys accepts
/// the webhook while a key is being rotated.
///
/// Cloning is cheap (the keys are shared), and each HMAC key schedule is computed once, when
/// the key is read.
///
/// ```
/// use pythia::webhook::Signer;
///
/// let signer = Signer::from_secrets(["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]).unwrap();
/// let body = br#"{"test": 2432232314}"#;
/// let signature = signer.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
/// assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
/// ```
#[derive(Clone, Debug, Default)]
pub struct Signer {
    keys: Arc<[SigningKey]>,
}

impl Signer {
    /// A signer with these keys, in order; the first is the current one by convention.
    pub fn new(keys: impl IntoIterator<Item = SigningKey>) -> Self {
        Signer {
            keys: keys.into_iter().collect(),
        }
    }

    /// A signer from key texts (`whsec_...` or `whsk_...`).
    pub fn from_secrets<I, S>(secrets: I) -> Result<Self, KeyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let keys = secrets
            .into_iter()
            .map(|text| SigningKey::parse(text.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Signer::new(keys))
    }

    /// Whether this signer has no key (its webhooks go out unsigned).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The `webhook-signature` value for one message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut out = String::with_capacity(self.signature_len());
        self.sign_into(id, timestamp, body, &mut out);
        out
    }

    /// The exact length of a `webhook-signature` value: `v1,` and 44 base64 characters per
    /// HMAC key, `v1a,` and 88 per Ed25519 key, spaces between. A `String` of exactly this
    /// capacity becomes a header value without another allocation.
    fn signature_len(&self) -> usize {
        let signatures: usize = self
            .keys
            .iter()
            .map(|key| match key {
                SigningKey::Hmac(_) => 3 + 44,
                SigningKey::Ed25519(_) => 4 + 88,
            })
            .sum();
        signatures + self.keys.len().saturating_sub(1)
    }

    /// Appends the `webhook-signature` value to `out`, reusing its allocation.
    pub fn sign_into(&self, id: &str, timestamp: i64, body: &[u8], out: &mut String) {
        let mut digits = [0u8; 20];
        let timestamp = format_timestamp(timestamp, &mut digits);
        for (index, key) in self.keys.iter().enumerate() {
            if index > 0 {
                out.push(' ');
            }
            match key {
                SigningKey::Hmac(secret) => {
                    let mut mac = secret.mac();
                    mac.update(id.as_bytes());
                    mac.update(b".");
                    mac.update(timestamp);
                    mac.update(b".");
                    mac.update(body);
                    out.push_str("v1,");
                    STANDARD.encode_string(mac.finalize().into_bytes(), out);
                }
                SigningKey::Ed25519(secret) => {
                    let content = signed_content(id, timestamp, body);
                    let signature = secret.signing_key().sign(&content);
                    out.push_str("v1a,");
                    STANDARD.encode_string(signature.to_bytes(), out);
                }
            }
        }
    }
}

/// `{id}.{timestamp}.{body}` in one buffer, for schemes that cannot stream their input.
pub(crate) fn signed_content(id: &str, timestamp: &[u8], body: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(id.len() + timestamp.len() + body.len() + 2);
    content.extend_from_slice(id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp);
    content.push(b'.');
    content.extend_from_slice(body);
    content
}

/// Formats a timestamp in decimal without allocating.
pub(crate) fn format_timestamp(timestamp: i64, buffer: &mut [u8; 20]) -> &[u8] {
    let negative = timestamp < 0;
    let mut value = timestamp.unsigned_abs();
    let mut start = buffer.len();
    loop {
        start -= 1;
        buffer[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    if negative {
        start -= 1;
        buffer[start] = b'-';
    }
    &buffer[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::signing::Ed25519SecretKey;

    #[test]
    fn first_standard_webhooks_vector_signs_as_published() {
        let signer = Signer::from_secrets(["whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"]).unwrap();
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;

        let signature = signer.sign("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1649367553, body);

        assert_eq!(signature, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    }

    #[test]
    fn second_standard_webhooks_vector_signs_as_published() {
        let signer = Signer::from_secrets(["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]).unwrap();
        let body = br#"{"test": 2432232314}"#;

        let signature = signer.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);

        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn several_keys_give_space_separated_signatures_in_key_order() {
        let ed = Ed25519SecretKey::generate();
        let signer = Signer::new([
            SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
            ed.into(),
        ]);

        let signature = signer.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b"{}");
        let parts: Vec<&str> = signature.split(' ').collect();

        assert_eq!(parts.len(), 2);
        assert_eq!(signature.len(), signer.signature_len());
        assert_eq!(signature.capacity(), signature.len());
        assert!(parts[0].starts_with("v1,"));
        assert!(parts[1].starts_with("v1a,"));
        assert_eq!(STANDARD.decode(&parts[1][4..]).unwrap().len(), 64);
    }

    #[test]
    fn timestamps_format_like_display() {
        let mut buffer = [0u8; 20];

        for value in [0, 7, 10, 1649367553, -42, i64::MAX, i64::MIN] {
            let text = format_timestamp(value, &mut buffer);

            assert_eq!(text, value.to_string().as_bytes());
        }
    }

    #[test]
    fn a_signer_without_keys_signs_nothing() {
        let signer = Signer::default();

        assert!(signer.is_empty());
        assert_eq!(signer.sign("msg_1", 1, b"x"), "");
    }
}
