//! [`RuntimeBuilder`].

use std::time::Duration;

use super::{HealthRegistry, RestartPolicy, Runtime, ShutdownTrigger, Worker};

/// The drain deadline when none is set.
pub const DEFAULT_DRAIN_DEADLINE: Duration = Duration::from_secs(30);

/// Builds a [`Runtime`]; made by [`Runtime::builder`].
#[derive(Debug, Default)]
pub struct RuntimeBuilder {
    drain_deadline: Option<Duration>,
    restart: RestartPolicy,
    workers: Vec<Box<dyn Worker>>,
}

impl RuntimeBuilder {
    /// How long workers get, once shutdown begins, to finish in-flight work and stop; workers
    /// still running then are aborted. Default: 30 seconds.
    pub fn drain_deadline(mut self, deadline: Duration) -> Self {
        self.drain_deadline = Some(deadline);
        self
    }

    /// Whether a worker whose `run` fails before shutdown runs again. Default:
    /// [`RestartPolicy::never`].
    pub fn restart(mut self, policy: RestartPolicy) -> Self {
        self.restart = policy;
        self
    }

    /// Adds a worker. Workers start in the order they were added.
    pub fn worker(mut self, worker: impl Worker) -> Self {
        self.workers.push(Box::new(worker));
        self
    }

    /// Adds a boxed worker, for lists of workers of different types.
    pub fn boxed_worker(mut self, worker: Box<dyn Worker>) -> Self {
        self.workers.push(worker);
        self
    }

    /// The runtime, with a health entry registered for every worker.
    pub fn build(self) -> Runtime {
        let health = HealthRegistry::new();
        let workers = self
            .workers
            .into_iter()
            .map(|worker| {
                let handle = health.register(worker.name());
                (worker, handle)
            })
            .collect();
        Runtime {
            workers,
            drain_deadline: self.drain_deadline.unwrap_or(DEFAULT_DRAIN_DEADLINE),
            restart: self.restart,
            health,
            trigger: ShutdownTrigger::new(),
        }
    }
}

impl std::fmt::Debug for dyn Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}
