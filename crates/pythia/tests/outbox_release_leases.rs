//! A SQLite outbox opened with `release_leases_on_open` makes the messages an earlier process
//! had claimed due at once; opened without it, they wait for their leases to end.
#![cfg(feature = "sqlite")]

use std::time::Duration;

use pythia::outbox::{NewMessage, Outbox, SqliteOutbox};

const LONG_LEASE: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn claims_of_an_earlier_process_are_released_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.db");
    let first = SqliteOutbox::open(&path).unwrap();
    first
        .enqueue(NewMessage::new("orders", &b"{}"[..]))
        .await
        .unwrap();
    let claimed = first.claim(10, LONG_LEASE).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let id = claimed[0].message.id.clone();
    drop(first);

    let kept = SqliteOutbox::open(&path).unwrap();
    assert!(kept.claim(10, LONG_LEASE).await.unwrap().is_empty());
    drop(kept);

    let released = SqliteOutbox::builder(&path)
        .release_leases_on_open(true)
        .open()
        .unwrap();
    let again = released.claim(10, LONG_LEASE).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message.id, id, "the same message, with its id");
    assert_eq!(again[0].message.attempts, 0, "a release counts no attempt");
}
