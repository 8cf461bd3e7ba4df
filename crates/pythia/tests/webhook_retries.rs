//! `send` retries by the endpoint's policy with the same `webhook-id`, and gives up when the
//! attempts are spent.

use std::time::Duration;

use pythia::webhook::{ErrorClass, WebhookConfig, WebhookSender};
use pythia_testkit::{Reply, Route, TestServer};
use serde_json::json;

fn sender_for(server: &TestServer, max_retries: u32) -> WebhookSender {
    let config = WebhookConfig::builder()
        .base_url(server.base_url())
        .secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .max_retries(max_retries)
        .retry_delay(Duration::from_secs(2))
        .retry_backoff(2.0)
        .circuit_breaker(None)
        .build()
        .unwrap();
    WebhookSender::new(config).unwrap()
}

#[tokio::test(start_paused = true)]
async fn retries_then_succeeds_with_the_same_webhook_id_on_every_attempt() {
    let server = TestServer::start().await;
    server.route(
        "/orders/created",
        Route::sequence(vec![Reply::status(503), Reply::status(500), Reply::ok()]),
    );
    let sender = sender_for(&server, 3);

    let outcome = sender
        .send(
            "/orders/created",
            json!({"order_id": 1}),
            &[("x-event-source", "orders")],
        )
        .await;

    let requests = server.requests_to("/orders/created");
    let ids: Vec<&str> = requests
        .iter()
        .map(|r| r.header("webhook-id").unwrap())
        .collect();
    let gaps: Vec<Duration> = requests.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(outcome.is_delivered(), "{outcome:?}");
    assert_eq!(outcome.attempts(), 3);
    assert_eq!(outcome.status(), Some(200));
    assert_eq!(ids, vec![outcome.id(); 3]);
    assert!(requests
        .iter()
        .all(|r| r.header("x-event-source") == Some("orders")));
    assert!(
        gaps[0] >= Duration::from_secs(2) && gaps[0] < Duration::from_secs(3),
        "{gaps:?}"
    );
    assert!(
        gaps[1] >= Duration::from_secs(4) && gaps[1] < Duration::from_secs(5),
        "{gaps:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn gives_up_after_max_retries_with_the_last_status() {
    let server = TestServer::start().await;
    server.route("/hook", Route::reply(Reply::status(502)));
    let sender = sender_for(&server, 2);

    let outcome = sender.send("/hook", json!({"n": 1}), &[]).await;

    assert!(!outcome.is_delivered());
    assert_eq!(outcome.attempts(), 3);
    assert_eq!(server.hits("/hook"), 3);
    assert_eq!(outcome.status(), Some(502));
    assert_eq!(outcome.error_class(), Some(ErrorClass::Status));
}

#[tokio::test(start_paused = true)]
async fn a_client_error_is_not_retried() {
    let server = TestServer::start().await;
    server.route("/hook", Route::reply(Reply::status(400)));
    let sender = sender_for(&server, 5);

    let outcome = sender.send("/hook", json!({"n": 1}), &[]).await;

    assert_eq!(outcome.attempts(), 1);
    assert_eq!(outcome.status(), Some(400));
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_between_attempts() {
    let server = TestServer::start().await;
    server.route(
        "/hook",
        Route::sequence(vec![Reply::status(429).retry_after("30"), Reply::ok()]),
    );
    let sender = sender_for(&server, 3);

    let outcome = sender.send("/hook", json!({"n": 1}), &[]).await;

    let requests = server.requests_to("/hook");
    assert!(outcome.is_delivered());
    assert!(requests[1].at - requests[0].at >= Duration::from_secs(30));
}

#[tokio::test(start_paused = true)]
async fn redirects_are_not_followed() {
    let server = TestServer::start().await;
    let target = server.url("/elsewhere");
    server.route(
        "/hook",
        Route::reply(Reply::status(302).header("location", &target)),
    );
    server.route("/elsewhere", Route::reply(Reply::ok()));
    let sender = sender_for(&server, 3);

    let outcome = sender.send("/hook", json!({"n": 1}), &[]).await;

    assert_eq!(outcome.error_class(), Some(ErrorClass::Redirect));
    assert_eq!(outcome.attempts(), 1);
    assert_eq!(server.hits("/elsewhere"), 0);
}
