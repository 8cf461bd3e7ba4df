//! [`PollerBuilder`]: a target's handler, schedule and per-poll behaviour.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::target::{Live, Target};
use super::{
    handler_fn, ConfigError, Dedup, Extractor, Handler, Pagination, Poller, PollerConfig, Schedule,
    StateStore, TargetLease, DEFAULT_MAX_PAGES,
};
use crate::http::HttpClient;
use crate::resilience::RetryPolicy;
use crate::{BoxError, Message};

/// Builds a [`Poller`] (or a target of a [`PollerGroup`](super::PollerGroup)) around a
/// [`PollerConfig`]. Setters never fail; [`build`](Self::build) reports the first problem.
///
/// ```
/// use std::time::Duration;
/// use pythia::poller::{Dedup, Extractor, MemoryStateStore, Outcome, Poller, PollerConfig};
///
/// let config = PollerConfig::builder()
///     .url("https://api.events.example/feed")
///     .interval(Duration::from_secs(120))
///     .build()?;
/// let poller = Poller::builder(config)
///     .name("events")
///     .extractor(Extractor::pointer("/events")?)
///     .dedup(Dedup::pointer("/id")?)
///     .state(MemoryStateStore::new())
///     .handler_fn(|message| async move {
///         println!("event {:?}", message.body.get("type"));
///         Ok(Outcome::Processed)
///     })
///     .build()?;
/// # let _ = poller;
/// # Ok::<(), pythia::poller::ConfigError>(())
/// ```
pub struct PollerBuilder {
    config: PollerConfig,
    name: Option<String>,
    metrics_label: Option<String>,
    schedule: Option<Schedule>,
    spread: Option<bool>,
    jitter: Duration,
    handler: Option<Arc<dyn Handler>>,
    extractor: Option<Extractor>,
    dedup: Option<Dedup>,
    pagination: Option<Pagination>,
    max_pages: u32,
    state_store: Option<Arc<dyn StateStore>>,
    lease: Option<Arc<dyn TargetLease>>,
    deliver_errors: bool,
    retry: Option<RetryPolicy>,
    client: Option<HttpClient>,
}

impl fmt::Debug for PollerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollerBuilder")
            .field("config", &self.config)
            .field("name", &self.name)
            .field("schedule", &self.schedule)
            .field("has_handler", &self.handler.is_some())
            .finish_non_exhaustive()
    }
}

impl PollerBuilder {
    pub(crate) fn new(config: PollerConfig) -> PollerBuilder {
        PollerBuilder {
            config,
            name: None,
            metrics_label: None,
            schedule: None,
            spread: None,
            jitter: Duration::ZERO,
            handler: None,
            extractor: None,
            dedup: None,
            pagination: None,
            max_pages: DEFAULT_MAX_PAGES,
            state_store: None,
            lease: None,
            deliver_errors: false,
            retry: None,
            client: None,
        }
    }

    /// The name in logs, metrics (the `poller` label), health, leases and the state store.
    /// Default: the URL without secrets.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The value of the `poller` label on this target's metrics. Default: the
    /// [`name`](Self::name).
    ///
    /// Every distinct value is one time series per metric in a recorder, so many targets of
    /// one kind (a group of 100,000, say) should share one label, such as the group's name,
    /// while their names stay distinct for logs, health, leases and state.
    pub fn metrics_label(mut self, label: impl Into<String>) -> Self {
        self.metrics_label = Some(label.into());
        self
    }

    /// The handler of each message. Required (or [`handler_fn`](Self::handler_fn)).
    pub fn handler(mut self, handler: impl Handler) -> Self {
        self.handler = Some(Arc::new(handler));
        self
    }

    /// A handler shared with other pollers.
    pub fn shared_handler(mut self, handler: Arc<dyn Handler>) -> Self {
        self.handler = Some(handler);
        self
    }

    /// The handler of each message, as an async closure.
    pub fn handler_fn<F, Fut>(self, f: F) -> Self
    where
        F: Fn(Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<super::Outcome, BoxError>> + Send + 'static,
    {
        self.handler(handler_fn(f))
    }

    /// When to poll. Default: every [`PollerConfig::interval`].
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = Some(schedule);
        self
    }

    /// Whether an interval target starts at a stable offset inside its interval (derived from
    /// its name) rather than at once. Default: no for a lone [`Poller`], yes in a
    /// [`PollerGroup`](super::PollerGroup).
    pub fn spread(mut self, spread: bool) -> Self {
        self.spread = Some(spread);
        self
    }

    /// A random delay in `[0, jitter)` added to every tick. Default: none.
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// Turns each JSON response into one message per item. Default: one message per response.
    pub fn extractor(mut self, extractor: Extractor) -> Self {
        self.extractor = Some(extractor);
        self
    }

    /// Drops items whose key was seen in an earlier poll. Default: none.
    pub fn dedup(mut self, dedup: Dedup) -> Self {
        self.dedup = Some(dedup);
        self
    }

    /// Follows pages inside one poll. Default: one page.
    pub fn pagination(mut self, pagination: Pagination) -> Self {
        self.pagination = Some(pagination);
        self
    }

    /// The most pages fetched in one poll. Default: 10.
    pub fn max_pages(mut self, max: u32) -> Self {
        self.max_pages = max;
        self
    }

    /// Keeps validators, cursor and seen keys in `store` across restarts. Default: in memory
    /// only.
    pub fn state(mut self, store: impl StateStore) -> Self {
        self.state_store = Some(Arc::new(store));
        self
    }

    /// A state store shared with other pollers.
    pub fn shared_state(mut self, store: Arc<dyn StateStore>) -> Self {
        self.state_store = Some(store);
        self
    }

    /// Asks `lease` before each poll, so that several instances never poll this target twice.
    /// Default: always poll.
    pub fn lease(mut self, lease: impl TargetLease) -> Self {
        self.lease = Some(Arc::new(lease));
        self
    }

    /// A lease store shared with other pollers.
    pub fn shared_lease(mut self, lease: Arc<dyn TargetLease>) -> Self {
        self.lease = Some(lease);
        self
    }

    /// Hands non-2xx responses (after retries) to the handler with their status code, as the
    /// specification's health-check poller expects. Default: no; they are logged and counted.
    pub fn deliver_errors(mut self, deliver: bool) -> Self {
        self.deliver_errors = deliver;
        self
    }

    /// The retry policy of each request. Default: at most 3 attempts, exponential from 1 s,
    /// retrying 408, 500, 502 and 504; a `429` or `503` is not retried within the poll but
    /// pushes the next poll back when it carries `Retry-After`.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// The HTTP client to use. Default: a client built from the configuration's timeouts,
    /// pool size, TLS, redirect and user agent settings (a group shares one). A given client's
    /// own settings apply instead of those.
    pub fn client(mut self, client: HttpClient) -> Self {
        self.client = Some(client);
        self
    }

    /// Checks every setting and builds the poller.
    pub fn build(self) -> Result<Poller, ConfigError> {
        let (target, client) = self.into_target()?;
        Poller::from_target(target, client)
    }

    pub(crate) fn into_target(self) -> Result<(Target, Option<HttpClient>), ConfigError> {
        let handler = self.handler.ok_or(ConfigError::MissingHandler)?;
        let schedule = self
            .schedule
            .unwrap_or_else(|| Schedule::every(self.config.interval));
        if let Some(interval) = schedule.interval() {
            if interval.is_zero() {
                return Err(ConfigError::ZeroInterval);
            }
        }
        if self.max_pages == 0 {
            return Err(ConfigError::Invalid {
                name: "max pages",
                reason: "it must be at least 1",
            });
        }
        let retry = match self.retry {
            Some(policy) => policy,
            None => default_retry()?,
        };
        let name = self.name.unwrap_or_else(|| self.config.display_url());
        let name: Arc<str> = Arc::from(name);
        let metrics_label = match self.metrics_label {
            Some(label) => Arc::from(label),
            None => Arc::clone(&name),
        };
        let target = Target {
            name,
            metrics_label,
            config: self.config,
            schedule,
            spread: self.spread,
            jitter: self.jitter,
            handler,
            extractor: self.extractor,
            dedup: self.dedup,
            pagination: self.pagination,
            max_pages: self.max_pages,
            state_store: self.state_store,
            lease: self.lease,
            deliver_errors: self.deliver_errors,
            retry,
            attempt_timeout: None,
            live: Live::default(),
        };
        Ok((target, self.client))
    }
}

fn default_retry() -> Result<RetryPolicy, ConfigError> {
    RetryPolicy::builder()
        .max_attempts(3)
        .exponential(Duration::from_secs(1), 2.0)
        .retryable_statuses([408, 500, 502, 504])
        .build()
        .map_err(|e| ConfigError::Http(e.to_string()))
}
