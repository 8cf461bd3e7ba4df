//! Pollers shared by instances through Redis leases: one live instance holds each target,
//! renewing keeps it, and when the holder dies another takes the target over once the lease
//! runs out (never later than one lease time after the holder's last renewal).
#![cfg(feature = "redis")]

mod relay_support;

use std::time::Duration;

use pythia::poller::{RedisTargetLease, TargetLease};
use relay_support::*;

const TTL: Duration = Duration::from_millis(800);

async fn instance(prefix: &str, holder: &str) -> RedisTargetLease {
    RedisTargetLease::builder(REDIS_URL)
        .prefix(prefix)
        .holder(holder)
        .connect()
        .await
        .unwrap()
}

async fn pttl(key: &str) -> i64 {
    redis::cmd("PTTL")
        .arg(key)
        .query_async(&mut redis().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn only_one_of_two_instances_holds_a_target_and_renewing_keeps_it() {
    if !pythia_testkit::broker::require("redis", "127.0.0.1:6379") {
        return;
    }
    let prefix = unique("pythia-test:lease");
    let a = instance(&prefix, "a").await;
    let b = instance(&prefix, "b").await;

    let a_first = a.try_hold("events", TTL).await.unwrap();
    let b_first = b.try_hold("events", TTL).await.unwrap();
    let a_renews = a.try_hold("events", TTL).await.unwrap();
    let b_again = b.try_hold("events", TTL).await.unwrap();
    let b_other = b.try_hold("other", TTL).await.unwrap();

    assert!(a_first && a_renews, "the first holder keeps its target");
    assert!(
        !b_first && !b_again,
        "the second instance never holds it meanwhile"
    );
    assert!(b_other, "targets are leased one by one");
}

#[tokio::test]
async fn a_dead_holders_target_is_taken_over_within_one_lease_time() {
    if !pythia_testkit::broker::require("redis", "127.0.0.1:6379") {
        return;
    }
    let prefix = unique("pythia-test:lease");
    let a = instance(&prefix, "a").await;
    let b = instance(&prefix, "b").await;
    assert!(a.try_hold("events", TTL).await.unwrap());
    let key = a.key("events");

    // `a` dies: it never renews again. Its lease runs out within one lease time.
    drop(a);
    let left = pttl(&key).await;
    assert!(
        left > 0 && left <= TTL.as_millis() as i64,
        "the lease expires within one lease time, {left} ms left"
    );
    assert!(
        !b.try_hold("events", TTL).await.unwrap(),
        "not before it runs out"
    );
    wait_until(Duration::from_secs(10), "b to take the target over", || {
        let b = b.clone();
        async move { b.try_hold("events", TTL).await.unwrap() }
    })
    .await;

    let holder: String = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut redis().await)
        .await
        .unwrap();
    assert_eq!(holder, "b");
}

#[tokio::test]
async fn a_released_target_is_free_for_another_instance_at_once() {
    if !pythia_testkit::broker::require("redis", "127.0.0.1:6379") {
        return;
    }
    let prefix = unique("pythia-test:lease");
    let a = instance(&prefix, "a").await;
    let b = instance(&prefix, "b").await;
    assert!(a
        .try_hold("events", Duration::from_secs(600))
        .await
        .unwrap());

    let released_by_b = b.release("events").await.unwrap();
    let released_by_a = a.release("events").await.unwrap();
    let b_holds = b
        .try_hold("events", Duration::from_secs(600))
        .await
        .unwrap();

    assert!(!released_by_b, "only the holder can release");
    assert!(released_by_a);
    assert!(b_holds);
}
