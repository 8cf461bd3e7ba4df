//! Polls are reported through the metrics facade, labelled by poller and outcome.

#[path = "poller_support/mod.rs"]
mod support;

use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::CompositeKey;
use pythia::poller::Poller;
use pythia_testkit::{Reply, Route, TestServer};
use serde_json::json;
use support::{after, config, Recorder, Running};

type Entry = (
    CompositeKey,
    Option<metrics::Unit>,
    Option<metrics::SharedString>,
    DebugValue,
);

fn find<'a>(snapshot: &'a [Entry], name: &str, outcome: Option<&str>) -> Option<&'a DebugValue> {
    snapshot
        .iter()
        .find(|(key, ..)| {
            let key = key.key();
            let labels: Vec<(&str, &str)> = key.labels().map(|l| (l.key(), l.value())).collect();
            key.name() == name
                && labels.contains(&("poller", "docs"))
                && outcome.is_none_or(|o| labels.contains(&("outcome", o)))
        })
        .map(|(.., value)| value)
}

fn counter(snapshot: &[Entry], name: &str, outcome: Option<&str>) -> u64 {
    match find(snapshot, name, outcome) {
        Some(DebugValue::Counter(n)) => *n,
        _ => 0,
    }
}

#[tokio::test(start_paused = true)]
async fn polls_304s_items_failures_and_durations_are_exported() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let server = TestServer::start().await;
    server.route(
        "/doc",
        Route::sequence(vec![
            Reply::ok().header("etag", "\"a\"").json(json!({"v": 1})),
            Reply::status(304),
            Reply::status(500),
        ]),
    );
    let poller = Poller::builder(config(&server.url("/doc"), Duration::from_secs(10)))
        .name("docs")
        .retry(pythia::resilience::RetryPolicy::none())
        .handler(Recorder::new())
        .build()
        .unwrap();

    let running = Running::start(poller);
    after(Duration::from_secs(25)).await;
    running.stop().await;
    let snapshot = snapshotter.snapshot().into_vec();

    let polls = |outcome| counter(&snapshot, "pythia_poller_polls_total", Some(outcome));
    assert_eq!(polls("ok"), 1);
    assert_eq!(polls("not_modified"), 1);
    assert_eq!(polls("http_status"), 1);
    assert_eq!(
        counter(&snapshot, "pythia_poller_not_modified_total", None),
        1
    );
    assert_eq!(counter(&snapshot, "pythia_poller_items_total", None), 1);
    let failures = find(&snapshot, "pythia_poller_consecutive_failures", None);
    assert!(matches!(failures, Some(DebugValue::Gauge(g)) if g.into_inner() == 1.0));
    let durations = find(&snapshot, "pythia_poller_poll_duration_seconds", None);
    assert!(matches!(durations, Some(DebugValue::Histogram(h)) if h.len() == 3));
}

#[tokio::test(start_paused = true)]
async fn targets_sharing_a_metrics_label_make_one_series_and_keep_their_names() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let server = TestServer::start().await;
    server.route("/item", Route::reply(Reply::ok().json(json!({"v": 1}))));
    let handler = Recorder::new();
    let targets = (0..20).map(|n| {
        Poller::builder(config(
            &server.url(&format!("/item?n={n}")),
            Duration::from_secs(10),
        ))
        .name(format!("item-{n}"))
        .metrics_label("fleet")
        .spread(false)
        .handler(handler.clone())
    });
    let group = pythia::poller::PollerGroup::builder()
        .targets(targets)
        .build()
        .unwrap();

    let running = Running::start(group);
    after(Duration::from_secs(5)).await;
    running.stop().await;
    let snapshot = snapshotter.snapshot().into_vec();

    let series: Vec<&str> = snapshot
        .iter()
        .filter(|(key, ..)| key.key().name() == "pythia_poller_polls_total")
        .flat_map(|(key, ..)| key.key().labels().filter(|l| l.key() == "poller"))
        .map(|label| label.value())
        .collect();
    assert_eq!(series, ["fleet"]);
    let polls: u64 = snapshot
        .iter()
        .filter(|(key, ..)| key.key().name() == "pythia_poller_polls_total")
        .map(|(.., value)| match value {
            DebugValue::Counter(n) => *n,
            _ => 0,
        })
        .sum();
    assert_eq!(polls, 20);
    assert_eq!(server.hits("/item"), 20);
    assert_eq!(handler.len(), 20);
}
