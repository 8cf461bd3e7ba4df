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

/// The embedded outboxes claim a fresh message in the write that stores it, which is what
/// lets a dispatcher take it from its own queue without a claim query.
#[tokio::test]
async fn embedded_outboxes_claim_at_enqueue() {
    use pythia::outbox::{NewMessage, Outbox};
    use std::time::Duration;

    async fn claims(outbox: impl Outbox) -> bool {
        let stored = outbox
            .enqueue_claimed(NewMessage::new("orders", "1"), Duration::from_secs(60))
            .await
            .unwrap();
        stored.1.is_some()
    }

    assert!(claims(MemoryOutbox::new()).await, "memory");
    #[cfg(feature = "sqlite")]
    {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = pythia::outbox::SqliteOutbox::open(dir.path().join("o.db")).unwrap();
        assert!(claims(sqlite).await, "sqlite");
    }
}
