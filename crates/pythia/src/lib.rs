//! Pythia: HTTP workers that do not lose work.
//!
//! Scheduled API pollers that hand each response (or each item in it) to a handler; webhook
//! sending with Standard Webhooks signatures, retries, per-endpoint circuit breakers and
//! broadcast; a durable outbox so that nothing accepted is ever lost; and relays from brokers to
//! webhooks.
//!
//! # Parts
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`message`] | [`Message`], the unit of work, and its [`Body`] |
//! | [`http`] | [`HttpClient`]: pooling, timeouts, TLS, auth, body cap and the resilience pipeline |
//! | [`resilience`] | retry policies, circuit breakers, rate limits and retry budgets |
//! | [`runtime`] | the [`Worker`](runtime::Worker) trait and the [`Runtime`](runtime::Runtime) |
//! | [`poller`] | scheduled polling |
//! | [`webhook`] | signing, sending and broadcasting webhooks |
//! | [`outbox`] | the durable queue behind delivery |
//! | [`source`] | broker sources and the relay from a source to the outbox |
//!
//! # Cargo features
//!
//! | feature | default | what it enables |
//! | --- | --- | --- |
//! | `sqlite` | yes | the embedded SQLite outbox and poller state store |
//! | `redis` | no | Redis list and stream sources, the Redis outbox, shared poller leases |
//! | `nats` | no | the NATS JetStream source |
//! | `rabbitmq` | no | the RabbitMQ source |
//! | `brokers` | no | all three brokers |

pub mod http;
pub mod message;
pub mod outbox;
pub mod poller;
pub mod resilience;
pub mod runtime;
pub mod source;
pub mod webhook;

pub use message::{Body, Headers, Message, Metadata};

/// A boxed error, as returned by handlers and workers.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
