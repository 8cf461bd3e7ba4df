//! One polled target: its settings, and what it remembers between polls.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::dedup::SeenKeys;
use super::{
    Dedup, Extractor, Handler, Pagination, PollerConfig, Schedule, StateStore, TargetLease,
    TargetState,
};
use crate::resilience::RetryPolicy;

/// Everything needed to poll one target, fixed once built.
pub(crate) struct Target {
    pub(crate) name: Arc<str>,
    /// The `poller` label of its metrics.
    pub(crate) metrics_label: Arc<str>,
    pub(crate) config: PollerConfig,
    pub(crate) schedule: Schedule,
    pub(crate) spread: Option<bool>,
    pub(crate) jitter: Duration,
    pub(crate) handler: Arc<dyn Handler>,
    pub(crate) extractor: Option<Extractor>,
    pub(crate) dedup: Option<Dedup>,
    pub(crate) pagination: Option<Pagination>,
    pub(crate) max_pages: u32,
    pub(crate) state_store: Option<Arc<dyn StateStore>>,
    pub(crate) lease: Option<Arc<dyn TargetLease>>,
    pub(crate) deliver_errors: bool,
    pub(crate) retry: RetryPolicy,
    /// The time allowed for one attempt when the target shares a client built for longer
    /// timeouts than its own (see `client::attempt_budget`); `None` keeps the client's.
    pub(crate) attempt_timeout: Option<Duration>,
    pub(crate) live: Live,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.name)
            .field("metrics_label", &self.metrics_label)
            .field("config", &self.config)
            .field("schedule", &self.schedule)
            .field("extractor", &self.extractor)
            .field("dedup", &self.dedup)
            .field("pagination", &self.pagination)
            .field("max_pages", &self.max_pages)
            .field("deliver_errors", &self.deliver_errors)
            .finish_non_exhaustive()
    }
}

/// What changes while a target runs.
#[derive(Debug, Default)]
pub(crate) struct Live {
    /// A poll of this target is running.
    pub(crate) in_flight: AtomicBool,
    /// No poll before this many nanoseconds after the scheduler started (`Retry-After`).
    pub(crate) not_before: AtomicU64,
    /// Failed polls in a row.
    pub(crate) consecutive_failures: AtomicU32,
    /// Validators, cursor and seen keys.
    pub(crate) memory: Mutex<Memory>,
}

/// What a target remembers between polls.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    /// Whether the state store was read (or there is none).
    pub(crate) loaded: bool,
    pub(crate) etag: Option<String>,
    pub(crate) last_modified: Option<String>,
    pub(crate) cursor: Option<String>,
    pub(crate) seen: SeenKeys,
}

impl Memory {
    pub(crate) fn restore(&mut self, state: TargetState, capacity: usize) {
        self.etag = state.etag;
        self.last_modified = state.last_modified;
        self.cursor = state.cursor;
        self.seen = SeenKeys::from_keys(state.seen, capacity);
    }

    pub(crate) fn to_state(&self) -> TargetState {
        TargetState {
            etag: self.etag.clone(),
            last_modified: self.last_modified.clone(),
            cursor: self.cursor.clone(),
            seen: self.seen.keys(),
        }
    }
}

impl Target {
    /// The time to live of a lease: one interval, or the gap to the next cron fire.
    pub(crate) fn lease_ttl(&self) -> Duration {
        self.schedule
            .shortest_gap(chrono::Utc::now())
            .unwrap_or(self.config.interval)
    }

    pub(crate) fn is_in_flight(&self) -> bool {
        self.live.in_flight.load(Ordering::Acquire)
    }
}
