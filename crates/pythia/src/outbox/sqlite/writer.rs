//! The writer thread: owns the connection and commits concurrent requests together.
//!
//! Each request waits in a channel. The thread takes the first one, then every other request
//! already waiting (up to a cap), and runs them all in one transaction, each inside its own
//! savepoint so that one failing request does not undo the others. Replies go out only after
//! the commit, so `enqueue` returns once its message is on disk, while one fsync serves the
//! whole batch (group commit).

use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::ops::{self, Done, Op};
use crate::outbox::OutboxError;

/// A request and where to send its result.
#[derive(Debug)]
pub(super) struct Command {
    pub(super) op: Op,
    pub(super) now: i64,
    pub(super) reply: oneshot::Sender<Result<Done, OutboxError>>,
}

/// How often delivered idempotency keys past their retention are dropped.
const PURGE_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub(super) struct Writer {
    pub(super) conn: Connection,
    pub(super) max_batch: usize,
    pub(super) retention: Duration,
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
            self.commit(&mut batch, purge);
        }
        tracing::debug!("sqlite outbox writer stopped");
    }

    fn commit(&mut self, batch: &mut Vec<Command>, purge: bool) {
        metrics::histogram!("pythia_outbox_sqlite_batch_size").record(batch.len() as f64);
        let now = batch.iter().map(|command| command.now).max().unwrap_or(0);
        let tx = match self.conn.transaction() {
            Ok(tx) => tx,
            Err(error) => return fail(batch, &error),
        };

        let mut results = Vec::with_capacity(batch.len());
        for command in batch.iter_mut() {
            let op = std::mem::replace(&mut command.op, Op::Stats(None));
            results.push(run_in_savepoint(&tx, op, command.now, self.retention));
        }
        if purge {
            if let Err(error) = ops::purge_keys(&tx, now) {
                let error = OutboxError::from(error);
                tracing::warn!(%error, "could not purge expired idempotency keys");
            }
        }

        if let Err(error) = tx.commit() {
            return fail(batch, &error);
        }
        for (command, result) in batch.drain(..).zip(results) {
            // A caller that gave up waiting is not an error: its work is committed.
            let _ = command.reply.send(result);
        }
    }
}

fn run_in_savepoint(
    conn: &Connection,
    op: Op,
    now: i64,
    retention: Duration,
) -> Result<Done, OutboxError> {
    // Prepared once and cached: `execute_batch` would parse them again for every request.
    let savepoint = |sql: &str| conn.prepare_cached(sql).and_then(|mut s| s.execute([]));
    savepoint("SAVEPOINT op").map_err(|e| OutboxError::Storage(e.to_string()))?;
    match ops::run(conn, op, now, retention) {
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

/// The transaction could not be opened or committed: nothing in it happened.
fn fail(batch: &mut Vec<Command>, error: &rusqlite::Error) {
    tracing::warn!(%error, size = batch.len(), "sqlite outbox commit failed");
    metrics::counter!("pythia_outbox_sqlite_commit_failures_total").increment(1);
    for command in batch.drain(..) {
        let _ = command
            .reply
            .send(Err(OutboxError::Storage(error.to_string())));
    }
}
