//! A poller fires once per interval, never runs two polls of its target at once, and counts
//! the ticks it skips while a poll runs long.

#[path = "poller_support/mod.rs"]
mod support;

use std::time::Duration;

use pythia::http::{HttpClient, HttpClientConfig};
use pythia::poller::Poller;
use pythia_testkit::{Reply, Route, TestServer};
use support::{after, config, Recorder, Running};

const INTERVAL: Duration = Duration::from_secs(10);

#[tokio::test(start_paused = true)]
async fn polls_start_at_once_and_repeat_every_interval() {
    let server = TestServer::start().await;
    server.route(
        "/status",
        Route::reply(Reply::ok().json(serde_json::json!({"ok": true}))),
    );
    let recorder = Recorder::new();
    let poller = Poller::builder(config(&server.url("/status"), INTERVAL))
        .handler(recorder.clone())
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();

    let running = Running::start(poller);
    after(Duration::from_secs(35)).await;
    running.stop().await;

    let offsets: Vec<Duration> = server
        .requests_to("/status")
        .iter()
        .map(|r| r.at - started)
        .collect();
    assert_eq!(offsets.len(), 4, "{offsets:?}");
    for (n, offset) in offsets.iter().enumerate() {
        let nominal = INTERVAL * n as u32;
        assert!(
            *offset >= nominal && *offset < nominal + Duration::from_millis(50),
            "poll {n} at {offset:?}"
        );
    }
    assert_eq!(recorder.len(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_route_slower_than_the_interval_never_overlaps_and_skipped_ticks_are_counted() {
    let server = TestServer::start().await;
    server.route(
        "/slow",
        Route::reply(Reply::ok().delay(Duration::from_secs(25))),
    );
    let patient = HttpClient::new(
        HttpClientConfig::builder()
            .read_timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
    )
    .unwrap();
    let recorder = Recorder::new();
    let poller = Poller::builder(config(&server.url("/slow"), INTERVAL))
        .client(patient)
        .handler(recorder.clone())
        .build()
        .unwrap();
    let stats = poller.stats();
    let started = tokio::time::Instant::now();

    let running = Running::start(poller);
    after(Duration::from_secs(65)).await;
    running.stop().await;

    // Polls start at 0 s, 30 s and 60 s; each runs 25 s, so the ticks at 10, 20, 40 and 50 s
    // find the previous poll running and are skipped.
    let offsets: Vec<u64> = server
        .requests_to("/slow")
        .iter()
        .map(|r| (r.at - started).as_secs())
        .collect();
    assert_eq!(offsets, vec![0, 30, 60]);
    assert_eq!(stats.snapshot().skipped_ticks, 4);
    assert_eq!(stats.snapshot().polls_ok, 3);
    assert_eq!(recorder.len(), 3);
}
