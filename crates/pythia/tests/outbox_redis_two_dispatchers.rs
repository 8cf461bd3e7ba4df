//! Two dispatchers sharing one Redis outbox (as two instances would) deliver every message
//! exactly once between them to a real HTTP receiver.
#![cfg(feature = "redis")]

mod relay_support;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use pythia::outbox::{NewMessage, Outbox, RedisOutbox};
use pythia::webhook::dispatch::{Deliver, Dispatcher};
use pythia::webhook::{AttemptRequest, AttemptResult, WebhookConfig, WebhookSender};
use pythia_testkit::{Reply, Route, TestServer};
use relay_support::*;
use tokio_util::sync::CancellationToken;

const MESSAGES: usize = 300;

/// Delivers through a real [`WebhookSender`].
struct Via(WebhookSender);

#[async_trait]
impl Deliver for Via {
    async fn attempt(&self, request: &AttemptRequest) -> AttemptResult {
        self.0.attempt(request).await
    }

    fn next_delay(&self, _endpoint: &str, failed: u32) -> Option<Duration> {
        (failed < 5).then_some(Duration::from_millis(100))
    }
}

async fn instance(prefix: &str, server: &TestServer) -> Dispatcher {
    let outbox = RedisOutbox::builder(REDIS_URL)
        .prefix(prefix)
        .connect()
        .await
        .unwrap();
    let config = WebhookConfig::builder()
        .base_url(server.base_url())
        .secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .endpoint("orders", "/orders")
        .build()
        .unwrap();
    Dispatcher::builder(outbox, Via(WebhookSender::new(config).unwrap()))
        .claim_batch(8)
        .concurrency(8)
        .poll_interval(Duration::from_millis(20))
        .lease(Duration::from_secs(60))
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dispatchers_on_one_redis_outbox_deliver_each_message_once() {
    if !pythia_testkit::broker::require("redis", "127.0.0.1:6379") {
        return;
    }
    let server = TestServer::start().await;
    server.route("/orders", Route::reply(Reply::ok()));
    let prefix = unique("pythia-test:two-dispatchers");
    let producer = RedisOutbox::builder(REDIS_URL)
        .prefix(&prefix)
        .connect()
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let mut workers = Vec::new();
    for _ in 0..2 {
        let dispatcher = instance(&prefix, &server).await;
        let token = stop.clone();
        workers.push(tokio::spawn(
            dispatcher.run_until(async move { token.cancelled().await }),
        ));
    }

    let batch = (0..MESSAGES)
        .map(|i| NewMessage::new("orders", format!(r#"{{"n":{i}}}"#)))
        .collect();
    producer.enqueue_batch(batch).await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(60),
        server.wait_for_hits("/orders", MESSAGES),
    )
    .await
    .expect("every message delivered");
    wait_until(Duration::from_secs(10), "the outbox to empty", || async {
        producer.stats(None).await.unwrap().depth() == 0
    })
    .await;
    stop.cancel();
    for worker in workers {
        worker.await.unwrap();
    }

    let mut by_id: HashMap<String, usize> = HashMap::new();
    for request in server.requests_to("/orders") {
        let id = request.header("webhook-id").unwrap().to_owned();
        *by_id.entry(id).or_default() += 1;
    }
    assert_eq!(by_id.len(), MESSAGES, "every message arrived");
    assert!(by_id.values().all(|n| *n == 1), "none arrived twice");
}
