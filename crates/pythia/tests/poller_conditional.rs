//! ETag and Last-Modified are sent back, and a 304 produces no message and is counted.

#[path = "poller_support/mod.rs"]
mod support;

use std::time::Duration;

use pythia::poller::Poller;
use pythia_testkit::{Route, TestServer};
use serde_json::json;
use support::{after, config, Recorder, Running};

const INTERVAL: Duration = Duration::from_secs(10);

#[tokio::test(start_paused = true)]
async fn an_etag_is_sent_back_and_304s_produce_no_message() {
    let server = TestServer::start().await;
    server.route(
        "/doc",
        Route::conditional(json!({"v": 1}), Some("\"v1\""), None),
    );
    let recorder = Recorder::new();
    let poller = Poller::builder(config(&server.url("/doc"), INTERVAL))
        .handler(recorder.clone())
        .build()
        .unwrap();
    let stats = poller.stats();

    let running = Running::start(poller);
    after(Duration::from_secs(25)).await;
    running.stop().await;

    let sent: Vec<Option<String>> = server
        .requests_to("/doc")
        .iter()
        .map(|r| r.header("if-none-match").map(str::to_owned))
        .collect();
    assert_eq!(
        sent,
        vec![None, Some("\"v1\"".into()), Some("\"v1\"".into())]
    );
    assert_eq!(recorder.bodies(), vec![json!({"v": 1})]);
    assert_eq!(stats.snapshot().not_modified, 2);
}

#[tokio::test(start_paused = true)]
async fn last_modified_is_sent_back_as_if_modified_since() {
    let server = TestServer::start().await;
    let modified = "Wed, 21 Oct 2015 07:28:00 GMT";
    server.route(
        "/doc",
        Route::conditional(json!({"v": 2}), None, Some(modified)),
    );
    let recorder = Recorder::new();
    let poller = Poller::builder(config(&server.url("/doc"), INTERVAL))
        .handler(recorder.clone())
        .build()
        .unwrap();
    let stats = poller.stats();

    let running = Running::start(poller);
    after(Duration::from_secs(15)).await;
    running.stop().await;

    let requests = server.requests_to("/doc");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].header("if-modified-since"), None);
    assert_eq!(requests[1].header("if-modified-since"), Some(modified));
    assert_eq!(recorder.len(), 1);
    assert_eq!(stats.snapshot().not_modified, 1);
}
