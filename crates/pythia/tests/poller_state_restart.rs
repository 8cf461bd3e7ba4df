//! Validators, cursor and seen keys survive a restart of the poller with a state file.
#![cfg(feature = "sqlite")]

#[path = "poller_support/mod.rs"]
mod support;

use std::path::Path;
use std::time::Duration;

use pythia::poller::{Dedup, Extractor, Pagination, Poller, SqliteStateStore};
use pythia_testkit::{RecordedRequest, Reply, Route, TestServer};
use serde_json::json;
use support::{after, config, Recorder, Running};

fn poller(server: &TestServer, path: &Path, recorder: &Recorder) -> Poller {
    Poller::builder(config(&server.url("/feed"), Duration::from_secs(60)))
        .name("feed")
        .extractor(Extractor::pointer("/items").unwrap())
        .dedup(Dedup::pointer("/id").unwrap())
        .pagination(Pagination::cursor("/next", "after").unwrap())
        .state(SqliteStateStore::open(path).unwrap())
        .handler(recorder.clone())
        .build()
        .unwrap()
}

async fn one_poll(poller: Poller) {
    let running = Running::start(poller);
    after(Duration::from_secs(1)).await;
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_restarted_poller_resumes_with_its_validators_cursor_and_seen_keys() {
    let server = TestServer::start().await;
    server.route(
        "/feed",
        Route::from_fn(|request: &RecordedRequest| {
            if request.header("if-none-match") == Some("\"e1\"") {
                return Reply::status(304);
            }
            let body = match request.query_param("after") {
                None => json!({"items": [{"id": 1}, {"id": 2}], "next": "k2"}),
                _ => json!({"items": [{"id": 2}, {"id": 3}], "next": null}),
            };
            Reply::ok().header("etag", "\"e1\"").json(body)
        }),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("poller-state.db");
    let first = Recorder::new();
    let second = Recorder::new();

    one_poll(poller(&server, &path, &first)).await;
    one_poll(poller(&server, &path, &second)).await;

    let requests = server.requests_to("/feed");
    let after_restart = requests.last().unwrap();
    assert_eq!(requests.len(), 3);
    assert_eq!(after_restart.header("if-none-match"), Some("\"e1\""));
    assert_eq!(after_restart.query_param("after"), Some("k2"));
    assert_eq!(first.bodies().len(), 3);
    assert_eq!(second.len(), 0);
}

#[tokio::test(start_paused = true)]
async fn seen_keys_from_the_state_file_stop_duplicates_after_a_restart() {
    let server = TestServer::start().await;
    server.route(
        "/feed",
        Route::reply(Reply::ok().json(json!({"items": [{"id": "a"}, {"id": "b"}]}))),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("poller-state.db");
    let first = Recorder::new();
    let second = Recorder::new();

    one_poll(poller(&server, &path, &first)).await;
    server.route(
        "/feed",
        Route::reply(Reply::ok().json(json!({"items": [{"id": "b"}, {"id": "c"}]}))),
    );
    one_poll(poller(&server, &path, &second)).await;

    assert_eq!(first.bodies(), vec![json!({"id": "a"}), json!({"id": "b"})]);
    assert_eq!(second.bodies(), vec![json!({"id": "c"})]);
}
