//! Counters a poller keeps for itself, readable without a metrics recorder.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Lateness is kept in buckets of this width.
const BUCKET_MICROS: u64 = 100;
/// Buckets up to 10 s; later ticks land in the last bucket (the maximum is kept exactly).
const BUCKETS: usize = 100_000;

/// A cheap handle on a poller's (or a group's) counters; clones share them.
///
/// The same events are reported through the `metrics` facade; these counters exist so that
/// tests, benchmarks and the binary's status output can read them without a recorder.
#[derive(Clone, Debug, Default)]
pub struct PollerStats {
    inner: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    polls_ok: AtomicU64,
    polls_failed: AtomicU64,
    not_modified: AtomicU64,
    skipped_ticks: AtomicU64,
    items: AtomicU64,
    duplicates: AtomicU64,
    handler_errors: AtomicU64,
    retry_after: AtomicU64,
    lease_skipped: AtomicU64,
    state_errors: AtomicU64,
    page_cap: AtomicU64,
    lateness: Lateness,
}

/// A copy of a poller's counters at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Polls that ended with a 2xx response (or a 304).
    pub polls_ok: u64,
    /// Polls that ended with an error: transport, non-2xx status, bad body.
    pub polls_failed: u64,
    /// Polls answered `304 Not Modified`.
    pub not_modified: u64,
    /// Ticks skipped because the previous poll of the target still ran (or the scheduler was
    /// late by more than an interval).
    pub skipped_ticks: u64,
    /// Messages handed to the handler.
    pub items: u64,
    /// Items dropped because their key was seen before.
    pub duplicates: u64,
    /// Handler calls that returned an error or panicked.
    pub handler_errors: u64,
    /// Responses whose `Retry-After` pushed the next poll back.
    pub retry_after: u64,
    /// Polls skipped because another instance held the target's lease (or the lease failed).
    pub lease_skipped: u64,
    /// State loads or saves that failed.
    pub state_errors: u64,
    /// Polls that stopped at the page cap.
    pub page_cap: u64,
    /// Polls started (ticks dispatched).
    pub ticks: u64,
}

impl PollerStats {
    /// Fresh counters at zero.
    pub fn new() -> PollerStats {
        PollerStats::default()
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let c = &self.inner;
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        StatsSnapshot {
            polls_ok: get(&c.polls_ok),
            polls_failed: get(&c.polls_failed),
            not_modified: get(&c.not_modified),
            skipped_ticks: get(&c.skipped_ticks),
            items: get(&c.items),
            duplicates: get(&c.duplicates),
            handler_errors: get(&c.handler_errors),
            retry_after: get(&c.retry_after),
            lease_skipped: get(&c.lease_skipped),
            state_errors: get(&c.state_errors),
            page_cap: get(&c.page_cap),
            ticks: c.lateness.count(),
        }
    }

    /// The lateness of dispatched ticks at quantile `q` (0.0 to 1.0), to 100 µs; `None` before
    /// the first tick.
    pub fn lateness_quantile(&self, q: f64) -> Option<Duration> {
        self.inner.lateness.quantile(q)
    }

    /// The largest lateness of a dispatched tick.
    pub fn lateness_max(&self) -> Duration {
        Duration::from_micros(self.inner.lateness.max.load(Ordering::Relaxed))
    }

    pub(crate) fn poll_ok(&self) {
        self.inner.polls_ok.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn poll_failed(&self) {
        self.inner.polls_failed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn not_modified(&self) {
        self.inner.not_modified.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn skipped_ticks(&self, n: u64) {
        self.inner.skipped_ticks.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn item(&self) {
        self.inner.items.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn duplicate(&self) {
        self.inner.duplicates.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn handler_error(&self) {
        self.inner.handler_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn retry_after(&self) {
        self.inner.retry_after.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn lease_skipped(&self) {
        self.inner.lease_skipped.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn state_error(&self) {
        self.inner.state_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn page_cap(&self) {
        self.inner.page_cap.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn tick_late(&self, lateness: Duration) {
        self.inner.lateness.record(lateness);
    }
}

/// A fixed-bucket histogram of tick lateness, lock-free.
#[derive(Debug)]
struct Lateness {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    max: AtomicU64,
}

impl Default for Lateness {
    fn default() -> Lateness {
        Lateness {
            buckets: Box::new([]),
            count: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }
}

impl Lateness {
    fn record(&self, lateness: Duration) {
        let micros = u64::try_from(lateness.as_micros()).unwrap_or(u64::MAX);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.max.fetch_max(micros, Ordering::Relaxed);
        if let Some(bucket) = self.buckets.get(bucket_of(micros)) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn quantile(&self, q: f64) -> Option<Duration> {
        let total: u64 = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, bucket) in self.buckets.iter().enumerate() {
            seen += bucket.load(Ordering::Relaxed);
            if seen >= rank {
                let upper = (index as u64 + 1) * BUCKET_MICROS;
                let max = self.max.load(Ordering::Relaxed);
                return Some(Duration::from_micros(upper.min(max)));
            }
        }
        Some(Duration::from_micros(self.max.load(Ordering::Relaxed)))
    }
}

fn bucket_of(micros: u64) -> usize {
    usize::try_from(micros / BUCKET_MICROS)
        .unwrap_or(usize::MAX)
        .min(BUCKETS - 1)
}

impl PollerStats {
    /// Counters that also keep a histogram of tick lateness (800 KB; groups and benchmarks).
    pub(crate) fn with_lateness() -> PollerStats {
        let buckets = (0..BUCKETS).map(|_| AtomicU64::new(0)).collect();
        PollerStats {
            inner: Arc::new(Counters {
                lateness: Lateness {
                    buckets,
                    ..Lateness::default()
                },
                ..Counters::default()
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_quantiles_come_from_the_recorded_values() {
        let stats = PollerStats::with_lateness();

        for ms in 1..=100 {
            stats.tick_late(Duration::from_millis(ms));
        }

        // Quantiles are the upper edge of a 100 µs bucket.
        assert_eq!(
            stats.lateness_quantile(0.5),
            Some(Duration::from_micros(50_100))
        );
        assert_eq!(
            stats.lateness_quantile(0.99),
            Some(Duration::from_micros(99_100))
        );
        assert_eq!(stats.lateness_max(), Duration::from_millis(100));
        assert_eq!(stats.snapshot().ticks, 100);
    }
}
