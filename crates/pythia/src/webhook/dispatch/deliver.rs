//! [`Deliver`]: what the dispatcher needs from a webhook sender.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::webhook::{AttemptRequest, AttemptResult, WebhookSender};

/// Makes single delivery attempts and says when to try again.
///
/// [`WebhookSender`](crate::webhook) implements it: each attempt is signed and goes through the
/// endpoint's rate limit, concurrency limit and circuit breaker. A test or a custom transport
/// can implement it too.
#[async_trait]
pub trait Deliver: Send + Sync + 'static {
    /// Makes one attempt, without retrying.
    async fn attempt(&self, request: &AttemptRequest) -> AttemptResult;

    /// The wait before the next attempt to `endpoint` once `failed` attempts have failed, or
    /// `None` to give up and dead-letter the message.
    fn next_delay(&self, endpoint: &str, failed: u32) -> Option<Duration>;

    /// Whether `endpoint` names an endpoint this sender can deliver to. Used to refuse a bad
    /// name when a message is enqueued rather than when it is sent. Default: any name.
    fn knows_endpoint(&self, endpoint: &str) -> bool {
        let _ = endpoint;
        true
    }
}

#[async_trait]
impl<D: Deliver + ?Sized> Deliver for Arc<D> {
    async fn attempt(&self, request: &AttemptRequest) -> AttemptResult {
        (**self).attempt(request).await
    }

    fn next_delay(&self, endpoint: &str, failed: u32) -> Option<Duration> {
        (**self).next_delay(endpoint, failed)
    }

    fn knows_endpoint(&self, endpoint: &str) -> bool {
        (**self).knows_endpoint(endpoint)
    }
}

/// Each attempt is signed and goes through the endpoint's concurrency limit, rate limit and
/// circuit breaker; the waits follow the endpoint's
/// [retry schedule](crate::webhook::Endpoint::retry_schedule).
#[async_trait]
impl Deliver for WebhookSender {
    async fn attempt(&self, request: &AttemptRequest) -> AttemptResult {
        WebhookSender::attempt(self, request).await
    }

    fn next_delay(&self, endpoint: &str, failed: u32) -> Option<Duration> {
        self.endpoint(endpoint)?
            .retry_schedule()
            .delay_after(failed)
    }

    fn knows_endpoint(&self, endpoint: &str) -> bool {
        self.endpoint(endpoint).is_some()
    }
}
