//! A real SIGTERM stops intake: the request in flight finishes, no new one starts, and the
//! runtime returns cleanly. (One test in this file: the signal goes to the whole process.)

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use pythia::http::{HttpClient, HttpClientConfig};
use pythia::runtime::{worker_fn, Runtime, WorkerStatus};
use pythia_testkit::{Reply, Route, TestServer};

#[cfg(unix)]
#[tokio::test(start_paused = true)]
async fn sigterm_lets_the_request_in_flight_finish_and_starts_no_new_one() {
    let server = TestServer::start().await;
    server.route(
        "/work",
        Route::reply(Reply::ok().text("done").delay(Duration::from_secs(20))),
    );
    let client = HttpClient::new(HttpClientConfig::default()).unwrap();
    let url = server.url("/work");
    let finished = Arc::new(Mutex::new(Vec::new()));
    let seen = finished.clone();
    let runtime = Runtime::builder()
        .drain_deadline(Duration::from_secs(120))
        .worker(worker_fn("caller", move |ctx| {
            let (client, url, seen) = (client.clone(), url.clone(), seen.clone());
            async move {
                while !ctx.shutdown.is_triggered() {
                    let response = client.get(&url).send().await?;
                    seen.lock().push(response.text());
                    ctx.health.success();
                }
                Ok(())
            }
        }))
        .build();
    let health = runtime.health();
    let trigger = runtime.shutdown_trigger();

    let run = tokio::spawn(runtime.run());
    server.wait_for_hits("/work", 1).await;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .unwrap();
    // The kernel may hand the signal to another thread, which runs its handler a moment after
    // `kill` exits. Left idle meanwhile, the runtime would let the paused clock jump past the
    // reply's delay and start new requests before the signal counts, so it is kept busy
    // (yielding never advances the clock) until the signal has begun the shutdown.
    let sent = std::time::Instant::now();
    while !trigger.is_triggered() {
        assert!(
            sent.elapsed() < Duration::from_secs(30),
            "the runtime never saw the signal"
        );
        tokio::task::yield_now().await;
    }
    // Without the signal the worker would poll forever; fail instead of hanging.
    let result = tokio::time::timeout(Duration::from_secs(600), run)
        .await
        .expect("the runtime stops on SIGTERM")
        .unwrap();

    assert!(status.success());
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(*finished.lock(), ["done"], "the request in flight finished");
    assert_eq!(
        server.hits("/work"),
        1,
        "no request started after the signal"
    );
    let worker = health.get("caller").unwrap();
    assert_eq!(worker.status, WorkerStatus::Stopped);
    assert!(worker.last_success.is_some());
}
