//! The relay: from a source, through a routing rule, into the outbox.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::backoff::Backoff;
use super::route::Route;
use super::{Delivery, Source, SourceError};
use crate::outbox::{NewMessage, Outbox};

/// What happens to a message that no endpoint takes. Either way it is logged at warn and
/// counted in `pythia_relay_unroutable_total`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unroutable {
    /// Acknowledge and forget it.
    #[default]
    Drop,
    /// Reject it to the broker's dead letters (the Redis list's `<queue>:dead`, the stream's
    /// `<stream>:dead`, a JetStream termination, a RabbitMQ dead-letter exchange).
    DeadLetter,
}

/// Counts of what a relay did, shared with every clone.
#[derive(Clone, Debug, Default)]
pub struct RelayStats {
    inner: Arc<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    relayed: AtomicU64,
    unroutable: AtomicU64,
    duplicates: AtomicU64,
}

impl RelayStats {
    /// Messages stored in the outbox and acknowledged to the source.
    pub fn relayed(&self) -> u64 {
        self.inner.relayed.load(Ordering::Relaxed)
    }

    /// Messages no endpoint took.
    pub fn unroutable(&self) -> u64 {
        self.inner.unroutable.load(Ordering::Relaxed)
    }

    /// Redeliveries the outbox already held (matched by the broker's message key).
    pub fn duplicates(&self) -> u64 {
        self.inner.duplicates.load(Ordering::Relaxed)
    }
}

/// Builds a [`Relay`].
pub struct RelayBuilder {
    name: Option<String>,
    source: Box<dyn Source>,
    outbox: Arc<dyn Outbox>,
    route: Option<Route>,
    unroutable: Unroutable,
    headers: Vec<(String, String)>,
    event_type_header: Option<String>,
}

impl std::fmt::Debug for RelayBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayBuilder")
            .field("name", &self.name)
            .field("source", &self.source.name())
            .field("route", &self.route)
            .finish_non_exhaustive()
    }
}

impl RelayBuilder {
    /// The worker name in logs, metrics and health. Default: the source's name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The routing rule. Required.
    pub fn route(mut self, route: Route) -> Self {
        self.route = Some(route);
        self
    }

    /// What to do with a message no endpoint takes. Default: [`Unroutable::Drop`].
    pub fn unroutable(mut self, unroutable: Unroutable) -> Self {
        self.unroutable = unroutable;
        self
    }

    /// A header added to every webhook this relay enqueues (like the specification's
    /// `X-Source`). Default: none.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A header carrying each message's event type, as read by the route (like the
    /// specification's `X-Event-Type`). Messages without one get no such header. Default: none.
    pub fn event_type_header(mut self, name: impl Into<String>) -> Self {
        self.event_type_header = Some(name.into());
        self
    }

    /// Checks the settings.
    pub fn build(self) -> Result<Relay, SourceError> {
        let route = self
            .route
            .ok_or_else(|| SourceError::Config("a relay needs a route".into()))?;
        if route.endpoints().is_empty() {
            return Err(SourceError::Config(
                "the relay's route names no endpoint".into(),
            ));
        }
        Ok(Relay {
            name: self.name.unwrap_or_else(|| self.source.name().to_owned()),
            source: self.source,
            outbox: self.outbox,
            route,
            unroutable: self.unroutable,
            headers: self.headers,
            event_type_header: self.event_type_header,
            stats: RelayStats::default(),
        })
    }
}

/// Moves messages from a [`Source`] into an [`Outbox`], routed to endpoints by a [`Route`].
///
/// Each delivery is acknowledged to its broker only after
/// [`Outbox::enqueue_batch`] returned, so a crash at any point redelivers rather than loses.
/// When the broker names its messages (stream ids, JetStream sequences, AMQP message ids) the
/// name becomes the outbox idempotency key, so such a redelivery is not stored twice. When the
/// outbox fails, the relay retries with backoff and holds the delivery; on shutdown it hands
/// the delivery back to the broker.
///
/// ```no_run
/// # #[cfg(feature = "redis")]
/// # async fn demo(
/// #     outbox: std::sync::Arc<dyn pythia::outbox::Outbox>,
/// # ) -> Result<(), Box<dyn std::error::Error>> {
/// use pythia::source::{RedisListSource, Relay, Route};
///
/// let source = RedisListSource::builder("redis://127.0.0.1:6379", "order_events").build()?;
/// let relay = Relay::builder(source, outbox)
///     .route(Route::field("/event_type").map("order_created", ["orders"]))
///     .header("X-Source", "order-service")
///     .build()?;
/// relay
///     .run_until(async {
///         let _ = tokio::signal::ctrl_c().await;
///     })
///     .await?;
/// # Ok(()) }
/// ```
pub struct Relay {
    name: String,
    source: Box<dyn Source>,
    outbox: Arc<dyn Outbox>,
    route: Route,
    unroutable: Unroutable,
    headers: Vec<(String, String)>,
    event_type_header: Option<String>,
    stats: RelayStats,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("name", &self.name)
            .field("source", &self.source.name())
            .field("route", &self.route)
            .field("unroutable", &self.unroutable)
            .finish_non_exhaustive()
    }
}

/// How a delivery ended.
enum Handled {
    Relayed,
    Unroutable,
    /// Shutdown came while the outbox was failing; the delivery went back to the broker.
    HandedBack,
}

impl Relay {
    /// A builder for a relay from `source` into `outbox`.
    pub fn builder(source: impl Source, outbox: Arc<dyn Outbox>) -> RelayBuilder {
        RelayBuilder {
            name: None,
            source: Box::new(source),
            outbox,
            route: None,
            unroutable: Unroutable::Drop,
            headers: Vec::new(),
            event_type_header: None,
        }
    }

    /// The relay's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Counts of what this relay did; the handle stays valid while the relay runs.
    pub fn stats(&self) -> RelayStats {
        self.stats.clone()
    }

    /// Relays until `shutdown` completes. The delivery in hand when it does is finished first
    /// (stored and acknowledged) unless the outbox is failing, in which case it goes back to
    /// the broker. Returns an error only for a source failure that retrying cannot fix.
    pub async fn run_until(
        mut self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), SourceError> {
        tokio::pin!(shutdown);
        let mut stopping = false;
        self.run_inner(&mut shutdown, &mut stopping, |_| {}).await
    }

    /// The loop behind [`run_until`](Relay::run_until) and the worker; `on_handled` sees every
    /// delivery's outcome (true when it went somewhere).
    pub(crate) async fn run_inner<F>(
        &mut self,
        shutdown: &mut std::pin::Pin<&mut F>,
        stopping: &mut bool,
        mut on_handled: impl FnMut(bool),
    ) -> Result<(), SourceError>
    where
        F: Future<Output = ()>,
    {
        tracing::info!(relay = %self.name, source = %self.source.name(), "relay started");
        loop {
            let delivery = tokio::select! {
                biased;
                () = shutdown.as_mut(), if !*stopping => break,
                next = self.source.next() => next?,
            };
            match self.handle(delivery, shutdown, stopping).await {
                Handled::Relayed => on_handled(true),
                Handled::Unroutable => on_handled(false),
                Handled::HandedBack => break,
            }
        }
        tracing::info!(relay = %self.name, relayed = self.stats.relayed(), "relay stopped");
        Ok(())
    }

    async fn handle<F>(
        &mut self,
        delivery: Delivery,
        shutdown: &mut std::pin::Pin<&mut F>,
        stopping: &mut bool,
    ) -> Handled
    where
        F: Future<Output = ()>,
    {
        let routed = self.route.resolve(&delivery.message);
        if routed.endpoints.is_empty() {
            let settle = Unsettled {
                relay: &self.name,
                stats: &self.stats,
                unroutable: &self.unroutable,
            };
            settle.settle(delivery, routed.event_type.as_deref()).await;
            return Handled::Unroutable;
        }

        let messages = self.messages(&delivery, &routed.endpoints, routed.event_type);
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        let stored = loop {
            let started = std::time::Instant::now();
            match self.outbox.enqueue_batch(messages.clone()).await {
                Ok(stored) => {
                    crate::outbox::record_enqueue(started);
                    break stored;
                }
                Err(error) => {
                    let delay = backoff.next_delay();
                    metrics::counter!("pythia_relay_enqueue_errors_total",
                        "relay" => self.name.clone())
                    .increment(1);
                    tracing::warn!(
                        relay = %self.name,
                        error = %error,
                        retry_in_ms = delay.as_millis() as u64,
                        "outbox refused a message, holding it and retrying"
                    );
                    let stop = tokio::select! {
                        () = shutdown.as_mut(), if !*stopping => true,
                        () = tokio::time::sleep(delay) => false,
                    };
                    if stop {
                        *stopping = true;
                        if let Err(error) = delivery.nack(Duration::ZERO).await {
                            tracing::warn!(relay = %self.name, error = %error,
                                "hand back failed; the broker will redeliver");
                        }
                        return Handled::HandedBack;
                    }
                }
            }
        };

        let duplicates = stored.iter().filter(|s| s.duplicate).count() as u64;
        if duplicates > 0 {
            self.stats
                .inner
                .duplicates
                .fetch_add(duplicates, Ordering::Relaxed);
            metrics::counter!("pythia_relay_duplicates_total", "relay" => self.name.clone())
                .increment(duplicates);
        }
        if let Err(error) = delivery.ack().await {
            metrics::counter!("pythia_relay_ack_errors_total", "relay" => self.name.clone())
                .increment(1);
            tracing::warn!(relay = %self.name, error = %error,
                "ack failed after the message was stored; the broker will redeliver it");
        }
        self.stats.inner.relayed.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("pythia_relay_relayed_total", "relay" => self.name.clone()).increment(1);
        Handled::Relayed
    }

    fn messages(
        &self,
        delivery: &Delivery,
        endpoints: &[String],
        event_type: Option<String>,
    ) -> Vec<NewMessage> {
        let mut headers = self.headers.clone();
        if let (Some(name), Some(value)) = (&self.event_type_header, &event_type) {
            headers.push((name.clone(), value.clone()));
        }
        if !delivery.message.body.is_json() {
            if let Some(content_type) = delivery.message.body.content_type() {
                headers.push(("content-type".to_owned(), content_type.to_owned()));
            }
        }
        endpoints
            .iter()
            .map(|endpoint| NewMessage {
                id: None,
                endpoint: endpoint.clone(),
                payload: delivery.payload.clone(),
                headers: headers.clone(),
                idempotency_key: delivery
                    .dedup_key
                    .as_ref()
                    .map(|key| format!("{key}:{endpoint}")),
                event_type: event_type.clone(),
                not_before: None,
            })
            .collect()
    }
}

/// What settling an unroutable message needs, borrowed apart from the source so that the
/// relay's future stays `Send` (a source need not be `Sync`).
struct Unsettled<'a> {
    relay: &'a str,
    stats: &'a RelayStats,
    unroutable: &'a Unroutable,
}

impl Unsettled<'_> {
    async fn settle(&self, delivery: Delivery, event_type: Option<&str>) {
        self.stats.inner.unroutable.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("pythia_relay_unroutable_total", "relay" => self.relay.to_owned())
            .increment(1);
        let outcome = match self.unroutable {
            Unroutable::Drop => "dropped",
            Unroutable::DeadLetter => "dead-lettered",
        };
        tracing::warn!(
            relay = %self.relay,
            event_type = event_type.unwrap_or("<none>"),
            outcome,
            "no endpoint takes this message"
        );
        let settled = match self.unroutable {
            Unroutable::Drop => delivery.ack().await,
            Unroutable::DeadLetter => delivery.reject("no endpoint takes this message").await,
        };
        if let Err(error) = settled {
            tracing::warn!(relay = %self.relay, error = %error,
                "settling an unroutable message failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A relay runs on a multi-threaded runtime: its future must be `Send`, whatever the
    /// source (sources need only be `Send`).
    #[test]
    fn the_relay_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let outbox: Arc<dyn Outbox> = Arc::new(crate::outbox::MemoryOutbox::new());
        struct Never;
        #[async_trait::async_trait]
        impl Source for Never {
            fn name(&self) -> &str {
                "never"
            }
            async fn next(&mut self) -> Result<Delivery, SourceError> {
                Err(SourceError::Closed)
            }
        }
        let relay = Relay::builder(Never, outbox)
            .route(Route::to(["a"]))
            .build()
            .unwrap();

        let running = relay.run_until(std::future::pending());

        assert_send(&running);
    }
}
