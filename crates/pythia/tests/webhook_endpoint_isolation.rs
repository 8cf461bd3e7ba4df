//! One endpoint that hangs never slows another: the fast one keeps its full rate.

use std::time::Duration;

use pythia::resilience::RateLimit;
use pythia::webhook::{EndpointConfig, WebhookConfig, WebhookSender};
use pythia_testkit::{Reply, Route, TestServer};
use serde_json::json;

#[tokio::test(start_paused = true)]
async fn a_hanging_endpoint_leaves_another_at_its_full_rate() {
    let server = TestServer::start().await;
    server.route("/slow", Route::reply(Reply::hang()));
    server.route("/fast", Route::reply(Reply::ok()));
    let fast_rate = RateLimit {
        per_second: 10.0,
        burst: 1,
    };
    let config = WebhookConfig::builder()
        .base_url(server.base_url())
        .max_retries(0)
        .timeout(Duration::from_secs(60))
        .endpoint_config("slow", EndpointConfig::new("/slow").concurrency_limit(2))
        .endpoint_config("fast", EndpointConfig::new("/fast").rate_limit(fast_rate))
        .build()
        .unwrap();
    let sender = WebhookSender::new(config).unwrap();

    let mut stuck = Vec::new();
    for _ in 0..20 {
        let sender = sender.clone();
        stuck.push(tokio::spawn(async move {
            sender.send("slow", json!({"n": 1}), &[]).await
        }));
    }
    let fast = {
        let sender = sender.clone();
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            let mut delivered = 0;
            while tokio::time::Instant::now() < deadline {
                if sender
                    .send("fast", json!({"n": 2}), &[])
                    .await
                    .is_delivered()
                {
                    delivered += 1;
                }
            }
            delivered
        })
    };
    let delivered_fast = fast.await.unwrap();

    // Ten seconds at ten per second, give or take the first token and the last one.
    assert!((99..=101).contains(&delivered_fast), "{delivered_fast}");
    assert_eq!(server.hits("/fast"), delivered_fast);
    assert_eq!(server.hits("/slow"), 2);
    stuck.iter().for_each(tokio::task::JoinHandle::abort);
}
