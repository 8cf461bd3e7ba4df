//! Putting each commit on disk before its answers go out.
//!
//! The connection runs with `synchronous = NORMAL`, under which SQLite syncs the write-ahead
//! log around checkpoints but not at each commit. The writer syncs the log itself after each
//! commit, with one `fdatasync`, and only then are the commit's answers sent, so `enqueue`
//! returns once its message is durable. Requests that arrive during the sync wait in the
//! writer's queue and are committed together next (group commit).
//!
//! The log is a single file appended in commit order, so syncing it makes every earlier commit
//! durable. A checkpoint syncs the log before copying it into the database and syncs the
//! database after, so frames it has moved, then overwritten by later commits, are safe too.
//!
//! Earlier builds synced on two threads of their own while the writer went on with the next
//! batch. On two cores that was slower: each commit then took two more hand-overs between
//! threads, each a wait for a core the runtime's workers were holding, and the syncs were
//! smaller. Synced by the writer, the durable webhook rate rose by about 4% in six
//! alternating pairs of runs, and by about 15% with the writer at a higher priority (see
//! `SqliteOutboxBuilder::writer_nice`), which had halved it with the sync threads.
//!
//! The answers go out from inside the runtime when the outbox was opened in a multi-threaded
//! Tokio runtime: the writer hands them, all at once, to a task there (see [`Answerer`]). Sent
//! from the writer itself, each answer would wake its caller's task through the runtime's
//! shared queue, which a busy worker takes one task from only now and then; sent from a
//! worker, they land on that worker's own queue together, and the callers' next requests
//! reach the writer together too, in fewer and larger batches.

use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::ops::Done;
use crate::outbox::OutboxError;

/// Answers of committed requests, waiting for the log to be synced.
pub(super) type Answers = Vec<(
    oneshot::Sender<Result<Done, OutboxError>>,
    Result<Done, OutboxError>,
)>;

/// Answers that go out when dropped: by the runtime's answering task, or wherever else they
/// are dropped (the task gone, or the channel to it closed with answers still in it), so that
/// no answer of a durable write is ever lost on the way.
struct Delivery(Answers);

impl Drop for Delivery {
    fn drop(&mut self) {
        for (reply, result) in self.0.drain(..) {
            // A caller that gave up waiting is not an error: its work is durable.
            let _ = reply.send(result);
        }
    }
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Delivery").field(&self.0.len()).finish()
    }
}

/// Where the writer hands the answers of a sync: a task of the multi-threaded runtime the
/// outbox was opened in, or, outside one, nobody (the writer answers itself). A current-thread
/// runtime is left alone: its one thread may be blocked on the very answer the task would
/// send.
#[derive(Clone, Debug)]
struct Answerer(Option<mpsc::UnboundedSender<Delivery>>);

impl Answerer {
    fn start() -> Answerer {
        let runtime = tokio::runtime::Handle::try_current()
            .ok()
            .filter(|runtime| {
                runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
            });
        Answerer(runtime.map(|runtime| {
            let (sender, mut deliveries) = mpsc::unbounded_channel::<Delivery>();
            // Dropping a delivery answers it.
            runtime.spawn(async move { while deliveries.recv().await.is_some() {} });
            sender
        }))
    }

    /// Answers `answers`, through the runtime's task if there is one and it still runs.
    fn answer(&self, answers: Answers) {
        let delivery = Delivery(answers);
        if let Some(sender) = &self.0 {
            // Refused, the delivery comes back and is dropped here: answered from this thread.
            let _ = sender.send(delivery);
        }
    }
}

/// The writer's syncing of the log, and the answers that wait for it.
#[derive(Debug)]
pub(super) struct Syncer {
    wal: PathBuf,
    /// The log, opened at the first sync that finds it; closed after a failed sync, so that the
    /// next one starts from a fresh handle.
    log: Option<File>,
    answerer: Answerer,
    /// The number of the last commit known to be on disk.
    synced: u64,
}

impl Syncer {
    /// Syncs the write-ahead log at `wal`. Called in the runtime the outbox serves, if any, for
    /// its answering task.
    pub(super) fn new(wal: PathBuf) -> Syncer {
        Syncer {
            wal,
            log: None,
            answerer: Answerer::start(),
            synced: 0,
        }
    }

    /// The number of the last commit known to be on disk (commits are numbered from 1).
    pub(super) fn synced(&self) -> u64 {
        self.synced
    }

    /// Syncs the log, which makes commit number `commit` and every one before it durable, then
    /// sends `answers`, that commit's. If the sync fails, each is answered with the error
    /// instead, and the commit is not counted as on disk.
    pub(super) fn sync_then_answer(&mut self, commit: u64, answers: Answers) {
        #[allow(clippy::cast_precision_loss)] // a batch is far below 2^52
        metrics::histogram!("pythia_outbox_sqlite_sync_size").record(answers.len() as f64);
        let started = Instant::now();
        let synced = sync(&self.wal, &mut self.log);
        metrics::histogram!("pythia_outbox_sqlite_sync_seconds")
            .record(started.elapsed().as_secs_f64());
        match synced {
            Ok(()) => {
                self.synced = self.synced.max(commit);
                self.answerer.answer(answers);
            }
            Err(error) => {
                tracing::error!(%error, path = %self.wal.display(),
                    "cannot sync the outbox log to disk; its latest writes may be lost");
                metrics::counter!("pythia_outbox_sqlite_sync_failures_total").increment(1);
                self.log = None;
                for (reply, _) in answers {
                    let _ = reply.send(Err(OutboxError::Storage(format!(
                        "cannot sync the outbox to disk: {error}"
                    ))));
                }
            }
        }
    }
}

/// Syncs the log's data to disk. No log yet means nothing was ever written to sync.
fn sync(wal: &Path, log: &mut Option<File>) -> io::Result<()> {
    let file = match log {
        Some(file) => file,
        None => match File::open(wal) {
            Ok(file) => log.insert(file),
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error),
        },
    };
    file.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(syncer: &mut Syncer, commit: u64) -> oneshot::Receiver<Result<Done, OutboxError>> {
        let (reply, answer) = oneshot::channel();
        syncer.sync_then_answer(commit, vec![(reply, Ok(Done::Unit))]);
        answer
    }

    #[test]
    fn each_commit_is_answered_once_the_log_is_synced_and_progress_only_grows() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("outbox.db-wal");
        std::fs::write(&wal, b"frames").unwrap();
        let mut syncer = Syncer::new(wal);
        assert_eq!(syncer.synced(), 0);

        for commit in 1..=20 {
            let answer = answered(&mut syncer, commit);
            assert!(matches!(answer.blocking_recv(), Ok(Ok(Done::Unit))));
            assert_eq!(syncer.synced(), commit);
        }
        // A number below the last (never sent by the writer) cannot move progress back.
        let answer = answered(&mut syncer, 5);
        assert!(matches!(answer.blocking_recv(), Ok(Ok(Done::Unit))));
        assert_eq!(syncer.synced(), 20);
    }

    #[test]
    fn a_failed_sync_answers_with_the_error_and_counts_nothing_as_on_disk() {
        // A character device cannot be synced: `fdatasync` fails with EINVAL.
        let mut syncer = Syncer::new(PathBuf::from("/dev/null"));

        let answer = answered(&mut syncer, 1);

        match answer.blocking_recv() {
            Ok(Err(OutboxError::Storage(reason))) => {
                assert!(reason.contains("cannot sync"), "{reason}");
            }
            other => panic!("expected a storage error, got {other:?}"),
        }
        assert_eq!(syncer.synced(), 0, "a failed sync made nothing durable");
        assert!(syncer.log.is_none(), "the next sync opens the log afresh");
    }

    #[test]
    fn no_log_yet_means_nothing_to_sync() {
        let dir = tempfile::tempdir().unwrap();
        let mut syncer = Syncer::new(dir.path().join("no-log-yet-wal"));
        let answer = answered(&mut syncer, 1);
        assert!(matches!(answer.blocking_recv(), Ok(Ok(Done::Unit))));
        assert_eq!(syncer.synced(), 1);
    }

    #[test]
    fn only_a_multi_threaded_runtime_gets_the_answering_task() {
        assert!(Answerer::start().0.is_none(), "outside a runtime");
        let current = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(current.block_on(async { Answerer::start() }).0.is_none());
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        assert!(multi.block_on(async { Answerer::start() }).0.is_some());
    }

    #[test]
    fn answers_go_out_through_the_runtime_and_still_once_it_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("outbox.db-wal");
        std::fs::write(&wal, b"frames").unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let mut syncer = runtime.block_on(async { Syncer::new(wal) });
        assert!(syncer.answerer.0.is_some());

        let answer = answered(&mut syncer, 1);
        assert!(matches!(runtime.block_on(answer), Ok(Ok(Done::Unit))));

        // The answering task went with its runtime: the writer answers itself.
        drop(runtime);
        let answer = answered(&mut syncer, 2);
        assert!(matches!(answer.blocking_recv(), Ok(Ok(Done::Unit))));
    }

    #[test]
    fn a_delivery_still_in_a_closed_channel_is_answered() {
        let (sender, receiver) = mpsc::unbounded_channel();
        let (reply, answer) = oneshot::channel();
        sender
            .send(Delivery(vec![(reply, Ok(Done::Unit))]))
            .unwrap();

        drop(receiver);

        assert!(matches!(answer.blocking_recv(), Ok(Ok(Done::Unit))));
    }
}
