//! A group never runs more polls at once than its limit; waiting ticks start as slots free.

#[path = "poller_support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use pythia::poller::{Poller, PollerGroup};
use pythia_testkit::{Reply, Route, TestServer};
use support::{after, config, Recorder, Running};

#[tokio::test(start_paused = true)]
async fn ten_targets_due_together_run_three_at_a_time() {
    let server = TestServer::start().await;
    server.route(
        "/slow",
        Route::reply(Reply::ok().delay(Duration::from_secs(5))),
    );
    let recorder = Recorder::new();
    let targets = (0..10).map(|n| {
        Poller::builder(config(&server.url("/slow"), Duration::from_secs(60)))
            .name(format!("target-{n}"))
            .spread(false)
            .handler(recorder.clone())
    });
    let group = PollerGroup::builder()
        .max_in_flight(3)
        .targets(targets)
        .build()
        .unwrap();
    let stats = group.stats();
    let started = tokio::time::Instant::now();

    let running = Running::start(group);
    after(Duration::from_secs(30)).await;
    running.stop().await;

    let mut starts: BTreeMap<u64, usize> = BTreeMap::new();
    for request in server.requests_to("/slow") {
        *starts.entry((request.at - started).as_secs()).or_default() += 1;
    }
    let expected: BTreeMap<u64, usize> = [(0, 3), (5, 3), (10, 3), (15, 1)].into();
    assert_eq!(starts, expected);
    assert_eq!(recorder.len(), 10);
    assert!(stats.lateness_max() >= Duration::from_secs(15));
}
