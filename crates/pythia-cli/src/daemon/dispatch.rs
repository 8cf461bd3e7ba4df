//! The webhook dispatcher as a runtime worker.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pythia::outbox::Outbox;
use pythia::runtime::{Worker, WorkerContext};
use pythia::webhook::dispatch::{Dispatcher, WebhookQueue};
use pythia::BoxError;

use super::delivery::DaemonDeliver;
use crate::config::Loaded;

/// Settings of the dispatcher from `[outbox]`, with the daemon's defaults.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DispatchSettings {
    concurrency: usize,
    lease: Duration,
    batch: usize,
    poll_interval: Duration,
    drain: Duration,
}

impl DispatchSettings {
    /// From `[outbox]`; `drain` is how long attempts in flight may run on shutdown.
    pub(crate) fn new(loaded: &Loaded, drain: Duration) -> Self {
        let section = &loaded.config.outbox;
        DispatchSettings {
            concurrency: section.concurrency.unwrap_or(64),
            lease: loaded.outbox_lease(),
            batch: section.batch.unwrap_or(64),
            poll_interval: section
                .poll_interval
                .map_or(Duration::from_millis(200), |d| d.0),
            drain,
        }
    }
}

/// Runs a [`Dispatcher`]; a restarted worker builds a fresh one over the same outbox.
pub(crate) struct DispatchWorker {
    current: Option<Dispatcher>,
    outbox: Arc<dyn Outbox>,
    deliver: DaemonDeliver,
    settings: DispatchSettings,
}

impl std::fmt::Debug for DispatchWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DispatchWorker")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl DispatchWorker {
    /// The worker and the queue that wakes it on each enqueue.
    pub(crate) fn new(
        outbox: Arc<dyn Outbox>,
        deliver: DaemonDeliver,
        settings: DispatchSettings,
    ) -> (Self, WebhookQueue) {
        let dispatcher = build(&outbox, &deliver, settings);
        let queue = dispatcher.queue().max_payload_bytes(usize::MAX);
        let worker = DispatchWorker {
            current: Some(dispatcher),
            outbox,
            deliver,
            settings,
        };
        (worker, queue)
    }
}

fn build(outbox: &Arc<dyn Outbox>, deliver: &DaemonDeliver, s: DispatchSettings) -> Dispatcher {
    Dispatcher::builder(outbox.clone(), deliver.clone())
        .name("webhook-dispatcher")
        .concurrency(s.concurrency)
        .lease(s.lease)
        .claim_batch(s.batch)
        .poll_interval(s.poll_interval)
        .drain_timeout(s.drain)
        .stats_interval(Duration::from_secs(5))
        .build()
}

#[async_trait]
impl Worker for DispatchWorker {
    fn name(&self) -> &str {
        "webhook-dispatcher"
    }

    async fn run(&mut self, ctx: WorkerContext) -> Result<(), BoxError> {
        let dispatcher = self
            .current
            .take()
            .unwrap_or_else(|| build(&self.outbox, &self.deliver, self.settings));
        ctx.health.success();
        let shutdown = ctx.shutdown.clone();
        dispatcher
            .run_until(async move { shutdown.triggered().await })
            .await;
        Ok(())
    }
}
