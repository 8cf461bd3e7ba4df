//! [`Endpoint`]: one destination and its own breaker, rate limit and concurrency limit.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Semaphore;
use url::Url;

use super::config::{redact_url_text, EndpointSettings};
use super::metrics;
use super::schedule::DeliverySchedule;
use super::signing::Signer;
use super::transport::Target;
use crate::resilience::{BreakerState, CircuitBreaker, RateLimiter, RetryPolicy};

/// One webhook destination with its own resilience state, so that a slow or dead endpoint
/// never delays the others: its circuit breaker, its rate limiter and its concurrency limit
/// belong to it alone.
///
/// Get one with [`WebhookSender::endpoint`](super::WebhookSender::endpoint).
pub struct Endpoint {
    name: String,
    url: Url,
    target: Target,
    label: String,
    settings: EndpointSettings,
    breaker: Option<CircuitBreaker>,
    limiter: Option<RateLimiter>,
    slots: Semaphore,
    disabled: AtomicBool,
    metrics: metrics::EndpointMetrics,
}

impl Endpoint {
    pub(crate) fn new(name: &str, settings: EndpointSettings) -> Self {
        let label = if name.starts_with("http://") || name.starts_with("https://") {
            redact_url_text(name)
        } else {
            name.to_owned()
        };
        let breaker = settings
            .circuit_breaker
            .clone()
            .map(|config| CircuitBreaker::new(format!("webhook:{label}"), config));
        let limiter = settings.rate_limit.map(RateLimiter::new);
        metrics::endpoint_disabled(&label, false);
        Endpoint {
            metrics: metrics::EndpointMetrics::new(&label),
            name: name.to_owned(),
            url: settings.url.clone(),
            target: Target::new(&settings.url),
            label,
            slots: Semaphore::new(settings.concurrency_limit),
            settings,
            breaker,
            limiter,
            disabled: AtomicBool::new(false),
        }
    }

    /// The name (or path, or URL) the endpoint was asked for by.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name as used in logs and metrics: URLs lose their password and query.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Where webhooks are posted.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The in-memory retry policy of [`WebhookSender::send`](super::WebhookSender::send).
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.settings.retry
    }

    /// The durable retry schedule the outbox dispatcher follows (by default ten attempts over
    /// about a day, see [`DEFAULT_DELAYS`](super::DEFAULT_DELAYS)).
    pub fn retry_schedule(&self) -> &DeliverySchedule {
        &self.settings.retry_schedule
    }

    /// The time allowed for one attempt.
    pub fn timeout(&self) -> std::time::Duration {
        self.settings.timeout
    }

    /// The most attempts in flight at once.
    pub fn concurrency_limit(&self) -> usize {
        self.settings.concurrency_limit
    }

    /// Whether an event type is sent here: true when the endpoint has no filter, otherwise
    /// only for the listed types (and never for a message without a type).
    pub fn accepts_event(&self, event_type: Option<&str>) -> bool {
        match (&self.settings.event_types, event_type) {
            (None, _) => true,
            (Some(types), Some(event_type)) => types.iter().any(|t| t == event_type),
            (Some(_), None) => false,
        }
    }

    /// The state of the circuit breaker, or `None` when the endpoint has none.
    pub fn breaker_state(&self) -> Option<BreakerState> {
        self.breaker.as_ref().map(CircuitBreaker::state)
    }

    /// Whether a `410 Gone` disabled the endpoint.
    pub fn is_disabled(&self) -> bool {
        self.disabled.load(Ordering::Relaxed)
    }

    /// Turns a disabled endpoint back on, for when its owner says it is back.
    pub fn enable(&self) {
        if self.disabled.swap(false, Ordering::Relaxed) {
            tracing::info!(endpoint = %self.label, "webhook endpoint enabled again");
            metrics::endpoint_disabled(&self.label, false);
        }
    }

    /// Disables the endpoint after a `410 Gone`. Returns whether it was enabled until now.
    pub(crate) fn disable(&self) -> bool {
        let was_enabled = !self.disabled.swap(true, Ordering::Relaxed);
        if was_enabled {
            tracing::error!(
                endpoint = %self.label,
                "webhook endpoint answered 410 gone and is disabled; nothing more is sent to it"
            );
            metrics::endpoint_disabled(&self.label, true);
        }
        was_enabled
    }

    /// The URL as the transport takes it, parsed once.
    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    pub(crate) fn metrics(&self) -> &metrics::EndpointMetrics {
        &self.metrics
    }

    pub(crate) fn signer(&self) -> &Signer {
        &self.settings.signer
    }

    pub(crate) fn breaker(&self) -> Option<&CircuitBreaker> {
        self.breaker.as_ref()
    }

    pub(crate) fn limiter(&self) -> Option<&RateLimiter> {
        self.limiter.as_ref()
    }

    pub(crate) fn slots(&self) -> &Semaphore {
        &self.slots
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("name", &self.label)
            .field("url", &redact_url_text(self.url.as_str()))
            .field("timeout", &self.settings.timeout)
            .field("concurrency_limit", &self.settings.concurrency_limit)
            .field("rate_limit", &self.settings.rate_limit)
            .field("breaker", &self.breaker_state())
            .field("disabled", &self.is_disabled())
            .finish_non_exhaustive()
    }
}
