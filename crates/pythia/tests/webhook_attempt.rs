//! The single-attempt API the outbox dispatcher uses: no retry, an open breaker sends
//! nothing, and each answer is classified for the dispatcher's decision.

use std::time::Duration;

use pythia::resilience::CircuitBreakerConfig;
use pythia::webhook::{
    AttemptRequest, AttemptResult, EndpointConfig, WebhookConfig, WebhookSender,
};
use pythia_testkit::{Reply, Route, TestServer};

fn sender_for(server: &TestServer) -> WebhookSender {
    let breaker = CircuitBreakerConfig::builder()
        .failure_threshold(2)
        .open_duration(Duration::from_secs(30))
        .build()
        .unwrap();
    let config = WebhookConfig::builder()
        .base_url(server.base_url())
        .secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .endpoint_config(
            "flaky",
            EndpointConfig::new("/flaky").circuit_breaker(Some(breaker)),
        )
        .endpoint("ok", "/ok")
        .endpoint("teapot", "/teapot")
        .endpoint("busy", "/busy")
        .build()
        .unwrap();
    WebhookSender::new(config).unwrap()
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_refuses_without_sending_and_says_when_to_come_back() {
    let server = TestServer::start().await;
    server.route("/flaky", Route::reply(Reply::status(503)));
    let sender = sender_for(&server);
    let request = AttemptRequest::new("msg_1", "flaky", "{}");

    let first = sender.attempt(&request).await;
    let second = sender.attempt(&request).await;
    let third = sender.attempt(&request).await;

    assert!(matches!(
        first,
        AttemptResult::Failed {
            status: Some(503),
            retryable: true,
            ..
        }
    ));
    assert!(second.is_retryable());
    match third {
        AttemptResult::BreakerOpen { retry_in } => {
            assert!(retry_in > Duration::ZERO && retry_in <= Duration::from_secs(30));
        }
        other => panic!("expected an open breaker, got {other:?}"),
    }
    assert_eq!(server.hits("/flaky"), 2);
}

#[tokio::test]
async fn answers_are_classified_for_the_dispatcher() {
    let server = TestServer::start().await;
    server.route("/ok", Route::reply(Reply::status(204)));
    server.route("/teapot", Route::reply(Reply::status(418)));
    server.route("/busy", Route::reply(Reply::status(429).retry_after("120")));
    let sender = sender_for(&server);

    let ok = sender.attempt(&AttemptRequest::new("m", "ok", "{}")).await;
    let teapot = sender
        .attempt(&AttemptRequest::new("m", "teapot", "{}"))
        .await;
    let busy = sender
        .attempt(&AttemptRequest::new("m", "busy", "{}"))
        .await;
    let unknown = sender
        .attempt(&AttemptRequest::new("m", "nobody", "{}"))
        .await;

    assert!(matches!(ok, AttemptResult::Delivered { status: 204, .. }));
    assert!(matches!(
        teapot,
        AttemptResult::Failed {
            status: Some(418),
            retryable: false,
            ..
        }
    ));
    assert!(matches!(
        busy,
        AttemptResult::Failed { status: Some(429), retryable: true, retry_after: Some(d), .. }
            if d == Duration::from_secs(120)
    ));
    assert_eq!(unknown, AttemptResult::UnknownEndpoint);
}

#[tokio::test]
async fn a_connection_failure_is_retryable() {
    let server = TestServer::start().await;
    let url = server.url("/gone-away");
    drop(server);
    let config = WebhookConfig::builder().build().unwrap();
    let sender = WebhookSender::new(config).unwrap();

    let result = sender.attempt(&AttemptRequest::new("m", url, "{}")).await;

    assert!(
        matches!(
            result,
            AttemptResult::Failed {
                status: None,
                retryable: true,
                ..
            }
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn extra_headers_go_out_but_cannot_forge_the_signature_headers() {
    let server = TestServer::start().await;
    server.route("/ok", Route::reply(Reply::ok()));
    let sender = sender_for(&server);
    let request = AttemptRequest::new("msg_real", "ok", "{}")
        .header("x-tenant", "acme")
        .header("webhook-id", "msg_forged");

    let result = sender.attempt(&request).await;

    let received = server.requests_to("/ok").remove(0);
    assert!(result.is_delivered());
    assert_eq!(received.header("x-tenant"), Some("acme"));
    assert_eq!(received.header("webhook-id"), Some("msg_real"));
    assert_eq!(received.headers.get_all("webhook-id").iter().count(), 1);
}
