//! A relay killed with SIGKILL in the middle of a burst, then started again, loses nothing:
//! every event of the burst ends up in the (Redis) outbox, and only an event that was in hand
//! at the moment of the kill may be stored twice.
//!
//! The relay runs in a child process: this same test binary, started again with
//! `PYTHIA_RELAY_CHILD` set, which makes the test below act as the relay instead.
#![cfg(feature = "redis")]

mod relay_support;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use pythia::outbox::{Outbox, RedisOutbox};
use pythia::source::{RedisListSource, Relay};
use relay_support::*;

const CHILD_VAR: &str = "PYTHIA_RELAY_CHILD";
const BURST: usize = 3000;
const TEST_NAME: &str = "a_relay_killed_mid_burst_and_restarted_loses_nothing";

async fn run_child(spec: &str) {
    let (queue, prefix) = spec.split_once(' ').expect("queue and prefix");
    let outbox = RedisOutbox::builder(REDIS_URL)
        .prefix(prefix)
        .connect()
        .await
        .unwrap();
    let source = RedisListSource::builder(REDIS_URL, queue)
        .consumer("sigkill-relay")
        .build()
        .unwrap();
    let relay = Relay::builder(source, Arc::new(outbox) as Arc<dyn Outbox>)
        .route(burst_route())
        .build()
        .unwrap();
    // Runs until killed.
    relay.run_until(std::future::pending()).await.unwrap();
}

fn spawn_child(queue: &str, prefix: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, format!("{queue} {prefix}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn stored(outbox: &RedisOutbox) -> u64 {
    outbox.stats(None).await.unwrap().pending
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_mid_burst_and_restarted_loses_nothing() {
    if let Ok(spec) = std::env::var(CHILD_VAR) {
        run_child(&spec).await;
        return;
    }
    if !pythia_testkit::broker::require("redis", "127.0.0.1:6379") {
        return;
    }
    let queue = unique("pythia_test_sigkill");
    let prefix = unique("pythia-test:sigkill-outbox");
    let outbox = RedisOutbox::builder(REDIS_URL)
        .prefix(&prefix)
        .connect()
        .await
        .unwrap();
    lpush_burst(&queue, 0..BURST).await;

    let mut first = spawn_child(&queue, &prefix);
    wait_until(
        Duration::from_secs(60),
        "the relay to get going",
        || async { stored(&outbox).await >= 200 },
    )
    .await;
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let at_kill = stored(&outbox).await as usize;
    let mut conn = redis().await;
    let left: i64 = redis::cmd("LLEN")
        .arg(&queue)
        .query_async(&mut conn)
        .await
        .unwrap();

    let mut second = spawn_child(&queue, &prefix);
    wait_until(
        Duration::from_secs(60),
        "the restarted relay to finish",
        || async { stored(&outbox).await as usize >= BURST },
    )
    .await;
    // Let a possible in-hand duplicate land before counting.
    wait_until(Duration::from_secs(10), "the queue to drain", || {
        let mut conn = conn.clone();
        let queue = queue.clone();
        async move {
            let lens: (i64, i64) = redis::pipe()
                .llen(&queue)
                .llen(format!("{queue}:processing:sigkill-relay"))
                .query_async(&mut conn)
                .await
                .unwrap();
            lens == (0, 0)
        }
    })
    .await;
    second.kill().unwrap();
    second.wait().unwrap();

    assert!(at_kill < BURST && left > 0, "the kill came mid-burst");
    let held = held(&outbox).await;
    for i in 0..BURST {
        assert!(held.contains_key(&event(i)), "event {i} was lost");
    }
    let copies: usize = held.values().map(|(_, _, n)| n).sum();
    assert!(
        copies <= BURST + 1,
        "only the event in hand may be stored twice, got {} extra",
        copies - BURST
    );
}
