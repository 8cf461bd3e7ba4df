//! A poller on a cron schedule polls at the times the expression names.

#[path = "poller_support/mod.rs"]
mod support;

use std::time::Duration;

use chrono::Utc;
use pythia::poller::{Poller, Schedule};
use pythia_testkit::{Reply, Route, TestServer};
use support::{after, config, Recorder, Running};

#[tokio::test(start_paused = true)]
async fn cron_polls_fire_at_the_named_seconds_and_not_in_between() {
    let server = TestServer::start().await;
    server.route("/report", Route::reply(Reply::ok().text("ready")));
    let schedule = Schedule::cron("*/20 * * * * *").unwrap();
    let poller = Poller::builder(config(&server.url("/report"), Duration::from_secs(20)))
        .schedule(schedule.clone())
        .handler(Recorder::new())
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    let wall = Utc::now();

    let running = Running::start(poller);
    after(Duration::from_secs(61)).await;
    running.stop().await;

    let mut expected = Vec::new();
    let mut fire = schedule.next_fire_after(wall).unwrap();
    while (fire - wall).to_std().unwrap() <= Duration::from_secs(61) {
        expected.push((fire - wall).to_std().unwrap());
        fire = schedule.next_fire_after(fire).unwrap();
    }
    let offsets: Vec<Duration> = server
        .requests_to("/report")
        .iter()
        .map(|r| r.at - started)
        .collect();
    assert_eq!(offsets.len(), expected.len(), "{offsets:?} vs {expected:?}");
    for (offset, expected) in offsets.iter().zip(&expected) {
        let gap = offset.abs_diff(*expected);
        assert!(
            gap < Duration::from_millis(50),
            "{offsets:?} vs {expected:?}"
        );
    }
}
