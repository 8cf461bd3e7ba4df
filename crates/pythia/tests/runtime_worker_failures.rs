//! A failing worker is counted and marked unhealthy, may be restarted, and never stops the
//! others.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshot};
use pythia::runtime::{worker_fn, RestartPolicy, Runtime, RuntimeError, WorkerStatus};

fn failures_counted(snapshot: Snapshot, worker: &str) -> u64 {
    snapshot
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == "pythia_worker_failures_total")
        .filter(|(key, ..)| {
            key.key()
                .labels()
                .any(|l| l.key() == "worker" && l.value() == worker)
        })
        .map(|(.., value)| match value {
            DebugValue::Counter(n) => n,
            _ => 0,
        })
        .sum()
}

#[tokio::test(start_paused = true)]
async fn a_failing_worker_is_counted_and_unhealthy_while_the_others_keep_running() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let ticks = Arc::new(AtomicU32::new(0));
    let counted = ticks.clone();
    let runtime = Runtime::builder()
        .worker(worker_fn("broken", |_ctx| async move {
            Err("no route to host".into())
        }))
        .worker(worker_fn("steady", move |ctx| {
            let counted = counted.clone();
            async move {
                let mut interval = tokio::time::interval(Duration::from_secs(1));
                while ctx
                    .shutdown
                    .until_triggered(interval.tick())
                    .await
                    .is_some()
                {
                    counted.fetch_add(1, Ordering::SeqCst);
                    ctx.health.success();
                }
                Ok(())
            }
        }))
        .build();
    let health = runtime.health();

    let result = runtime
        .run_until(tokio::time::sleep(Duration::from_secs(10)))
        .await;

    assert!(result.is_ok(), "{result:?}");
    let broken = health.get("broken").unwrap();
    assert_eq!(broken.status, WorkerStatus::Failed);
    assert!(!broken.healthy);
    assert_eq!(broken.last_error.as_deref(), Some("no route to host"));
    assert!(health.get("steady").unwrap().healthy);
    assert!(ticks.load(Ordering::SeqCst) >= 10);
    assert_eq!(failures_counted(snapshotter.snapshot(), "broken"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_worker_is_reported_as_failed_and_does_not_crash_the_runtime() {
    let runtime = Runtime::builder()
        .worker(worker_fn("panicky", |_ctx| async move {
            panic!("index out of bounds");
        }))
        .build();
    let health = runtime.health();

    let result = runtime.run_until(std::future::pending()).await;

    match result {
        Err(RuntimeError::WorkersFailed { failed }) => assert_eq!(failed, ["panicky"]),
        other => panic!("expected every worker to have failed, got {other:?}"),
    }
    let panicky = health.get("panicky").unwrap();
    assert_eq!(panicky.status, WorkerStatus::Failed);
    assert!(panicky.last_error.unwrap().contains("index out of bounds"));
}

#[tokio::test(start_paused = true)]
async fn a_restart_policy_runs_a_failed_worker_again_after_a_growing_wait() {
    let starts = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let seen = starts.clone();
    let begin = tokio::time::Instant::now();
    let runtime = Runtime::builder()
        .restart(
            RestartPolicy::on_failure(Duration::from_secs(1), Duration::from_secs(60))
                .max_restarts(3),
        )
        .worker(worker_fn("flaky", move |_ctx| {
            seen.lock().push(begin.elapsed().as_secs());
            async move { Err("connection refused".into()) }
        }))
        .build();
    let health = runtime.health();

    let result = runtime.run_until(std::future::pending()).await;

    assert!(
        matches!(result, Err(RuntimeError::WorkersFailed { .. })),
        "{result:?}"
    );
    assert_eq!(*starts.lock(), [0, 1, 3, 7]);
    let flaky = health.get("flaky").unwrap();
    assert_eq!(flaky.restarts, 3);
    assert_eq!(flaky.consecutive_failures, 4);
}

#[tokio::test(start_paused = true)]
async fn shutdown_interrupts_the_wait_before_a_restart() {
    let runs = Arc::new(AtomicU32::new(0));
    let counted = runs.clone();
    let runtime = Runtime::builder()
        .restart(RestartPolicy::on_failure(
            Duration::from_secs(3600),
            Duration::from_secs(3600),
        ))
        .worker(worker_fn("flaky", move |_ctx| {
            counted.fetch_add(1, Ordering::SeqCst);
            async move { Err("boom".into()) }
        }))
        .build();
    let health = runtime.health();

    let result = runtime
        .run_until(tokio::time::sleep(Duration::from_secs(5)))
        .await;

    assert!(result.is_ok(), "{result:?}");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(health.get("flaky").unwrap().status, WorkerStatus::Failed);
}
