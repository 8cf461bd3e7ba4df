//! The dispatcher: delivers what the outbox holds.
//!
//! A [`Dispatcher`] claims due messages from an [`Outbox`] under a lease, makes one signed
//! attempt per message through a [`Deliver`] (the [`WebhookSender`](crate::webhook)), then:
//!
//! | outcome | what happens |
//! | --- | --- |
//! | 2xx | acknowledged: gone from the outbox |
//! | retryable failure | rescheduled by the schedule (not before a `Retry-After`), counted |
//! | schedule spent, or not retryable | dead-lettered with the last error (an error log) |
//! | circuit breaker open | rescheduled for when it may close, *not* counted; endpoint skipped |
//! | endpoint disabled (410) or unknown | dead-lettered |
//!
//! Concurrency is bounded overall and per endpoint, and claims skip endpoints that are
//! saturated or behind an open breaker, so one dead endpoint cannot starve the others. On
//! shutdown it stops claiming, lets attempts in flight finish until the drain timeout, and hands
//! the rest back to the outbox without counting them.
//!
//! [`WebhookQueue`] is the enqueue side.
//!
//! # Metrics
//!
//! | name | kind | labels |
//! | --- | --- | --- |
//! | `pythia_outbox_attempts_total` | counter (settled attempts) | `endpoint`, `outcome` |
//! | `pythia_webhook_delivery_latency_seconds` | histogram | `endpoint` |
//! | `pythia_outbox_delivery_delay_seconds` | histogram (enqueue to delivery) | `endpoint` |
//! | `pythia_outbox_dead_letters_total` | counter | `endpoint` |
//! | `pythia_outbox_depth`, `_pending`, `_in_flight`, `_dead` | gauges | |
//! | `pythia_outbox_oldest_age_seconds` | gauge | |
//! | `pythia_outbox_claim_failures_total`, `pythia_outbox_stats_failures_total` | counters | |
//! | `pythia_outbox_settle_failures_total` | counter | `kind` |

mod acks;
mod deliver;
mod queue;
mod run;
mod settle;
mod slots;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};

use self::queue::Handover;
use self::slots::Slots;
use crate::outbox::{Claimed, Outbox};

pub use super::schedule::{DeliverySchedule, DEFAULT_DELAYS};
pub use deliver::Deliver;
pub use queue::{QueueError, WebhookQueue, DEFAULT_MAX_PAYLOAD_BYTES};

/// The default of [`DispatcherBuilder::retry_after_cap`]: one hour.
pub const DEFAULT_RETRY_AFTER_CAP: Duration = Duration::from_secs(3600);

/// Delivers the messages of an outbox; see the [module docs](self).
///
/// ```no_run
/// # async fn example(
/// #     sender: impl pythia::webhook::dispatch::Deliver,
/// # ) -> Result<(), pythia::outbox::OutboxError> {
/// use pythia::outbox::SqliteOutbox;
/// use pythia::webhook::dispatch::Dispatcher;
///
/// let outbox = SqliteOutbox::open("outbox.db")?;
/// let dispatcher = Dispatcher::builder(outbox, sender).concurrency(64).build();
/// let queue = dispatcher.queue();
///
/// let worker = tokio::spawn(dispatcher.run_until(async {
///     tokio::signal::ctrl_c().await.ok();
/// }));
/// queue.send("orders", r#"{"id":1}"#).await.expect("enqueued");
/// worker.await.ok();
/// # Ok(()) }
/// ```
pub struct Dispatcher {
    outbox: Arc<dyn Outbox>,
    deliver: Arc<dyn Deliver>,
    wake: Arc<Notify>,
    slots: Arc<Slots>,
    /// Where queues hand fresh messages over, claimed as they were stored.
    handover: mpsc::UnboundedSender<Claimed>,
    arrivals: mpsc::UnboundedReceiver<Claimed>,
    config: Config,
}

#[derive(Clone, Debug)]
struct Config {
    name: String,
    concurrency: usize,
    per_endpoint: Option<usize>,
    lease: Duration,
    poll_interval: Duration,
    claim_batch: usize,
    claim_ahead: usize,
    drain_timeout: Duration,
    stats_interval: Duration,
    retry_after_cap: Duration,
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A builder for a dispatcher of `outbox` through `deliver`.
    pub fn builder(outbox: impl Outbox, deliver: impl Deliver) -> DispatcherBuilder {
        DispatcherBuilder {
            outbox: Arc::new(outbox),
            deliver: Arc::new(deliver),
            config: Config {
                name: "webhook-dispatcher".to_owned(),
                concurrency: 64,
                per_endpoint: None,
                lease: Duration::from_secs(300),
                poll_interval: Duration::from_millis(250),
                claim_batch: 64,
                claim_ahead: 64,
                drain_timeout: Duration::from_secs(10),
                stats_interval: Duration::from_secs(15),
                retry_after_cap: DEFAULT_RETRY_AFTER_CAP,
            },
        }
    }

    /// A queue into the same outbox that checks endpoint names with the sender and wakes this
    /// dispatcher on each enqueue. While the dispatcher runs and nothing due waits in the
    /// outbox, the queue stores a fresh message already claimed and hands it straight over
    /// (up to [`claim_ahead`](DispatcherBuilder::claim_ahead) of them wait for a slot), so it
    /// goes out without a claim query (see [`Outbox::enqueue_claimed`]; an outbox that cannot
    /// claim on enqueue, as [`Outbox::claims_on_enqueue`] says, has its messages claimed).
    pub fn queue(&self) -> WebhookQueue {
        let handover = Handover {
            slots: self.slots.clone(),
            sender: self.handover.clone(),
            lease: self.config.lease,
        };
        WebhookQueue::for_dispatcher(
            self.outbox.clone(),
            self.deliver.clone(),
            self.wake.clone(),
            handover,
        )
    }

    /// The name used in logs and by the runtime.
    pub fn name(&self) -> &str {
        &self.config.name
    }
}

/// Settings for a [`Dispatcher`]. Setters never fail; out-of-range values are clamped.
pub struct DispatcherBuilder {
    outbox: Arc<dyn Outbox>,
    deliver: Arc<dyn Deliver>,
    config: Config,
}

impl fmt::Debug for DispatcherBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DispatcherBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl DispatcherBuilder {
    /// The worker name, in logs and health. Default: `webhook-dispatcher`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self
    }

    /// The most attempts in flight at once. Default: 64 (at least 1).
    pub fn concurrency(mut self, limit: usize) -> Self {
        self.config.concurrency = limit.max(1);
        self
    }

    /// The most attempts in flight to one endpoint, so a slow endpoint leaves room for the
    /// others. Default: half the concurrency (at least 1); clamped to the concurrency.
    pub fn per_endpoint_concurrency(mut self, limit: usize) -> Self {
        self.config.per_endpoint = Some(limit.max(1));
        self
    }

    /// How long a claimed message stays invisible to other dispatchers. It must outlast one
    /// attempt (the endpoint timeout plus any wait for a rate or concurrency limit), or a
    /// message may be sent twice. Default: 5 minutes (at least 1 second).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.config.lease = lease.max(Duration::from_secs(1));
        self
    }

    /// How often to look for due messages when idle (an enqueue through
    /// [`Dispatcher::queue`] wakes it at once). Default: 250 ms (at least 1 ms).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.config.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The most messages taken in one claim. Default: 64 (at least 1).
    pub fn claim_batch(mut self, size: usize) -> Self {
        self.config.claim_batch = size.max(1);
        self
    }

    /// How many claimed messages may wait for a free slot, so that a finished attempt is
    /// followed at once by the next instead of by a claim's round trip. A process that dies
    /// leaves them claimed, like its attempts in flight: they are due again when their lease
    /// ends, or when the file is opened with
    /// [`release_leases_on_open`](crate::outbox::SqliteOutboxBuilder::release_leases_on_open).
    /// Default: 64; 0 claims only for free slots.
    pub fn claim_ahead(mut self, count: usize) -> Self {
        self.config.claim_ahead = count;
        self
    }

    /// On shutdown, how long attempts in flight may run before their messages are handed back.
    /// Default: 10 seconds.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.config.drain_timeout = timeout;
        self
    }

    /// How often the outbox depth and oldest-age gauges are refreshed. Default: 15 seconds
    /// (at least 100 ms).
    pub fn stats_interval(mut self, interval: Duration) -> Self {
        self.config.stats_interval = interval.max(Duration::from_millis(100));
        self
    }

    /// The longest `Retry-After` a failed attempt may impose. A longer one is cut to this, so
    /// a receiver (or anything between) answering `Retry-After: 31536000` cannot park a
    /// message for a year; the endpoint's own schedule still applies when it is longer.
    /// Default: [`DEFAULT_RETRY_AFTER_CAP`], one hour.
    pub fn retry_after_cap(mut self, cap: Duration) -> Self {
        self.config.retry_after_cap = cap;
        self
    }

    /// The dispatcher.
    pub fn build(self) -> Dispatcher {
        let mut config = self.config;
        let per_endpoint = config
            .per_endpoint
            .unwrap_or(config.concurrency / 2)
            .clamp(1, config.concurrency);
        config.per_endpoint = Some(per_endpoint);
        let (handover, arrivals) = mpsc::unbounded_channel();
        Dispatcher {
            outbox: self.outbox,
            deliver: self.deliver,
            wake: Arc::new(Notify::new()),
            slots: Arc::new(Slots::new(
                config.concurrency,
                per_endpoint,
                config.concurrency + config.claim_ahead,
            )),
            handover,
            arrivals,
            config,
        }
    }
}
