//! Checking incoming webhooks, for services that receive them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::Mac;
use subtle::ConstantTimeEq;

use super::keys::{KeyError, VerifyingKey};
use super::signer::{format_timestamp, signed_content};
use super::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};

/// How far a `webhook-timestamp` may be from the receiver's clock by default: five minutes.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// Why a webhook failed verification. Messages never include a key or a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header is absent or not valid text.
    #[error("missing header `{0}`")]
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not an integer number of seconds.
    #[error("`webhook-timestamp` is not a unix time in seconds")]
    InvalidTimestamp,
    /// The timestamp is older than the tolerance allows (a replay, or a very late delivery).
    #[error("the webhook timestamp is {age_seconds}s old, beyond the tolerance")]
    TimestampTooOld {
        /// How far in the past the timestamp is, in seconds.
        age_seconds: u64,
    },
    /// The timestamp is further in the future than the tolerance allows.
    #[error("the webhook timestamp is {ahead_seconds}s in the future, beyond the tolerance")]
    TimestampInFuture {
        /// How far in the future the timestamp is, in seconds.
        ahead_seconds: u64,
    },
    /// `webhook-signature` holds no `v1,` or `v1a,` entry that could be read.
    #[error("`webhook-signature` holds no signature in a known format")]
    NoSignature,
    /// Signatures were present but none matched any key.
    #[error("no signature matches")]
    Mismatch,
}

impl VerifyError {
    /// Whether trying again could help: never, the same request fails the same way.
    pub fn is_retryable(&self) -> bool {
        false
    }

    /// A short label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            VerifyError::MissingHeader(_) => "missing_header",
            VerifyError::InvalidTimestamp => "invalid_timestamp",
            VerifyError::TimestampTooOld { .. } => "timestamp_too_old",
            VerifyError::TimestampInFuture { .. } => "timestamp_in_future",
            VerifyError::NoSignature => "no_signature",
            VerifyError::Mismatch => "mismatch",
        }
    }
}

/// Checks Standard Webhooks signatures on incoming requests.
///
/// It accepts a request when its timestamp is within the tolerance of the local clock and any
/// of its `v1` or `v1a` signatures matches any of the keys; unknown signature versions are
/// ignored. Signatures are compared in constant time.
///
/// ```
/// use pythia::webhook::{Signer, Verifier};
///
/// let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// let signer = Signer::from_secrets([secret]).unwrap();
/// let verifier = Verifier::from_secrets([secret]).unwrap();
/// let now = std::time::SystemTime::now()
///     .duration_since(std::time::UNIX_EPOCH)
///     .unwrap()
///     .as_secs() as i64;
///
/// let signature = signer.sign("msg_1", now, b"{}");
/// assert!(verifier.verify_parts("msg_1", &now.to_string(), &signature, b"{}").is_ok());
/// assert!(verifier.verify_parts("msg_1", &now.to_string(), &signature, b"{ }").is_err());
/// ```
#[derive(Clone, Debug)]
pub struct Verifier {
    keys: Vec<VerifyingKey>,
    tolerance: Duration,
}

impl Verifier {
    /// A verifier with these keys and the default tolerance of five minutes.
    pub fn new(keys: impl IntoIterator<Item = VerifyingKey>) -> Self {
        Verifier {
            keys: keys.into_iter().collect(),
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// A verifier from key texts: `whsec_`, `whpk_` or `whsk_`.
    pub fn from_secrets<I, S>(secrets: I) -> Result<Self, KeyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let keys = secrets
            .into_iter()
            .map(|text| VerifyingKey::parse(text.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Verifier::new(keys))
    }

    /// How far the timestamp may be from the local clock, either way. Default: five minutes.
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Checks a request's headers and exact body bytes against the current time.
    pub fn verify(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
        self.verify_at(headers, body, SystemTime::now())
    }

    /// Checks a request's headers and body as if the clock read `now`.
    pub fn verify_at(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        let header = |name: &'static str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .ok_or(VerifyError::MissingHeader(name))
        };
        let result = header(HEADER_ID).and_then(|id| {
            let timestamp = header(HEADER_TIMESTAMP)?;
            let signature = header(HEADER_SIGNATURE)?;
            self.check(id, timestamp, signature, body, now)
        });
        count(&result);
        result
    }

    /// Checks the three header values and the body against the current time.
    pub fn verify_parts(
        &self,
        id: &str,
        timestamp: &str,
        signature: &str,
        body: &[u8],
    ) -> Result<(), VerifyError> {
        let result = self.check(id, timestamp, signature, body, SystemTime::now());
        count(&result);
        result
    }

    fn check(
        &self,
        id: &str,
        timestamp: &str,
        signature: &str,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        let seconds: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| VerifyError::InvalidTimestamp)?;
        self.check_freshness(seconds, now)?;

        let mut digits = [0u8; 20];
        let timestamp = format_timestamp(seconds, &mut digits);
        let mut content: Option<Vec<u8>> = None;
        let mut any = false;
        for entry in signature.split_ascii_whitespace() {
            let Some((version, encoded)) = entry.split_once(',') else {
                continue;
            };
            let Ok(given) = STANDARD.decode(encoded) else {
                continue;
            };
            match version {
                "v1" => {
                    any = true;
                    if self.matches_hmac(id, timestamp, body, &given) {
                        return Ok(());
                    }
                }
                "v1a" => {
                    any = true;
                    let Ok(given) = ed25519_dalek::Signature::from_slice(&given) else {
                        continue;
                    };
                    let content =
                        content.get_or_insert_with(|| signed_content(id, timestamp, body));
                    if self.matches_ed25519(content, &given) {
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
        Err(if any {
            VerifyError::Mismatch
        } else {
            VerifyError::NoSignature
        })
    }

    fn check_freshness(&self, seconds: i64, now: SystemTime) -> Result<(), VerifyError> {
        let now = match now.duration_since(UNIX_EPOCH) {
            Ok(since) => since.as_secs() as i64,
            Err(_) => 0,
        };
        let tolerance = self.tolerance.as_secs() as i64;
        let difference = now.saturating_sub(seconds);
        if difference > tolerance {
            return Err(VerifyError::TimestampTooOld {
                age_seconds: difference.unsigned_abs(),
            });
        }
        if difference < -tolerance {
            return Err(VerifyError::TimestampInFuture {
                ahead_seconds: difference.unsigned_abs(),
            });
        }
        Ok(())
    }

    fn matches_hmac(&self, id: &str, timestamp: &[u8], body: &[u8], given: &[u8]) -> bool {
        self.keys.iter().any(|key| match key {
            VerifyingKey::Hmac(secret) => {
                let mut mac = secret.mac();
                mac.update(id.as_bytes());
                mac.update(b".");
                mac.update(timestamp);
                mac.update(b".");
                mac.update(body);
                let expected = mac.finalize().into_bytes();
                bool::from(expected.as_slice().ct_eq(given))
            }
            VerifyingKey::Ed25519(_) => false,
        })
    }

    fn matches_ed25519(&self, content: &[u8], given: &ed25519_dalek::Signature) -> bool {
        self.keys.iter().any(|key| match key {
            VerifyingKey::Ed25519(public) => {
                public.verifying_key().verify_strict(content, given).is_ok()
            }
            VerifyingKey::Hmac(_) => false,
        })
    }
}

fn count(result: &Result<(), VerifyError>) {
    let outcome = match result {
        Ok(()) => "verified",
        Err(error) => error.reason(),
    };
    metrics::counter!("pythia_webhook_verifications_total", "outcome" => outcome).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::signing::{Ed25519SecretKey, Signer, SigningKey};

    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const TIMESTAMP: i64 = 1649367553;
    const BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;

    fn at(seconds: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds as u64)
    }

    fn headers(signature: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(HEADER_ID, ID.parse().unwrap());
        headers.insert(HEADER_TIMESTAMP, TIMESTAMP.to_string().parse().unwrap());
        headers.insert(HEADER_SIGNATURE, signature.parse().unwrap());
        headers
    }

    #[test]
    fn the_published_vector_verifies() {
        let verifier = Verifier::from_secrets([SECRET]).unwrap();
        let headers = headers("v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");

        let result = verifier.verify_at(&headers, BODY, at(TIMESTAMP + 10));

        assert_eq!(result, Ok(()));
    }

    #[test]
    fn any_matching_entry_among_several_is_enough() {
        let verifier = Verifier::from_secrets([SECRET]).unwrap();
        let headers = headers(
            "v2,abc v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
             v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
        );

        let result = verifier.verify_at(&headers, BODY, at(TIMESTAMP));

        assert_eq!(result, Ok(()));
    }

    #[test]
    fn timestamps_outside_the_tolerance_are_refused_both_ways() {
        let verifier = Verifier::from_secrets([SECRET])
            .unwrap()
            .tolerance(Duration::from_secs(60));
        let headers = headers("v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");

        let late = verifier.verify_at(&headers, BODY, at(TIMESTAMP + 61));
        let early = verifier.verify_at(&headers, BODY, at(TIMESTAMP - 61));
        let edge = verifier.verify_at(&headers, BODY, at(TIMESTAMP + 60));

        assert_eq!(late, Err(VerifyError::TimestampTooOld { age_seconds: 61 }));
        assert_eq!(
            early,
            Err(VerifyError::TimestampInFuture { ahead_seconds: 61 })
        );
        assert_eq!(edge, Ok(()));
    }

    #[test]
    fn missing_and_malformed_headers_get_their_own_errors() {
        let verifier = Verifier::from_secrets([SECRET]).unwrap();
        let mut no_id = headers("v1,x");
        no_id.remove(HEADER_ID);
        let mut bad_time = headers("v1,x");
        bad_time.insert(HEADER_TIMESTAMP, "yesterday".parse().unwrap());

        let missing = verifier.verify_at(&no_id, BODY, at(TIMESTAMP));
        let invalid = verifier.verify_at(&bad_time, BODY, at(TIMESTAMP));
        let unknown = verifier.verify_at(&headers("v9,abc nonsense"), BODY, at(TIMESTAMP));

        assert_eq!(missing, Err(VerifyError::MissingHeader("webhook-id")));
        assert_eq!(invalid, Err(VerifyError::InvalidTimestamp));
        assert_eq!(unknown, Err(VerifyError::NoSignature));
    }

    #[test]
    fn ed25519_signatures_verify_with_the_public_key_only() {
        let secret = Ed25519SecretKey::generate();
        let signer = Signer::new([SigningKey::from(secret.clone())]);
        let verifier = Verifier::from_secrets([secret.public_key().to_text()]).unwrap();
        let stranger = Verifier::from_secrets([Ed25519SecretKey::generate().to_text()]).unwrap();

        let signature = signer.sign(ID, TIMESTAMP, BODY);

        assert_eq!(
            verifier.verify_at(&headers(&signature), BODY, at(TIMESTAMP)),
            Ok(())
        );
        assert_eq!(
            verifier.verify_at(&headers(&signature), b"{}", at(TIMESTAMP)),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            stranger.verify_at(&headers(&signature), BODY, at(TIMESTAMP)),
            Err(VerifyError::Mismatch)
        );
    }
}
