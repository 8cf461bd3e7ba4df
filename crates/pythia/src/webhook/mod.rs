//! Sending webhooks: Standard Webhooks signatures, per-endpoint retries, circuit breakers, rate
//! and concurrency limits, and broadcast to many endpoints at once.
//!
//! - [`WebhookConfig`] says where webhooks go (named endpoints under a base URL, or absolute
//!   URLs), how they are signed, and how hard to try; [`EndpointConfig`] overrides any of it
//!   for one endpoint.
//! - [`WebhookSender`] sends: [`send`](WebhookSender::send) one webhook with in-memory
//!   retries, [`send_from_message`](WebhookSender::send_from_message),
//!   [`broadcast`](WebhookSender::broadcast) to many endpoints, and
//!   [`attempt`](WebhookSender::attempt), a single attempt for the durable outbox dispatcher.
//! - Each [`Endpoint`] has its own circuit breaker, rate limiter and concurrency limit, so a
//!   slow or dead endpoint never delays the others. Redirects are never followed, and a
//!   `410 Gone` disables the endpoint.
//! - The [`signing`] module holds [`Signer`] and, for services that *receive* webhooks,
//!   [`Verifier`].
//!
//! Payloads and secrets never reach a log line, an error message or a `Debug` output. The
//! metrics are listed below.
//!
//! | metric | kind | labels |
//! | --- | --- | --- |
//! | `pythia_webhook_attempts_total` | counter | `endpoint`, `outcome` |
//! | `pythia_webhook_attempt_duration_seconds` | histogram | `endpoint` |
//! | `pythia_webhook_deliveries_total` | counter | `endpoint`, `outcome` |
//! | `pythia_webhook_delivery_duration_seconds` | histogram | `endpoint` |
//! | `pythia_webhook_breaker_state` | gauge | `endpoint` (0 closed, 1 open, 2 half-open) |
//! | `pythia_webhook_endpoint_disabled` | gauge | `endpoint` (1 after a `410 Gone`) |
//! | `pythia_webhook_endpoints_disabled_total` | counter | `endpoint` |
//! | `pythia_webhook_verifications_total` | counter | `outcome` |

mod attempt;
mod broadcast;
mod config;
mod deliver;
pub mod dispatch;
mod endpoint;
mod metrics;
mod outcome;
mod payload;
mod schedule;
mod sender;
pub mod signing;
mod transport;

pub use attempt::{AttemptRequest, AttemptResult};
pub use config::{EndpointConfig, WebhookConfig, WebhookConfigBuilder, WebhookConfigError};
pub use endpoint::Endpoint;
pub use outcome::{BroadcastOutcome, ErrorClass, Outcome};
pub use payload::Payload;
pub use schedule::{DeliverySchedule, DEFAULT_DELAYS};
pub use sender::{SenderError, WebhookSender};
pub use signing::{
    Ed25519PublicKey, Ed25519SecretKey, HmacSecret, KeyError, Signer, SigningKey, Verifier,
    VerifyError, VerifyingKey,
};
