//! An invalid JSON body is counted as a failed poll, and the next poll still happens.

#[path = "poller_support/mod.rs"]
mod support;

use std::time::Duration;

use pythia::poller::Poller;
use pythia_testkit::{Reply, Route, TestServer};
use serde_json::json;
use support::{after, config, Recorder, Running};

#[tokio::test(start_paused = true)]
async fn invalid_json_is_counted_and_the_next_poll_delivers() {
    let server = TestServer::start().await;
    server.route(
        "/status",
        Route::sequence(vec![
            Reply::ok()
                .header("content-type", "application/json")
                .bytes(&b"{\"status\": \"pend"[..]),
            Reply::ok().json(json!({"status": "completed"})),
        ]),
    );
    let recorder = Recorder::new();
    let poller = Poller::builder(config(&server.url("/status"), Duration::from_secs(10)))
        .handler(recorder.clone())
        .build()
        .unwrap();
    let stats = poller.stats();

    let running = Running::start(poller);
    after(Duration::from_secs(5)).await;
    let failed_after_first = stats.snapshot().polls_failed;
    let unhealthy = !running.health.get().healthy;
    after(Duration::from_secs(10)).await;
    running.stop().await;

    assert_eq!(failed_after_first, 1);
    assert!(unhealthy);
    assert_eq!(server.hits("/status"), 2);
    assert_eq!(recorder.bodies(), vec![json!({"status": "completed"})]);
    assert_eq!(stats.snapshot().polls_ok, 1);
}
