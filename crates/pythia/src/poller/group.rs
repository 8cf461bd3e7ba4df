//! [`PollerGroup`]: many targets under one scheduler.

use std::fmt;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use async_trait::async_trait;

use super::client::{attempt_budget, build_client};
use super::engine::Engine;
use super::stats::PollerStats;
use super::target::Target;
use super::{ConfigError, PollerBuilder};
use crate::http::HttpClient;
use crate::runtime::{Worker, WorkerContext};
use crate::BoxError;

/// The most polls in flight at once in a group when no limit is set.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 256;

/// Many targets (100,000 in one process) driven by one scheduler task, sharing one HTTP client,
/// with at most [`max_in_flight`](PollerGroupBuilder::max_in_flight) polls running at once.
///
/// Each target is a [`PollerBuilder`] as for a lone [`Poller`](super::Poller), and keeps its
/// own schedule, handler, state and lease. Interval targets are spread over their interval by a
/// stable offset from their name, so that targets sharing an interval never fire together. A
/// tick that finds every slot busy waits for one; its lateness is kept in
/// [`stats`](PollerGroup::stats). The group's health is unhealthy while any target's last poll
/// failed.
///
/// ```
/// use std::time::Duration;
/// use pythia::poller::{Outcome, Poller, PollerConfig, PollerGroup};
///
/// let mut group = PollerGroup::builder().name("inventories").max_in_flight(128);
/// for shop in 0..3 {
///     let config = PollerConfig::builder()
///         .url(&format!("https://shop-{shop}.example/inventory"))
///         .interval(Duration::from_secs(60))
///         .build()?;
///     group = group.target(
///         Poller::builder(config)
///             .name(format!("shop-{shop}"))
///             .handler_fn(|_message| async { Ok(Outcome::Processed) }),
///     );
/// }
/// let group = group.build()?;
/// assert_eq!(group.len(), 3);
/// # Ok::<(), pythia::poller::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct PollerGroup {
    engine: Arc<Engine>,
}

impl PollerGroup {
    /// An empty group builder.
    pub fn builder() -> PollerGroupBuilder {
        PollerGroupBuilder::default()
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.engine.name
    }

    /// The number of targets.
    pub fn len(&self) -> usize {
        self.engine.targets.len()
    }

    /// Whether the group has no target.
    pub fn is_empty(&self) -> bool {
        self.engine.targets.is_empty()
    }

    /// The group's counters, tick lateness included.
    pub fn stats(&self) -> PollerStats {
        self.engine.stats.clone()
    }
}

#[async_trait]
impl Worker for PollerGroup {
    fn name(&self) -> &str {
        &self.engine.name
    }

    async fn run(&mut self, ctx: WorkerContext) -> Result<(), BoxError> {
        self.engine.run(ctx).await
    }
}

/// Builds a [`PollerGroup`]. Setters never fail; [`build`](Self::build) reports the first
/// problem, naming the target.
pub struct PollerGroupBuilder {
    name: String,
    targets: Vec<PollerBuilder>,
    client: Option<HttpClient>,
    max_in_flight: usize,
    seed: Option<u64>,
}

impl Default for PollerGroupBuilder {
    fn default() -> Self {
        PollerGroupBuilder {
            name: "pollers".to_owned(),
            targets: Vec::new(),
            client: None,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            seed: None,
        }
    }
}

impl fmt::Debug for PollerGroupBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollerGroupBuilder")
            .field("name", &self.name)
            .field("targets", &self.targets.len())
            .field("max_in_flight", &self.max_in_flight)
            .finish_non_exhaustive()
    }
}

impl PollerGroupBuilder {
    /// The group's name in logs and health. Default: `pollers`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Adds a target.
    pub fn target(mut self, target: PollerBuilder) -> Self {
        self.targets.push(target);
        self
    }

    /// Adds targets.
    pub fn targets(mut self, targets: impl IntoIterator<Item = PollerBuilder>) -> Self {
        self.targets.extend(targets);
        self
    }

    /// The most polls running at once. Default: 256.
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = max;
        self
    }

    /// The client shared by targets that have none of their own. Default: one built from the
    /// targets' settings (their longest timeouts, a pool of `max_in_flight` connections).
    pub fn client(mut self, client: HttpClient) -> Self {
        self.client = Some(client);
        self
    }

    /// Seeds the jitter, for reproducible schedules. Default: seeded from the system.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Checks every target and builds the group.
    pub fn build(self) -> Result<PollerGroup, ConfigError> {
        if self.max_in_flight == 0 {
            return Err(ConfigError::Invalid {
                name: "max in flight",
                reason: "it must be at least 1",
            });
        }
        let mut targets = Vec::with_capacity(self.targets.len());
        let mut clients = Vec::new();
        let mut client_of = Vec::with_capacity(self.targets.len());
        for builder in self.targets {
            let (target, client) = builder.into_target()?;
            match client {
                Some(client) => {
                    client_of.push(u32::try_from(clients.len() + 1).unwrap_or(u32::MAX));
                    clients.push(client);
                }
                None => client_of.push(0),
            }
            targets.push(target);
        }
        let shared = match self.client {
            Some(client) => client,
            None => {
                let configs: Vec<_> = targets
                    .iter()
                    .zip(&client_of)
                    .filter(|(_, client)| **client == 0)
                    .map(|(target, _)| &target.config)
                    .collect();
                let client = build_client(&configs, self.max_in_flight)?;
                let longest = configs.iter().map(|c| attempt_budget(c)).max();
                // The shared client has the longest timeouts; the others keep their own.
                for (target, client) in targets.iter_mut().zip(&client_of) {
                    let own = attempt_budget(&target.config);
                    if *client == 0 && longest.is_some_and(|longest| own < longest) {
                        target.attempt_timeout = Some(own);
                    }
                }
                client
            }
        };
        clients.insert(0, shared);
        let targets: Vec<Arc<Target>> = targets.into_iter().map(Arc::new).collect();

        let engine = Engine {
            name: self.name,
            targets,
            clients,
            client_of,
            max_in_flight: self.max_in_flight,
            stats: PollerStats::with_lateness(),
            seed: self.seed,
            spread_by_default: true,
            failing: AtomicUsize::new(0),
        };
        Ok(PollerGroup {
            engine: Arc::new(engine),
        })
    }
}
