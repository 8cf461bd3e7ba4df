//! The [`Worker`] trait and what a worker is given to run.

use std::fmt;
use std::future::Future;

use async_trait::async_trait;

use super::{HealthHandle, Shutdown};
use crate::BoxError;

/// A long-running unit of work managed by a [`Runtime`](super::Runtime): a poller, a
/// dispatcher, a relay, a listener.
///
/// The runtime calls [`on_start`](Self::on_start) for every worker in order, then runs each
/// worker's [`run`](Self::run) in its own task, and after `run` returns calls
/// [`on_stop`](Self::on_stop).
///
/// ```
/// use async_trait::async_trait;
/// use pythia::runtime::{Worker, WorkerContext};
/// use pythia::BoxError;
///
/// struct Ticker;
///
/// #[async_trait]
/// impl Worker for Ticker {
///     fn name(&self) -> &str {
///         "ticker"
///     }
///
///     async fn run(&mut self, ctx: WorkerContext) -> Result<(), BoxError> {
///         let mut interval = tokio::time::interval(std::time::Duration::from_secs(1));
///         while ctx.shutdown.until_triggered(interval.tick()).await.is_some() {
///             ctx.health.success();
///         }
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait Worker: Send + 'static {
    /// The name in logs, metrics and the health registry.
    fn name(&self) -> &str;

    /// Prepares the worker (connects, loads state). A failure stops the runtime from starting.
    async fn on_start(&mut self) -> Result<(), BoxError> {
        Ok(())
    }

    /// Does the work until `ctx.shutdown` fires, then finishes what is in flight and returns.
    /// An error is logged, counted and marks the worker unhealthy; the runtime may restart it
    /// (see [`RestartPolicy`](super::RestartPolicy)).
    async fn run(&mut self, ctx: WorkerContext) -> Result<(), BoxError>;

    /// Releases what the worker holds, once `run` has returned (not after an abort).
    async fn on_stop(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[async_trait]
impl Worker for Box<dyn Worker> {
    fn name(&self) -> &str {
        (**self).name()
    }

    async fn on_start(&mut self) -> Result<(), BoxError> {
        (**self).on_start().await
    }

    async fn run(&mut self, ctx: WorkerContext) -> Result<(), BoxError> {
        (**self).run(ctx).await
    }

    async fn on_stop(&mut self) -> Result<(), BoxError> {
        (**self).on_stop().await
    }
}

/// What a worker is given to run: the shutdown signal and its health entry.
#[derive(Debug, Clone)]
pub struct WorkerContext {
    /// Fires when the runtime begins to shut down.
    pub shutdown: Shutdown,
    /// The worker's entry in the health registry.
    pub health: HealthHandle,
}

impl WorkerContext {
    /// A context from its parts, to run a worker outside a runtime (as tests do).
    pub fn new(shutdown: Shutdown, health: HealthHandle) -> Self {
        Self { shutdown, health }
    }
}

/// A worker made from a name and an async closure called with the context for each run; see
/// [`worker_fn`].
pub struct FnWorker<F> {
    name: String,
    f: F,
}

impl<F> fmt::Debug for FnWorker<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnWorker")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A worker from a closure: `f(ctx)` is its [`Worker::run`].
///
/// ```
/// use pythia::runtime::{worker_fn, Runtime};
///
/// let runtime = Runtime::builder()
///     .worker(worker_fn("heartbeat", |ctx| async move {
///         ctx.shutdown.triggered().await;
///         Ok(())
///     }))
///     .build();
/// # drop(runtime);
/// ```
pub fn worker_fn<F, Fut>(name: impl Into<String>, f: F) -> FnWorker<F>
where
    F: FnMut(WorkerContext) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    FnWorker {
        name: name.into(),
        f,
    }
}

#[async_trait]
impl<F, Fut> Worker for FnWorker<F>
where
    F: FnMut(WorkerContext) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    fn name(&self) -> &str {
        &self.name
    }

    async fn run(&mut self, ctx: WorkerContext) -> Result<(), BoxError> {
        (self.f)(ctx).await
    }
}
