//! Both embedded outboxes keep the whole [`Outbox`](pythia::outbox::Outbox) contract.

use pythia::outbox::conformance::run_suite;
use pythia::outbox::MemoryOutbox;

#[tokio::test]
async fn memory_outbox_keeps_the_contract() {
    run_suite(|| async { MemoryOutbox::new() }).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_outbox_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;

    run_suite(|| {
        n += 1;
        let path = dir.path().join(format!("outbox-{n}.db"));
        async move { pythia::outbox::SqliteOutbox::open(path).unwrap() }
    })
    .await;
}
