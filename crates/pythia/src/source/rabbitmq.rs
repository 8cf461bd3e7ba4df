//! A RabbitMQ queue consumed with manual acks.
//!
//! The source consumes one queue with `basic.consume` and manual acknowledgement, limited to
//! `prefetch` unacknowledged messages at a time (`basic.qos`). Ack is `basic.ack`; nack is
//! `basic.nack` with requeue (after the delay, during which the message stays unacknowledged
//! and so invisible to other consumers); reject is `basic.reject` without requeue, which routes
//! the message to the queue's dead-letter exchange when it has one. The broker requeues every
//! unacknowledged message when the channel closes (a crash, a lost connection). A message
//! that carries an AMQP `message_id` is named by it across redeliveries, so the relay stores a
//! redelivery only once.
//!
//! When the connection or the consumer fails, the source connects again with the shared
//! jittered backoff.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use lapin::acker::Acker;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties, Consumer};

use super::backoff::Reconnect;
use super::{redact_url, Acknowledge, Delivery, Source, SourceError};

/// Builds a [`RabbitMqSource`].
#[derive(Debug, Clone)]
pub struct RabbitMqSourceBuilder {
    url: String,
    queue: String,
    name: Option<String>,
    consumer_tag: Option<String>,
    prefetch: u16,
    declare: bool,
    connect_timeout: Duration,
}

impl RabbitMqSourceBuilder {
    /// The name in logs and metrics. Default: `rabbitmq:<queue>`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The consumer tag. Default: host name, process id and a random suffix.
    pub fn consumer_tag(mut self, tag: impl Into<String>) -> Self {
        self.consumer_tag = Some(tag.into());
        self
    }

    /// The most unacknowledged messages the broker sends ahead. Default: 64.
    pub fn prefetch(mut self, prefetch: u16) -> Self {
        self.prefetch = prefetch;
        self
    }

    /// Whether to declare the queue (durable, no arguments) on connect. Turn it off for a queue
    /// declared elsewhere with arguments (a dead-letter exchange, a type). Default: on.
    pub fn declare(mut self, declare: bool) -> Self {
        self.declare = declare;
        self
    }

    /// How long to wait for a connection. Default: 5 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Checks the settings. Connecting happens on the first [`Source::next`], so a broker that
    /// is down at start is retried like one that goes away later.
    pub fn build(self) -> Result<RabbitMqSource, SourceError> {
        if self.queue.is_empty() {
            return Err(SourceError::Config("rabbitmq queue name is empty".into()));
        }
        if self.prefetch == 0 || self.connect_timeout.is_zero() {
            return Err(SourceError::Config(
                "prefetch and connect_timeout must be positive".into(),
            ));
        }
        let valid = url::Url::parse(&self.url)
            .ok()
            .is_some_and(|url| matches!(url.scheme(), "amqp" | "amqps"));
        if !valid {
            return Err(SourceError::Config(format!(
                "invalid amqp url {}",
                redact_url(&self.url)
            )));
        }
        let name = self
            .name
            .unwrap_or_else(|| format!("rabbitmq:{}", self.queue));
        Ok(RabbitMqSource {
            reconnect: Reconnect::new(&name),
            location: redact_url(&self.url),
            name,
            url: self.url,
            queue: self.queue,
            consumer_tag: self
                .consumer_tag
                .unwrap_or_else(super::default_consumer_name),
            prefetch: self.prefetch,
            declare: self.declare,
            connect_timeout: self.connect_timeout,
            connection: None,
            consumer: None,
        })
    }
}

/// Consumes a RabbitMQ queue with manual acks.
///
/// The source consumes one queue with `basic.consume` and manual acknowledgement, limited to
/// `prefetch` unacknowledged messages at a time (`basic.qos`). Ack is `basic.ack`; nack is
/// `basic.nack` with requeue (after the delay, during which the message stays unacknowledged
/// and so invisible to other consumers); reject is `basic.reject` without requeue, which routes
/// the message to the queue's dead-letter exchange when it has one. The broker requeues every
/// unacknowledged message when the channel closes (a crash, a lost connection). A message
/// that carries an AMQP `message_id` is named by it across redeliveries, so the relay stores a
/// redelivery only once.
///
/// When the connection or the consumer fails, the source connects again with the shared
/// jittered backoff.
///
/// ```no_run
/// # async fn demo() -> Result<(), pythia::source::SourceError> {
/// use pythia::source::{RabbitMqSource, Source};
///
/// let mut source = RabbitMqSource::builder("amqp://guest:guest@127.0.0.1:5672/%2f", "orders")
///     .prefetch(32)
///     .build()?;
/// let delivery = source.next().await?;
/// delivery.ack().await?;
/// # Ok(()) }
/// ```
pub struct RabbitMqSource {
    name: String,
    url: String,
    location: String,
    queue: String,
    consumer_tag: String,
    prefetch: u16,
    declare: bool,
    connect_timeout: Duration,
    connection: Option<Connection>,
    consumer: Option<Consumer>,
    reconnect: Reconnect,
}

impl std::fmt::Debug for RabbitMqSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RabbitMqSource")
            .field("name", &self.name)
            .field("location", &self.location)
            .field("queue", &self.queue)
            .field("consumer_tag", &self.consumer_tag)
            .finish_non_exhaustive()
    }
}

impl RabbitMqSource {
    /// A builder for a source consuming `queue` on the broker at `url`
    /// (`amqp://user:password@host:port/vhost`).
    pub fn builder(url: impl Into<String>, queue: impl Into<String>) -> RabbitMqSourceBuilder {
        RabbitMqSourceBuilder {
            url: url.into(),
            queue: queue.into(),
            name: None,
            consumer_tag: None,
            prefetch: 64,
            declare: true,
            connect_timeout: Duration::from_secs(5),
        }
    }

    async fn open(&self) -> Result<(Connection, Consumer), String> {
        let connect = Connection::connect(&self.url, ConnectionProperties::default());
        let connection = tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| format!("connecting to {} timed out", self.location))?
            .map_err(|e| format!("connecting to {}: {e}", self.location))?;
        let setup = async {
            let channel = connection.create_channel().await?;
            channel
                .basic_qos(self.prefetch, BasicQosOptions::default())
                .await?;
            if self.declare {
                let options = QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                };
                channel
                    .queue_declare(&self.queue, options, FieldTable::default())
                    .await?;
            }
            channel
                .basic_consume(
                    &self.queue,
                    &self.consumer_tag,
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
        };
        match tokio::time::timeout(self.connect_timeout, setup).await {
            Ok(Ok(consumer)) => Ok((connection, consumer)),
            Ok(Err(error)) => Err(format!("consuming queue {}: {error}", self.queue)),
            Err(_) => Err(format!("consuming queue {} timed out", self.queue)),
        }
    }

    /// Closes a connection that failed, without waiting long for a broker that is gone.
    async fn drop_connection(&mut self) {
        self.consumer = None;
        if let Some(connection) = self.connection.take() {
            let close = connection.close(320, "pythia reconnecting");
            let _ = tokio::time::timeout(Duration::from_millis(500), close).await;
        }
    }

    fn delivery(&self, delivery: lapin::message::Delivery) -> Delivery {
        let message_id = delivery
            .properties
            .message_id()
            .as_ref()
            .map(|id| id.as_str().to_owned());
        let attempt = if delivery.redelivered { 2 } else { 1 };
        let acker = RabbitAck {
            acker: delivery.acker,
        };
        let mut out = Delivery::new(Bytes::from(delivery.data), acker)
            .with_origin(&self.name)
            .with_attempt(attempt);
        if let Some(id) = message_id {
            out.message.headers.insert("amqp-message-id", id.clone());
            out = out.with_dedup_key(format!("amqp:{}:{id}", self.queue));
        }
        out
    }
}

#[async_trait]
impl Source for RabbitMqSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn next(&mut self) -> Result<Delivery, SourceError> {
        loop {
            if self.consumer.is_none() {
                match self.open().await {
                    Ok((connection, consumer)) => {
                        self.reconnect.connected();
                        self.connection = Some(connection);
                        self.consumer = Some(consumer);
                    }
                    Err(error) => {
                        self.reconnect.failed(&error).await;
                        continue;
                    }
                }
            }
            let Some(consumer) = self.consumer.as_mut() else {
                continue;
            };
            let error = match consumer.next().await {
                Some(Ok(delivery)) => {
                    metrics::counter!("pythia_source_received_total", "source" => self.name.clone())
                        .increment(1);
                    return Ok(self.delivery(delivery));
                }
                Some(Err(error)) => error.to_string(),
                None => "the broker cancelled the consumer".to_owned(),
            };
            // Unacknowledged messages go back to the queue when the channel closes.
            self.drop_connection().await;
            self.reconnect.failed(&error).await;
        }
    }
}

struct RabbitAck {
    acker: Acker,
}

fn ack_error(error: lapin::Error) -> SourceError {
    SourceError::Ack(error.to_string())
}

impl RabbitAck {
    async fn requeue(&self) -> Result<(), SourceError> {
        let options = BasicNackOptions {
            multiple: false,
            requeue: true,
        };
        self.acker.nack(options).await.map_err(ack_error)
    }
}

#[async_trait]
impl Acknowledge for RabbitAck {
    async fn ack(self: Box<Self>) -> Result<(), SourceError> {
        self.acker
            .ack(BasicAckOptions::default())
            .await
            .map_err(ack_error)
    }

    async fn nack(self: Box<Self>, delay: Duration) -> Result<(), SourceError> {
        if delay.is_zero() {
            return self.requeue().await;
        }
        // The message stays unacknowledged (invisible to others) until the delay is over; if
        // the channel closes first, the broker requeues it anyway.
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Err(error) = self.requeue().await {
                tracing::warn!(error = %error, "delayed requeue failed; the broker will redeliver");
            }
        });
        Ok(())
    }

    async fn reject(self: Box<Self>, reason: &str) -> Result<(), SourceError> {
        tracing::debug!(
            reason,
            "rejecting an amqp message to its dead-letter exchange"
        );
        self.acker
            .reject(BasicRejectOptions { requeue: false })
            .await
            .map_err(ack_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_amqp_url_is_refused_without_echoing_credentials() {
        let built = RabbitMqSource::builder("redis://guest:s3cret@host", "orders").build();

        let error = built.unwrap_err().to_string();
        assert!(error.contains("invalid amqp url"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
    }

    #[test]
    fn a_zero_prefetch_is_refused_at_build() {
        let built = RabbitMqSource::builder("amqp://127.0.0.1:5672/%2f", "orders")
            .prefetch(0)
            .build();

        assert!(matches!(built, Err(SourceError::Config(_))));
    }
}
