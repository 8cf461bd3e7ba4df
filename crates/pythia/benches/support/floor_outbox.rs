//! The cheapest durable outbox SQLite allows, for `webhook_send` only: the floor under which no
//! layout of `SqliteOutbox`'s tables can go.
//!
//! It keeps only what durability needs: each payload as one row of a table with no index but
//! its row id, written in group commits by one thread in WAL mode, the log synced with one
//! `fdatasync` after each commit before any answer goes out, as `SqliteOutbox` does, and the
//! thread at the same niceness as that outbox's writer. An ack deletes the row by its id. No id,
//! endpoint, headers, lease, due time or idempotency key is stored, and nothing is read back:
//! messages waiting for a claim and the ids they go out with stay in memory. So it cannot
//! survive a restart, expire a lease or retry (a reschedule fails; the bench's receiver answers
//! every attempt with `204`): it is a measuring stick, not an outbox.

use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use pythia::outbox::{
    Claimed, DeadLetter, Enqueued, Lease, NewMessage, Outbox, OutboxError, OutboxStats, Replay,
    StoredMessage,
};
use rusqlite::{params, Connection};
use tokio::sync::{mpsc, oneshot};

/// The most requests one commit takes, as in `SqliteOutbox`.
const MAX_BATCH: usize = 1024;

type Reply<T> = oneshot::Sender<Result<T, String>>;

/// A request to the writer thread.
enum Op {
    Store(Bytes, Reply<i64>),
    Delete(Vec<i64>, Reply<()>),
}

/// See the module documentation.
pub(crate) struct FloorOutbox {
    requests: mpsc::Sender<Op>,
    /// Stored by `enqueue`, waiting for a claim, oldest first.
    due: Mutex<VecDeque<Claimed>>,
    dead: AtomicU64,
}

impl FloorOutbox {
    /// Creates the file at `path` and starts its writer thread.
    pub(crate) fn open(path: &Path) -> FloorOutbox {
        let conn = Connection::open(path).expect("a floor outbox file");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
             CREATE TABLE payloads (payload BLOB NOT NULL);",
        )
        .expect("the floor outbox schema");
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let (requests, receiver) = mpsc::channel(8192);
        std::thread::Builder::new()
            .name("pythia-outbox-floor".to_owned())
            .spawn(move || write(&conn, &PathBuf::from(wal), receiver))
            .expect("the floor outbox writer thread");
        FloorOutbox {
            requests,
            due: Mutex::new(VecDeque::new()),
            dead: AtomicU64::new(0),
        }
    }

    async fn call<T>(&self, op: impl FnOnce(Reply<T>) -> Op) -> Result<T, OutboxError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(op(reply))
            .await
            .map_err(|_| OutboxError::Closed)?;
        answer
            .await
            .map_err(|_| OutboxError::Closed)?
            .map_err(OutboxError::Storage)
    }

    /// Stores `message`'s payload; the claim it goes out under names the row.
    async fn store(&self, message: NewMessage) -> Result<(Enqueued, Claimed), OutboxError> {
        let row = self
            .call(|reply| Op::Store(message.payload.clone(), reply))
            .await?;
        let id = message.id.unwrap_or_else(pythia::message::new_message_id);
        let claimed = Claimed {
            message: StoredMessage {
                id: id.clone(),
                endpoint: message.endpoint,
                payload: message.payload,
                headers: message.headers,
                event_type: message.event_type,
                attempts: 0,
                created_at: SystemTime::now(),
                last_error: None,
            },
            lease: Lease(row.to_string()),
        };
        let enqueued = Enqueued {
            id,
            duplicate: false,
        };
        Ok((enqueued, claimed))
    }

    async fn delete(&self, leases: &[&Lease]) -> Result<(), OutboxError> {
        let rows = leases
            .iter()
            .map(|lease| lease.0.parse::<i64>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| OutboxError::Storage(format!("not a floor lease: {error}")))?;
        self.call(|reply| Op::Delete(rows, reply)).await
    }
}

/// The writer thread: group commits, each synced before its answers go out.
fn write(conn: &Connection, wal: &Path, mut requests: mpsc::Receiver<Op>) {
    set_niceness();
    let mut log: Option<File> = None;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = requests.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match requests.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }

        let committed = commit(conn, &batch);
        if committed.is_err() {
            // Whatever part of the batch ran is undone, and the next batch starts afresh.
            let _ = conn.execute_batch("ROLLBACK");
        }
        let results = committed.and_then(|results| {
            let log = match &mut log {
                Some(log) => log,
                None => log.insert(File::options().write(true).open(wal)?),
            };
            log.sync_data()?;
            Ok(results)
        });
        answer(&mut batch, results.map_err(|error| error.to_string()));
    }
}

/// Runs `batch` in one transaction: the row id of each store, nothing for a delete.
fn commit(conn: &Connection, batch: &[Op]) -> Result<Vec<i64>, Box<dyn std::error::Error>> {
    conn.prepare_cached("BEGIN")?.execute([])?;
    let mut rows = Vec::with_capacity(batch.len());
    for op in batch {
        match op {
            Op::Store(payload, _) => {
                conn.prepare_cached("INSERT INTO payloads (payload) VALUES (?1)")?
                    .execute(params![&payload[..]])?;
                rows.push(conn.last_insert_rowid());
            }
            Op::Delete(ids, _) => {
                let mut delete = conn.prepare_cached("DELETE FROM payloads WHERE rowid = ?1")?;
                for id in ids {
                    delete.execute(params![id])?;
                }
                rows.push(0);
            }
        }
    }
    conn.prepare_cached("COMMIT")?.execute([])?;
    Ok(rows)
}

fn answer(batch: &mut Vec<Op>, results: Result<Vec<i64>, String>) {
    for (index, op) in batch.drain(..).enumerate() {
        let row = results
            .as_ref()
            .map(|rows| rows[index])
            .map_err(Clone::clone);
        match op {
            Op::Store(_, reply) => drop(reply.send(row)),
            Op::Delete(_, reply) => drop(reply.send(row.map(drop))),
        }
    }
}

/// The niceness `SqliteOutbox`'s writer asks for, so that the two compare alike.
fn set_niceness() {
    #[cfg(target_os = "linux")]
    {
        let thread = rustix::thread::gettid();
        let nice = pythia::outbox::DEFAULT_WRITER_NICE;
        if let Err(error) = rustix::process::setpriority_process(Some(thread), nice) {
            println!("  (the floor outbox writer keeps its priority: {error})");
        }
    }
}

#[async_trait]
impl Outbox for FloorOutbox {
    async fn enqueue(&self, message: NewMessage) -> Result<Enqueued, OutboxError> {
        let (enqueued, claimed) = self.store(message).await?;
        self.due.lock().push_back(claimed);
        Ok(enqueued)
    }

    async fn enqueue_batch(&self, messages: Vec<NewMessage>) -> Result<Vec<Enqueued>, OutboxError> {
        let mut enqueued = Vec::with_capacity(messages.len());
        for message in messages {
            enqueued.push(self.enqueue(message).await?);
        }
        Ok(enqueued)
    }

    async fn enqueue_claimed(
        &self,
        message: NewMessage,
        _lease: Duration,
    ) -> Result<(Enqueued, Option<Claimed>), OutboxError> {
        let (enqueued, claimed) = self.store(message).await?;
        Ok((enqueued, Some(claimed)))
    }

    fn claims_on_enqueue(&self) -> bool {
        true
    }

    async fn claim(&self, limit: usize, _lease: Duration) -> Result<Vec<Claimed>, OutboxError> {
        let mut due = self.due.lock();
        let take = limit.min(due.len());
        Ok(due.drain(..take).collect())
    }

    async fn ack(&self, _id: &str, lease: &Lease) -> Result<(), OutboxError> {
        self.delete(&[lease]).await
    }

    async fn ack_batch(&self, acks: &[(&str, &Lease)]) -> Vec<Result<(), OutboxError>> {
        let leases: Vec<&Lease> = acks.iter().map(|(_, lease)| *lease).collect();
        match self.delete(&leases).await {
            Ok(()) => acks.iter().map(|_| Ok(())).collect(),
            Err(error) => {
                let reason = error.to_string();
                acks.iter()
                    .map(|_| Err(OutboxError::Storage(reason.clone())))
                    .collect()
            }
        }
    }

    async fn reschedule(
        &self,
        id: &str,
        lease: &Lease,
        _at: SystemTime,
        _count_attempt: bool,
        _last_error: Option<&str>,
    ) -> Result<(), OutboxError> {
        Err(OutboxError::Storage(format!(
            "the floor outbox cannot retry {id} (lease {})",
            lease.0
        )))
    }

    async fn dead_letter(
        &self,
        _id: &str,
        lease: &Lease,
        _reason: &str,
    ) -> Result<(), OutboxError> {
        self.dead.fetch_add(1, Ordering::Relaxed);
        self.delete(&[lease]).await
    }

    async fn stats(&self, _endpoint: Option<&str>) -> Result<OutboxStats, OutboxError> {
        Ok(OutboxStats {
            pending: u64::try_from(self.due.lock().len()).unwrap_or(u64::MAX),
            dead: self.dead.load(Ordering::Relaxed),
            ..OutboxStats::default()
        })
    }

    async fn dead_letters(&self, _limit: usize) -> Result<Vec<DeadLetter>, OutboxError> {
        Ok(Vec::new())
    }

    async fn replay(&self, _which: Replay) -> Result<u64, OutboxError> {
        Ok(0)
    }
}
