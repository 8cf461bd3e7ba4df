//! A 429 or 503 with Retry-After pushes the target's next poll back.

#[path = "poller_support/mod.rs"]
mod support;

use std::time::Duration;

use pythia::poller::Poller;
use pythia_testkit::{Reply, Route, TestServer};
use support::{after, config, Recorder, Running};

#[tokio::test(start_paused = true)]
async fn retry_after_skips_the_ticks_it_covers() {
    let server = TestServer::start().await;
    server.route(
        "/quota",
        Route::sequence(vec![
            Reply::status(429).retry_after("25"),
            Reply::ok().text("fine"),
        ]),
    );
    let poller = Poller::builder(config(&server.url("/quota"), Duration::from_secs(10)))
        .handler(Recorder::new())
        .build()
        .unwrap();
    let stats = poller.stats();
    let started = tokio::time::Instant::now();

    let running = Running::start(poller);
    after(Duration::from_secs(45)).await;
    running.stop().await;

    // Without Retry-After the polls would be at 0, 10, 20, 30 and 40 s.
    let offsets: Vec<u64> = server
        .requests_to("/quota")
        .iter()
        .map(|r| (r.at - started).as_secs())
        .collect();
    assert_eq!(offsets, vec![0, 30, 40]);
    assert_eq!(stats.snapshot().retry_after, 1);
    assert_eq!(stats.snapshot().skipped_ticks, 0);
}

#[tokio::test(start_paused = true)]
async fn a_503_without_retry_after_keeps_the_schedule() {
    let server = TestServer::start().await;
    server.route("/down", Route::reply(Reply::status(503)));
    let poller = Poller::builder(config(&server.url("/down"), Duration::from_secs(10)))
        .handler(Recorder::new())
        .build()
        .unwrap();
    let stats = poller.stats();

    let running = Running::start(poller);
    after(Duration::from_secs(25)).await;
    running.stop().await;

    assert_eq!(server.hits("/down"), 3);
    assert_eq!(stats.snapshot().retry_after, 0);
    assert_eq!(stats.snapshot().polls_failed, 3);
}
