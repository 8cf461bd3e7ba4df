//! [`Shutdown`] and [`ShutdownTrigger`]: telling workers to stop taking new work.

use std::future::Future;

use tokio_util::sync::CancellationToken;

/// The signal that tells workers to stop: cheap to clone, observed by polling
/// [`is_triggered`](Self::is_triggered) or awaiting [`triggered`](Self::triggered).
///
/// A worker that sees it stops taking new work, finishes what is in flight, and returns from
/// [`Worker::run`](super::Worker::run).
#[derive(Debug, Clone)]
pub struct Shutdown {
    token: CancellationToken,
}

impl Shutdown {
    /// Whether shutdown has begun.
    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Completes once shutdown has begun (at once if it already has).
    pub async fn triggered(&self) {
        self.token.cancelled().await;
    }

    /// Runs `work` unless shutdown begins first: `Some(output)` when the work finished,
    /// `None` when shutdown won (the work is dropped). Use it for waits that may be abandoned,
    /// such as sleeping until the next tick, never for work that must complete.
    pub async fn until_triggered<F: Future>(&self, work: F) -> Option<F::Output> {
        tokio::select! {
            biased;
            _ = self.token.cancelled() => None,
            output = work => Some(output),
        }
    }

    /// A cancellation token that is cancelled when shutdown begins, for code written against
    /// `tokio_util`. Cancelling it affects only itself, never the runtime.
    pub fn token(&self) -> CancellationToken {
        self.token.child_token()
    }
}

/// Begins shutdown: every [`Shutdown`] made from it (and every worker of the runtime it came
/// from) sees it. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ShutdownTrigger {
    token: CancellationToken,
}

impl ShutdownTrigger {
    /// A trigger that has not fired; use it to drive a worker outside a
    /// [`Runtime`](super::Runtime), as tests do.
    pub fn new() -> Self {
        Self::default()
    }

    /// Begins shutdown. Calling it again does nothing.
    pub fn trigger(&self) {
        self.token.cancel();
    }

    /// Whether shutdown has begun.
    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// A [`Shutdown`] that observes this trigger.
    pub fn shutdown(&self) -> Shutdown {
        Shutdown {
            token: self.token.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn every_shutdown_sees_its_trigger() {
        let trigger = ShutdownTrigger::new();
        let first = trigger.shutdown();
        let second = first.clone();

        trigger.trigger();

        assert!(first.is_triggered());
        second.triggered().await;
    }

    #[tokio::test(start_paused = true)]
    async fn until_triggered_abandons_the_wait_when_shutdown_begins() {
        let trigger = ShutdownTrigger::new();
        let shutdown = trigger.shutdown();
        let wait = tokio::spawn(async move {
            shutdown
                .until_triggered(tokio::time::sleep(Duration::from_secs(3600)))
                .await
        });

        tokio::task::yield_now().await;
        trigger.trigger();

        assert_eq!(wait.await.unwrap(), None);
    }

    #[tokio::test]
    async fn until_triggered_returns_the_output_of_finished_work() {
        let trigger = ShutdownTrigger::new();

        let output = trigger.shutdown().until_triggered(async { 7 }).await;

        assert_eq!(output, Some(7));
    }

    #[test]
    fn cancelling_the_token_does_not_trigger_shutdown() {
        let trigger = ShutdownTrigger::new();

        trigger.shutdown().token().cancel();

        assert!(!trigger.is_triggered());
    }
}
