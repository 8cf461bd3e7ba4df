//! Broker sources and the relay from a source to the outbox.
//!
//! A [`Source`] yields [`Delivery`]s: a [`Message`](crate::Message), the exact payload bytes,
//! and an acknowledgement. The acknowledgement is given only once the message is safe
//! elsewhere (the [`Relay`] acks after [`Outbox::enqueue`](crate::outbox::Outbox::enqueue)
//! returned), so a crash at any point redelivers instead of losing.
//!
//! | source | feature | how unacknowledged work comes back |
//! | --- | --- | --- |
//! | [`RedisListSource`] | `redis` | moved into a processing list, returned on (re)connect |
//! | [`RedisStreamSource`] | `redis` | consumer group; own pending re-read, dead ones' claimed |
//! | [`NatsSource`] | `nats` | JetStream durable pull consumer, explicit ack, nak with delay |
//! | [`RabbitMqSource`] | `rabbitmq` | manual ack with prefetch, nack with requeue |
//!
//! Every source reconnects with a jittered exponential backoff when its broker goes away; each
//! reconnect is logged at warn and counted in `pythia_source_reconnects_total`.
//!
//! Payloads that are not JSON pass through as bytes ([`Body::from_untyped`](crate::Body)).

use async_trait::async_trait;

mod backoff;
mod delivery;
mod error;
mod relay;
mod route;

#[cfg(feature = "nats")]
mod nats;
#[cfg(feature = "rabbitmq")]
mod rabbitmq;
#[cfg(feature = "redis")]
pub(crate) mod redis_conn;
#[cfg(feature = "redis")]
mod redis_list;
#[cfg(feature = "redis")]
mod redis_stream;

pub use delivery::{Acknowledge, Delivery};
pub use error::SourceError;
pub use relay::{Relay, RelayBuilder, RelayStats, Unroutable};
pub use route::Route;

#[cfg(feature = "nats")]
pub use nats::{NatsSource, NatsSourceBuilder};
#[cfg(feature = "rabbitmq")]
pub use rabbitmq::{RabbitMqSource, RabbitMqSourceBuilder};
#[cfg(feature = "redis")]
pub use redis_list::{RedisListSource, RedisListSourceBuilder};
#[cfg(feature = "redis")]
pub use redis_stream::{RedisStreamSource, RedisStreamSourceBuilder};

/// Where relayed events come from: a stream of [`Delivery`]s.
///
/// [`next`](Source::next) waits for the next delivery, reconnecting to the broker as often as
/// needed; it fails only for errors that retrying cannot fix (a bad configuration, a refused
/// login). Dropping the future of `next` part way is allowed: a message taken from the broker
/// but not yet handed out comes back the way an unacknowledged one does.
#[async_trait]
pub trait Source: Send + 'static {
    /// The name used in logs and metrics.
    fn name(&self) -> &str;

    /// Waits for the next delivery.
    async fn next(&mut self) -> Result<Delivery, SourceError>;
}

#[async_trait]
impl Source for Box<dyn Source> {
    fn name(&self) -> &str {
        (**self).name()
    }

    async fn next(&mut self) -> Result<Delivery, SourceError> {
        (**self).next().await
    }
}

/// A consumer name unique to this process: host name, process id and a random suffix.
#[cfg_attr(not(any(feature = "redis", feature = "rabbitmq")), allow(dead_code))]
pub(crate) fn default_consumer_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "pythia".to_owned());
    let suffix: u32 = rand::random();
    format!("{host}-{}-{suffix:08x}", std::process::id())
}

/// A URL fit for logs: scheme, host, port and path, never a user name or password.
#[cfg_attr(
    not(any(feature = "redis", feature = "nats", feature = "rabbitmq")),
    allow(dead_code)
)]
pub(crate) fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.to_string()
        }
        Err(_) => "<invalid url>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_urls_keep_the_host_and_drop_credentials() {
        let redacted = redact_url("redis://user:s3cret@127.0.0.1:6379/0?password=other");

        assert_eq!(redacted, "redis://127.0.0.1:6379/0");
    }

    #[test]
    fn unparsable_urls_are_not_echoed() {
        assert_eq!(redact_url("not a url with s3cret"), "<invalid url>");
    }
}
