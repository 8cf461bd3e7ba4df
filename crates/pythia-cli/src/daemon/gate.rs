//! A worker that turns the intake off when shutdown begins: from then on the ingest API answers
//! `503` and `/readyz` reports not ready, while in-flight work drains.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use pythia::runtime::{Worker, WorkerContext};
use pythia::BoxError;

/// Flips `draining` on and `ready` off when the runtime starts to shut down.
#[derive(Debug)]
pub(crate) struct IntakeGate {
    pub(crate) draining: Arc<AtomicBool>,
    pub(crate) ready: Arc<AtomicBool>,
}

#[async_trait]
impl Worker for IntakeGate {
    fn name(&self) -> &str {
        "intake"
    }

    async fn run(&mut self, ctx: WorkerContext) -> Result<(), BoxError> {
        ctx.health.success();
        ctx.shutdown.triggered().await;
        self.draining.store(true, Ordering::Release);
        self.ready.store(false, Ordering::Release);
        tracing::info!("shutdown started: intake closed, draining in-flight work");
        Ok(())
    }
}
