//! Workers still running at the drain deadline are aborted and reported.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pythia::runtime::{worker_fn, Runtime, RuntimeError, Worker, WorkerContext, WorkerStatus};
use pythia::BoxError;
use pythia_testkit::{Reply, Route, TestServer};

/// Ignores shutdown and waits on a server that never answers.
struct Stuck {
    url: String,
    stopped: Arc<AtomicBool>,
}

#[async_trait]
impl Worker for Stuck {
    fn name(&self) -> &str {
        "stuck"
    }

    async fn run(&mut self, _ctx: WorkerContext) -> Result<(), BoxError> {
        reqwest::get(&self.url).await?;
        Ok(())
    }

    async fn on_stop(&mut self) -> Result<(), BoxError> {
        self.stopped.store(true, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn the_drain_deadline_aborts_a_stuck_worker_and_reports_it() {
    let server = TestServer::start().await;
    server.route("/hang", Route::reply(Reply::hang()));
    let stopped = Arc::new(AtomicBool::new(false));
    let runtime = Runtime::builder()
        .drain_deadline(Duration::from_secs(10))
        .worker(Stuck {
            url: server.url("/hang"),
            stopped: stopped.clone(),
        })
        .worker(worker_fn("polite", |ctx| async move {
            ctx.shutdown.triggered().await;
            Ok(())
        }))
        .build();
    let trigger = runtime.shutdown_trigger();
    let health = runtime.health();

    let run = tokio::spawn(runtime.run_until(std::future::pending()));
    server.wait_for_hits("/hang", 1).await;
    trigger.trigger();
    let result = run.await.unwrap();

    match result {
        Err(RuntimeError::DrainDeadline { aborted }) => assert_eq!(aborted, ["stuck"]),
        other => panic!("expected a drain deadline error, got {other:?}"),
    }
    assert_eq!(health.get("stuck").unwrap().status, WorkerStatus::Aborted);
    assert!(!health.get("stuck").unwrap().healthy);
    assert_eq!(health.get("polite").unwrap().status, WorkerStatus::Stopped);
    assert!(
        !stopped.load(Ordering::SeqCst),
        "on_stop must not run after an abort"
    );
}

#[tokio::test(start_paused = true)]
async fn a_worker_that_finishes_within_the_deadline_is_not_aborted() {
    let runtime = Runtime::builder()
        .drain_deadline(Duration::from_secs(10))
        .worker(worker_fn("slow-drain", |ctx| async move {
            ctx.shutdown.triggered().await;
            tokio::time::sleep(Duration::from_secs(9)).await;
            Ok(())
        }))
        .build();
    let trigger = runtime.shutdown_trigger();
    let health = runtime.health();

    trigger.trigger();
    let result = runtime.run_until(std::future::pending()).await;

    assert!(result.is_ok(), "{result:?}");
    assert_eq!(
        health.get("slow-drain").unwrap().status,
        WorkerStatus::Stopped
    );
}
