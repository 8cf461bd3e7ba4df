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

/// A claim that skips an endpoint finds another endpoint's messages behind the skipped one's
/// backlog, however long it is: within the window of `SKIP_WINDOW` it looks through in claim
/// order, and beyond it through each endpoint's own order, oldest first either way. With more
/// than `SKIP_WINDOW` endpoints holding messages the SQLite outbox looks through the window
/// first, with fewer it goes straight to the endpoints' own orders: both ways are run.
#[tokio::test]
async fn embedded_outboxes_find_other_endpoints_behind_a_skipped_backlog() {
    use pythia::outbox::{NewMessage, Outbox, SKIP_WINDOW};
    use std::time::Duration;

    const LIMIT: usize = 10;

    async fn found_behind_a_backlog(outbox: impl Outbox, quiet: usize) -> Vec<String> {
        // Endpoints holding a message due only tomorrow.
        let tomorrow = pythia::outbox::now() + Duration::from_secs(24 * 3600);
        let quiet_ones = (0..quiet).map(|i| {
            let mut message = NewMessage::new(format!("quiet-{i:04}"), "later");
            message.not_before = Some(tomorrow);
            message
        });
        outbox.enqueue_batch(quiet_ones.collect()).await.unwrap();
        let stuck = |count: usize| -> Vec<NewMessage> {
            (0..count)
                .map(|i| NewMessage::new("stuck", i.to_string()))
                .collect()
        };
        let within = SKIP_WINDOW + LIMIT - 5;
        outbox.enqueue_batch(stuck(within)).await.unwrap();
        outbox
            .enqueue(NewMessage::new("healthy", "within"))
            .await
            .unwrap();
        outbox.enqueue_batch(stuck(20)).await.unwrap();
        outbox
            .enqueue(NewMessage::new("healthy", "beyond"))
            .await
            .unwrap();
        outbox
            .enqueue(NewMessage::new("other", "last"))
            .await
            .unwrap();

        let claimed = outbox
            .claim_except(LIMIT, Duration::from_secs(60), &["stuck".to_owned()])
            .await
            .unwrap();
        let stats = outbox.stats(None).await.unwrap();
        assert_eq!(
            stats.depth(),
            u64::try_from(within + 23 + quiet).unwrap(),
            "nothing is lost"
        );
        assert!(
            outbox
                .claim_except(LIMIT, Duration::from_secs(60), &["stuck".to_owned()])
                .await
                .unwrap()
                .is_empty(),
            "what was claimed is not claimed again, and nothing else is due"
        );
        claimed
            .iter()
            .map(|c| String::from_utf8_lossy(&c.message.payload).into_owned())
            .collect()
    }

    let all = ["within", "beyond", "last"];
    for quiet in [0, SKIP_WINDOW + 1] {
        assert_eq!(
            found_behind_a_backlog(MemoryOutbox::new(), quiet).await,
            all,
            "memory, {quiet} quiet endpoints"
        );
        #[cfg(feature = "sqlite")]
        {
            let dir = tempfile::tempdir().unwrap();
            let sqlite = pythia::outbox::SqliteOutbox::open(dir.path().join("o.db")).unwrap();
            assert_eq!(
                found_behind_a_backlog(sqlite, quiet).await,
                all,
                "sqlite, {quiet} quiet endpoints"
            );
        }
    }
}
