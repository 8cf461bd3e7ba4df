//! Targets of a group share one client built for the longest of their timeouts; a target with
//! shorter ones still gives up on a slow response by its own.

#[path = "poller_support/mod.rs"]
mod support;

use std::time::Duration;

use pythia::poller::{PollerConfig, PollerGroup};
use pythia::resilience::RetryPolicy;
use pythia_testkit::{Reply, Route, TestServer};
use support::{after, Recorder, Running};

fn config(url: &str, read_timeout: Duration) -> PollerConfig {
    PollerConfig::builder()
        .url(url)
        .interval(Duration::from_secs(60))
        .connect_timeout(Duration::from_secs(1))
        .read_timeout(read_timeout)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_target_with_a_short_read_timeout_keeps_it_on_a_shared_client() {
    let server = TestServer::start().await;
    let slow = || {
        Route::reply(
            Reply::ok()
                .json(serde_json::json!({"ok": true}))
                .delay(Duration::from_secs(5)),
        )
    };
    server.route("/patient", slow());
    server.route("/impatient", slow());
    let (patient, impatient) = (Recorder::new(), Recorder::new());
    let group = PollerGroup::builder()
        .target(
            pythia::poller::Poller::builder(config(
                &server.url("/patient"),
                Duration::from_secs(30),
            ))
            .name("patient")
            .spread(false)
            .retry(RetryPolicy::none())
            .handler(patient.clone()),
        )
        .target(
            pythia::poller::Poller::builder(config(
                &server.url("/impatient"),
                Duration::from_secs(2),
            ))
            .name("impatient")
            .spread(false)
            .retry(RetryPolicy::none())
            .handler(impatient.clone()),
        )
        .build()
        .unwrap();
    let stats = group.stats();

    let running = Running::start(group);
    after(Duration::from_secs(20)).await;
    running.stop().await;

    assert_eq!(server.hits("/patient"), 1);
    assert_eq!(server.hits("/impatient"), 1);
    assert_eq!(
        patient.len(),
        1,
        "the 30 s target waits out the 5 s response"
    );
    assert_eq!(impatient.len(), 0, "the 2 s target gives up on it");
    assert_eq!(stats.snapshot().polls_failed, 1);
}
