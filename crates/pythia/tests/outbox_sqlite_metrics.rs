//! The SQLite outbox says where an enqueue's time goes: the wait for the writer, the commit,
//! the sync, and the whole enqueue as a queue's caller sees it.
//!
//! The writer thread is the outbox's own, so a recorder local to the test's thread would see
//! nothing it records: this binary installs a global one, and holds this one test.

#![cfg(feature = "sqlite")]

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::{CompositeKey, MetricKind};
use pythia::outbox::SqliteOutbox;
use pythia::webhook::dispatch::WebhookQueue;

type Entry = (
    CompositeKey,
    Option<metrics::Unit>,
    Option<metrics::SharedString>,
    DebugValue,
);

/// The samples of the histogram `name`, empty if it was never recorded.
fn samples(snapshot: &[Entry], name: &str) -> Vec<f64> {
    snapshot
        .iter()
        .find_map(|(key, _, _, value)| match value {
            DebugValue::Histogram(values)
                if key.kind() == MetricKind::Histogram && key.key().name() == name =>
            {
                Some(values.iter().map(|v| v.into_inner()).collect())
            }
            _ => None,
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enqueue_is_timed_from_the_queue_to_the_disk() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::set_global_recorder(recorder).expect("the only recorder of this binary");
    let dir = tempfile::tempdir().unwrap();
    let outbox = SqliteOutbox::open(dir.path().join("outbox.db")).unwrap();
    let queue = WebhookQueue::new(outbox);

    let sends: Vec<_> = (0..40)
        .map(|n| {
            let queue = queue.clone();
            tokio::spawn(async move { queue.send("orders", format!(r#"{{"n":{n}}}"#)).await })
        })
        .collect();
    for send in sends {
        send.await
            .unwrap()
            .expect("an enqueue to a writable file succeeds");
    }

    // One snapshot for all: taking one drains the histograms.
    let snapshot = snapshotter.snapshot().into_vec();
    let enqueues = samples(&snapshot, "pythia_outbox_enqueue_duration_seconds");
    assert_eq!(enqueues.len(), 40, "one duration per accepted enqueue");
    let batches = samples(&snapshot, "pythia_outbox_sqlite_batch_size");
    assert!(!batches.is_empty());
    assert_eq!(
        batches.iter().sum::<f64>(),
        40.0,
        "every request is counted in the batch that committed it"
    );
    let waits = samples(&snapshot, "pythia_outbox_sqlite_wait_seconds");
    let commits = samples(&snapshot, "pythia_outbox_sqlite_commit_seconds");
    assert_eq!(waits.len(), batches.len(), "one wait per batch");
    assert_eq!(commits.len(), batches.len(), "one commit time per batch");
    let answered = samples(&snapshot, "pythia_outbox_sqlite_sync_size");
    let syncs = samples(&snapshot, "pythia_outbox_sqlite_sync_seconds");
    assert_eq!(
        answered.iter().sum::<f64>(),
        40.0,
        "every answer waited for a sync"
    );
    assert_eq!(syncs.len(), answered.len(), "one time per sync");

    for value in enqueues.iter().chain(&waits).chain(&commits).chain(&syncs) {
        assert!(
            value.is_finite() && *value >= 0.0,
            "a duration of {value} s"
        );
    }
    // A commit and its sync are both inside the enqueue they answer, so no commit or sync
    // took longer than the slowest enqueue.
    let longest = |values: &[f64]| values.iter().copied().fold(0.0, f64::max);
    assert!(longest(&commits) <= longest(&enqueues));
    assert!(longest(&syncs) <= longest(&enqueues));
}
