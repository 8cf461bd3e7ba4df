//! When one of two instances dies with webhooks in hand, the other delivers them once their
//! lease has run out, under the same ids.
#![cfg(feature = "redis")]

mod relay_support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pythia::outbox::{NewMessage, Outbox, RedisOutbox};
use pythia::webhook::dispatch::{Deliver, Dispatcher};
use pythia::webhook::{AttemptRequest, AttemptResult, WebhookConfig, WebhookSender};
use pythia_testkit::{Reply, Route, TestServer};
use relay_support::*;
use tokio_util::sync::CancellationToken;

const MESSAGES: usize = 20;

/// The instance that dies: it takes messages and never finishes an attempt.
struct Stuck(Arc<AtomicUsize>);

#[async_trait]
impl Deliver for Stuck {
    async fn attempt(&self, _request: &AttemptRequest) -> AttemptResult {
        self.0.fetch_add(1, Ordering::SeqCst);
        std::future::pending().await
    }

    fn next_delay(&self, _endpoint: &str, _failed: u32) -> Option<Duration> {
        Some(Duration::from_millis(100))
    }
}

/// The surviving instance: delivers through a real [`WebhookSender`].
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

async fn outbox(prefix: &str) -> RedisOutbox {
    RedisOutbox::builder(REDIS_URL)
        .prefix(prefix)
        .connect()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_survivor_delivers_the_dead_instances_webhooks_after_their_lease() {
    if !pythia_testkit::broker::require("redis", "127.0.0.1:6379") {
        return;
    }
    let server = TestServer::start().await;
    server.route("/orders", Route::reply(Reply::ok()));
    let prefix = unique("pythia-test:takeover");
    let producer = outbox(&prefix).await;
    let ids: HashSet<String> = producer
        .enqueue_batch(
            (0..MESSAGES)
                .map(|i| NewMessage::new("orders", format!(r#"{{"n":{i}}}"#)))
                .collect(),
        )
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();

    // The first instance takes everything under a one-second lease, then dies.
    let started = Arc::new(AtomicUsize::new(0));
    let doomed = Dispatcher::builder(outbox(&prefix).await, Stuck(started.clone()))
        .claim_batch(MESSAGES)
        .concurrency(MESSAGES)
        .per_endpoint_concurrency(MESSAGES)
        .lease(Duration::from_secs(1))
        .build();
    let doomed = tokio::spawn(doomed.run_until(std::future::pending()));
    wait_until(
        Duration::from_secs(10),
        "the first instance to take them all",
        || {
            let started = started.clone();
            async move { started.load(Ordering::SeqCst) == MESSAGES }
        },
    )
    .await;
    doomed.abort();
    let _ = doomed.await;
    let in_flight = producer.stats(None).await.unwrap().in_flight;

    let config = WebhookConfig::builder()
        .base_url(server.base_url())
        .secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .endpoint("orders", "/orders")
        .build()
        .unwrap();
    let survivor = Dispatcher::builder(
        outbox(&prefix).await,
        Via(WebhookSender::new(config).unwrap()),
    )
    .poll_interval(Duration::from_millis(50))
    .build();
    let stop = CancellationToken::new();
    let token = stop.clone();
    let survivor = tokio::spawn(survivor.run_until(async move { token.cancelled().await }));
    tokio::time::timeout(
        Duration::from_secs(30),
        server.wait_for_hits("/orders", MESSAGES),
    )
    .await
    .expect("the survivor delivers them");
    stop.cancel();
    survivor.await.unwrap();

    assert_eq!(
        in_flight, MESSAGES as u64,
        "the dead instance held them all"
    );
    let delivered: Vec<String> = server
        .requests_to("/orders")
        .iter()
        .map(|r| r.header("webhook-id").unwrap().to_owned())
        .collect();
    assert_eq!(delivered.len(), MESSAGES, "each delivered once");
    assert_eq!(
        delivered.into_iter().collect::<HashSet<_>>(),
        ids,
        "under the same ids"
    );
    assert_eq!(producer.stats(None).await.unwrap().depth(), 0);
}
