//! A poll is made only while this instance holds the target's lease.

#[path = "poller_support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use pythia::poller::{Poller, TargetLease};
use pythia::BoxError;
use pythia_testkit::{Reply, Route, TestServer};
use support::{after, config, Recorder, Running};

/// Grants every other lease request, and fails the fourth; records what it was asked.
#[derive(Debug, Default)]
struct Alternating {
    asked: AtomicUsize,
    seen: Mutex<Vec<(String, Duration)>>,
}

#[async_trait]
impl TargetLease for Alternating {
    async fn try_hold(&self, target: &str, ttl: Duration) -> Result<bool, BoxError> {
        self.seen.lock().push((target.to_owned(), ttl));
        match self.asked.fetch_add(1, Ordering::SeqCst) {
            3 => Err("lease store unreachable".into()),
            n => Ok(n % 2 == 0),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn polls_are_skipped_and_counted_while_the_lease_is_held_elsewhere_or_fails() {
    let server = TestServer::start().await;
    server.route("/shared", Route::reply(Reply::ok().text("x")));
    let lease = Arc::new(Alternating::default());
    let poller = Poller::builder(config(&server.url("/shared"), Duration::from_secs(10)))
        .name("shared-target")
        .shared_lease(lease.clone())
        .handler(Recorder::new())
        .build()
        .unwrap();
    let stats = poller.stats();

    let running = Running::start(poller);
    after(Duration::from_secs(45)).await;
    running.stop().await;

    // Ticks 0..=4: granted, held elsewhere, granted, failed, granted.
    assert_eq!(server.hits("/shared"), 3);
    assert_eq!(stats.snapshot().lease_skipped, 2);
    let seen = lease.seen.lock().clone();
    assert_eq!(seen.len(), 5);
    assert!(seen
        .iter()
        .all(|(name, ttl)| name == "shared-target" && *ttl == Duration::from_secs(10)));
}
