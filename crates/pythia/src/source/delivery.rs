//! One message handed out by a source, with its acknowledgement.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::SourceError;
use crate::Message;

/// How a source settles one delivery with its broker.
///
/// Exactly one of the three methods is called, at most once.
#[async_trait]
pub trait Acknowledge: Send + 'static {
    /// The message is safe elsewhere: the broker may forget it.
    async fn ack(self: Box<Self>) -> Result<(), SourceError>;

    /// The message could not be handled: the broker hands it out again after about `delay`.
    async fn nack(self: Box<Self>, delay: Duration) -> Result<(), SourceError>;

    /// The message can never be handled: the broker moves it to its dead letters.
    async fn reject(self: Box<Self>, reason: &str) -> Result<(), SourceError>;
}

/// A message from a source, to be settled with [`ack`](Delivery::ack),
/// [`nack`](Delivery::nack) or [`reject`](Delivery::reject).
///
/// Dropping a delivery without settling it leaves the message with the broker, which hands
/// it out again (after a reconnect, an idle time or a restart, depending on the broker).
pub struct Delivery {
    /// The message; its body is decoded with [`Body::from_untyped`](crate::Body::from_untyped).
    pub message: Message,
    /// The payload exactly as the broker held it.
    pub payload: Bytes,
    /// A key that names this broker message across redeliveries, when the broker has one
    /// (a stream entry id, a JetStream sequence, an AMQP message id).
    pub dedup_key: Option<String>,
    acker: Box<dyn Acknowledge>,
}

impl Delivery {
    /// A delivery of `payload`, whose message body is decoded from it.
    pub fn new(payload: Bytes, acker: impl Acknowledge) -> Self {
        Delivery {
            message: Message::new(crate::Body::from_untyped(payload.clone())),
            payload,
            dedup_key: None,
            acker: Box::new(acker),
        }
    }

    /// Sets the key that names this broker message across redeliveries.
    pub fn with_dedup_key(mut self, key: impl Into<String>) -> Self {
        self.dedup_key = Some(key.into());
        self
    }

    /// Sets the origin recorded in the message metadata.
    pub fn with_origin(mut self, origin: &str) -> Self {
        self.message.meta.origin = Some(origin.to_owned());
        self
    }

    /// Sets the delivery attempt (counting from 1) recorded in the message metadata.
    pub fn with_attempt(mut self, attempt: u32) -> Self {
        self.message.meta.attempt = Some(attempt);
        self
    }

    /// Acknowledges: the message is safe elsewhere.
    pub async fn ack(self) -> Result<(), SourceError> {
        self.acker.ack().await
    }

    /// Hands the message back to be delivered again after about `delay`.
    pub async fn nack(self, delay: Duration) -> Result<(), SourceError> {
        self.acker.nack(delay).await
    }

    /// Moves the message to the broker's dead letters with `reason`.
    pub async fn reject(self, reason: &str) -> Result<(), SourceError> {
        self.acker.reject(reason).await
    }
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("message", &self.message)
            .field("payload_len", &self.payload.len())
            .field("dedup_key", &self.dedup_key)
            .finish_non_exhaustive()
    }
}
