//! Connections to Redis shared by the Redis source, outbox and lease.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client};

use super::redact_url;

/// How long to wait for a TCP connection to Redis.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a client for `url`; the error names the URL without its credentials.
pub(crate) fn client(url: &str) -> Result<Client, String> {
    Client::open(url).map_err(|_| format!("invalid redis url {}", redact_url(url)))
}

/// Connects with a response timeout long enough for blocking commands of `block`.
pub(crate) async fn connect(
    client: &Client,
    block: Duration,
) -> redis::RedisResult<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(block + Duration::from_secs(5));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

pub(crate) use super::default_consumer_name;
