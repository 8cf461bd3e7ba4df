//! Items whose key was seen in an earlier poll are not handed over again.

#[path = "poller_support/mod.rs"]
mod support;

use std::time::Duration;

use pythia::poller::{Dedup, Extractor, Poller};
use pythia_testkit::{Reply, Route, TestServer};
use serde_json::json;
use support::{after, config, Recorder, Running};

#[tokio::test(start_paused = true)]
async fn items_seen_in_an_earlier_poll_are_dropped_and_counted() {
    let server = TestServer::start().await;
    server.route(
        "/payments",
        Route::sequence(vec![
            Reply::ok().json(json!({"data": [{"id": "p1"}, {"id": "p2"}]})),
            Reply::ok().json(json!({"data": [{"id": "p2"}, {"id": "p3"}]})),
            Reply::ok().json(json!({"data": [{"id": "p1"}, {"id": "p3"}]})),
        ]),
    );
    let recorder = Recorder::new();
    let poller = Poller::builder(config(&server.url("/payments"), Duration::from_secs(10)))
        .extractor(Extractor::pointer("/data").unwrap())
        .dedup(Dedup::pointer("/id").unwrap())
        .handler(recorder.clone())
        .build()
        .unwrap();
    let stats = poller.stats();

    let running = Running::start(poller);
    after(Duration::from_secs(25)).await;
    running.stop().await;

    let ids: Vec<String> = recorder
        .bodies()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(server.hits("/payments"), 3);
    assert_eq!(ids, vec!["p1", "p2", "p3"]);
    assert_eq!(stats.snapshot().duplicates, 3);
}
