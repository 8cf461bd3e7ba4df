//! One poll follows pages by Link header, cursor, page number or offset, up to the page cap.

#[path = "poller_support/mod.rs"]
mod support;

use std::time::Duration;

use pythia::poller::{Extractor, Pagination, Poller, PollerBuilder};
use pythia_testkit::{RecordedRequest, Reply, Route, TestServer};
use serde_json::{json, Value};
use support::{after, config, Recorder, Running};

const INTERVAL: Duration = Duration::from_secs(60);

fn poller(server: &TestServer, path: &str, recorder: &Recorder) -> PollerBuilder {
    Poller::builder(config(&server.url(path), INTERVAL))
        .extractor(Extractor::pointer("/items").unwrap())
        .handler(recorder.clone())
}

async fn one_poll(poller: Poller) {
    let running = Running::start(poller);
    after(Duration::from_secs(1)).await;
    running.stop().await;
}

fn items(values: &[i64]) -> Value {
    json!({ "items": values })
}

#[tokio::test(start_paused = true)]
async fn link_headers_are_followed_to_the_last_page() {
    let server = TestServer::start().await;
    server.route(
        "/feed",
        Route::link_pages(vec![items(&[1, 2]), items(&[3]), items(&[4])]),
    );
    let recorder = Recorder::new();

    one_poll(
        poller(&server, "/feed", &recorder)
            .pagination(Pagination::link_header())
            .build()
            .unwrap(),
    )
    .await;

    assert_eq!(server.hits("/feed"), 3);
    assert_eq!(
        recorder.bodies(),
        vec![json!(1), json!(2), json!(3), json!(4)]
    );
}

#[tokio::test(start_paused = true)]
async fn cursors_are_read_from_the_body_and_the_next_poll_resumes_from_the_last() {
    let server = TestServer::start().await;
    server.route(
        "/events",
        Route::from_fn(|request: &RecordedRequest| {
            let body = match request.query_param("cursor") {
                None => json!({"items": [1, 2], "next": "c2"}),
                Some("c2") => json!({"items": [3], "next": "c3"}),
                _ => json!({"items": [], "next": null}),
            };
            Reply::ok().json(body)
        }),
    );
    let recorder = Recorder::new();
    let poller = poller(&server, "/events", &recorder)
        .pagination(Pagination::cursor("/next", "cursor").unwrap())
        .build()
        .unwrap();

    let running = Running::start(poller);
    after(INTERVAL + Duration::from_secs(1)).await;
    running.stop().await;

    let cursors: Vec<Option<String>> = server
        .requests_to("/events")
        .iter()
        .map(|r| r.query_param("cursor").map(str::to_owned))
        .collect();
    let c = |text: &str| Some(text.to_owned());
    assert_eq!(cursors, vec![None, c("c2"), c("c3"), c("c3")]);
    assert_eq!(recorder.bodies(), vec![json!(1), json!(2), json!(3)]);
}

#[tokio::test(start_paused = true)]
async fn page_numbers_advance_until_a_page_is_empty() {
    let server = TestServer::start().await;
    server.route(
        "/orders",
        Route::from_fn(|request: &RecordedRequest| {
            let body = match request.query_param("page") {
                Some("1") => items(&[10, 11]),
                Some("2") => items(&[12]),
                _ => items(&[]),
            };
            Reply::ok().json(body)
        }),
    );
    let recorder = Recorder::new();

    one_poll(
        poller(&server, "/orders", &recorder)
            .pagination(Pagination::page("page", 1))
            .build()
            .unwrap(),
    )
    .await;

    let pages: Vec<String> = server
        .requests_to("/orders")
        .iter()
        .map(|r| r.query_param("page").unwrap().to_owned())
        .collect();
    assert_eq!(pages, vec!["1", "2", "3"]);
    assert_eq!(recorder.bodies(), vec![json!(10), json!(11), json!(12)]);
}

#[tokio::test(start_paused = true)]
async fn offsets_advance_by_the_items_received_until_a_short_page() {
    let server = TestServer::start().await;
    server.route(
        "/rows",
        Route::from_fn(|request: &RecordedRequest| {
            let offset: usize = request.query_param("offset").unwrap().parse().unwrap();
            let limit: usize = request.query_param("limit").unwrap().parse().unwrap();
            let rows: Vec<i64> = (1..=5).skip(offset).take(limit).collect();
            Reply::ok().json(items(&rows))
        }),
    );
    let recorder = Recorder::new();

    one_poll(
        poller(&server, "/rows", &recorder)
            .pagination(Pagination::offset("offset", "limit", 2))
            .build()
            .unwrap(),
    )
    .await;

    let offsets: Vec<String> = server
        .requests_to("/rows")
        .iter()
        .map(|r| r.query_param("offset").unwrap().to_owned())
        .collect();
    assert_eq!(offsets, vec!["0", "2", "4"]);
    assert_eq!(
        recorder.bodies(),
        (1..=5).map(|n| json!(n)).collect::<Vec<_>>()
    );
}

#[tokio::test(start_paused = true)]
async fn a_poll_stops_at_the_page_cap_and_counts_it() {
    let server = TestServer::start().await;
    server.route(
        "/long",
        Route::link_pages((1..=5).map(|n| items(&[n])).collect()),
    );
    let recorder = Recorder::new();
    let poller = poller(&server, "/long", &recorder)
        .pagination(Pagination::link_header())
        .max_pages(2)
        .build()
        .unwrap();
    let stats = poller.stats();

    one_poll(poller).await;

    assert_eq!(server.hits("/long"), 2);
    assert_eq!(recorder.bodies(), vec![json!(1), json!(2)]);
    assert_eq!(stats.snapshot().page_cap, 1);
}
