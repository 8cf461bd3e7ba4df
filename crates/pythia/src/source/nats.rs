//! A NATS JetStream durable pull consumer.
//!
//! The source fetches batches from a durable pull consumer with explicit acks
//! (`AckPolicy::Explicit`). Ack is a JetStream ack; nack is a NAK with a delay, so the server
//! redelivers after it; reject is a TERM, which stops redelivery (JetStream has no dead-letter
//! stream of its own: the server publishes an advisory that a dead-letter consumer may
//! follow). A message not acknowledged within `ack_wait` (a crash, a lost connection) is
//! redelivered by the server. The stream sequence names the message across redeliveries, so
//! the relay stores a redelivery only once.
//!
//! When a fetch fails or the connection drops, the source drops its client and connects again
//! with the shared jittered backoff.

use std::collections::VecDeque;
use std::time::Duration;

use async_nats::jetstream::consumer::pull::{Batch, Config as PullConfig};
use async_nats::jetstream::consumer::{AckPolicy, PullConsumer};
use async_nats::jetstream::message::Acker;
use async_nats::jetstream::{self, AckKind};
use async_trait::async_trait;
use futures::StreamExt;

use super::backoff::Reconnect;
use super::{redact_url, Acknowledge, Delivery, Source, SourceError};

/// Builds a [`NatsSource`].
#[derive(Debug, Clone)]
pub struct NatsSourceBuilder {
    url: String,
    stream: String,
    consumer: String,
    name: Option<String>,
    subjects: Vec<String>,
    filter_subject: Option<String>,
    batch: usize,
    block_timeout: Duration,
    ack_wait: Duration,
    max_deliver: i64,
    connect_timeout: Duration,
}

impl NatsSourceBuilder {
    /// The name in logs and metrics. Default: `nats:<stream>:<consumer>`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Subjects of the stream, used to create it when it does not exist yet. Default: none, so
    /// the stream must already exist.
    pub fn subjects<I, S>(mut self, subjects: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.subjects = subjects.into_iter().map(Into::into).collect();
        self
    }

    /// Only messages on this subject (wildcards allowed) reach the consumer when it is
    /// created. Default: every subject of the stream.
    pub fn filter_subject(mut self, subject: impl Into<String>) -> Self {
        self.filter_subject = Some(subject.into());
        self
    }

    /// How many messages one fetch asks for. Default: 64.
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch;
        self
    }

    /// How long one fetch waits for messages. Default: 1 s.
    pub fn block_timeout(mut self, timeout: Duration) -> Self {
        self.block_timeout = timeout;
        self
    }

    /// How long the server waits for an ack before redelivering, when it creates the consumer.
    /// Default: 30 s.
    pub fn ack_wait(mut self, wait: Duration) -> Self {
        self.ack_wait = wait;
        self
    }

    /// The most deliveries of one message (`-1`: unlimited), when the server creates the
    /// consumer. Default: unlimited, so nothing accepted is dropped by the broker.
    pub fn max_deliver(mut self, max: i64) -> Self {
        self.max_deliver = max;
        self
    }

    /// How long to wait for a connection. Default: 5 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Checks the settings. Connecting happens on the first [`Source::next`], so a broker that
    /// is down at start is retried like one that goes away later.
    pub fn build(self) -> Result<NatsSource, SourceError> {
        let valid_name = |text: &str| {
            !text.is_empty()
                && !text
                    .chars()
                    .any(|c| c == '.' || c == '*' || c == '>' || c.is_whitespace())
        };
        if !valid_name(&self.stream) || !valid_name(&self.consumer) {
            return Err(SourceError::Config(
                "nats stream and consumer names must be non-empty, without '.', '*', '>' or \
                 spaces"
                    .into(),
            ));
        }
        if self.batch == 0 || self.block_timeout.is_zero() || self.ack_wait.is_zero() {
            return Err(SourceError::Config(
                "batch, block_timeout and ack_wait must be positive".into(),
            ));
        }
        let parsed = url::Url::parse(&self.url)
            .ok()
            .filter(|url| matches!(url.scheme(), "nats" | "tls" | "ws" | "wss"));
        if parsed.is_none() {
            return Err(SourceError::Config(format!(
                "invalid nats url {}",
                redact_url(&self.url)
            )));
        }
        let name = self
            .name
            .unwrap_or_else(|| format!("nats:{}:{}", self.stream, self.consumer));
        Ok(NatsSource {
            reconnect: Reconnect::new(&name),
            location: redact_url(&self.url),
            name,
            url: self.url,
            stream: self.stream,
            consumer_name: self.consumer,
            subjects: self.subjects,
            filter_subject: self.filter_subject,
            batch: self.batch,
            block_timeout: self.block_timeout,
            ack_wait: self.ack_wait,
            max_deliver: self.max_deliver,
            connect_timeout: self.connect_timeout,
            consumer: None,
            buffer: VecDeque::new(),
        })
    }
}

/// Reads a NATS JetStream stream through a durable pull consumer.
///
/// The source fetches batches from a durable pull consumer with explicit acks
/// (`AckPolicy::Explicit`). Ack is a JetStream ack; nack is a NAK with a delay, so the server
/// redelivers after it; reject is a TERM, which stops redelivery (JetStream has no dead-letter
/// stream of its own: the server publishes an advisory that a dead-letter consumer may
/// follow). A message not acknowledged within `ack_wait` (a crash, a lost connection) is
/// redelivered by the server. The stream sequence names the message across redeliveries, so
/// the relay stores a redelivery only once.
///
/// When a fetch fails or the connection drops, the source drops its client and connects again
/// with the shared jittered backoff.
///
/// ```no_run
/// # async fn demo() -> Result<(), pythia::source::SourceError> {
/// use pythia::source::{NatsSource, Source};
///
/// let mut source = NatsSource::builder("nats://127.0.0.1:4222", "ORDERS", "pythia")
///     .subjects(["orders.>"])
///     .build()?;
/// let delivery = source.next().await?;
/// delivery.ack().await?;
/// # Ok(()) }
/// ```
pub struct NatsSource {
    name: String,
    url: String,
    location: String,
    stream: String,
    consumer_name: String,
    subjects: Vec<String>,
    filter_subject: Option<String>,
    batch: usize,
    block_timeout: Duration,
    ack_wait: Duration,
    max_deliver: i64,
    connect_timeout: Duration,
    consumer: Option<PullConsumer>,
    buffer: VecDeque<jetstream::Message>,
    reconnect: Reconnect,
}

impl std::fmt::Debug for NatsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsSource")
            .field("name", &self.name)
            .field("location", &self.location)
            .field("stream", &self.stream)
            .field("consumer", &self.consumer_name)
            .finish_non_exhaustive()
    }
}

impl NatsSource {
    /// A builder for a source reading `stream` on the NATS server at `url` through the durable
    /// consumer `consumer` (created when missing).
    pub fn builder(
        url: impl Into<String>,
        stream: impl Into<String>,
        consumer: impl Into<String>,
    ) -> NatsSourceBuilder {
        NatsSourceBuilder {
            url: url.into(),
            stream: stream.into(),
            consumer: consumer.into(),
            name: None,
            subjects: Vec::new(),
            filter_subject: None,
            batch: 64,
            block_timeout: Duration::from_secs(1),
            ack_wait: Duration::from_secs(30),
            max_deliver: -1,
            connect_timeout: Duration::from_secs(5),
        }
    }

    async fn open(&self) -> Result<PullConsumer, String> {
        let options = async_nats::ConnectOptions::new()
            .connection_timeout(self.connect_timeout)
            .request_timeout(Some(self.connect_timeout))
            .max_reconnects(Some(1));
        let client = tokio::time::timeout(self.connect_timeout, options.connect(&self.url))
            .await
            .map_err(|_| format!("connecting to {} timed out", self.location))?
            .map_err(|e| format!("connecting to {}: {e}", self.location))?;
        let context = jetstream::new(client);
        let stream = if self.subjects.is_empty() {
            context
                .get_stream(&self.stream)
                .await
                .map_err(|e| format!("stream {} is not available: {e}", self.stream))?
        } else {
            context
                .get_or_create_stream(jetstream::stream::Config {
                    name: self.stream.clone(),
                    subjects: self.subjects.clone(),
                    ..Default::default()
                })
                .await
                .map_err(|e| format!("stream {} is not available: {e}", self.stream))?
        };
        let config = PullConfig {
            durable_name: Some(self.consumer_name.clone()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: self.ack_wait,
            max_deliver: self.max_deliver,
            filter_subject: self.filter_subject.clone().unwrap_or_default(),
            ..Default::default()
        };
        stream
            .get_or_create_consumer(&self.consumer_name, config)
            .await
            .map_err(|e| format!("consumer {} is not available: {e}", self.consumer_name))
    }

    /// Fills the buffer: whatever is available now, up to a batch, without waiting; when
    /// nothing is, waits up to the block timeout for the next message. (A pull of a whole
    /// batch would wait until the batch is full or the request expires.)
    async fn fill(&mut self, consumer: &PullConsumer) -> Result<(), String> {
        let ready = consumer
            .fetch()
            .max_messages(self.batch)
            .messages()
            .await
            .map_err(|e| format!("fetch failed: {e}"))?;
        self.drain(ready).await?;
        if !self.buffer.is_empty() {
            return Ok(());
        }
        let waiting = consumer
            .batch()
            .max_messages(1)
            .expires(self.block_timeout)
            .messages()
            .await
            .map_err(|e| format!("fetch failed: {e}"))?;
        self.drain(waiting).await
    }

    /// Moves one pull's messages into the buffer; an error with nothing received is a failure.
    async fn drain(&mut self, mut batch: Batch) -> Result<(), String> {
        // A pull ends by itself; the outer bound covers a silent server.
        let deadline = tokio::time::Instant::now() + self.block_timeout + self.connect_timeout;
        loop {
            match tokio::time::timeout_at(deadline, batch.next()).await {
                Ok(Some(Ok(message))) => self.buffer.push_back(message),
                Ok(Some(Err(error))) => {
                    if self.buffer.is_empty() {
                        return Err(format!("fetch failed: {error}"));
                    }
                    return Ok(());
                }
                Ok(None) => return Ok(()),
                Err(_) if self.buffer.is_empty() => {
                    return Err("the server did not answer a fetch".to_owned())
                }
                Err(_) => return Ok(()),
            }
        }
    }

    fn delivery(&self, message: jetstream::Message) -> Delivery {
        let (sequence, delivered) = message
            .info()
            .map(|info| (Some(info.stream_sequence), info.delivered))
            .unwrap_or((None, 1));
        let subject = message.message.subject.to_string();
        let (message, acker) = message.split();
        let mut delivery = Delivery::new(message.payload, NatsAck { acker })
            .with_origin(&self.name)
            .with_attempt(u32::try_from(delivered).unwrap_or(1).max(1));
        if let Some(sequence) = sequence {
            delivery = delivery.with_dedup_key(format!("nats:{}:{sequence}", self.stream));
            delivery
                .message
                .headers
                .insert("nats-sequence", sequence.to_string());
        }
        delivery.message.headers.insert("nats-subject", subject);
        delivery
    }
}

#[async_trait]
impl Source for NatsSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn next(&mut self) -> Result<Delivery, SourceError> {
        loop {
            if let Some(message) = self.buffer.pop_front() {
                metrics::counter!("pythia_source_received_total", "source" => self.name.clone())
                    .increment(1);
                return Ok(self.delivery(message));
            }
            let consumer = match self.consumer.clone() {
                Some(consumer) => consumer,
                None => match self.open().await {
                    Ok(consumer) => {
                        self.reconnect.connected();
                        self.consumer = Some(consumer.clone());
                        consumer
                    }
                    Err(error) => {
                        self.reconnect.failed(&error).await;
                        continue;
                    }
                },
            };
            if let Err(error) = self.fill(&consumer).await {
                // Messages fetched but not handed out are redelivered after `ack_wait`.
                self.consumer = None;
                self.reconnect.failed(&error).await;
            }
        }
    }
}

struct NatsAck {
    acker: Acker,
}

fn ack_error(error: impl std::fmt::Display) -> SourceError {
    SourceError::Ack(error.to_string())
}

#[async_trait]
impl Acknowledge for NatsAck {
    async fn ack(self: Box<Self>) -> Result<(), SourceError> {
        self.acker.ack().await.map_err(ack_error)
    }

    async fn nack(self: Box<Self>, delay: Duration) -> Result<(), SourceError> {
        let delay = (!delay.is_zero()).then_some(delay);
        self.acker
            .ack_with(AckKind::Nak(delay))
            .await
            .map_err(ack_error)
    }

    async fn reject(self: Box<Self>, reason: &str) -> Result<(), SourceError> {
        tracing::debug!(reason, "terminating a jetstream message");
        self.acker.ack_with(AckKind::Term).await.map_err(ack_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_dots_are_refused_at_build() {
        let built = NatsSource::builder("nats://127.0.0.1:4222", "orders.v1", "relay").build();

        assert!(matches!(built, Err(SourceError::Config(_))));
    }

    #[test]
    fn a_bad_url_is_refused_without_echoing_it() {
        let built = NatsSource::builder("http://user:s3cret@x", "ORDERS", "relay").build();

        let error = built.unwrap_err().to_string();
        assert!(error.contains("invalid nats url"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
    }
}
