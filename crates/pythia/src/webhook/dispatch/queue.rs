//! [`WebhookQueue`]: the enqueue side, for ingest, poller sinks and relays.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::Notify;

use super::Deliver;
use crate::outbox::{Enqueued, NewMessage, Outbox, OutboxError};

/// The default largest payload a [`WebhookQueue`] accepts: 1 MiB.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

/// Puts webhooks into the outbox for a [`Dispatcher`](super::Dispatcher) to deliver.
///
/// It refuses what could never be delivered (an empty or unknown endpoint name, a payload over
/// the size limit) with a clear error before anything is stored, and, when made by
/// [`Dispatcher::queue`](super::Dispatcher::queue), wakes the dispatcher so a fresh message
/// goes out without waiting for the next poll. A returned `Ok` means the message is durable.
#[derive(Clone)]
pub struct WebhookQueue {
    outbox: Arc<dyn Outbox>,
    deliver: Option<Arc<dyn Deliver>>,
    wake: Option<Arc<Notify>>,
    max_payload_bytes: usize,
}

impl fmt::Debug for WebhookQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookQueue")
            .field("validates_endpoints", &self.deliver.is_some())
            .field("max_payload_bytes", &self.max_payload_bytes)
            .finish_non_exhaustive()
    }
}

/// Why a webhook was not enqueued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// The endpoint name is empty or not configured.
    #[error("unknown webhook endpoint {0:?}")]
    UnknownEndpoint(String),
    /// The payload is larger than the queue accepts.
    #[error("payload of {size} bytes is over the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The payload size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The payload could not be serialized to JSON.
    #[error("payload is not serializable as json: {0}")]
    Serialize(String),
    /// The outbox failed; nothing was stored.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

impl QueueError {
    /// Whether trying again later may succeed (only some outbox failures).
    pub fn is_retryable(&self) -> bool {
        match self {
            QueueError::Outbox(error) => error.is_retryable(),
            _ => false,
        }
    }
}

impl WebhookQueue {
    /// A queue into `outbox` that accepts any non-empty endpoint name and does not wake a
    /// dispatcher (one polling the same outbox still finds the messages).
    pub fn new(outbox: impl Outbox) -> Self {
        WebhookQueue {
            outbox: Arc::new(outbox),
            deliver: None,
            wake: None,
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
        }
    }

    pub(super) fn for_dispatcher(
        outbox: Arc<dyn Outbox>,
        deliver: Arc<dyn Deliver>,
        wake: Arc<Notify>,
    ) -> Self {
        WebhookQueue {
            outbox,
            deliver: Some(deliver),
            wake: Some(wake),
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
        }
    }

    /// The largest payload accepted. Default: [`DEFAULT_MAX_PAYLOAD_BYTES`] (1 MiB).
    pub fn max_payload_bytes(mut self, limit: usize) -> Self {
        self.max_payload_bytes = limit;
        self
    }

    /// Enqueues `payload` (sent byte for byte) to `endpoint`.
    pub async fn send(
        &self,
        endpoint: &str,
        payload: impl Into<Bytes>,
    ) -> Result<Enqueued, QueueError> {
        self.enqueue(NewMessage::new(endpoint, payload)).await
    }

    /// Enqueues `value` serialized as JSON to `endpoint`.
    pub async fn send_json<T: serde::Serialize + ?Sized>(
        &self,
        endpoint: &str,
        value: &T,
    ) -> Result<Enqueued, QueueError> {
        let payload =
            serde_json::to_vec(value).map_err(|e| QueueError::Serialize(e.to_string()))?;
        self.send(endpoint, payload).await
    }

    /// Enqueues a message built in full (id, headers, idempotency key, not-before).
    pub async fn enqueue(&self, message: NewMessage) -> Result<Enqueued, QueueError> {
        self.check(&message)?;

        let enqueued = self.outbox.enqueue(message).await?;

        self.wake();
        Ok(enqueued)
    }

    /// Enqueues several messages atomically: all are stored, or none is.
    pub async fn enqueue_batch(
        &self,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<Enqueued>, QueueError> {
        messages
            .iter()
            .try_for_each(|message| self.check(message))?;

        let enqueued = self.outbox.enqueue_batch(messages).await?;

        self.wake();
        Ok(enqueued)
    }

    fn check(&self, message: &NewMessage) -> Result<(), QueueError> {
        let endpoint = message.endpoint.as_str();
        let known = self
            .deliver
            .as_ref()
            .is_none_or(|deliver| deliver.knows_endpoint(endpoint));
        if endpoint.is_empty() || !known {
            metrics::counter!("pythia_outbox_rejected_total", "reason" => "unknown_endpoint")
                .increment(1);
            return Err(QueueError::UnknownEndpoint(endpoint.to_owned()));
        }
        if message.payload.len() > self.max_payload_bytes {
            metrics::counter!("pythia_outbox_rejected_total", "reason" => "payload_too_large")
                .increment(1);
            return Err(QueueError::PayloadTooLarge {
                size: message.payload.len(),
                limit: self.max_payload_bytes,
            });
        }
        Ok(())
    }

    fn wake(&self) {
        if let Some(wake) = &self.wake {
            wake.notify_one();
        }
    }
}
