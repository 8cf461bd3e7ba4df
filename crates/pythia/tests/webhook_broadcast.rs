//! `broadcast` sends to every endpoint at once; a dead endpoint fails alone, unless
//! `fail_fast` asks to cancel the rest.

use std::time::Duration;

use pythia::webhook::{ErrorClass, WebhookConfig, WebhookSender};
use pythia_testkit::{Reply, Route, TestServer};
use serde_json::json;

fn sender_for(server: &TestServer) -> WebhookSender {
    let config = WebhookConfig::builder()
        .base_url(server.base_url())
        .max_retries(2)
        .retry_delay(Duration::from_secs(1))
        .build()
        .unwrap();
    WebhookSender::new(config).unwrap()
}

#[tokio::test(start_paused = true)]
async fn one_dead_endpoint_fails_alone_without_fail_fast() {
    let server = TestServer::start().await;
    server.route("/slack/alerts", Route::reply(Reply::ok()));
    server.route(
        "/email/alerts",
        Route::reply(Reply::ok().delay(Duration::from_secs(5))),
    );
    server.route("/sms/alerts", Route::reply(Reply::reset()));
    let sender = sender_for(&server);
    let endpoints = ["/slack/alerts", "/email/alerts", "/sms/alerts"];

    let results = sender
        .broadcast(endpoints, json!({"alert": "disk"}), &[], false)
        .await;

    assert_eq!(results.len(), 3);
    assert_eq!(results.delivered(), 2);
    assert!(results.get("/slack/alerts").unwrap().is_delivered());
    assert!(results.get("/email/alerts").unwrap().is_delivered());
    let dead = results.get("/sms/alerts").unwrap();
    assert!(!dead.is_delivered());
    assert_eq!(dead.attempts(), 3);
    assert_eq!(server.hits("/sms/alerts"), 3);
    let ids: Vec<&str> = results.iter().map(|o| o.id()).collect();
    assert!(ids.iter().all(|id| *id == ids[0]));
}

#[tokio::test(start_paused = true)]
async fn fail_fast_cancels_the_deliveries_still_running() {
    let server = TestServer::start().await;
    server.route("/critical/alerts", Route::reply(Reply::ok()));
    server.route(
        "/slow/alerts",
        Route::reply(Reply::ok().delay(Duration::from_secs(60))),
    );
    server.route("/dead/alerts", Route::reply(Reply::status(404)));
    let sender = sender_for(&server);
    let endpoints = ["/critical/alerts", "/slow/alerts", "/dead/alerts"];

    let results = sender
        .broadcast(endpoints, json!({"alert": "fire"}), &[], true)
        .await;

    let outcomes: Vec<_> = results.iter().collect();
    assert!(outcomes[0].is_delivered());
    assert_eq!(outcomes[1].error_class(), Some(ErrorClass::Cancelled));
    assert_eq!(outcomes[2].status(), Some(404));
    assert_eq!(outcomes[2].error_class(), Some(ErrorClass::Status));
    assert_eq!(results.delivered(), 1);
}

#[tokio::test(start_paused = true)]
async fn without_failures_fail_fast_changes_nothing() {
    let server = TestServer::start().await;
    for path in ["/a", "/b", "/c"] {
        server.route(
            path,
            Route::reply(Reply::ok().delay(Duration::from_secs(1))),
        );
    }
    let sender = sender_for(&server);

    let results = sender
        .broadcast(["/a", "/b", "/c"], json!({}), &[], true)
        .await;

    assert!(results.is_all_delivered());
}

#[tokio::test(start_paused = true)]
async fn an_unknown_endpoint_name_fails_without_stopping_the_others() {
    let server = TestServer::start().await;
    server.route("/known", Route::reply(Reply::ok()));
    let sender = sender_for(&server);

    let results = sender
        .broadcast(["/known", "no-such-name"], json!({}), &[], false)
        .await;

    assert!(results.get("/known").unwrap().is_delivered());
    let unknown = results.get("no-such-name").unwrap();
    assert_eq!(unknown.error_class(), Some(ErrorClass::UnknownEndpoint));
    assert_eq!(unknown.attempts(), 0);
}
