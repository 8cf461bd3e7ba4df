//! The Redis outbox: one queue of webhooks shared by several instances.
//!
//! Every operation is one Lua script, so it is atomic however many instances share the Redis
//! (see `redis_scripts.rs` for the key layout). Enqueue returns once Redis has the message;
//! durability across a Redis restart is then Redis's persistence (use `appendonly yes` with
//! `appendfsync everysec` or `always`). Leases are Redis-clock deadlines in a sorted set: a
//! message whose lease lapses is pending again and the next claim, by any instance, takes it
//! with the same id.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;

use super::redis_scripts::{self, script};
use super::{
    Claimed, DeadLetter, Enqueued, Lease, NewMessage, Outbox, OutboxError, OutboxStats, Replay,
    StoredMessage,
};
use crate::source::redact_url;

/// Builds a [`RedisOutbox`].
#[derive(Clone, Debug)]
pub struct RedisOutboxBuilder {
    url: String,
    prefix: String,
    dedup_window: Duration,
    response_timeout: Duration,
}

impl RedisOutboxBuilder {
    /// The prefix of every key. Instances that share a queue use the same prefix. Default:
    /// `pythia:outbox`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long an idempotency key is remembered after its message was delivered. Default:
    /// 24 hours.
    pub fn dedup_window(mut self, window: Duration) -> Self {
        self.dedup_window = window;
        self
    }

    /// How long to wait for Redis to answer one operation. Default: 5 s.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Connects. Fails when the URL is invalid or Redis cannot be reached.
    pub async fn connect(self) -> Result<RedisOutbox, OutboxError> {
        let location = redact_url(&self.url);
        let open_error = |reason: String| OutboxError::Open {
            location: location.clone(),
            reason,
        };
        if self.prefix.is_empty() || self.dedup_window.is_zero() {
            return Err(open_error(
                "prefix and dedup_window must not be empty".into(),
            ));
        }
        let client = crate::source::redis_conn::client(&self.url).map_err(open_error)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(crate::source::redis_conn::CONNECT_TIMEOUT)
            .set_response_timeout(self.response_timeout)
            .set_factor(2)
            .set_max_delay(1000)
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| open_error(e.to_string()))?;
        tracing::info!(location = %location, prefix = %self.prefix, "redis outbox connected");
        Ok(RedisOutbox {
            conn,
            location,
            prefix: self.prefix,
            dedup_window: self.dedup_window,
            scripts: Scripts::new(),
        })
    }
}

#[derive(Clone)]
struct Scripts {
    enqueue: Script,
    claim: Script,
    ack: Script,
    reschedule: Script,
    dead_letter: Script,
    stats: Script,
    dead_letters: Script,
    replay: Script,
}

impl Scripts {
    fn new() -> Self {
        Scripts {
            enqueue: script(redis_scripts::ENQUEUE),
            claim: script(redis_scripts::CLAIM),
            ack: script(redis_scripts::ACK),
            reschedule: script(redis_scripts::RESCHEDULE),
            dead_letter: script(redis_scripts::DEAD_LETTER),
            stats: script(redis_scripts::STATS),
            dead_letters: script(redis_scripts::DEAD_LETTERS),
            replay: script(redis_scripts::REPLAY),
        }
    }
}

/// An [`Outbox`] in Redis, shared by every instance that uses the same Redis and prefix.
///
/// ```no_run
/// # async fn demo() -> Result<(), pythia::outbox::OutboxError> {
/// use pythia::outbox::{NewMessage, Outbox, RedisOutbox};
///
/// let outbox = RedisOutbox::connect("redis://127.0.0.1:6379").await?;
/// outbox.enqueue(NewMessage::new("orders", r#"{"id":1}"#)).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisOutbox {
    conn: ConnectionManager,
    location: String,
    prefix: String,
    dedup_window: Duration,
    scripts: Scripts,
}

impl std::fmt::Debug for RedisOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisOutbox")
            .field("location", &self.location)
            .field("prefix", &self.prefix)
            .field("dedup_window", &self.dedup_window)
            .finish_non_exhaustive()
    }
}

/// A claimed row: id, lease, endpoint, payload, headers, event type, attempts, created ms,
/// last error.
type ClaimRow = (
    String,
    String,
    String,
    Vec<u8>,
    String,
    String,
    u32,
    u64,
    String,
);

/// A dead row: id, endpoint, payload, headers, event type, attempts, created ms, last error,
/// reason, died ms.
type DeadRow = (
    String,
    String,
    Vec<u8>,
    String,
    String,
    u32,
    u64,
    String,
    String,
    u64,
);

impl RedisOutbox {
    /// Connects to the Redis at `url` with the default settings.
    pub async fn connect(url: &str) -> Result<RedisOutbox, OutboxError> {
        RedisOutbox::builder(url).connect().await
    }

    /// A builder for an outbox on the Redis at `url`.
    pub fn builder(url: impl Into<String>) -> RedisOutboxBuilder {
        RedisOutboxBuilder {
            url: url.into(),
            prefix: "pythia:outbox".to_owned(),
            dedup_window: Duration::from_secs(24 * 60 * 60),
            response_timeout: Duration::from_secs(5),
        }
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        args: Vec<Vec<u8>>,
    ) -> Result<T, OutboxError> {
        let mut invocation = script.prepare_invoke();
        invocation.arg(&self.prefix);
        for arg in args {
            invocation.arg(arg);
        }
        let mut conn = self.conn.clone();
        invocation.invoke_async(&mut conn).await.map_err(storage)
    }

    async fn settle(
        &self,
        script: &Script,
        id: &str,
        args: Vec<Vec<u8>>,
    ) -> Result<(), OutboxError> {
        match self.run::<i64>(script, args).await? {
            1 => Ok(()),
            0 => Err(OutboxError::LeaseLost(id.to_owned())),
            _ => Err(OutboxError::NotFound(id.to_owned())),
        }
    }
}

fn storage(error: redis::RedisError) -> OutboxError {
    OutboxError::Storage(error.to_string())
}

fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn from_millis(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn encode_headers(headers: &[(String, String)]) -> Vec<u8> {
    serde_json::to_vec(headers).unwrap_or_else(|_| b"[]".to_vec())
}

fn decode_headers(text: &str) -> Vec<(String, String)> {
    serde_json::from_str(text).unwrap_or_default()
}

fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

#[async_trait]
impl Outbox for RedisOutbox {
    async fn enqueue(&self, message: NewMessage) -> Result<Enqueued, OutboxError> {
        let mut stored = self.enqueue_batch(vec![message]).await?;
        stored
            .pop()
            .ok_or_else(|| OutboxError::Storage("enqueue returned nothing".into()))
    }

    async fn enqueue_batch(&self, messages: Vec<NewMessage>) -> Result<Vec<Enqueued>, OutboxError> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = Vec::with_capacity(1 + messages.len() * 7);
        args.push(messages.len().to_string().into_bytes());
        for message in messages {
            let id = message.id.unwrap_or_else(crate::message::new_message_id);
            args.push(id.into_bytes());
            args.push(message.endpoint.into_bytes());
            args.push(message.payload.to_vec());
            args.push(encode_headers(&message.headers));
            args.push(message.event_type.unwrap_or_default().into_bytes());
            args.push(message.idempotency_key.unwrap_or_default().into_bytes());
            args.push(
                message
                    .not_before
                    .map(|at| millis(at).to_string())
                    .unwrap_or_default()
                    .into_bytes(),
            );
        }
        let reply: Vec<(String, u8)> = self.run(&self.scripts.enqueue, args).await?;
        Ok(reply
            .into_iter()
            .map(|(id, duplicate)| Enqueued {
                id,
                duplicate: duplicate == 1,
            })
            .collect())
    }

    async fn claim(&self, limit: usize, lease: Duration) -> Result<Vec<Claimed>, OutboxError> {
        self.claim_except(limit, lease, &[]).await
    }

    async fn claim_except(
        &self,
        limit: usize,
        lease: Duration,
        skip_endpoints: &[String],
    ) -> Result<Vec<Claimed>, OutboxError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // A zero lease expires at once (in Redis time), so the next claim may take it again.
        let lease_ms = lease.as_millis() as u64;
        let mut args = vec![
            limit.to_string().into_bytes(),
            lease_ms.to_string().into_bytes(),
            super::claim_window(limit, !skip_endpoints.is_empty())
                .to_string()
                .into_bytes(),
        ];
        args.extend(skip_endpoints.iter().map(|e| e.as_bytes().to_vec()));
        let rows: Vec<ClaimRow> = self.run(&self.scripts.claim, args).await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, lease, endpoint, payload, headers, event_type, attempts, created, error)| {
                    Claimed {
                        message: StoredMessage {
                            id,
                            endpoint,
                            payload: Bytes::from(payload),
                            headers: decode_headers(&headers),
                            event_type: non_empty(event_type),
                            attempts,
                            created_at: from_millis(created),
                            last_error: non_empty(error),
                        },
                        lease: Lease(lease),
                    }
                },
            )
            .collect())
    }

    async fn ack(&self, id: &str, lease: &Lease) -> Result<(), OutboxError> {
        let args = vec![
            id.as_bytes().to_vec(),
            lease.0.as_bytes().to_vec(),
            (self.dedup_window.as_millis() as u64)
                .to_string()
                .into_bytes(),
        ];
        self.settle(&self.scripts.ack, id, args).await
    }

    async fn reschedule(
        &self,
        id: &str,
        lease: &Lease,
        at: SystemTime,
        count_attempt: bool,
        last_error: Option<&str>,
    ) -> Result<(), OutboxError> {
        let flag = |on: bool| if on { b"1".to_vec() } else { b"0".to_vec() };
        let args = vec![
            id.as_bytes().to_vec(),
            lease.0.as_bytes().to_vec(),
            millis(at).to_string().into_bytes(),
            flag(count_attempt),
            flag(last_error.is_some()),
            last_error.unwrap_or_default().as_bytes().to_vec(),
        ];
        self.settle(&self.scripts.reschedule, id, args).await
    }

    async fn dead_letter(&self, id: &str, lease: &Lease, reason: &str) -> Result<(), OutboxError> {
        let args = vec![
            id.as_bytes().to_vec(),
            lease.0.as_bytes().to_vec(),
            reason.as_bytes().to_vec(),
        ];
        // The dispatcher counts dead letters (`pythia_outbox_dead_letters_total{endpoint}`);
        // counting here too made each one count twice.
        self.settle(&self.scripts.dead_letter, id, args).await?;
        Ok(())
    }

    async fn stats(&self, endpoint: Option<&str>) -> Result<OutboxStats, OutboxError> {
        let args = vec![endpoint.unwrap_or_default().as_bytes().to_vec()];
        let (pending, in_flight, dead, oldest, now): (u64, u64, u64, i64, u64) =
            self.run(&self.scripts.stats, args).await?;
        let oldest_age = u64::try_from(oldest)
            .ok()
            .map(|oldest| Duration::from_millis(now.saturating_sub(oldest)));
        Ok(OutboxStats {
            pending,
            in_flight,
            dead,
            oldest_age,
        })
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, OutboxError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let args = vec![limit.to_string().into_bytes()];
        let rows: Vec<DeadRow> = self.run(&self.scripts.dead_letters, args).await?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    id,
                    endpoint,
                    payload,
                    headers,
                    event_type,
                    attempts,
                    created,
                    error,
                    reason,
                    died,
                )| {
                    DeadLetter {
                        message: StoredMessage {
                            id,
                            endpoint,
                            payload: Bytes::from(payload),
                            headers: decode_headers(&headers),
                            event_type: non_empty(event_type),
                            attempts,
                            created_at: from_millis(created),
                            last_error: non_empty(error),
                        },
                        died_at: from_millis(died),
                        reason,
                    }
                },
            )
            .collect())
    }

    async fn replay(&self, which: Replay) -> Result<u64, OutboxError> {
        let args = match which {
            Replay::All => vec![b"all".to_vec()],
            Replay::Endpoint(endpoint) => vec![b"endpoint".to_vec(), endpoint.into_bytes()],
            Replay::Ids(ids) => std::iter::once(b"ids".to_vec())
                .chain(ids.into_iter().map(String::into_bytes))
                .collect(),
        };
        self.run(&self.scripts.replay, args).await
    }
}
