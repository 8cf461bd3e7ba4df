//! A body over the poller's cap fails the poll without a message, and polling goes on.

#[path = "poller_support/mod.rs"]
mod support;

use std::time::Duration;

use pythia::poller::{Poller, PollerConfig};
use pythia_testkit::{Reply, Route, TestServer};
use serde_json::json;
use support::{after, Recorder, Running};

#[tokio::test(start_paused = true)]
async fn a_body_over_the_cap_is_refused_and_the_next_poll_still_runs() {
    let server = TestServer::start().await;
    let huge = json!({"blob": "x".repeat(8 * 1024)});
    server.route(
        "/export",
        Route::sequence(vec![
            Reply::ok().json(huge),
            Reply::ok().json(json!({"small": 1})),
        ]),
    );
    let config = PollerConfig::builder()
        .url(&server.url("/export"))
        .interval(Duration::from_secs(10))
        .max_body_bytes(1024)
        .build()
        .unwrap();
    let recorder = Recorder::new();
    let poller = Poller::builder(config)
        .handler(recorder.clone())
        .build()
        .unwrap();
    let stats = poller.stats();

    let running = Running::start(poller);
    after(Duration::from_secs(5)).await;
    let reason = running.health.get().last_error;
    after(Duration::from_secs(10)).await;
    running.stop().await;

    assert_eq!(server.hits("/export"), 2);
    assert_eq!(recorder.bodies(), vec![json!({"small": 1})]);
    assert_eq!(stats.snapshot().polls_failed, 1);
    let reason = reason.unwrap();
    assert!(reason.contains("too large"), "{reason}");
}
