//! [`Runtime`]: starts workers, watches them, and drains them on shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use tokio::task::{Id, JoinSet};

use super::signal::Signals;
use super::{
    HealthHandle, HealthRegistry, RestartPolicy, RuntimeBuilder, RuntimeError, ShutdownTrigger,
    Worker, WorkerContext, WorkerStatus,
};

/// Runs many [`Worker`]s in one process and stops them gracefully.
///
/// 1. `on_start` runs for each worker in order; a failure stops the ones started and ends the
///    run with [`RuntimeError::Startup`].
/// 2. Each worker's `run` gets its own task. A failure (error or panic) is logged, counted in
///    `pythia_worker_failures_total` and marks the worker unhealthy; the others go on. The
///    [`RestartPolicy`] decides whether it runs again.
/// 3. Shutdown begins on SIGINT or SIGTERM ([`run`](Self::run)), when the future given to
///    [`run_until`](Self::run_until) completes, or on [`ShutdownTrigger::trigger`]. Workers see
///    [`Shutdown`](super::Shutdown) fire, stop taking work and finish what is in flight; then
///    `on_stop` runs.
/// 4. Workers still running at the drain deadline (or at a second signal) are aborted,
///    counted in `pythia_runtime_aborted_workers_total`, and reported in
///    [`RuntimeError::DrainDeadline`].
///
/// ```no_run
/// use pythia::runtime::{worker_fn, Runtime};
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     Runtime::builder()
///         .worker(worker_fn("heartbeat", |ctx| async move {
///             ctx.shutdown.triggered().await;
///             Ok(())
///         }))
///         .build()
///         .run_blocking()?;
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct Runtime {
    pub(super) workers: Vec<(Box<dyn Worker>, HealthHandle)>,
    pub(super) drain_deadline: Duration,
    pub(super) restart: RestartPolicy,
    pub(super) health: HealthRegistry,
    pub(super) trigger: ShutdownTrigger,
}

/// How a worker's task ended.
enum Exit {
    Finished,
    Failed,
}

impl Runtime {
    /// A builder with no workers and the defaults.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// The health registry, with an entry for each worker.
    pub fn health(&self) -> HealthRegistry {
        self.health.clone()
    }

    /// A trigger that begins shutdown, as a signal would.
    pub fn shutdown_trigger(&self) -> ShutdownTrigger {
        self.trigger.clone()
    }

    /// Runs until SIGINT or SIGTERM (or the trigger), then drains. A second signal during the
    /// drain aborts the remaining workers at once.
    pub async fn run(self) -> Result<(), RuntimeError> {
        let signals = Signals::install().map_err(RuntimeError::Setup)?;
        self.supervise(std::future::pending(), Some(signals)).await
    }

    /// Runs until `until` completes (or the trigger fires), then drains. Signals are left to
    /// the caller.
    pub async fn run_until<F: Future<Output = ()>>(self, until: F) -> Result<(), RuntimeError> {
        self.supervise(until, None).await
    }

    /// [`run`](Self::run) on a new multi-threaded tokio runtime, blocking the calling thread:
    /// the entry point for a `main` without `#[tokio::main]`.
    pub fn run_blocking(self) -> Result<(), RuntimeError> {
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(RuntimeError::Setup)?;
        tokio.block_on(self.run())
    }

    async fn supervise<F: Future<Output = ()>>(
        self,
        until: F,
        mut signals: Option<Signals>,
    ) -> Result<(), RuntimeError> {
        let Runtime {
            workers,
            drain_deadline,
            restart,
            trigger,
            ..
        } = self;
        let started = start_all(workers).await?;

        let mut names = HashMap::new();
        let mut tasks = JoinSet::new();
        for (worker, health) in started {
            let ctx = WorkerContext::new(trigger.shutdown(), health.clone());
            let task = tasks.spawn(run_worker(worker, ctx, restart.clone()));
            names.insert(task.id(), health);
        }
        tracing::info!(workers = names.len(), "runtime started");

        let shutdown = trigger.shutdown();
        let mut failed = Vec::new();
        tokio::pin!(until);
        let reason = loop {
            tokio::select! {
                () = &mut until => break "requested",
                () = shutdown.triggered() => break "triggered",
                signal = next_signal(&mut signals) => break signal,
                joined = tasks.join_next_with_id() => match joined {
                    Some(joined) => record_exit(joined, &names, &mut failed),
                    None => {
                        tracing::info!("every worker stopped");
                        return if failed.is_empty() {
                            Ok(())
                        } else {
                            Err(RuntimeError::WorkersFailed { failed })
                        };
                    }
                },
            }
        };

        trigger.trigger();
        tracing::info!(reason, deadline = ?drain_deadline, "shutdown started, draining workers");
        let drained = {
            let drain = async {
                while let Some(joined) = tasks.join_next_with_id().await {
                    record_exit(joined, &names, &mut failed);
                }
            };
            tokio::select! {
                drained = tokio::time::timeout(drain_deadline, drain) => drained.is_ok(),
                signal = next_signal(&mut signals) => {
                    tracing::warn!(signal, "second signal during the drain, aborting workers");
                    false
                }
            }
        };
        if drained {
            tracing::info!("runtime stopped");
            return Ok(());
        }

        let aborted = abort_remaining(tasks, &names).await;
        Err(RuntimeError::DrainDeadline { aborted })
    }
}

/// Completes at the next signal when listening, never otherwise.
async fn next_signal(signals: &mut Option<Signals>) -> &'static str {
    match signals {
        Some(signals) => signals.recv().await,
        None => std::future::pending().await,
    }
}

type Started = Vec<(Box<dyn Worker>, HealthHandle)>;

async fn start_all(workers: Started) -> Result<Started, RuntimeError> {
    let mut started = Vec::with_capacity(workers.len());
    for (mut worker, health) in workers {
        health.set_status(WorkerStatus::Starting);
        if let Err(source) = worker.on_start().await {
            let name = worker.name().to_owned();
            tracing::error!(worker = %name, error = %source, "worker failed to start");
            metrics::counter!("pythia_worker_start_failures_total", "worker" => name.clone())
                .increment(1);
            health.failure(&source.to_string());
            health.set_status(WorkerStatus::Failed);
            stop_all(started).await;
            return Err(RuntimeError::Startup {
                worker: name,
                source,
            });
        }
        started.push((worker, health));
    }
    Ok(started)
}

async fn stop_all(started: Started) {
    for (mut worker, health) in started.into_iter().rev() {
        stop(&mut *worker, &health).await;
        health.set_status(WorkerStatus::Stopped);
    }
}

async fn stop(worker: &mut dyn Worker, health: &HealthHandle) {
    health.set_status(WorkerStatus::Stopping);
    if let Err(error) = worker.on_stop().await {
        tracing::warn!(worker = %health.name(), %error, "worker failed to stop cleanly");
        metrics::counter!("pythia_worker_stop_failures_total", "worker" => health.name().to_owned())
            .increment(1);
    }
}

/// Runs one worker to its end, restarting it as the policy says, then runs `on_stop`.
async fn run_worker(
    mut worker: Box<dyn Worker>,
    ctx: WorkerContext,
    restart: RestartPolicy,
) -> Exit {
    let health = ctx.health.clone();
    let name = health.name().to_owned();
    let mut restarts = 0;
    let exit = loop {
        health.set_status(WorkerStatus::Running);
        let outcome = AssertUnwindSafe(worker.run(ctx.clone()))
            .catch_unwind()
            .await;
        let reason = match outcome {
            Ok(Ok(())) => break Exit::Finished,
            Ok(Err(error)) => error.to_string(),
            Err(panic) => format!("worker panicked: {}", panic_message(&*panic)),
        };

        metrics::counter!("pythia_worker_failures_total", "worker" => name.clone()).increment(1);
        health.failure(&reason);
        let delay = match restart.delay(restarts) {
            Some(delay) if !ctx.shutdown.is_triggered() => delay,
            _ => {
                tracing::error!(worker = %name, error = %reason, "worker failed");
                break Exit::Failed;
            }
        };
        tracing::warn!(worker = %name, error = %reason, restart_in = ?delay, "worker failed");
        health.set_status(WorkerStatus::Restarting);
        if ctx
            .shutdown
            .until_triggered(tokio::time::sleep(delay))
            .await
            .is_none()
        {
            break Exit::Failed;
        }
        restarts += 1;
        health.count_restart();
        metrics::counter!("pythia_worker_restarts_total", "worker" => name.clone()).increment(1);
    };

    stop(&mut *worker, &health).await;
    health.set_status(match exit {
        Exit::Finished => WorkerStatus::Stopped,
        Exit::Failed => WorkerStatus::Failed,
    });
    exit
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    if let Some(text) = panic.downcast_ref::<&str>() {
        text
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text
    } else {
        "no message"
    }
}

fn record_exit(
    joined: Result<(Id, Exit), tokio::task::JoinError>,
    names: &HashMap<Id, HealthHandle>,
    failed: &mut Vec<String>,
) {
    let (id, exit) = match joined {
        Ok((id, exit)) => (id, exit),
        Err(error) => (error.id(), Exit::Failed),
    };
    let Some(health) = names.get(&id) else {
        return;
    };
    match exit {
        Exit::Finished => tracing::info!(worker = %health.name(), "worker stopped"),
        Exit::Failed => failed.push(health.name().to_owned()),
    }
}

async fn abort_remaining(
    mut tasks: JoinSet<Exit>,
    names: &HashMap<Id, HealthHandle>,
) -> Vec<String> {
    tasks.abort_all();
    let mut aborted = Vec::new();
    while let Some(joined) = tasks.join_next_with_id().await {
        let id = match &joined {
            Ok((id, _)) => *id,
            Err(error) => error.id(),
        };
        let Some(health) = names.get(&id) else {
            continue;
        };
        if joined.is_ok() {
            continue;
        }
        health.set_status(WorkerStatus::Aborted);
        aborted.push(health.name().to_owned());
    }
    for name in &aborted {
        tracing::error!(worker = %name, "worker still running at the drain deadline, aborted");
        metrics::counter!("pythia_runtime_aborted_workers_total", "worker" => name.clone())
            .increment(1);
    }
    aborted
}
