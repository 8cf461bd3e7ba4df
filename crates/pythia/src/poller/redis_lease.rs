//! [`TargetLease`] in Redis: one live instance polls each target.
//!
//! A lease is one key, `<prefix>:<target>`, holding the holder's name with a time to live.
//! Taking or renewing it is one Lua script, so two instances can never both hold it: the key is
//! set when absent, its expiry pushed out when this holder already has it, and left alone
//! otherwise. The poller renews the lease before every poll with a time to live of about one
//! interval, so while an instance lives it keeps its targets; when it dies, its leases expire
//! within one time to live and the next instance to ask takes them over.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;

use super::TargetLease;
use crate::source::redact_url;
use crate::BoxError;

const HOLD: &str = r#"
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"#;

const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// Builds a [`RedisTargetLease`].
#[derive(Debug, Clone)]
pub struct RedisTargetLeaseBuilder {
    url: String,
    prefix: String,
    holder: Option<String>,
    response_timeout: Duration,
}

impl RedisTargetLeaseBuilder {
    /// The prefix of every lease key; instances sharing targets use the same one. Default:
    /// `pythia:lease`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// This instance's name in the lease keys. Two live instances must never share one.
    /// Default: host name, process id and a random suffix.
    pub fn holder(mut self, holder: impl Into<String>) -> Self {
        self.holder = Some(holder.into());
        self
    }

    /// How long to wait for Redis to answer. Default: 2 s.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Connects. Fails when the settings or the URL are invalid or Redis cannot be reached.
    pub async fn connect(self) -> Result<RedisTargetLease, BoxError> {
        if self.prefix.is_empty() {
            return Err("the lease prefix must not be empty".into());
        }
        let holder = self
            .holder
            .unwrap_or_else(crate::source::default_consumer_name);
        if holder.is_empty() {
            return Err("the lease holder name must not be empty".into());
        }
        let client = crate::source::redis_conn::client(&self.url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(crate::source::redis_conn::CONNECT_TIMEOUT)
            .set_response_timeout(self.response_timeout)
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| format!("redis at {}: {e}", redact_url(&self.url)))?;
        Ok(RedisTargetLease {
            conn,
            location: redact_url(&self.url),
            prefix: self.prefix,
            holder,
            hold: Script::new(HOLD),
            release: Script::new(RELEASE),
        })
    }
}

/// Leases on poll targets kept in Redis, shared by every instance with the same prefix.
///
/// ```no_run
/// # async fn demo() -> Result<(), pythia::BoxError> {
/// use std::time::Duration;
/// use pythia::poller::{RedisTargetLease, TargetLease};
///
/// let lease = RedisTargetLease::builder("redis://127.0.0.1:6379").connect().await?;
/// if lease.try_hold("github-events", Duration::from_secs(60)).await? {
///     // this instance polls github-events for the next minute
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisTargetLease {
    conn: ConnectionManager,
    location: String,
    prefix: String,
    holder: String,
    hold: Script,
    release: Script,
}

impl std::fmt::Debug for RedisTargetLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTargetLease")
            .field("location", &self.location)
            .field("prefix", &self.prefix)
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

impl RedisTargetLease {
    /// A builder for leases on the Redis at `url`.
    pub fn builder(url: impl Into<String>) -> RedisTargetLeaseBuilder {
        RedisTargetLeaseBuilder {
            url: url.into(),
            prefix: "pythia:lease".to_owned(),
            holder: None,
            response_timeout: Duration::from_secs(2),
        }
    }

    /// This instance's holder name.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// The Redis key of the lease on `target`.
    pub fn key(&self, target: &str) -> String {
        format!("{}:{target}", self.prefix)
    }

    /// Gives up the lease on `target` if this instance holds it, so another instance can take
    /// it at once (on a clean shutdown). Returns whether a lease was released.
    pub async fn release(&self, target: &str) -> Result<bool, BoxError> {
        let mut conn = self.conn.clone();
        let released: i64 = self
            .release
            .key(self.key(target))
            .arg(&self.holder)
            .invoke_async(&mut conn)
            .await?;
        Ok(released == 1)
    }
}

#[async_trait]
impl TargetLease for RedisTargetLease {
    async fn try_hold(&self, target: &str, ttl: Duration) -> Result<bool, BoxError> {
        let ttl_ms = ttl.as_millis().max(1) as u64;
        let mut conn = self.conn.clone();
        let held: i64 = self
            .hold
            .key(self.key(target))
            .arg(&self.holder)
            .arg(ttl_ms)
            .invoke_async(&mut conn)
            .await?;
        Ok(held == 1)
    }
}
