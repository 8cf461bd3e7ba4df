//! [`WebhookQueue`]: the enqueue side, for ingest, poller sinks and relays.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, Notify};

use super::slots::Slots;
use super::Deliver;
use crate::outbox::{self, Claimed, Enqueued, NewMessage, Outbox, OutboxError};

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
    handover: Option<Handover>,
    max_payload_bytes: usize,
}

/// The short way from a queue to its dispatcher's attempts.
#[derive(Clone, Debug)]
pub(super) struct Handover {
    pub(super) slots: Arc<Slots>,
    pub(super) sender: mpsc::UnboundedSender<Claimed>,
    pub(super) lease: Duration,
}

impl Handover {
    /// Stores `message` claimed, under the hand-over taken for it, and hands the claim to the
    /// dispatcher. Runs to the end even if the caller stops waiting, so that no hand-over is
    /// kept and no stored claim is left unattended.
    async fn enqueue(
        &self,
        outbox: &Arc<dyn Outbox>,
        message: NewMessage,
    ) -> Result<(Enqueued, bool), OutboxError> {
        let (handover, outbox) = (self.clone(), outbox.clone());
        let endpoint = message.endpoint.clone();
        let stored = tokio::spawn(async move {
            let stored = outbox.enqueue_claimed(message, handover.lease).await;
            let (enqueued, claimed) = match stored {
                Ok(stored) => stored,
                Err(error) => {
                    handover.slots.handed_over();
                    return Err(error);
                }
            };
            let Some(claimed) = claimed else {
                handover.slots.handed_over();
                return Ok((enqueued, false));
            };
            if let Err(mpsc::error::SendError(claimed)) = handover.sender.send(claimed) {
                // The dispatcher stopped meanwhile: the message is due again at once.
                handover.slots.handed_over();
                let message = &claimed.message;
                let released = outbox
                    .reschedule(&message.id, &claimed.lease, outbox::now(), false, None)
                    .await;
                if let Err(error) = released {
                    tracing::warn!(%endpoint, id = %message.id, %error,
                        "could not release a webhook's claim; it is due when its lease ends");
                }
                return Ok((enqueued, false));
            }
            Ok((enqueued, true))
        });
        stored
            .await
            .map_err(|error| OutboxError::Storage(format!("the enqueue task failed: {error}")))?
    }
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
            handover: None,
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
        }
    }

    pub(super) fn for_dispatcher(
        outbox: Arc<dyn Outbox>,
        deliver: Arc<dyn Deliver>,
        wake: Arc<Notify>,
        handover: Handover,
    ) -> Self {
        // An outbox that cannot claim on enqueue has no short way: its messages are stored
        // due, and the dispatcher woken to claim them.
        let handover = outbox.claims_on_enqueue().then_some(handover);
        WebhookQueue {
            outbox,
            deliver: Some(deliver),
            wake: Some(wake),
            handover,
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
        let started = Instant::now();

        if let Some(handover) = &self.handover {
            if message.not_before.is_none() && handover.slots.take(&message.endpoint) {
                let (enqueued, handed) = handover.enqueue(&self.outbox, message).await?;
                outbox::record_enqueue(started);
                if !handed {
                    self.wake();
                }
                return Ok(enqueued);
            }
        }
        let enqueued = self.outbox.enqueue(message).await?;
        outbox::record_enqueue(started);

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
        let started = Instant::now();

        let enqueued = self.outbox.enqueue_batch(messages).await?;
        outbox::record_enqueue(started);

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
