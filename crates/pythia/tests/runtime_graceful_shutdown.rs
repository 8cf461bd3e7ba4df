//! Shutdown lets a request in flight finish and starts no new one.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use pythia::runtime::{worker_fn, Runtime, WorkerStatus};
use pythia_testkit::{Reply, Route, TestServer};

#[tokio::test(start_paused = true)]
async fn shutdown_finishes_the_request_in_flight_and_starts_no_new_one() {
    let server = TestServer::start().await;
    server.route(
        "/slow",
        Route::reply(Reply::ok().text("done").delay(Duration::from_secs(5))),
    );
    let url = server.url("/slow");
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let seen = statuses.clone();
    let runtime = Runtime::builder()
        .drain_deadline(Duration::from_secs(30))
        .worker(worker_fn("caller", move |ctx| {
            let url = url.clone();
            let seen = seen.clone();
            async move {
                let client = reqwest::Client::new();
                while !ctx.shutdown.is_triggered() {
                    let response = client.get(&url).send().await?;
                    seen.lock().push(response.status().as_u16());
                    ctx.health.success();
                }
                Ok(())
            }
        }))
        .build();
    let trigger = runtime.shutdown_trigger();
    let health = runtime.health();

    let run = tokio::spawn(runtime.run_until(std::future::pending()));
    server.wait_for_hits("/slow", 1).await;
    trigger.trigger();
    let result = run.await.unwrap();

    assert!(result.is_ok(), "{result:?}");
    assert_eq!(*statuses.lock(), [200]);
    assert_eq!(server.hits("/slow"), 1);
    let worker = health.get("caller").unwrap();
    assert_eq!(worker.status, WorkerStatus::Stopped);
    assert!(worker.last_success.is_some());
}

#[tokio::test(start_paused = true)]
async fn run_until_begins_shutdown_when_its_future_completes() {
    let runtime = Runtime::builder()
        .worker(worker_fn("idle", |ctx| async move {
            ctx.shutdown.triggered().await;
            Ok(())
        }))
        .build();
    let health = runtime.health();

    let result = runtime
        .run_until(tokio::time::sleep(Duration::from_secs(60)))
        .await;

    assert!(result.is_ok(), "{result:?}");
    assert_eq!(health.get("idle").unwrap().status, WorkerStatus::Stopped);
}
