//! The sync thread: puts committed transactions on disk and only then answers their requests.
//!
//! The connection runs with `synchronous = NORMAL`, under which SQLite syncs the write-ahead
//! log around checkpoints but not at each commit. This thread does the syncing of commits
//! instead, off the writer's path: while it waits for one `fdatasync` of the log, the writer
//! goes on running and committing the next batches, and the next sync covers all of them at
//! once. An answer goes out only once the log holding its transaction is on disk, so
//! `enqueue` still returns once its message is durable.
//!
//! The log is a single file appended in commit order, so syncing it makes every earlier
//! commit durable. A checkpoint syncs the log before copying it into the database and syncs
//! the database after, so frames it has moved, then overwritten by later commits, are safe
//! too.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

use tokio::sync::oneshot;

use super::ops::Done;
use crate::outbox::OutboxError;

/// Answers of committed requests, waiting for the log to be synced.
pub(super) type Answers = Vec<(
    oneshot::Sender<Result<Done, OutboxError>>,
    Result<Done, OutboxError>,
)>;

/// The answers of one commit, by its number.
type Commit = (u64, Answers);

/// The writer's side of the sync thread.
#[derive(Debug)]
pub(super) struct Syncer {
    sender: mpsc::Sender<Commit>,
    synced: Arc<AtomicU64>,
}

impl Syncer {
    /// Starts the thread that syncs the write-ahead log at `wal`.
    pub(super) fn start(wal: PathBuf) -> io::Result<Syncer> {
        let (sender, receiver) = mpsc::channel();
        let synced = Arc::new(AtomicU64::new(0));
        let progress = synced.clone();
        std::thread::Builder::new()
            .name("pythia-outbox-sync".to_owned())
            .spawn(move || run(&wal, &receiver, &progress))?;
        Ok(Syncer { sender, synced })
    }

    /// The number of the last commit known to be on disk (commits are numbered from 1).
    pub(super) fn synced(&self) -> u64 {
        self.synced.load(Ordering::Acquire)
    }

    /// Answers `answers` of commit number `commit` once everything committed up to it is on
    /// disk.
    pub(super) fn answer_when_durable(&self, commit: u64, answers: Answers) {
        if let Err(mpsc::SendError((_, answers))) = self.sender.send((commit, answers)) {
            // The thread is gone (it never exits while the writer lives): say so rather than
            // claim a durability nobody checked.
            for (reply, _) in answers {
                let _ = reply.send(Err(OutboxError::Storage(
                    "the outbox sync thread stopped".to_owned(),
                )));
            }
        }
    }
}

fn run(wal: &std::path::Path, receiver: &mpsc::Receiver<Commit>, synced: &AtomicU64) {
    let mut log = None;
    while let Ok((mut last, mut answers)) = receiver.recv() {
        // Every commit whose answers are waiting is in the log already: one sync serves all.
        while let Ok((commit, more)) = receiver.try_recv() {
            last = commit;
            answers.extend(more);
        }
        metrics::histogram!("pythia_outbox_sqlite_sync_size").record(answers.len() as f64);
        match sync(wal, &mut log) {
            Ok(()) => {
                synced.store(last, Ordering::Release);
                for (reply, result) in answers {
                    // A caller that gave up waiting is not an error: its work is durable.
                    let _ = reply.send(result);
                }
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
fn sync(wal: &std::path::Path, log: &mut Option<File>) -> io::Result<()> {
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
