//! The durable queue behind webhook delivery.
//!
//! An [`Outbox`] holds messages addressed to named endpoints until they are delivered or
//! dead-lettered. The contract, shared by every implementation:
//!
//! - [`Outbox::enqueue`] returns only once the message is durable. A message with an
//!   idempotency key that the outbox already holds (pending, in flight, delivered recently or
//!   dead) is not stored again; the earlier id is returned with `duplicate = true`.
//! - [`Outbox::claim`] hands out due messages under a lease. A claimed message is invisible to
//!   other claimers until its lease expires; then it is due again (a crashed dispatcher loses
//!   nothing, and the redelivery carries the same id).
//! - After an attempt, a dispatcher calls exactly one of [`Outbox::ack`] (or
//!   [`Outbox::ack_batch`] for several), [`Outbox::reschedule`] or [`Outbox::dead_letter`],
//!   passing the lease it holds. A stale
//!   lease (one that expired and was claimed again) is refused with [`OutboxError::LeaseLost`].
//! - Dead letters can be listed and replayed.
//!
//! Delivery is therefore at-least-once: duplicates happen only for attempts in flight at a
//! crash, and they carry the same message id (the `webhook-id`).

use std::fmt;
use std::time::{Duration, SystemTime};

mod clock;
#[doc(hidden)]
pub mod conformance;
mod memory;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use clock::now;
pub use memory::MemoryOutbox;
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteOutbox, SqliteOutboxBuilder, DEFAULT_WRITER_NICE};

/// How long an idempotency key is remembered after its message was delivered, unless an
/// implementation is configured otherwise: 24 hours.
pub const DEFAULT_IDEMPOTENCY_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// How many due messages beyond its limit a claim that skips endpoints looks through in claim
/// order: in the Redis outbox always, in the SQLite outbox when more endpoints than this hold
/// messages (see [`Outbox::claim_except`]).
pub const SKIP_WINDOW: usize = 1000;

/// Records how long an accepted enqueue that began at `started` took to be durable: the wait
/// an ingest request, a poller sink or a relay sees.
pub(crate) fn record_enqueue(started: std::time::Instant) {
    metrics::histogram!("pythia_outbox_enqueue_duration_seconds")
        .record(started.elapsed().as_secs_f64());
}

/// How many due messages a claim for `limit` looks through: `limit` alone, or `limit` plus
/// [`SKIP_WINDOW`] when it skips endpoints.
#[cfg(any(feature = "sqlite", feature = "redis"))]
pub(crate) fn claim_window(limit: usize, skipping: bool) -> usize {
    if skipping {
        limit.saturating_add(SKIP_WINDOW)
    } else {
        limit
    }
}

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// A message to put into the outbox.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMessage {
    /// The message id, which becomes the `webhook-id`. Generated when `None`.
    pub id: Option<String>,
    /// The name of the endpoint to deliver to.
    pub endpoint: String,
    /// The bytes to send, exactly as they will be signed and sent.
    pub payload: Bytes,
    /// Extra headers to send with the webhook.
    pub headers: Vec<(String, String)>,
    /// Makes a repeated enqueue harmless: the second is not stored.
    pub idempotency_key: Option<String>,
    /// The event type, for endpoints that filter on it.
    pub event_type: Option<String>,
    /// When the first attempt may be made; now when `None`.
    pub not_before: Option<SystemTime>,
}

impl NewMessage {
    /// A message for `endpoint` with `payload` and nothing else set.
    pub fn new(endpoint: impl Into<String>, payload: impl Into<Bytes>) -> Self {
        NewMessage {
            id: None,
            endpoint: endpoint.into(),
            payload: payload.into(),
            headers: Vec::new(),
            idempotency_key: None,
            event_type: None,
            not_before: None,
        }
    }

    /// Sets the message id.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the idempotency key.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the event type.
    pub fn event_type(mut self, event_type: impl Into<String>) -> Self {
        self.event_type = Some(event_type.into());
        self
    }
}

impl fmt::Debug for NewMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Payloads are never printed.
        f.debug_struct("NewMessage")
            .field("id", &self.id)
            .field("endpoint", &self.endpoint)
            .field("payload_len", &self.payload.len())
            .field("idempotency_key", &self.idempotency_key)
            .field("event_type", &self.event_type)
            .finish_non_exhaustive()
    }
}

/// What [`Outbox::enqueue`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enqueued {
    /// The id of the stored message (the earlier one for a duplicate).
    pub id: String,
    /// Whether the idempotency key matched a message already held, so nothing was stored.
    pub duplicate: bool,
}

/// A message held by the outbox.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The message id, the `webhook-id` of every attempt.
    pub id: String,
    /// The endpoint name.
    pub endpoint: String,
    /// The bytes to send.
    pub payload: Bytes,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The event type, if any.
    pub event_type: Option<String>,
    /// Attempts made so far (0 for a fresh message).
    pub attempts: u32,
    /// When the message was enqueued.
    pub created_at: SystemTime,
    /// The last error, if an attempt failed.
    pub last_error: Option<String>,
}

impl fmt::Debug for StoredMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredMessage")
            .field("id", &self.id)
            .field("endpoint", &self.endpoint)
            .field("payload_len", &self.payload.len())
            .field("attempts", &self.attempts)
            .field("created_at", &self.created_at)
            .field("last_error", &self.last_error)
            .finish_non_exhaustive()
    }
}

/// A message claimed under a lease.
#[derive(Clone, Debug)]
pub struct Claimed {
    /// The message.
    pub message: StoredMessage,
    /// The lease token; pass it back to `ack`, `reschedule` or `dead_letter`.
    pub lease: Lease,
}

/// Proof of a claim. Opaque: implementations decide what it holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Lease(pub String);

/// A message that exhausted its attempts or could not be delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// The message as it was when it died.
    pub message: StoredMessage,
    /// When it was dead-lettered.
    pub died_at: SystemTime,
    /// Why.
    pub reason: String,
}

/// Counts of what the outbox holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OutboxStats {
    /// Messages waiting for delivery (due or scheduled, not in flight).
    pub pending: u64,
    /// Messages claimed under a live lease.
    pub in_flight: u64,
    /// Dead letters.
    pub dead: u64,
    /// Age of the oldest message not yet delivered.
    #[serde(with = "opt_secs")]
    pub oldest_age: Option<Duration>,
}

impl OutboxStats {
    /// Messages not yet delivered nor dead: `pending + in_flight`.
    pub fn depth(&self) -> u64 {
        self.pending + self.in_flight
    }
}

mod opt_secs {
    use serde::Serializer;
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }
}

/// Which dead letters to replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Replay {
    /// Every dead letter.
    All,
    /// Dead letters of one endpoint.
    Endpoint(String),
    /// These ids.
    Ids(Vec<String>),
}

/// An outbox failure. Messages never contain payloads or secrets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// The store could not be opened: a missing directory, no permission, a corrupt file.
    #[error("cannot open outbox at {location}: {reason}")]
    Open {
        /// The path or URL, without credentials.
        location: String,
        /// What went wrong.
        reason: String,
    },
    /// A read or write failed.
    #[error("outbox storage error: {0}")]
    Storage(String),
    /// The lease passed back had expired and the message was claimed again.
    #[error("lease lost for message {0}")]
    LeaseLost(String),
    /// No message with that id.
    #[error("no message {0} in the outbox")]
    NotFound(String),
    /// The outbox is closed.
    #[error("outbox is closed")]
    Closed,
}

impl OutboxError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, OutboxError::Storage(_))
    }
}

/// The durable queue of webhooks. See the [module docs](self) for the contract.
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Stores a message; returns once it is durable.
    async fn enqueue(&self, message: NewMessage) -> Result<Enqueued, OutboxError>;

    /// Stores several messages atomically; returns once all are durable.
    async fn enqueue_batch(&self, messages: Vec<NewMessage>) -> Result<Vec<Enqueued>, OutboxError>;

    /// Stores a message already claimed by the caller for `lease` time, in the same write, and
    /// returns the claim with it: a dispatcher with room takes a fresh message straight from
    /// its enqueue, with no claim query and no read back. Durable on return, like
    /// [`enqueue`](Outbox::enqueue), and a crash leaves the message due again when the lease
    /// ends, like any claim.
    ///
    /// No claim comes back (`None`) for a duplicate, for a message with a `not_before` still to
    /// come, and from the provided implementation, which calls `enqueue`: the message is then
    /// stored due as usual, for a later claim.
    async fn enqueue_claimed(
        &self,
        message: NewMessage,
        lease: Duration,
    ) -> Result<(Enqueued, Option<Claimed>), OutboxError> {
        let _ = lease;
        Ok((self.enqueue(message).await?, None))
    }

    /// Whether [`enqueue_claimed`](Outbox::enqueue_claimed) can return a claim: an
    /// implementation that overrides it says `true`. A dispatcher's queue takes the short way
    /// to the attempt only then, and otherwise stores the message due and wakes the
    /// dispatcher. Default: `false`.
    fn claims_on_enqueue(&self) -> bool {
        false
    }

    /// Claims up to `limit` due messages for `lease` time, oldest due first.
    async fn claim(&self, limit: usize, lease: Duration) -> Result<Vec<Claimed>, OutboxError>;

    /// Like [`claim`](Outbox::claim), but skips messages addressed to `skip_endpoints` (those a
    /// dispatcher cannot serve now: saturated or behind an open breaker), so that one stuck
    /// endpoint's backlog does not fill every claim.
    ///
    /// The memory outbox takes the other endpoints' messages from their own orders and never
    /// reads a skipped one's; so does the SQLite outbox while at most [`SKIP_WINDOW`]
    /// endpoints hold messages (one index seek each). With more, it and the Redis outbox look
    /// through at most `limit` + [`SKIP_WINDOW`] due messages in claim order, so that a
    /// skipped endpoint's backlog does not make every claim read all of it. When those are all
    /// skipped, the SQLite outbox goes on through each other endpoint's own due messages, so
    /// that nothing waits behind the backlog; the Redis outbox stops at the window, and a
    /// message behind more than that many skipped ones waits until they move.
    ///
    /// The provided implementation ignores `skip_endpoints` and calls `claim`; a dispatcher
    /// then hands skipped messages back itself. Implementations should filter in the store.
    async fn claim_except(
        &self,
        limit: usize,
        lease: Duration,
        skip_endpoints: &[String],
    ) -> Result<Vec<Claimed>, OutboxError> {
        let _ = skip_endpoints;
        self.claim(limit, lease).await
    }

    /// Marks a claimed message delivered and removes it.
    async fn ack(&self, id: &str, lease: &Lease) -> Result<(), OutboxError>;

    /// Acks several claimed messages, each `(id, lease)` as [`ack`](Outbox::ack) would, and
    /// returns their results in the same order. Each ack stands alone: a lost lease or an
    /// unknown id fails that entry only. A dispatcher acks what its attempts delivered while
    /// the previous batch was being stored, so one write serves many deliveries.
    ///
    /// The provided implementation runs [`ack`](Outbox::ack) for every entry concurrently;
    /// implementations should store the whole batch in one write.
    async fn ack_batch(&self, acks: &[(&str, &Lease)]) -> Vec<Result<(), OutboxError>> {
        let acks = acks.iter().map(|(id, lease)| self.ack(id, lease));
        futures::future::join_all(acks).await
    }

    /// Hands a claimed message back to be tried again at `at`. With `count_attempt`, the
    /// attempt counter grows by one (a failed attempt); without it, it stays (an open breaker,
    /// a shutdown).
    async fn reschedule(
        &self,
        id: &str,
        lease: &Lease,
        at: SystemTime,
        count_attempt: bool,
        last_error: Option<&str>,
    ) -> Result<(), OutboxError>;

    /// Moves a claimed message to the dead letters with the reason.
    async fn dead_letter(&self, id: &str, lease: &Lease, reason: &str) -> Result<(), OutboxError>;

    /// Counts of what the outbox holds, overall and, with `Some`, for one endpoint.
    async fn stats(&self, endpoint: Option<&str>) -> Result<OutboxStats, OutboxError>;

    /// Up to `limit` dead letters, oldest first.
    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, OutboxError>;

    /// Moves dead letters back to pending with their attempts reset; returns how many.
    async fn replay(&self, which: Replay) -> Result<u64, OutboxError>;
}

#[async_trait]
impl<T: Outbox + ?Sized> Outbox for std::sync::Arc<T> {
    async fn enqueue(&self, message: NewMessage) -> Result<Enqueued, OutboxError> {
        (**self).enqueue(message).await
    }

    async fn enqueue_batch(&self, messages: Vec<NewMessage>) -> Result<Vec<Enqueued>, OutboxError> {
        (**self).enqueue_batch(messages).await
    }

    async fn enqueue_claimed(
        &self,
        message: NewMessage,
        lease: Duration,
    ) -> Result<(Enqueued, Option<Claimed>), OutboxError> {
        (**self).enqueue_claimed(message, lease).await
    }

    fn claims_on_enqueue(&self) -> bool {
        (**self).claims_on_enqueue()
    }

    async fn claim(&self, limit: usize, lease: Duration) -> Result<Vec<Claimed>, OutboxError> {
        (**self).claim(limit, lease).await
    }

    async fn claim_except(
        &self,
        limit: usize,
        lease: Duration,
        skip_endpoints: &[String],
    ) -> Result<Vec<Claimed>, OutboxError> {
        (**self).claim_except(limit, lease, skip_endpoints).await
    }

    async fn ack(&self, id: &str, lease: &Lease) -> Result<(), OutboxError> {
        (**self).ack(id, lease).await
    }

    async fn ack_batch(&self, acks: &[(&str, &Lease)]) -> Vec<Result<(), OutboxError>> {
        (**self).ack_batch(acks).await
    }

    async fn reschedule(
        &self,
        id: &str,
        lease: &Lease,
        at: SystemTime,
        count_attempt: bool,
        last_error: Option<&str>,
    ) -> Result<(), OutboxError> {
        (**self)
            .reschedule(id, lease, at, count_attempt, last_error)
            .await
    }

    async fn dead_letter(&self, id: &str, lease: &Lease, reason: &str) -> Result<(), OutboxError> {
        (**self).dead_letter(id, lease, reason).await
    }

    async fn stats(&self, endpoint: Option<&str>) -> Result<OutboxStats, OutboxError> {
        (**self).stats(endpoint).await
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, OutboxError> {
        (**self).dead_letters(limit).await
    }

    async fn replay(&self, which: Replay) -> Result<u64, OutboxError> {
        (**self).replay(which).await
    }
}

#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
mod redis_scripts;
#[cfg(feature = "redis")]
pub use self::redis::{RedisOutbox, RedisOutboxBuilder};
