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
//! | [`http`] | [`HttpClient`](http::HttpClient): pool, timeouts, TLS, auth, body cap, resilience |
//! | [`resilience`] | retry policies, circuit breakers, rate limits and retry budgets |
//! | [`runtime`] | the [`Worker`](runtime::Worker) trait and the [`Runtime`](runtime::Runtime) |
//! | [`poller`] | scheduled polling |
//! | [`webhook`] | signing, sending and broadcasting webhooks |
//! | [`outbox`] | the durable queue behind delivery |
//! | [`source`] | broker sources and the relay from a source to the outbox |
//!
//! # Example
//!
//! A client whose requests are retried, circuit-broken and capped, polled by a worker that
//! stops cleanly on SIGINT or SIGTERM:
//!
//! ```
//! use std::time::Duration;
//!
//! use pythia::http::{HttpClient, HttpClientConfig};
//! use pythia::resilience::{Jitter, RetryPolicy};
//! use pythia::runtime::{worker_fn, Runtime};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let server = pythia_testkit::TestServer::start().await;
//! # server.route("/status", pythia_testkit::Route::sequence(vec![
//! #     pythia_testkit::Reply::status(503),
//! #     pythia_testkit::Reply::ok().json(serde_json::json!({"status": "operational"})),
//! # ]));
//! # let base_url = server.base_url().to_owned();
//! let config = HttpClientConfig::builder()
//!     .base_url(&base_url) // e.g. "https://status.example.com/api"
//!     .connect_timeout(Duration::from_secs(5))
//!     .retry(
//!         RetryPolicy::builder()
//!             .exponential(Duration::from_millis(10), 2.0)
//!             .jitter(Jitter::Full)
//!             .max_attempts(5)
//!             .build()?,
//!     )
//!     .build()?;
//! let client = HttpClient::new(config)?;
//!
//! // One request: the 503 is retried, the 200 comes back.
//! let response = client.get("/status").send().await?;
//! assert_eq!(response.attempts(), 2);
//! let body: serde_json::Value = response.json()?;
//! assert_eq!(body["status"], "operational");
//!
//! // The same client in a worker; `run()` would stop it on SIGINT or SIGTERM.
//! let runtime = Runtime::builder()
//!     .worker(worker_fn("status", move |ctx| {
//!         let client = client.clone();
//!         async move {
//!             let response = client.get("/status").send().await?;
//!             ctx.health.success();
//!             tracing::info!(status = response.status().as_u16(), "polled");
//!             ctx.shutdown.triggered().await;
//!             Ok(())
//!         }
//!     }))
//!     .build();
//! # let trigger = runtime.shutdown_trigger();
//! # trigger.trigger();
//! runtime.run_until(std::future::pending()).await?;
//! # Ok(()) }
//! ```
//!
//! For a `main` without `#[tokio::main]`, [`Runtime::run_blocking`](runtime::Runtime::run_blocking)
//! is the counterpart of the specification's `run_sync()`.
//!
//! # The request pipeline
//!
//! Every request of an [`HttpClient`](http::HttpClient) runs through, in this order: the
//! host's rate limit, the total deadline, the retry policy (with the host's retry budget and
//! `Retry-After`), the host's circuit breaker, and one attempt bounded by its timeouts and the
//! body cap. See [`HttpClient`](http::HttpClient) for each stage.
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

/// The README's Rust examples, compiled as doctests so that the front door stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
