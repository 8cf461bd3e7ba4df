//! The sync threads: put committed transactions on disk and only then answer their requests.
//!
//! The connection runs with `synchronous = NORMAL`, under which SQLite syncs the write-ahead
//! log around checkpoints but not at each commit. These threads do the syncing of commits
//! instead, off the writer's path: while one waits for an `fdatasync` of the log, the writer
//! goes on running and committing the next batches, and the next sync covers all of them at
//! once. An answer goes out only once the log holding its transaction is on disk, so
//! `enqueue` still returns once its message is durable.
//!
//! Two syncs may run at once, each through its own file handle. A sync covers everything
//! written before it started, pages another sync is still writing included, so a commit made
//! while one sync runs starts its own at once instead of waiting for the other to end: an
//! answer waits for one `fdatasync`, not for the rest of an earlier one too. Own handles keep
//! a write error from being reported to one of them only: the kernel reports it to each open
//! file.
//!
//! The log is a single file appended in commit order, so syncing it makes every earlier
//! commit durable. A checkpoint syncs the log before copying it into the database and syncs
//! the database after, so frames it has moved, then overwritten by later commits, are safe
//! too.
//!
//! The answers of a sync go out from inside the runtime when the outbox was opened in a
//! multi-threaded Tokio runtime: the sync thread hands them, all at once, to a task there (see
//! [`Answerer`]). Sent from the sync thread itself, each answer would wake its caller's task
//! through the runtime's shared queue, which a busy worker takes one task from only now and
//! then; sent from a worker, they land on that worker's own queue together, and the callers'
//! next requests reach the writer together too, in fewer and larger batches.

use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};
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

/// Where the sync threads hand the answers of a sync: a task of the multi-threaded runtime the
/// outbox was opened in, or, outside one, nobody (the sync thread answers itself). A
/// current-thread runtime is left alone: its one thread may be blocked on the very answer the
/// task would send.
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

/// The answers of one commit, by its number.
type Commit = (u64, Answers);

/// How many syncs may run at once.
const SYNC_THREADS: usize = 2;

/// The writer's side of the sync threads.
#[derive(Debug)]
pub(super) struct Syncer {
    shared: Arc<Shared>,
}

/// What the writer and the sync threads share.
#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    /// The number of the last commit known to be on disk.
    synced: AtomicU64,
}

#[derive(Debug, Default)]
struct Queue {
    /// Commits waiting for a sync, oldest first.
    commits: Vec<Commit>,
    /// The writer is gone: the threads stop once nothing waits.
    closed: bool,
    /// Threads still running.
    running: usize,
}

impl Syncer {
    /// Starts the threads that sync the write-ahead log at `wal`.
    pub(super) fn start(wal: PathBuf) -> io::Result<Syncer> {
        let shared = Arc::new(Shared::default());
        let wal = Arc::new(wal);
        let answerer = Answerer::start();
        for _ in 0..SYNC_THREADS {
            let (thread_shared, wal, answerer) = (shared.clone(), wal.clone(), answerer.clone());
            shared.queue.lock().running += 1;
            let started = std::thread::Builder::new()
                .name("pythia-outbox-sync".to_owned())
                .spawn(move || run(&wal, &thread_shared, &answerer));
            if let Err(error) = started {
                shared.queue.lock().running -= 1;
                drop(Syncer { shared });
                return Err(error);
            }
        }
        Ok(Syncer { shared })
    }

    /// The number of the last commit known to be on disk (commits are numbered from 1).
    pub(super) fn synced(&self) -> u64 {
        self.shared.synced.load(Ordering::Acquire)
    }

    /// Answers `answers` of commit number `commit` once everything committed up to it is on
    /// disk.
    pub(super) fn answer_when_durable(&self, commit: u64, answers: Answers) {
        let mut queue = self.shared.queue.lock();
        if queue.running == 0 {
            drop(queue);
            // The threads are gone (they never exit while the writer lives): say so rather
            // than claim a durability nobody checked.
            for (reply, _) in answers {
                let _ = reply.send(Err(OutboxError::Storage(
                    "the outbox sync thread stopped".to_owned(),
                )));
            }
            return;
        }
        queue.commits.push((commit, answers));
        drop(queue);
        self.shared.ready.notify_one();
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.shared.queue.lock().closed = true;
        self.shared.ready.notify_all();
    }
}

/// Counts a sync thread out when it ends, by returning or by a panic, so that once none runs
/// the writer's answers fail at once instead of waiting for a sync that never comes.
struct Running<'a>(&'a Shared);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.queue.lock().running -= 1;
    }
}

fn run(wal: &Path, shared: &Shared, answerer: &Answerer) {
    let _running = Running(shared);
    let mut log = None;
    loop {
        let commits = {
            let mut queue = shared.queue.lock();
            while queue.commits.is_empty() && !queue.closed {
                shared.ready.wait(&mut queue);
            }
            if queue.commits.is_empty() {
                return;
            }
            std::mem::take(&mut queue.commits)
        };
        // Every commit whose answers are waiting is in the log already: one sync serves all.
        let last = commits.last().map_or(0, |(commit, _)| *commit);
        let answers: Answers = commits
            .into_iter()
            .flat_map(|(_, answers)| answers)
            .collect();
        metrics::histogram!("pythia_outbox_sqlite_sync_size").record(answers.len() as f64);
        let started = std::time::Instant::now();
        let synced = sync(wal, &mut log);
        metrics::histogram!("pythia_outbox_sqlite_sync_seconds")
            .record(started.elapsed().as_secs_f64());
        match synced {
            Ok(()) => {
                shared.synced.fetch_max(last, Ordering::AcqRel);
                answerer.answer(answers);
            }
            Err(error) => {
                tracing::error!(%error, path = %wal.display(),
                    "cannot sync the outbox log to disk; its latest writes may be lost");
                metrics::counter!("pythia_outbox_sqlite_sync_failures_total").increment(1);
                log = None;
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

    #[test]
    fn every_commit_is_answered_once_the_log_is_synced_and_progress_only_grows() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("outbox.db-wal");
        std::fs::write(&wal, b"frames").unwrap();
        let syncer = Syncer::start(wal).unwrap();

        let mut answers = Vec::new();
        for commit in 1..=200 {
            let (reply, answer) = oneshot::channel();
            syncer.answer_when_durable(commit, vec![(reply, Ok(Done::Unit))]);
            answers.push((commit, answer));
        }
        let mut seen = 0;
        for (commit, answer) in answers {
            assert!(matches!(answer.blocking_recv(), Ok(Ok(Done::Unit))));
            let synced = syncer.synced();
            assert!(
                synced >= commit,
                "commit {commit} answered before it was synced"
            );
            assert!(synced >= seen, "progress went back from {seen} to {synced}");
            seen = synced;
        }
        assert_eq!(syncer.synced(), 200);
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
        let syncer = runtime.block_on(async { Syncer::start(wal) }).unwrap();

        let (reply, answer) = oneshot::channel();
        syncer.answer_when_durable(1, vec![(reply, Ok(Done::Unit))]);
        assert!(matches!(runtime.block_on(answer), Ok(Ok(Done::Unit))));

        // The answering task went with its runtime: the sync thread answers itself.
        drop(runtime);
        let (reply, answer) = oneshot::channel();
        syncer.answer_when_durable(2, vec![(reply, Ok(Done::Unit))]);
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

    #[test]
    fn commits_waiting_when_the_writer_goes_are_still_answered() {
        let dir = tempfile::tempdir().unwrap();
        let syncer = Syncer::start(dir.path().join("no-log-yet-wal")).unwrap();
        let (reply, answer) = oneshot::channel();
        syncer.answer_when_durable(1, vec![(reply, Ok(Done::Unit))]);
        drop(syncer);
        assert!(matches!(answer.blocking_recv(), Ok(Ok(Done::Unit))));
    }
}
