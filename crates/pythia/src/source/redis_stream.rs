//! A Redis stream read through a consumer group.
//!
//! The group is created on first use (`XGROUP CREATE ... MKSTREAM`, from the start of the
//! stream unless told otherwise). On each (re)connect the consumer first re-reads its own
//! pending entries (those it read but never acknowledged, for instance before a crash), then
//! reads new ones with `XREADGROUP`. Every `claim_interval` it takes over entries that another
//! consumer left pending longer than `min_idle` with `XAUTOCLAIM`. Ack is `XACK`; a nack leaves
//! the entry pending so that it is claimed again after `min_idle`; a reject copies the entry to
//! `<stream>:dead` and acknowledges it.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};
use redis::{Client, Value};
use tokio::time::Instant;

use super::backoff::Reconnect;
use super::redis_conn;
use super::{Acknowledge, Delivery, Source, SourceError};

/// Builds a [`RedisStreamSource`].
#[derive(Debug, Clone)]
pub struct RedisStreamSourceBuilder {
    url: String,
    stream: String,
    group: String,
    name: Option<String>,
    consumer: Option<String>,
    field: String,
    start_id: String,
    batch: usize,
    block_timeout: Duration,
    min_idle: Duration,
    claim_interval: Duration,
}

impl RedisStreamSourceBuilder {
    /// The name in logs and metrics. Default: `redis_stream:<stream>`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The consumer name within the group. Default: host name, process id and a random suffix.
    pub fn consumer(mut self, consumer: impl Into<String>) -> Self {
        self.consumer = Some(consumer.into());
        self
    }

    /// The entry field holding the payload. Entries without it are relayed as a JSON object of
    /// all their fields. Default: `payload`.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = field.into();
        self
    }

    /// Where a newly created group starts: `0` for every entry already in the stream, `$` for
    /// new entries only. Default: `0`, so that nothing written before the first start is lost.
    pub fn start_id(mut self, id: impl Into<String>) -> Self {
        self.start_id = id.into();
        self
    }

    /// How many entries one read fetches. Default: 64.
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch;
        self
    }

    /// How long one `XREADGROUP` blocks waiting for entries. Default: 1 s.
    pub fn block_timeout(mut self, timeout: Duration) -> Self {
        self.block_timeout = timeout;
        self
    }

    /// How long an entry must sit unacknowledged before any consumer may claim it. Default:
    /// 60 s.
    pub fn min_idle(mut self, idle: Duration) -> Self {
        self.min_idle = idle;
        self
    }

    /// How often to look for idle entries to claim. Default: 10 s.
    pub fn claim_interval(mut self, interval: Duration) -> Self {
        self.claim_interval = interval;
        self
    }

    /// Checks the settings. Connecting happens on the first [`Source::next`].
    pub fn build(self) -> Result<RedisStreamSource, SourceError> {
        if self.stream.is_empty() || self.group.is_empty() {
            return Err(SourceError::Config(
                "redis stream and group names must not be empty".into(),
            ));
        }
        if self.batch == 0 || self.block_timeout.is_zero() || self.claim_interval.is_zero() {
            return Err(SourceError::Config(
                "batch, block_timeout and claim_interval must be positive".into(),
            ));
        }
        let client = redis_conn::client(&self.url).map_err(SourceError::Config)?;
        let name = self
            .name
            .unwrap_or_else(|| format!("redis_stream:{}", self.stream));
        Ok(RedisStreamSource {
            reconnect: Reconnect::new(&name),
            name,
            consumer: self
                .consumer
                .unwrap_or_else(redis_conn::default_consumer_name),
            dead: format!("{}:dead", self.stream),
            stream: self.stream,
            group: self.group,
            field: self.field,
            start_id: self.start_id,
            batch: self.batch,
            block_timeout: self.block_timeout,
            min_idle: self.min_idle,
            claim_interval: self.claim_interval,
            client,
            conn: None,
            buffer: VecDeque::new(),
            own_pending_from: None,
            claim_cursor: "0-0".to_owned(),
            next_claim: Instant::now(),
        })
    }
}

/// Reads a Redis stream through a consumer group.
///
/// The group is created on first use (`XGROUP CREATE ... MKSTREAM`, from the start of the
/// stream unless told otherwise). On each (re)connect the consumer first re-reads its own
/// pending entries (those it read but never acknowledged, for instance before a crash), then
/// reads new ones with `XREADGROUP`. Every `claim_interval` it takes over entries that another
/// consumer left pending longer than `min_idle` with `XAUTOCLAIM`. Ack is `XACK`; a nack leaves
/// the entry pending so that it is claimed again after `min_idle`; a reject copies the entry to
/// `<stream>:dead` and acknowledges it.
pub struct RedisStreamSource {
    name: String,
    consumer: String,
    stream: String,
    dead: String,
    group: String,
    field: String,
    start_id: String,
    batch: usize,
    block_timeout: Duration,
    min_idle: Duration,
    claim_interval: Duration,
    client: Client,
    conn: Option<MultiplexedConnection>,
    buffer: VecDeque<(StreamId, u32)>,
    /// Where re-reading our own pending entries continues; `None` once they are all re-read.
    own_pending_from: Option<String>,
    claim_cursor: String,
    next_claim: Instant,
    reconnect: Reconnect,
}

impl std::fmt::Debug for RedisStreamSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStreamSource")
            .field("name", &self.name)
            .field("stream", &self.stream)
            .field("group", &self.group)
            .field("consumer", &self.consumer)
            .finish_non_exhaustive()
    }
}

impl RedisStreamSource {
    /// A builder for a source reading `stream` through consumer group `group`.
    pub fn builder(
        url: impl Into<String>,
        stream: impl Into<String>,
        group: impl Into<String>,
    ) -> RedisStreamSourceBuilder {
        RedisStreamSourceBuilder {
            url: url.into(),
            stream: stream.into(),
            group: group.into(),
            name: None,
            consumer: None,
            field: "payload".to_owned(),
            start_id: "0".to_owned(),
            batch: 64,
            block_timeout: Duration::from_secs(1),
            min_idle: Duration::from_secs(60),
            claim_interval: Duration::from_secs(10),
        }
    }

    /// The consumer name of this source.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    async fn open(&mut self) -> redis::RedisResult<MultiplexedConnection> {
        let mut conn = redis_conn::connect(&self.client, self.block_timeout).await?;
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.stream)
            .arg(&self.group)
            .arg(&self.start_id)
            .arg("MKSTREAM")
            .query_async(&mut conn)
            .await;
        match created {
            Err(error) if error.code() != Some("BUSYGROUP") => return Err(error),
            _ => {}
        }
        // Entries read before a reconnect or a crash may still be ours and unacknowledged.
        self.buffer.clear();
        self.own_pending_from = Some("0".to_owned());
        Ok(conn)
    }

    /// Fills the buffer: our own pending entries first, then idle ones of others when it is
    /// time, then new ones.
    async fn fill(&mut self, conn: &mut MultiplexedConnection) -> redis::RedisResult<()> {
        if let Some(from) = self.own_pending_from.clone() {
            let reply = self.read(conn, &from, None).await?;
            match reply.last() {
                Some(last) => self.own_pending_from = Some(last.id.clone()),
                None => self.own_pending_from = None,
            }
            self.buffer
                .extend(reply.into_iter().map(|entry| (entry, 2)));
            return Ok(());
        }
        if Instant::now() >= self.next_claim {
            let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
                .arg(&self.stream)
                .arg(&self.group)
                .arg(&self.consumer)
                .arg(self.min_idle.as_millis() as u64)
                .arg(&self.claim_cursor)
                .arg("COUNT")
                .arg(self.batch)
                .query_async(conn)
                .await?;
            if !reply.claimed.is_empty() {
                metrics::counter!("pythia_source_claimed_total", "source" => self.name.clone())
                    .increment(reply.claimed.len() as u64);
                tracing::warn!(
                    source = %self.name,
                    claimed = reply.claimed.len(),
                    "claimed entries left idle by another consumer"
                );
            }
            if reply.next_stream_id == "0-0" {
                self.next_claim = Instant::now() + self.claim_interval;
            }
            self.claim_cursor = reply.next_stream_id;
            self.buffer
                .extend(reply.claimed.into_iter().map(|entry| (entry, 2)));
            if !self.buffer.is_empty() {
                return Ok(());
            }
        }
        let block = self.block_timeout.min(self.until_claim());
        let reply = self.read(conn, ">", Some(block)).await?;
        self.buffer
            .extend(reply.into_iter().map(|entry| (entry, 1)));
        Ok(())
    }

    fn until_claim(&self) -> Duration {
        self.next_claim
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    }

    async fn read(
        &self,
        conn: &mut MultiplexedConnection,
        from: &str,
        block: Option<Duration>,
    ) -> redis::RedisResult<Vec<StreamId>> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&self.group)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(self.batch);
        if let Some(block) = block {
            cmd.arg("BLOCK").arg(block.as_millis() as u64);
        }
        cmd.arg("STREAMS").arg(&self.stream).arg(from);
        let reply: Option<StreamReadReply> = cmd.query_async(conn).await?;
        Ok(reply
            .map(|reply| reply.keys.into_iter().flat_map(|key| key.ids).collect())
            .unwrap_or_default())
    }

    fn delivery(&self, entry: StreamId, attempt: u32, conn: MultiplexedConnection) -> Delivery {
        let payload = payload_of(&entry.map, &self.field);
        let dedup_key = format!("redis_stream:{}:{}", self.stream, entry.id);
        let acker = StreamAck {
            conn,
            stream: self.stream.clone(),
            dead: self.dead.clone(),
            group: self.group.clone(),
            id: entry.id.clone(),
            payload: payload.clone(),
        };
        let mut delivery = Delivery::new(payload, acker)
            .with_dedup_key(dedup_key)
            .with_origin(&self.name)
            .with_attempt(attempt);
        delivery.message.headers.insert("redis-stream-id", entry.id);
        delivery
    }
}

/// The payload field's bytes, or every field as a JSON object when that field is missing.
fn payload_of(map: &HashMap<String, Value>, field: &str) -> Bytes {
    if let Some(Value::BulkString(bytes)) = map.get(field) {
        return Bytes::from(bytes.clone());
    }
    let object: serde_json::Map<String, serde_json::Value> = map
        .iter()
        .map(|(key, value)| {
            let text = match value {
                Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                Value::SimpleString(text) => text.clone(),
                Value::Int(number) => number.to_string(),
                _ => String::new(),
            };
            (key.clone(), serde_json::Value::String(text))
        })
        .collect();
    Bytes::from(serde_json::to_vec(&object).unwrap_or_default())
}

#[async_trait]
impl Source for RedisStreamSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn next(&mut self) -> Result<Delivery, SourceError> {
        loop {
            let mut conn = match self.conn.clone() {
                Some(conn) => conn,
                None => match self.open().await {
                    Ok(conn) => {
                        self.reconnect.connected();
                        self.conn = Some(conn.clone());
                        conn
                    }
                    Err(error) => {
                        self.reconnect.failed(&error).await;
                        continue;
                    }
                },
            };
            if let Some((entry, attempt)) = self.buffer.pop_front() {
                metrics::counter!("pythia_source_received_total", "source" => self.name.clone())
                    .increment(1);
                return Ok(self.delivery(entry, attempt, conn));
            }
            if let Err(error) = self.fill(&mut conn).await {
                self.conn = None;
                self.reconnect.failed(&error).await;
            }
        }
    }
}

struct StreamAck {
    conn: MultiplexedConnection,
    stream: String,
    dead: String,
    group: String,
    id: String,
    payload: Bytes,
}

#[async_trait]
impl Acknowledge for StreamAck {
    async fn ack(mut self: Box<Self>) -> Result<(), SourceError> {
        redis::cmd("XACK")
            .arg(&self.stream)
            .arg(&self.group)
            .arg(&self.id)
            .query_async::<i64>(&mut self.conn)
            .await
            .map(drop)
            .map_err(|e| SourceError::Ack(e.to_string()))
    }

    async fn nack(self: Box<Self>, _delay: Duration) -> Result<(), SourceError> {
        // The entry stays pending; XAUTOCLAIM hands it out again once it is `min_idle` old.
        Ok(())
    }

    async fn reject(mut self: Box<Self>, reason: &str) -> Result<(), SourceError> {
        redis::pipe()
            .atomic()
            .cmd("XADD")
            .arg(&self.dead)
            .arg("*")
            .arg("payload")
            .arg(self.payload.as_ref())
            .arg("id")
            .arg(&self.id)
            .arg("reason")
            .arg(reason)
            .ignore()
            .cmd("XACK")
            .arg(&self.stream)
            .arg(&self.group)
            .arg(&self.id)
            .ignore()
            .query_async::<()>(&mut self.conn)
            .await
            .map_err(|e| SourceError::Ack(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_field_is_taken_as_is() {
        let map = HashMap::from([("payload".to_owned(), Value::BulkString(vec![0xff, 0x00]))]);

        assert_eq!(payload_of(&map, "payload").as_ref(), &[0xff, 0x00]);
    }

    #[test]
    fn entries_without_the_field_become_a_json_object() {
        let map = HashMap::from([("event_type".to_owned(), Value::BulkString(b"a".to_vec()))]);

        let payload = payload_of(&map, "payload");

        assert_eq!(payload.as_ref(), br#"{"event_type":"a"}"#);
    }
}
