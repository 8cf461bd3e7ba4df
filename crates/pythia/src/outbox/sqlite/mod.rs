//! [`SqliteOutbox`]: the embedded, durable outbox (feature `sqlite`).

mod ops;
mod schema;
mod sync;
mod writer;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use self::ops::{Done, Op};
use self::writer::{Command, Writer};
use super::clock::{self, to_millis};
use super::{
    Claimed, DeadLetter, Enqueued, Lease, NewMessage, Outbox, OutboxError, OutboxStats, Replay,
    DEFAULT_IDEMPOTENCY_RETENTION,
};

/// The outbox in one SQLite file: the default, for a single instance.
///
/// - Durable on commit: [`enqueue`](Outbox::enqueue) returns once its message is on disk (the
///   write-ahead log is synced before any answer but a claim's goes out).
/// - Fast under load: one writer thread commits every request waiting at that moment in one
///   transaction and syncs the log once for all of them, so concurrent callers share each
///   commit and each sync. The thread asks for a higher priority than the process's others
///   ([`SqliteOutboxBuilder::writer_nice`]). Its page cache grows to at most 32 MiB, so a
///   backlog of tens of thousands of messages is served from memory.
/// - Leases live in the file: a message claimed by a process that dies is due again when its
///   lease ends, in this process or the next.
/// - Idempotency keys of delivered messages are remembered for a retention window (24 hours by
///   default), so a late repeat is still harmless.
/// - The schema version is kept in `user_version`; a file from a newer build is refused.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use pythia::outbox::{NewMessage, Outbox, SqliteOutbox};
///
/// let dir = tempfile::tempdir().unwrap();
/// let outbox = SqliteOutbox::open(dir.path().join("outbox.db"))?;
/// let enqueued = outbox
///     .enqueue(NewMessage::new("orders", r#"{"id":1}"#).idempotency_key("order-1"))
///     .await?;
/// assert!(!enqueued.duplicate);
/// # Ok::<(), pythia::outbox::OutboxError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct SqliteOutbox {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    requests: mpsc::Sender<Command>,
}

impl fmt::Debug for SqliteOutbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteOutbox")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteOutbox {
    /// Opens the outbox file at `path`, creating it (not its directory) if needed, with the
    /// default settings. A missing directory, a path that cannot be written or a file that is not
    /// an outbox is an [`OutboxError::Open`] naming the path.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteOutbox, OutboxError> {
        SqliteOutbox::builder(path).open()
    }

    /// A builder for an outbox at `path` with non-default settings.
    pub fn builder(path: impl AsRef<Path>) -> SqliteOutboxBuilder {
        SqliteOutboxBuilder {
            path: path.as_ref().to_path_buf(),
            idempotency_retention: DEFAULT_IDEMPOTENCY_RETENTION,
            max_batch: 1024,
            queue_capacity: 8192,
            release_leases: false,
            writer_nice: DEFAULT_WRITER_NICE,
        }
    }

    /// The path of the file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn call(&self, op: Op) -> Result<Done, OutboxError> {
        let (reply, done) = oneshot::channel();
        let command = Command {
            op,
            now: to_millis(clock::now()),
            reply: Some(reply),
            queued: std::time::Instant::now(),
        };
        self.inner
            .requests
            .send(command)
            .await
            .map_err(|_| OutboxError::Closed)?;
        done.await.map_err(|_| OutboxError::Closed)?
    }
}

/// Settings for a [`SqliteOutbox`]; see [`SqliteOutbox::builder`].
#[derive(Clone, Debug)]
pub struct SqliteOutboxBuilder {
    path: PathBuf,
    idempotency_retention: Duration,
    max_batch: usize,
    queue_capacity: usize,
    release_leases: bool,
    writer_nice: i32,
}

/// The writer thread's default niceness: see [`SqliteOutboxBuilder::writer_nice`].
pub const DEFAULT_WRITER_NICE: i32 = -10;

impl SqliteOutboxBuilder {
    /// Whether opening makes every message still claimed by an earlier process due at once,
    /// instead of when its lease ends. Only for the one process that uses the file (a daemon at
    /// its start): a claim of a live process is released too, and that message may be sent
    /// twice. After a crash this turns "delivered once the leases end" (minutes) into
    /// "delivered at restart". Default: false.
    pub fn release_leases_on_open(mut self, release: bool) -> Self {
        self.release_leases = release;
        self
    }

    /// How long the idempotency key of a delivered message is remembered. Default: 24 hours.
    pub fn idempotency_retention(mut self, retention: Duration) -> Self {
        self.idempotency_retention = retention;
        self
    }

    /// The most requests committed in one transaction. Default: 1024 (at least 1).
    pub fn max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch.max(1);
        self
    }

    /// How many requests may wait for the writer before callers wait to hand theirs over.
    /// Default: 8192 (at least 1).
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity.max(1);
        self
    }

    /// The niceness the writer thread asks for on Linux, from -20 (the highest priority) to 19;
    /// 0 leaves it at the process's. Default: [`DEFAULT_WRITER_NICE`] (-10).
    ///
    /// Every enqueue waits for the writer's commit and sync, and the writer needs little CPU
    /// (about a third of a core at 50,000 durable webhooks a second), so it is worth running
    /// first: when the runtime's workers keep every core busy, a writer of the same priority
    /// waits for a core each time a request wakes it, and enqueues wait with it. On two cores
    /// -10 raised the durable webhook rate by about 15%. A higher priority than the process's
    /// needs `CAP_SYS_NICE` or a `RLIMIT_NICE` that allows it (systemd: `LimitNICE=-10` or
    /// `AmbientCapabilities=CAP_SYS_NICE`); without either the writer keeps the process's
    /// priority, and says so once in the log at `info` level.
    pub fn writer_nice(mut self, nice: i32) -> Self {
        self.writer_nice = nice.clamp(-20, 19);
        self
    }

    /// Opens the file and starts the writer thread.
    pub fn open(self) -> Result<SqliteOutbox, OutboxError> {
        let conn = schema::open(&self.path)?;
        if self.release_leases {
            let released = ops::release_leases(&conn, to_millis(clock::now())).map_err(|e| {
                OutboxError::Open {
                    location: self.path.display().to_string(),
                    reason: format!("cannot release the leases of an earlier process: {e}"),
                }
            })?;
            if released > 0 {
                tracing::info!(path = %self.path.display(), released,
                    "claims of an earlier process released");
            }
        }
        let (requests, receiver) = mpsc::channel(self.queue_capacity);
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        let syncer = sync::Syncer::new(wal.into());
        let writer = Writer {
            conn,
            max_batch: self.max_batch,
            retention: self.idempotency_retention,
            syncer,
            commits: 0,
            unsynced: std::collections::VecDeque::new(),
        };
        let (nice, path) = (self.writer_nice, self.path.clone());
        std::thread::Builder::new()
            .name("pythia-outbox-sqlite".to_owned())
            .spawn(move || {
                writer::set_niceness(nice, &path);
                writer.run(receiver);
            })
            .map_err(|e| OutboxError::Open {
                location: self.path.display().to_string(),
                reason: format!("cannot start the writer thread: {e}"),
            })?;
        tracing::info!(path = %self.path.display(), "sqlite outbox opened");
        Ok(SqliteOutbox {
            inner: Arc::new(Inner {
                path: self.path,
                requests,
            }),
        })
    }
}

/// The writer answered with the wrong kind of result: a bug, reported rather than panicking.
fn unexpected(done: &Done) -> OutboxError {
    OutboxError::Storage(format!("unexpected writer reply {done:?}"))
}

/// The same failure again, for each entry of a batch that failed as a whole.
fn copy_of(error: &OutboxError) -> OutboxError {
    match error {
        OutboxError::Closed => OutboxError::Closed,
        other => OutboxError::Storage(match other {
            OutboxError::Storage(reason) => reason.clone(),
            other => other.to_string(),
        }),
    }
}

#[async_trait]
impl Outbox for SqliteOutbox {
    async fn enqueue(&self, message: NewMessage) -> Result<Enqueued, OutboxError> {
        let mut enqueued = self.enqueue_batch(vec![message]).await?;
        enqueued
            .pop()
            .ok_or_else(|| OutboxError::Storage("enqueue returned nothing".to_owned()))
    }

    async fn enqueue_batch(&self, messages: Vec<NewMessage>) -> Result<Vec<Enqueued>, OutboxError> {
        match self.call(Op::Enqueue(messages)).await? {
            Done::Enqueued(enqueued) => Ok(enqueued),
            other => Err(unexpected(&other)),
        }
    }

    fn claims_on_enqueue(&self) -> bool {
        true
    }

    async fn enqueue_claimed(
        &self,
        message: NewMessage,
        lease: Duration,
    ) -> Result<(Enqueued, Option<Claimed>), OutboxError> {
        match self.call(Op::EnqueueClaimed { message, lease }).await? {
            Done::EnqueuedClaimed(enqueued, claimed) => Ok((enqueued, claimed)),
            other => Err(unexpected(&other)),
        }
    }

    async fn claim(&self, limit: usize, lease: Duration) -> Result<Vec<Claimed>, OutboxError> {
        self.claim_except(limit, lease, &[]).await
    }

    async fn claim_except(
        &self,
        limit: usize,
        lease: Duration,
        skip_endpoints: &[String],
    ) -> Result<Vec<Claimed>, OutboxError> {
        let op = Op::Claim {
            limit,
            lease,
            skip: skip_endpoints.to_vec(),
        };
        match self.call(op).await? {
            Done::Claimed(claimed) => Ok(claimed),
            other => Err(unexpected(&other)),
        }
    }

    async fn ack(&self, id: &str, lease: &Lease) -> Result<(), OutboxError> {
        let op = Op::Ack {
            id: id.to_owned(),
            lease: lease.clone(),
        };
        self.call(op).await.map(drop)
    }

    async fn ack_batch(&self, acks: &[(&str, &Lease)]) -> Vec<Result<(), OutboxError>> {
        if acks.is_empty() {
            return Vec::new();
        }
        let op = Op::AckBatch(
            acks.iter()
                .map(|(id, lease)| ((*id).to_owned(), (*lease).clone()))
                .collect(),
        );
        let error = match self.call(op).await {
            Ok(Done::Acked(results)) => return results,
            Ok(other) => unexpected(&other),
            Err(error) => error,
        };
        // The batch failed as a whole: nothing in it was stored.
        acks.iter().map(|_| Err(copy_of(&error))).collect()
    }

    async fn reschedule(
        &self,
        id: &str,
        lease: &Lease,
        at: SystemTime,
        count_attempt: bool,
        last_error: Option<&str>,
    ) -> Result<(), OutboxError> {
        let op = Op::Reschedule {
            id: id.to_owned(),
            lease: lease.clone(),
            at: to_millis(at),
            count_attempt,
            last_error: last_error.map(str::to_owned),
        };
        self.call(op).await.map(drop)
    }

    async fn dead_letter(&self, id: &str, lease: &Lease, reason: &str) -> Result<(), OutboxError> {
        let op = Op::DeadLetter {
            id: id.to_owned(),
            lease: lease.clone(),
            reason: reason.to_owned(),
        };
        self.call(op).await.map(drop)
    }

    async fn stats(&self, endpoint: Option<&str>) -> Result<OutboxStats, OutboxError> {
        match self.call(Op::Stats(endpoint.map(str::to_owned))).await? {
            Done::Stats(stats) => Ok(stats),
            other => Err(unexpected(&other)),
        }
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, OutboxError> {
        match self.call(Op::DeadLetters(limit)).await? {
            Done::DeadLetters(dead) => Ok(dead),
            other => Err(unexpected(&other)),
        }
    }

    async fn replay(&self, which: Replay) -> Result<u64, OutboxError> {
        match self.call(Op::Replay(which)).await? {
            Done::Count(count) => Ok(count),
            other => Err(unexpected(&other)),
        }
    }
}
