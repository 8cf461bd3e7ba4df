//! The Redis outbox keeps the whole shared outbox contract, `claim_except` included (it
//! filters in Redis rather than leaving skipped messages to the dispatcher).
#![cfg(feature = "redis")]

use std::time::Duration;

use pythia::outbox::conformance::run_suite;
use pythia::outbox::{NewMessage, Outbox, RedisOutbox};

const URL: &str = "redis://127.0.0.1:6379";

async fn fresh() -> RedisOutbox {
    let prefix = format!("pythia-test:conformance:{}", uuid::Uuid::new_v4().simple());
    RedisOutbox::builder(URL)
        .prefix(prefix)
        .connect()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_redis_outbox_keeps_the_contract() {
    if !pythia_testkit::broker::require("redis", "127.0.0.1:6379") {
        return;
    }
    run_suite(fresh).await;
}

#[tokio::test]
async fn claim_except_leaves_skipped_endpoints_due_and_fills_the_claim_with_others() {
    if !pythia_testkit::broker::require("redis", "127.0.0.1:6379") {
        return;
    }
    let outbox = fresh().await;
    for i in 0..20 {
        outbox
            .enqueue(NewMessage::new("stuck", format!("s{i}")))
            .await
            .unwrap();
    }
    for i in 0..3 {
        outbox
            .enqueue(NewMessage::new("healthy", format!("h{i}")))
            .await
            .unwrap();
    }

    let claimed = outbox
        .claim_except(5, Duration::from_secs(60), &["stuck".to_owned()])
        .await
        .unwrap();

    assert_eq!(
        claimed.len(),
        3,
        "every healthy message, though older stuck ones exist"
    );
    assert!(claimed.iter().all(|c| c.message.endpoint == "healthy"));
    let stuck = outbox.stats(Some("stuck")).await.unwrap();
    assert_eq!(
        (stuck.pending, stuck.in_flight),
        (20, 0),
        "skipped ones stay due"
    );
}
