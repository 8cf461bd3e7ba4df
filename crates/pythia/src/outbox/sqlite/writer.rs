//! The writer thread: owns the connection and commits concurrent requests together.
//!
//! Each request waits in a channel. The thread takes the first one, then every other request
//! already waiting (up to a cap), and runs them all in one transaction (group commit). A batch
//! runs first as it is; should an SQL error leave a request half done, the batch runs again
//! with each request in its own savepoint, so that one failing request does not undo the
//! others. Claims are answered as soon as they have run; every other answer waits until the
//! writer has [synced](super::sync) the commit to disk, so `enqueue` returns once its message
//! is durable. Requests arriving meanwhile make the next batch.
//!
//! Every enqueue waits for this one thread, so it asks for a higher scheduling priority than
//! the process's other threads (see [`set_niceness`]): on a machine whose cores the runtime's
//! workers keep busy, a woken writer otherwise waits for a core while requests queue.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::ops::{self, Done, Op};
use super::sync::Syncer;
use crate::outbox::OutboxError;

/// A request and where to send its result.
#[derive(Debug)]
pub(super) struct Command {
    pub(super) op: Op,
    pub(super) now: i64,
    /// Taken when the request is answered.
    pub(super) reply: Option<oneshot::Sender<Result<Done, OutboxError>>>,
    /// When the request was sent to the writer.
    pub(super) queued: Instant,
}

impl Command {
    /// A claim is answered as soon as it has run, before the rest of its batch and the
    /// commit: a claim need not be durable (lost in a crash, the message is simply due
    /// again), and a dispatcher waiting for it has slots standing idle.
    fn answers_early(&self) -> bool {
        matches!(self.op, Op::Claim { .. })
    }
}

/// How often delivered idempotency keys past their retention are dropped.
const PURGE_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub(super) struct Writer {
    pub(super) conn: Connection,
    pub(super) max_batch: usize,
    pub(super) retention: Duration,
    pub(super) syncer: Syncer,
    /// Commits made so far; each is numbered by the count it makes.
    pub(super) commits: u64,
    /// For each commit not known to be on disk yet, the highest `seq` held before it: what it
    /// inserted is above, and no claim may take that until it is durable.
    pub(super) unsynced: VecDeque<(u64, i64)>,
}

impl Writer {
    /// Serves requests until every sender is dropped.
    pub(super) fn run(mut self, mut requests: mpsc::Receiver<Command>) {
        let mut last_purge = Instant::now();
        let mut batch = Vec::with_capacity(self.max_batch);
        while let Some(first) = requests.blocking_recv() {
            batch.push(first);
            while batch.len() < self.max_batch {
                match requests.try_recv() {
                    Ok(command) => batch.push(command),
                    Err(_) => break,
                }
            }

            let purge = last_purge.elapsed() >= PURGE_EVERY;
            if purge {
                last_purge = Instant::now();
            }
            self.commit(&mut batch, &mut requests, purge);
        }
        tracing::debug!("sqlite outbox writer stopped");
    }

    fn commit(
        &mut self,
        batch: &mut Vec<Command>,
        requests: &mut mpsc::Receiver<Command>,
        purge: bool,
    ) {
        let started = Instant::now();
        // The oldest request of the batch, the one that waited longest for the writer: what a
        // busy writer (or one the system is slow to wake) costs an enqueue.
        if let Some(queued) = batch.iter().map(|command| command.queued).min() {
            metrics::histogram!("pythia_outbox_sqlite_wait_seconds")
                .record(started.saturating_duration_since(queued).as_secs_f64());
        }
        let now = batch.iter().map(|command| command.now).max().unwrap_or(0);
        // Claims first, to be answered first; requests of one batch are concurrent, so their
        // order among themselves is free.
        batch.sort_by_key(|command| !command.answers_early());

        // First without savepoints, which cost two statements a request: almost every batch
        // succeeds whole. A request that fails cleanly (a lost lease, say) has written
        // nothing, so only an SQL error, which may leave a request half done, sends the batch
        // round again with each request in its own savepoint.
        let bound = match self.claim_bound() {
            Ok(bound) => bound,
            Err(error) => return fail(batch, &error),
        };
        let results = match self.run_batch(batch, Some(requests), bound, false) {
            Ok(results) => results,
            Err(error) => {
                // Claims already answered are not run again: they were undone with the rest,
                // so their messages are due again, and a later ack of one is refused as a lost
                // lease (at worst the message is sent twice).
                tracing::debug!(%error,
                    "sqlite outbox batch failed, running it request by request");
                match self.run_batch(batch, None, bound, true) {
                    Ok(results) => results,
                    Err(error) => return fail(batch, &error),
                }
            }
        };
        if purge {
            if let Err(error) = ops::purge_keys(&self.conn, now) {
                let error = OutboxError::from(error);
                tracing::warn!(%error, "could not purge expired idempotency keys");
            }
        }

        let committed = self
            .conn
            .prepare_cached("COMMIT")
            .and_then(|mut commit| commit.execute([]));
        if let Err(error) = committed {
            let _ = self.conn.execute_batch("ROLLBACK");
            return fail(batch, &error);
        }
        self.commits += 1;
        // Recorded once the batch is final: requests that joined while it ran count too.
        metrics::histogram!("pythia_outbox_sqlite_batch_size").record(batch.len() as f64);
        // Running the batch and committing it, checkpoints included; not the sync that follows.
        metrics::histogram!("pythia_outbox_sqlite_commit_seconds")
            .record(started.elapsed().as_secs_f64());
        let answers = batch
            .drain(..)
            .zip(results)
            .filter_map(|(command, result)| Some((command.reply?, result?)))
            .collect();
        self.syncer.sync_then_answer(self.commits, answers);
    }

    /// The highest `seq` a claim in the next batch may take: messages of commits not yet on
    /// disk are left alone, so that nothing is sent that a power cut could still undo (new
    /// messages always get a `seq` above every message held).
    fn claim_bound(&mut self) -> rusqlite::Result<i64> {
        let synced = self.syncer.synced();
        while self
            .unsynced
            .front()
            .is_some_and(|(commit, _)| *commit <= synced)
        {
            self.unsynced.pop_front();
        }
        let held = ops::max_seq(&self.conn)?;
        self.unsynced.push_back((self.commits + 1, held));
        Ok(self
            .unsynced
            .iter()
            .map(|(_, seq)| *seq)
            .min()
            .unwrap_or(held))
    }

    /// Opens a transaction and runs every request of the batch in it, leaving it open for the
    /// caller to commit, and answers the claims among them at once. With `absorb`, requests
    /// arriving meanwhile join the batch (up to its cap), so a claim sent while a batch runs
    /// waits for the requests ahead of it, not for the commit. Without `isolate`, the first
    /// SQL error rolls the transaction back and is returned; with it, each request runs in a
    /// savepoint and fails alone. A result is `None` for a request answered already.
    fn run_batch(
        &self,
        batch: &mut Vec<Command>,
        mut absorb: Option<&mut mpsc::Receiver<Command>>,
        bound: i64,
        isolate: bool,
    ) -> Result<Vec<Option<Result<Done, OutboxError>>>, rusqlite::Error> {
        self.conn
            .prepare_cached("BEGIN")
            .and_then(|mut begin| begin.execute([]))?;
        let mut results = Vec::with_capacity(batch.len());
        let mut index = 0;
        loop {
            if index == batch.len() && batch.len() < self.max_batch {
                if let Some(Ok(command)) = absorb.as_mut().map(|requests| requests.try_recv()) {
                    batch.push(command);
                }
            }
            let Some(command) = batch.get_mut(index) else {
                break;
            };
            index += 1;
            if command.reply.is_none() {
                results.push(None);
                continue;
            }
            let result = if isolate {
                run_in_savepoint(&self.conn, &command.op, command.now, self.retention, bound)
            } else {
                match ops::run(&self.conn, &command.op, command.now, self.retention, bound) {
                    Ok(done) => Ok(done),
                    Err(ops::Error::Outbox(error)) => Err(error),
                    Err(ops::Error::Sql(error)) => {
                        let _ = self.conn.execute_batch("ROLLBACK");
                        return Err(error);
                    }
                }
            };
            if command.answers_early() {
                if let Some(reply) = command.reply.take() {
                    let _ = reply.send(result);
                }
                results.push(None);
            } else {
                results.push(Some(result));
            }
        }
        Ok(results)
    }
}

fn run_in_savepoint(
    conn: &Connection,
    op: &Op,
    now: i64,
    retention: Duration,
    bound: i64,
) -> Result<Done, OutboxError> {
    // Prepared once and cached: `execute_batch` would parse them again for every request.
    let savepoint = |sql: &str| conn.prepare_cached(sql).and_then(|mut s| s.execute([]));
    savepoint("SAVEPOINT op").map_err(|e| OutboxError::Storage(e.to_string()))?;
    match ops::run(conn, op, now, retention, bound) {
        Ok(done) => {
            savepoint("RELEASE op").map_err(|e| OutboxError::Storage(e.to_string()))?;
            Ok(done)
        }
        Err(error) => {
            // Undo this request's partial writes and keep the batch going.
            let _ = conn.execute_batch("ROLLBACK TO op; RELEASE op");
            Err(error.into())
        }
    }
}

/// The transaction could not be opened or committed: nothing in it happened. Requests
/// answered early (claims) have had their answer.
fn fail(batch: &mut Vec<Command>, error: &rusqlite::Error) {
    tracing::warn!(%error, size = batch.len(), "sqlite outbox commit failed");
    metrics::counter!("pythia_outbox_sqlite_commit_failures_total").increment(1);
    for command in batch.drain(..) {
        if let Some(reply) = command.reply {
            let _ = reply.send(Err(OutboxError::Storage(error.to_string())));
        }
    }
}

/// Gives the calling thread the niceness `nice` (from -20, the highest priority, to 19; 0
/// leaves it alone). Raising it above the process's (a negative `nice`) needs `CAP_SYS_NICE` or
/// a `RLIMIT_NICE` that allows it; without either the thread keeps its priority, which is
/// said once at `info` level. Only on Linux, where each thread has its own.
pub(super) fn set_niceness(nice: i32, path: &std::path::Path) {
    if nice == 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        let thread = rustix::thread::gettid();
        match rustix::process::setpriority_process(Some(thread), nice) {
            Ok(()) => tracing::debug!(nice, "sqlite outbox writer priority set"),
            Err(error) => tracing::info!(nice, %error, path = %path.display(),
                "sqlite outbox writer keeps its priority; allow CAP_SYS_NICE or RLIMIT_NICE \
                 for more durable writes a second on a busy machine"),
        }
    }
    #[cfg(not(target_os = "linux"))]
    tracing::debug!(nice, path = %path.display(),
        "sqlite outbox writer priority is only set on linux");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::NewMessage;

    fn command(message: NewMessage) -> (Command, oneshot::Receiver<Result<Done, OutboxError>>) {
        let (reply, answer) = oneshot::channel();
        let command = Command {
            op: Op::Enqueue(vec![message]),
            now: 1_000,
            reply: Some(reply),
            queued: Instant::now(),
        };
        (command, answer)
    }

    #[test]
    fn an_sql_error_fails_its_own_request_and_the_rest_of_the_batch_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::schema::open(&dir.path().join("outbox.db")).unwrap();
        // Enqueues with an idempotency key now fail in SQL, after their message row is written.
        conn.execute_batch(
            "CREATE TRIGGER refuse_keys BEFORE INSERT ON idempotency
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
        let wal = dir.path().join("outbox.db-wal");
        let mut writer = Writer {
            conn,
            max_batch: 16,
            retention: Duration::from_secs(60),
            syncer: Syncer::new(wal),
            commits: 0,
            unsynced: VecDeque::new(),
        };
        let (first, first_answer) = command(NewMessage::new("orders", "1"));
        let (keyed, keyed_answer) = command(NewMessage::new("orders", "2").idempotency_key("k"));
        let (last, last_answer) = command(NewMessage::new("orders", "3"));

        let (_sender, mut requests) = mpsc::channel(1);
        writer.commit(&mut vec![first, keyed, last], &mut requests, false);

        assert!(first_answer.blocking_recv().unwrap().is_ok());
        let failed = keyed_answer.blocking_recv().unwrap();
        assert!(matches!(failed, Err(OutboxError::Storage(_))), "{failed:?}");
        assert!(last_answer.blocking_recv().unwrap().is_ok());
        let stored: Vec<String> = writer
            .conn
            .prepare("SELECT payload FROM messages ORDER BY seq")
            .unwrap()
            .query_map([], |row| {
                row.get::<_, Vec<u8>>(0)
                    .map(|p| String::from_utf8(p).unwrap())
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            stored,
            ["1", "3"],
            "the failed request left no half-written row"
        );
    }

    #[test]
    fn a_claim_takes_no_message_above_its_bound() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::schema::open(&dir.path().join("outbox.db")).unwrap();
        let enqueue = Op::Enqueue(
            (0..3)
                .map(|n| NewMessage::new("orders", n.to_string()))
                .collect(),
        );
        ops::run(&conn, &enqueue, 1_000, Duration::ZERO, 0).unwrap();
        let claim = Op::Claim {
            limit: 10,
            lease: Duration::from_secs(60),
            skip: Vec::new(),
        };

        let bound = ops::max_seq(&conn).unwrap() - 1;
        let Done::Claimed(first) = ops::run(&conn, &claim, 2_000, Duration::ZERO, bound).unwrap()
        else {
            panic!("a claim answers with claimed messages");
        };
        let Done::Claimed(rest) = ops::run(&conn, &claim, 2_000, Duration::ZERO, i64::MAX).unwrap()
        else {
            panic!("a claim answers with claimed messages");
        };

        let payloads = |claimed: &[crate::outbox::Claimed]| -> Vec<String> {
            claimed
                .iter()
                .map(|c| String::from_utf8(c.message.payload.to_vec()).unwrap())
                .collect()
        };
        assert_eq!(
            payloads(&first),
            ["0", "1"],
            "the newest is above the bound"
        );
        assert_eq!(payloads(&rest), ["2"]);
    }
}
