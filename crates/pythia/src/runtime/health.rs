//! The health registry: one entry per worker, updated by the worker and the runtime.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::{Mutex, RwLock};

/// Longest failure reason kept, in bytes; longer ones are cut at a character boundary.
const MAX_REASON_BYTES: usize = 512;

/// Where a worker is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WorkerStatus {
    /// Registered, not started yet.
    Pending,
    /// `on_start` is running.
    Starting,
    /// `run` is running.
    Running,
    /// `run` failed and the worker waits to be restarted.
    Restarting,
    /// Shutdown began; the worker is finishing its work or running `on_stop`.
    Stopping,
    /// The worker returned and `on_stop` ran.
    Stopped,
    /// The worker failed for good (its start failed, or `run` failed with no restart left).
    Failed,
    /// The worker was still running at the drain deadline and was aborted.
    Aborted,
}

/// A copy of one worker's health at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerHealth {
    /// The worker's name.
    pub name: String,
    /// No failure since the last success, and not failed, aborted or stopped by a failure.
    pub healthy: bool,
    /// When the worker last reported a success.
    pub last_success: Option<SystemTime>,
    /// Failures reported since the last success.
    pub consecutive_failures: u32,
    /// The reason given with the latest failure, kept after a success for diagnosis.
    pub last_error: Option<String>,
    /// Where the worker is in its life.
    pub status: WorkerStatus,
    /// How many times the runtime restarted the worker after a failed `run`.
    pub restarts: u32,
}

#[derive(Debug)]
struct Entry {
    name: String,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    last_success: Option<SystemTime>,
    consecutive_failures: u32,
    last_error: Option<String>,
    status: WorkerStatus,
    restarts: u32,
}

/// The health of every worker of a runtime. Cheap to clone; clones share the entries.
#[derive(Clone, Default)]
pub struct HealthRegistry {
    entries: Arc<RwLock<Vec<Arc<Entry>>>>,
}

impl fmt::Debug for HealthRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthRegistry")
            .field("workers", &self.entries.read().len())
            .finish()
    }
}

impl HealthRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an entry for `name` and returns the handle that updates it. Names need not be
    /// unique; each call makes its own entry.
    pub fn register(&self, name: &str) -> HealthHandle {
        let entry = Arc::new(Entry {
            name: name.to_owned(),
            state: Mutex::new(State {
                last_success: None,
                consecutive_failures: 0,
                last_error: None,
                status: WorkerStatus::Pending,
                restarts: 0,
            }),
        });
        self.entries.write().push(entry.clone());
        HealthHandle { entry }
    }

    /// Every worker's health, in registration order.
    pub fn snapshot(&self) -> Vec<WorkerHealth> {
        self.entries.read().iter().map(|e| snapshot(e)).collect()
    }

    /// One worker's health (the first registered under `name`).
    pub fn get(&self, name: &str) -> Option<WorkerHealth> {
        let entries = self.entries.read();
        entries.iter().find(|e| e.name == name).map(|e| snapshot(e))
    }

    /// Whether every registered worker is healthy (true when there are none).
    pub fn is_healthy(&self) -> bool {
        self.snapshot().iter().all(|worker| worker.healthy)
    }
}

fn snapshot(entry: &Entry) -> WorkerHealth {
    let state = entry.state.lock();
    WorkerHealth {
        name: entry.name.clone(),
        healthy: state.consecutive_failures == 0
            && !matches!(state.status, WorkerStatus::Failed | WorkerStatus::Aborted),
        last_success: state.last_success,
        consecutive_failures: state.consecutive_failures,
        last_error: state.last_error.clone(),
        status: state.status,
        restarts: state.restarts,
    }
}

/// Updates one worker's entry in a [`HealthRegistry`]. Cheap to clone.
#[derive(Clone)]
pub struct HealthHandle {
    entry: Arc<Entry>,
}

impl fmt::Debug for HealthHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthHandle")
            .field("name", &self.entry.name)
            .finish_non_exhaustive()
    }
}

impl HealthHandle {
    /// The worker's name.
    pub fn name(&self) -> &str {
        &self.entry.name
    }

    /// Records a success: the worker is healthy again and its failure count restarts at zero.
    pub fn success(&self) {
        let recovered = {
            let mut state = self.entry.state.lock();
            let recovered = state.consecutive_failures > 0;
            state.consecutive_failures = 0;
            state.last_success = Some(SystemTime::now());
            recovered
        };
        if recovered {
            tracing::info!(worker = %self.entry.name, "worker healthy again");
            metrics::counter!("pythia_worker_recoveries_total", "worker" => self.entry.name.clone())
                .increment(1);
        }
    }

    /// Records a failure with its reason (cut to 512 bytes). The worker is unhealthy until its
    /// next [`success`](Self::success). Never put a secret in `reason`.
    pub fn failure(&self, reason: &str) {
        let first = {
            let mut state = self.entry.state.lock();
            state.consecutive_failures = state.consecutive_failures.saturating_add(1);
            state.last_error = Some(truncate(reason, MAX_REASON_BYTES).to_owned());
            state.consecutive_failures == 1
        };
        if first {
            tracing::warn!(worker = %self.entry.name, "worker unhealthy");
            metrics::counter!("pythia_worker_unhealthy_total", "worker" => self.entry.name.clone())
                .increment(1);
        }
    }

    /// The current health of this worker.
    pub fn get(&self) -> WorkerHealth {
        snapshot(&self.entry)
    }

    pub(crate) fn set_status(&self, status: WorkerStatus) {
        self.entry.state.lock().status = status;
    }

    pub(crate) fn count_restart(&self) {
        let mut state = self.entry.state.lock();
        state.restarts = state.restarts.saturating_add(1);
    }
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_worker_is_healthy_and_pending() {
        let registry = HealthRegistry::new();

        registry.register("poller");

        let health = registry.get("poller").unwrap();
        assert!(health.healthy);
        assert_eq!(health.status, WorkerStatus::Pending);
        assert_eq!(health.consecutive_failures, 0);
        assert_eq!(health.last_success, None);
    }

    #[test]
    fn failures_count_up_and_a_success_resets_them_but_keeps_the_last_error() {
        let registry = HealthRegistry::new();
        let handle = registry.register("poller");

        handle.failure("timeout");
        handle.failure("status 503");
        let failing = handle.get();
        handle.success();
        let recovered = handle.get();

        assert!(!failing.healthy);
        assert_eq!(failing.consecutive_failures, 2);
        assert_eq!(failing.last_error.as_deref(), Some("status 503"));
        assert!(recovered.healthy);
        assert_eq!(recovered.consecutive_failures, 0);
        assert!(recovered.last_success.is_some());
        assert_eq!(recovered.last_error.as_deref(), Some("status 503"));
    }

    #[test]
    fn a_failed_or_aborted_worker_is_unhealthy_without_reported_failures() {
        let registry = HealthRegistry::new();
        let failed = registry.register("a");
        let aborted = registry.register("b");

        failed.set_status(WorkerStatus::Failed);
        aborted.set_status(WorkerStatus::Aborted);

        assert!(!failed.get().healthy);
        assert!(!aborted.get().healthy);
        assert!(!registry.is_healthy());
    }

    #[test]
    fn the_registry_is_healthy_only_when_every_worker_is() {
        let registry = HealthRegistry::new();
        let a = registry.register("a");
        registry.register("b");

        let before = registry.is_healthy();
        a.failure("boom");

        assert!(before);
        assert!(!registry.is_healthy());
        assert_eq!(registry.snapshot().len(), 2);
    }

    #[test]
    fn a_long_reason_is_cut_at_a_character_boundary() {
        let registry = HealthRegistry::new();
        let handle = registry.register("a");

        handle.failure(&"é".repeat(400));

        let kept = handle.get().last_error.unwrap();
        assert!(kept.len() <= MAX_REASON_BYTES);
        assert!(kept.chars().all(|c| c == 'é'));
    }
}
