//! Sending webhooks: Standard Webhooks signatures, per-endpoint retries, circuit breakers, rate
//! and concurrency limits, and broadcast to many endpoints at once.
//!
//! The [`signing`] module is also what a service that *receives* webhooks needs: see
//! [`Verifier`].

mod attempt;
pub mod signing;

pub use attempt::{AttemptRequest, AttemptResult};
pub use signing::{
    Ed25519PublicKey, Ed25519SecretKey, HmacSecret, KeyError, Signer, SigningKey, Verifier,
    VerifyError, VerifyingKey,
};
