//! [`RuntimeError`].

use crate::BoxError;

/// Why [`Runtime::run`](super::Runtime::run) ended badly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// A worker's `on_start` failed; the workers started before it were stopped.
    #[error("worker {worker} failed to start")]
    Startup {
        /// The worker's name.
        worker: String,
        /// Why it failed.
        #[source]
        source: BoxError,
    },
    /// Workers were still running at the drain deadline and were aborted; their in-flight work
    /// may have to be redone.
    #[error("drain deadline passed; aborted {} worker(s): {}", aborted.len(), aborted.join(", "))]
    DrainDeadline {
        /// The names of the aborted workers.
        aborted: Vec<String>,
    },
    /// Every worker stopped on its own before any shutdown, and these failed.
    #[error("every worker stopped; failed: {}", failed.join(", "))]
    WorkersFailed {
        /// The names of the failed workers.
        failed: Vec<String>,
    },
    /// The signal handlers or the tokio runtime could not be set up.
    #[error("runtime setup failed")]
    Setup(#[source] std::io::Error),
}

impl RuntimeError {
    /// Whether running again may succeed without a change: never for a runtime that ended.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drain_deadline_error_names_the_aborted_workers() {
        let error = RuntimeError::DrainDeadline {
            aborted: vec!["poller".into(), "relay".into()],
        };

        assert_eq!(
            error.to_string(),
            "drain deadline passed; aborted 2 worker(s): poller, relay"
        );
    }
}
