//! Start hooks run in order; a failed start stops the workers already started.

use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;
use pythia::runtime::{Runtime, RuntimeError, Worker, WorkerContext, WorkerStatus};
use pythia::BoxError;

/// Records its hooks into a shared journal.
struct Hooked {
    name: &'static str,
    fail_start: bool,
    journal: Arc<Mutex<Vec<String>>>,
}

#[async_trait]
impl Worker for Hooked {
    fn name(&self) -> &str {
        self.name
    }

    async fn on_start(&mut self) -> Result<(), BoxError> {
        self.journal.lock().push(format!("start {}", self.name));
        if self.fail_start {
            return Err("database locked".into());
        }
        Ok(())
    }

    async fn run(&mut self, ctx: WorkerContext) -> Result<(), BoxError> {
        self.journal.lock().push(format!("run {}", self.name));
        ctx.shutdown.triggered().await;
        Ok(())
    }

    async fn on_stop(&mut self) -> Result<(), BoxError> {
        self.journal.lock().push(format!("stop {}", self.name));
        Ok(())
    }
}

fn hooked(name: &'static str, fail_start: bool, journal: &Arc<Mutex<Vec<String>>>) -> Hooked {
    Hooked {
        name,
        fail_start,
        journal: journal.clone(),
    }
}

#[tokio::test]
async fn hooks_run_start_then_run_then_stop_for_every_worker() {
    let journal = Arc::new(Mutex::new(Vec::new()));
    let runtime = Runtime::builder()
        .worker(hooked("a", false, &journal))
        .worker(hooked("b", false, &journal))
        .build();
    let trigger = runtime.shutdown_trigger();

    let run = tokio::spawn(runtime.run_until(std::future::pending()));
    while journal.lock().len() < 4 {
        tokio::task::yield_now().await;
    }
    trigger.trigger();
    let result = run.await.unwrap();

    assert!(result.is_ok(), "{result:?}");
    let journal = journal.lock().clone();
    assert_eq!(journal[..2], ["start a", "start b"]);
    for worker in ["a", "b"] {
        let position = |event: String| journal.iter().position(|e| *e == event).unwrap();
        assert!(position(format!("run {worker}")) < position(format!("stop {worker}")));
    }
}

#[tokio::test]
async fn a_failed_start_stops_the_workers_already_started_and_runs_none() {
    let journal = Arc::new(Mutex::new(Vec::new()));
    let runtime = Runtime::builder()
        .worker(hooked("a", false, &journal))
        .worker(hooked("b", true, &journal))
        .worker(hooked("c", false, &journal))
        .build();
    let health = runtime.health();

    let result = runtime.run_until(std::future::pending()).await;

    match result {
        Err(RuntimeError::Startup { worker, source }) => {
            assert_eq!(worker, "b");
            assert_eq!(source.to_string(), "database locked");
        }
        other => panic!("expected a startup error, got {other:?}"),
    }
    assert_eq!(*journal.lock(), ["start a", "start b", "stop a"]);
    assert_eq!(health.get("b").unwrap().status, WorkerStatus::Failed);
    assert_eq!(health.get("c").unwrap().status, WorkerStatus::Pending);
}
