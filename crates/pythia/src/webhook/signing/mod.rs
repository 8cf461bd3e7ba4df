//! Standard Webhooks signatures: signing what we send, verifying what we receive.
//!
//! Every webhook carries three headers:
//!
//! | header | value |
//! | --- | --- |
//! | `webhook-id` | the message id, the same on every retry, for the receiver to deduplicate |
//! | `webhook-timestamp` | seconds since the unix epoch when the attempt was signed |
//! | `webhook-signature` | space-separated `v1,<base64 HMAC-SHA256>` and `v1a,<base64 Ed25519>` |
//!
//! The signed content is `{id}.{timestamp}.{body}`, where the body is exactly the bytes sent.
//! [`Signer`] produces the signature header; [`Verifier`] checks it on the receiving side.

mod keys;
mod signer;
mod verify;

pub use keys::{
    Ed25519PublicKey, Ed25519SecretKey, HmacSecret, KeyError, SigningKey, VerifyingKey,
};
pub use signer::Signer;
pub use verify::{Verifier, VerifyError, DEFAULT_TOLERANCE};

/// The `webhook-id` header name.
pub const HEADER_ID: &str = "webhook-id";
/// The `webhook-timestamp` header name.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// The `webhook-signature` header name.
pub const HEADER_SIGNATURE: &str = "webhook-signature";
