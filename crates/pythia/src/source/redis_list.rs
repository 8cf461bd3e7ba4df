//! A Redis list consumed as a reliable queue.
//!
//! Producers `LPUSH` onto the queue. Each consumer atomically moves the oldest entry into its
//! own processing list (`BLMOVE queue <queue>:processing:<consumer> RIGHT LEFT`) and removes
//! it from there on ack, so a message is always in one of the two lists. Every consumer keeps a
//! heartbeat key alive; when a consumer's heartbeat lapses (it crashed), any other consumer
//! moves that consumer's processing list back onto the queue, at the end that is read next.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use redis::aio::MultiplexedConnection;
use redis::{Client, Script};
use tokio::time::Instant;

use super::backoff::Reconnect;
use super::redis_conn;
use super::{Acknowledge, Delivery, Source, SourceError};

const RECOVER: &str = r#"
local queue = ARGV[1]
local moved = 0
local function drain(list)
  while true do
    local value = redis.call('LMOVE', list, queue, 'LEFT', 'RIGHT')
    if not value then break end
    moved = moved + 1
  end
end
if ARGV[3] == '1' then drain(queue .. ':processing:' .. ARGV[2]) end
for _, name in ipairs(redis.call('SMEMBERS', queue .. ':consumers')) do
  if name ~= ARGV[2] and redis.call('EXISTS', queue .. ':alive:' .. name) == 0 then
    drain(queue .. ':processing:' .. name)
    redis.call('SREM', queue .. ':consumers', name)
  end
end
return moved
"#;

const REQUEUE: &str = r#"
if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 1 then
  redis.call('LPUSH', KEYS[2], ARGV[1])
  return 1
end
return 0
"#;

/// Builds a [`RedisListSource`].
#[derive(Debug, Clone)]
pub struct RedisListSourceBuilder {
    url: String,
    queue: String,
    name: Option<String>,
    consumer: Option<String>,
    block_timeout: Duration,
    consumer_ttl: Duration,
}

impl RedisListSourceBuilder {
    /// The name in logs and metrics. Default: `redis_list:<queue>`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The consumer name, which names the processing list. Two live consumers must never share
    /// one. Default: host name, process id and a random suffix.
    pub fn consumer(mut self, consumer: impl Into<String>) -> Self {
        self.consumer = Some(consumer.into());
        self
    }

    /// How long one `BLMOVE` blocks waiting for an entry. Default: 1 s.
    pub fn block_timeout(mut self, timeout: Duration) -> Self {
        self.block_timeout = timeout;
        self
    }

    /// How long this consumer's heartbeat outlives its last renewal; after a crash, its
    /// unacknowledged messages return to the queue within about this time. Default: 30 s.
    pub fn consumer_ttl(mut self, ttl: Duration) -> Self {
        self.consumer_ttl = ttl;
        self
    }

    /// Checks the settings. Connecting happens on the first [`Source::next`], so a broker that
    /// is down at start is retried like one that goes away later.
    pub fn build(self) -> Result<RedisListSource, SourceError> {
        if self.queue.is_empty() {
            return Err(SourceError::Config("redis list queue name is empty".into()));
        }
        if self.block_timeout.is_zero() || self.consumer_ttl < Duration::from_millis(100) {
            return Err(SourceError::Config(
                "block_timeout must be positive and consumer_ttl at least 100 ms".into(),
            ));
        }
        let client = redis_conn::client(&self.url).map_err(SourceError::Config)?;
        let name = self
            .name
            .unwrap_or_else(|| format!("redis_list:{}", self.queue));
        let consumer = self
            .consumer
            .unwrap_or_else(redis_conn::default_consumer_name);
        Ok(RedisListSource {
            keys: Keys::new(&self.queue, &consumer),
            reconnect: Reconnect::new(&name),
            name,
            consumer,
            client,
            conn: None,
            block_timeout: self.block_timeout,
            consumer_ttl: self.consumer_ttl,
            next_heartbeat: Instant::now(),
            requeue: Script::new(REQUEUE),
        })
    }
}

#[derive(Debug, Clone)]
struct Keys {
    queue: String,
    processing: String,
    consumers: String,
    alive: String,
    dead: String,
}

impl Keys {
    fn new(queue: &str, consumer: &str) -> Self {
        Keys {
            queue: queue.to_owned(),
            processing: format!("{queue}:processing:{consumer}"),
            consumers: format!("{queue}:consumers"),
            alive: format!("{queue}:alive:{consumer}"),
            dead: format!("{queue}:dead"),
        }
    }
}

/// Consumes a Redis list as a reliable queue.
///
/// Producers `LPUSH` onto the queue. Each consumer atomically moves the oldest entry into its
/// own processing list (`BLMOVE queue <queue>:processing:<consumer> RIGHT LEFT`) and removes
/// it from there on ack, so a message is always in one of the two lists. Every consumer keeps a
/// heartbeat key alive; when a consumer's heartbeat lapses (it crashed), any other consumer
/// moves that consumer's processing list back onto the queue, at the end that is read next.
///
/// ```no_run
/// # async fn demo() -> Result<(), pythia::source::SourceError> {
/// use pythia::source::{RedisListSource, Source};
///
/// let mut source = RedisListSource::builder("redis://127.0.0.1:6379", "order_events").build()?;
/// let delivery = source.next().await?;
/// println!("{:?}", delivery.message.body);
/// delivery.ack().await?;
/// # Ok(()) }
/// ```
pub struct RedisListSource {
    name: String,
    consumer: String,
    keys: Keys,
    client: Client,
    conn: Option<MultiplexedConnection>,
    block_timeout: Duration,
    consumer_ttl: Duration,
    next_heartbeat: Instant,
    reconnect: Reconnect,
    requeue: Script,
}

impl std::fmt::Debug for RedisListSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisListSource")
            .field("name", &self.name)
            .field("queue", &self.keys.queue)
            .field("consumer", &self.consumer)
            .finish_non_exhaustive()
    }
}

impl RedisListSource {
    /// A builder for a source reading `queue` on the Redis at `url`.
    pub fn builder(url: impl Into<String>, queue: impl Into<String>) -> RedisListSourceBuilder {
        RedisListSourceBuilder {
            url: url.into(),
            queue: queue.into(),
            name: None,
            consumer: None,
            block_timeout: Duration::from_secs(1),
            consumer_ttl: Duration::from_secs(30),
        }
    }

    /// The consumer name of this source.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    async fn open(&mut self) -> redis::RedisResult<MultiplexedConnection> {
        let mut conn = redis_conn::connect(&self.client, self.block_timeout).await?;
        // Whatever this consumer took before (a crash, a lost connection, a dropped `next`) is
        // unacknowledged: it goes back to the queue first.
        self.heartbeat(&mut conn, true).await?;
        Ok(conn)
    }

    /// Renews this consumer's heartbeat and returns the work of lapsed consumers to the queue,
    /// and this consumer's own processing list too when `own` (only on connect: later, it
    /// holds deliveries in hand or waiting out a nack delay).
    async fn heartbeat(
        &mut self,
        conn: &mut MultiplexedConnection,
        own: bool,
    ) -> redis::RedisResult<()> {
        let ttl_ms = self.consumer_ttl.as_millis() as u64;
        redis::pipe()
            .atomic()
            .sadd(&self.keys.consumers, &self.consumer)
            .ignore()
            .pset_ex(&self.keys.alive, 1, ttl_ms)
            .ignore()
            .query_async::<()>(conn)
            .await?;
        let moved: u64 = Script::new(RECOVER)
            .arg(&self.keys.queue)
            .arg(&self.consumer)
            .arg(if own { "1" } else { "0" })
            .invoke_async(conn)
            .await?;
        if moved > 0 {
            metrics::counter!("pythia_source_recovered_total", "source" => self.name.clone())
                .increment(moved);
            tracing::warn!(source = %self.name, moved,
                "returned unacknowledged messages to the queue");
        }
        self.next_heartbeat = Instant::now() + self.consumer_ttl / 3;
        Ok(())
    }

    async fn take(
        &mut self,
        conn: &mut MultiplexedConnection,
    ) -> redis::RedisResult<Option<Vec<u8>>> {
        if Instant::now() >= self.next_heartbeat {
            self.heartbeat(conn, false).await?;
        }
        redis::cmd("BLMOVE")
            .arg(&self.keys.queue)
            .arg(&self.keys.processing)
            .arg("RIGHT")
            .arg("LEFT")
            .arg(self.block_timeout.as_secs_f64())
            .query_async(conn)
            .await
    }
}

#[async_trait]
impl Source for RedisListSource {
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
            match self.take(&mut conn).await {
                Ok(Some(raw)) => {
                    metrics::counter!("pythia_source_received_total", "source" => self.name.clone())
                        .increment(1);
                    let payload = Bytes::from(raw);
                    let acker = ListAck {
                        conn,
                        keys: self.keys.clone(),
                        payload: payload.clone(),
                        requeue: self.requeue.clone(),
                    };
                    return Ok(Delivery::new(payload, acker).with_origin(&self.name));
                }
                Ok(None) => {}
                Err(error) => {
                    self.conn = None;
                    self.reconnect.failed(&error).await;
                }
            }
        }
    }
}

struct ListAck {
    conn: MultiplexedConnection,
    keys: Keys,
    payload: Bytes,
    requeue: Script,
}

impl ListAck {
    async fn requeue(mut self) -> Result<(), SourceError> {
        self.requeue
            .key(&self.keys.processing)
            .key(&self.keys.queue)
            .arg(self.payload.as_ref())
            .invoke_async::<i64>(&mut self.conn)
            .await
            .map(drop)
            .map_err(|e| SourceError::Ack(e.to_string()))
    }
}

#[async_trait]
impl Acknowledge for ListAck {
    async fn ack(mut self: Box<Self>) -> Result<(), SourceError> {
        redis::cmd("LREM")
            .arg(&self.keys.processing)
            .arg(-1)
            .arg(self.payload.as_ref())
            .query_async::<i64>(&mut self.conn)
            .await
            .map(drop)
            .map_err(|e| SourceError::Ack(e.to_string()))
    }

    async fn nack(self: Box<Self>, delay: Duration) -> Result<(), SourceError> {
        if delay.is_zero() {
            return self.requeue().await;
        }
        // The entry stays in the processing list, invisible to others, until the delay is over;
        // if this process dies first, crash recovery returns it.
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Err(error) = self.requeue().await {
                tracing::warn!(error = %error,
                    "delayed requeue failed; recovery will return the message");
            }
        });
        Ok(())
    }

    async fn reject(mut self: Box<Self>, reason: &str) -> Result<(), SourceError> {
        tracing::debug!(queue = %self.keys.queue, reason, "moving message to the dead list");
        self.requeue
            .key(&self.keys.processing)
            .key(&self.keys.dead)
            .arg(self.payload.as_ref())
            .invoke_async::<i64>(&mut self.conn)
            .await
            .map(drop)
            .map_err(|e| SourceError::Ack(e.to_string()))
    }
}
