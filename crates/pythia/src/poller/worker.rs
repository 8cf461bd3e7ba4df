//! [`Poller`]: one target, run as a [`Worker`].

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use async_trait::async_trait;

use super::client::build_client;
use super::engine::Engine;
use super::stats::PollerStats;
use super::target::Target;
use super::{ConfigError, PollerBuilder, PollerConfig};
use crate::http::HttpClient;
use crate::runtime::{Worker, WorkerContext};
use crate::BoxError;

/// Polls one target on its schedule and hands each response (or each extracted item) to its
/// [`Handler`](super::Handler): the Rust form of the specification's `PollerWorker`.
///
/// A `Poller` is a [`Worker`]: run it under a [`Runtime`](crate::runtime::Runtime), which stops
/// it on SIGINT or SIGTERM after the poll in flight. Its health entry is unhealthy while the
/// last poll failed, with the count of consecutive failures. The first poll happens at once
/// (unless [`spread`](PollerBuilder::spread) is set); see the [module docs](super) for what
/// one poll does.
///
/// ```no_run
/// use std::time::Duration;
/// use pythia::poller::{Outcome, Poller, PollerConfig};
/// use pythia::runtime::Runtime;
///
/// # async fn example() -> Result<(), pythia::BoxError> {
/// let config = PollerConfig::builder()
///     .url("https://api.payments.example/status")
///     .interval(Duration::from_secs(30))
///     .query("status", "pending")
///     .build()?;
/// let poller = Poller::builder(config)
///     .name("payments")
///     .handler_fn(|message| async move {
///         println!("{:?}", message.body);
///         Ok(Outcome::Processed)
///     })
///     .build()?;
///
/// Runtime::builder().worker(poller).build().run().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Poller {
    engine: Arc<Engine>,
}

impl Poller {
    /// A builder for a poller of `config`.
    pub fn builder(config: PollerConfig) -> PollerBuilder {
        PollerBuilder::new(config)
    }

    pub(crate) fn from_target(
        target: Target,
        client: Option<HttpClient>,
    ) -> Result<Poller, ConfigError> {
        let client = match client {
            Some(client) => client,
            None => build_client(&[&target.config], target.config.max_connections)?,
        };
        let engine = Engine {
            name: target.name.to_string(),
            targets: vec![Arc::new(target)],
            clients: vec![client],
            client_of: vec![0],
            max_in_flight: 1,
            stats: PollerStats::new(),
            seed: None,
            spread_by_default: false,
            failing: AtomicUsize::new(0),
        };
        Ok(Poller {
            engine: Arc::new(engine),
        })
    }

    /// The poller's name.
    pub fn name(&self) -> &str {
        &self.engine.name
    }

    /// The poller's counters.
    pub fn stats(&self) -> PollerStats {
        self.engine.stats.clone()
    }
}

#[async_trait]
impl Worker for Poller {
    fn name(&self) -> &str {
        &self.engine.name
    }

    async fn run(&mut self, ctx: WorkerContext) -> Result<(), BoxError> {
        self.engine.run(ctx).await
    }
}
