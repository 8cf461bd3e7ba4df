//! A `410 Gone` disables the endpoint: nothing more is sent to it, and the metrics say so.

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use pythia::webhook::{AttemptRequest, AttemptResult, ErrorClass, WebhookConfig, WebhookSender};
use pythia_testkit::{Reply, Route, TestServer};
use serde_json::json;

fn gauge(snapshot: &[(String, DebugValue)], name: &str) -> Option<f64> {
    snapshot.iter().find_map(|(key, value)| match value {
        DebugValue::Gauge(v) if key == name => Some(v.into_inner()),
        _ => None,
    })
}

#[tokio::test]
async fn a_410_disables_the_endpoint_and_says_so_in_the_metrics() {
    // A recorder for this test's thread alone: the global one is shared with every test of
    // the binary running in parallel.
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let server = TestServer::start().await;
    server.route("/gone", Route::reply(Reply::status(410)));
    let config = WebhookConfig::builder()
        .base_url(server.base_url())
        .max_retries(5)
        .endpoint("partner", "/gone")
        .build()
        .unwrap();
    let sender = WebhookSender::new(config).unwrap();

    let first = sender.send("partner", json!({"n": 1}), &[]).await;
    let second = sender.send("partner", json!({"n": 2}), &[]).await;
    let attempt = sender
        .attempt(&AttemptRequest::new("msg_1", "partner", "{}"))
        .await;

    assert_eq!(first.attempts(), 1);
    assert_eq!(first.status(), Some(410));
    assert_eq!(first.error_class(), Some(ErrorClass::Gone));
    assert_eq!(second.attempts(), 0);
    assert_eq!(second.error_class(), Some(ErrorClass::EndpointDisabled));
    assert_eq!(attempt, AttemptResult::EndpointDisabled);
    assert_eq!(server.hits("/gone"), 1);
    assert!(sender.endpoint("partner").unwrap().is_disabled());
    let snapshot: Vec<(String, DebugValue)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| {
            key.key()
                .labels()
                .any(|label| label.key() == "endpoint" && label.value() == "partner")
        })
        .map(|(key, _, _, value)| (key.key().name().to_owned(), value))
        .collect();
    assert_eq!(
        gauge(&snapshot, "pythia_webhook_endpoint_disabled"),
        Some(1.0)
    );
}

#[tokio::test]
async fn enabling_a_disabled_endpoint_sends_to_it_again() {
    let server = TestServer::start().await;
    server.route(
        "/hook",
        Route::sequence(vec![Reply::status(410), Reply::ok()]),
    );
    let config = WebhookConfig::builder()
        .base_url(server.base_url())
        .endpoint("partner", "/hook")
        .build()
        .unwrap();
    let sender = WebhookSender::new(config).unwrap();
    let first = sender.send("partner", json!({}), &[]).await;

    sender.endpoint("partner").unwrap().enable();
    let again = sender.send("partner", json!({}), &[]).await;

    assert!(!first.is_delivered());
    assert!(again.is_delivered());
}
