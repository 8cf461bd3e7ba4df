//! The outbox operations as SQL, run by the writer thread inside its batch transaction.

use std::time::Duration;

use bytes::Bytes;
use rusqlite::{params, CachedStatement, Connection, OptionalExtension, Row};

use crate::message::new_message_id;
use crate::outbox::clock::{from_millis, to_millis};
use crate::outbox::{claim_window, SKIP_WINDOW};
use crate::outbox::{
    Claimed, DeadLetter, Enqueued, Lease, NewMessage, OutboxError, OutboxStats, Replay,
    StoredMessage,
};

/// One request to the writer thread. `now` is taken by the caller from the outbox clock.
#[derive(Debug)]
pub(super) enum Op {
    Enqueue(Vec<NewMessage>),
    /// One message, stored already claimed under a lease this long when it is due now.
    EnqueueClaimed {
        message: NewMessage,
        lease: Duration,
    },
    Claim {
        limit: usize,
        lease: Duration,
        skip: Vec<String>,
    },
    Ack {
        id: String,
        lease: Lease,
    },
    AckBatch(Vec<(String, Lease)>),
    Reschedule {
        id: String,
        lease: Lease,
        at: i64,
        count_attempt: bool,
        last_error: Option<String>,
    },
    DeadLetter {
        id: String,
        lease: Lease,
        reason: String,
    },
    Stats(Option<String>),
    DeadLetters(usize),
    Replay(Replay),
}

/// What an [`Op`] produced.
#[derive(Debug)]
pub(super) enum Done {
    Enqueued(Vec<Enqueued>),
    EnqueuedClaimed(Enqueued, Option<Claimed>),
    Claimed(Vec<Claimed>),
    /// One result per entry of an [`Op::AckBatch`], in its order.
    Acked(Vec<Result<(), OutboxError>>),
    Unit,
    Stats(OutboxStats),
    DeadLetters(Vec<DeadLetter>),
    Count(u64),
}

const MESSAGE_COLUMNS: &str =
    "id, endpoint, payload, headers, event_type, attempts, created_at, last_error";

/// Runs one request. Every path that fails with [`Error::Outbox`] has written nothing, so the
/// writer need not undo anything for it; an [`Error::Sql`] may leave partial writes. A claim
/// takes only messages whose `seq` is at most `claim_bound`: those known to be on disk.
pub(super) fn run(
    conn: &Connection,
    op: &Op,
    now: i64,
    retention: Duration,
    claim_bound: i64,
) -> Result<Done, Error> {
    match op {
        Op::Enqueue(messages) => enqueue(conn, messages, now, None)
            .map(|stored| Done::Enqueued(stored.into_iter().map(|(e, _)| e).collect())),
        Op::EnqueueClaimed { message, lease } => {
            let claim = message
                .not_before
                .is_none_or(|at| to_millis(at) <= now)
                .then_some(*lease);
            let mut stored = enqueue(conn, std::slice::from_ref(message), now, claim)?;
            let (enqueued, claimed) = stored.pop().ok_or_else(|| {
                Error::Outbox(OutboxError::Storage("enqueue stored nothing".to_owned()))
            })?;
            Ok(Done::EnqueuedClaimed(enqueued, claimed))
        }
        Op::Claim { limit, lease, skip } => {
            claim(conn, *limit, *lease, skip, now, claim_bound).map(Done::Claimed)
        }
        Op::Ack { id, lease } => ack(conn, id, lease, now, retention).map(|()| Done::Unit),
        Op::AckBatch(acks) => ack_batch(conn, acks, now, retention).map(Done::Acked),
        Op::Reschedule {
            id,
            lease,
            at,
            count_attempt,
            last_error,
        } => {
            let changed = conn
                .prepare_cached(
                    "UPDATE messages SET lease = NULL, due_at = ?3, attempts = attempts + ?4,
                        last_error = COALESCE(?5, last_error)
                     WHERE id = ?1 AND lease = ?2 AND dead_at IS NULL",
                )?
                .execute(params![
                    id,
                    lease.0,
                    at,
                    i64::from(*count_attempt),
                    last_error
                ])?;
            settle(conn, changed, id).map(|()| Done::Unit)
        }
        Op::DeadLetter { id, lease, reason } => {
            let changed = conn
                .prepare_cached(
                    "UPDATE messages SET lease = NULL, dead_at = ?3, dead_reason = ?4,
                        last_error = ?4
                     WHERE id = ?1 AND lease = ?2 AND dead_at IS NULL",
                )?
                .execute(params![id, lease.0, now, reason])?;
            settle(conn, changed, id).map(|()| Done::Unit)
        }
        Op::Stats(endpoint) => stats(conn, endpoint.as_deref(), now).map(Done::Stats),
        Op::DeadLetters(limit) => dead_letters(conn, *limit).map(Done::DeadLetters),
        Op::Replay(which) => replay(conn, which, now).map(Done::Count),
    }
}

/// A failure inside the writer: SQL errors become [`OutboxError::Storage`].
#[derive(Debug)]
pub(super) enum Error {
    Outbox(OutboxError),
    Sql(rusqlite::Error),
}

impl From<rusqlite::Error> for Error {
    fn from(error: rusqlite::Error) -> Self {
        Error::Sql(error)
    }
}

impl From<Error> for OutboxError {
    fn from(error: Error) -> Self {
        match error {
            Error::Outbox(error) => error,
            Error::Sql(error) => OutboxError::Storage(error.to_string()),
        }
    }
}

/// Stores `messages`; with `claim`, each one stored is claimed too, under one new lease of that
/// length, and comes back with its claim.
fn enqueue(
    conn: &Connection,
    messages: &[NewMessage],
    now: i64,
    claim: Option<Duration>,
) -> Result<Vec<(Enqueued, Option<Claimed>)>, Error> {
    // Serialized first, so that a failure here stores nothing.
    let headers: Vec<String> = messages
        .iter()
        .map(|message| serde_json::to_string(&message.headers))
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Outbox(OutboxError::Storage(e.to_string())))?;
    let lease = claim.map(|lease| {
        let until = now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
        (Lease(uuid::Uuid::new_v4().simple().to_string()), until)
    });
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO messages
            (id, endpoint, payload, headers, event_type, idempotency_key, created_at, due_at,
             lease)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    // Prepared only for a message that has a key: most have none.
    let (mut find_key, mut remember_key) = (None, None);

    let mut results = Vec::with_capacity(messages.len());
    for (message, headers) in messages.iter().zip(headers) {
        if let Some(key) = &message.idempotency_key {
            let find_key = match &mut find_key {
                Some(statement) => statement,
                None => find_key.insert(conn.prepare_cached(
                    "SELECT id FROM idempotency
                     WHERE key = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
                )?),
            };
            let held: Option<String> = find_key
                .query_row(params![key, now], |row| row.get(0))
                .optional()?;
            if let Some(id) = held {
                let enqueued = Enqueued {
                    id,
                    duplicate: true,
                };
                results.push((enqueued, None));
                continue;
            }
        }

        let id = message.id.clone().unwrap_or_else(new_message_id);
        let due = message.not_before.map_or(now, to_millis);
        let (token, due) = match &lease {
            Some((token, until)) => (Some(token.0.as_str()), *until),
            None => (None, due),
        };
        let inserted = insert.execute(params![
            id,
            message.endpoint,
            &message.payload[..],
            headers,
            message.event_type,
            message.idempotency_key,
            now,
            due,
            token,
        ])?;
        if inserted == 0 {
            // An explicit id that is already held is a repeat, like a known idempotency key.
            let enqueued = Enqueued {
                id,
                duplicate: true,
            };
            results.push((enqueued, None));
            continue;
        }
        if let Some(key) = &message.idempotency_key {
            let remember_key = match &mut remember_key {
                Some(statement) => statement,
                None => remember_key.insert(conn.prepare_cached(
                    "INSERT OR REPLACE INTO idempotency (key, id, expires_at)
                     VALUES (?1, ?2, NULL)",
                )?),
            };
            remember_key.execute(params![key, id])?;
        }
        let claimed = lease.as_ref().map(|(token, _)| Claimed {
            message: StoredMessage {
                id: id.clone(),
                endpoint: message.endpoint.clone(),
                payload: message.payload.clone(),
                headers: message.headers.clone(),
                event_type: message.event_type.clone(),
                attempts: 0,
                created_at: from_millis(now),
                last_error: None,
            },
            lease: token.clone(),
        });
        let enqueued = Enqueued {
            id,
            duplicate: false,
        };
        results.push((enqueued, claimed));
    }
    Ok(results)
}

fn claim(
    conn: &Connection,
    limit: usize,
    lease: Duration,
    skip: &[String],
    now: i64,
    bound: i64,
) -> Result<Vec<Claimed>, Error> {
    let token = Lease(uuid::Uuid::new_v4().simple().to_string());
    let until = now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
    let claimed = |mut rows: Vec<(i64, StoredMessage)>| {
        rows.sort_by_key(|(seq, _)| *seq);
        rows.into_iter()
            .map(|(_, message)| Claimed {
                message,
                lease: token.clone(),
            })
            .collect()
    };
    // Skipping endpoints, with at most `SKIP_WINDOW` endpoints holding messages: straight from
    // the others' own orders, one index seek per endpoint, without reading a skipped
    // endpoint's backlog. With more, the claim order is looked through first (below).
    if !skip.is_empty() {
        let held = endpoints_held(conn, SKIP_WINDOW + 1)?;
        if held.len() <= SKIP_WINDOW {
            let seqs = due_elsewhere(conn, &held, limit, skip, now, bound)?;
            return Ok(claimed(claim_seqs(conn, &token, until, &seqs)?));
        }
    }
    let window = claim_window(limit, !skip.is_empty());
    let skip_json = serde_json::to_string(skip).unwrap_or_else(|_| "[]".to_owned());
    // Claiming moves the due time to the end of the lease: when the lease expires the message is
    // simply due again, and no sweep is needed. The limit is cast rather than bound bare: SQLite
    // plans with the value of a bare `LIMIT ?`, so binding a new one re-prepares the statement
    // on every claim; the plan is the same either way. The inner query bounds how many due
    // messages are looked through (the window), the outer one how many are taken.
    let sql = format!(
        "UPDATE messages SET lease = ?1, due_at = ?2
         WHERE seq IN (
            SELECT seq FROM (
                SELECT seq, due_at, endpoint FROM messages
                WHERE dead_at IS NULL AND due_at <= ?3 AND seq <= ?6
                ORDER BY due_at, seq LIMIT CAST(?7 AS INTEGER))
            WHERE endpoint NOT IN (SELECT value FROM json_each(?4))
            ORDER BY due_at, seq LIMIT CAST(?5 AS INTEGER))
         RETURNING seq, {MESSAGE_COLUMNS}"
    );
    let params = params![
        token.0,
        until,
        now,
        skip_json,
        to_i64(limit),
        bound,
        to_i64(window)
    ];
    let mut rows: Vec<(i64, StoredMessage)> = conn
        .prepare_cached(&sql)?
        .query_map(params, |row| Ok((row.get(0)?, message_from(row, 1)?)))?
        .collect::<Result<_, _>>()?;

    // A window full of skipped messages: the others' due messages are found per endpoint.
    if rows.len() < limit && !skip.is_empty() {
        let left_in_window = window - rows.len();
        if count_due(conn, now, bound, left_in_window)? == left_in_window {
            let held = endpoints_held(conn, usize::MAX)?;
            let seqs = due_elsewhere(conn, &held, limit - rows.len(), skip, now, bound)?;
            rows.extend(claim_seqs(conn, &token, until, &seqs)?);
        }
    }
    Ok(claimed(rows))
}

fn to_i64(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// How many messages are due, counting no further than `up_to` (from the index alone).
fn count_due(conn: &Connection, now: i64, bound: i64, up_to: usize) -> Result<usize, Error> {
    let count: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM (
                SELECT 1 FROM messages WHERE dead_at IS NULL AND due_at <= ?1 AND seq <= ?2
                ORDER BY due_at, seq LIMIT CAST(?3 AS INTEGER))",
        )?
        .query_row(params![now, bound, to_i64(up_to)], |row| row.get(0))?;
    Ok(usize::try_from(count).unwrap_or(0))
}

/// The endpoints holding live messages, at most `up_to` of them: walked in the endpoint index,
/// one seek each.
fn endpoints_held(conn: &Connection, up_to: usize) -> Result<Vec<String>, Error> {
    let endpoints = conn
        .prepare_cached(
            "WITH RECURSIVE endpoints(name) AS (
                SELECT (SELECT MIN(endpoint) FROM messages WHERE dead_at IS NULL)
                UNION ALL
                SELECT (SELECT MIN(endpoint) FROM messages
                        WHERE dead_at IS NULL AND endpoint > endpoints.name)
                FROM endpoints WHERE name IS NOT NULL)
             SELECT name FROM endpoints WHERE name IS NOT NULL LIMIT CAST(?1 AS INTEGER)",
        )?
        .query_map(params![to_i64(up_to)], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(endpoints)
}

/// The sequence numbers of up to `limit` messages due, oldest first, addressed to one of
/// `endpoints` not in `skip`: each one's first due messages, taken from the endpoint index.
fn due_elsewhere(
    conn: &Connection,
    endpoints: &[String],
    limit: usize,
    skip: &[String],
    now: i64,
    bound: i64,
) -> Result<Vec<i64>, Error> {
    let mut first_due = conn.prepare_cached(
        "SELECT due_at, seq FROM messages
         WHERE endpoint = ?1 AND dead_at IS NULL AND due_at <= ?2 AND seq <= ?3
         ORDER BY due_at, seq LIMIT CAST(?4 AS INTEGER)",
    )?;
    let mut due: Vec<(i64, i64)> = Vec::new();
    for endpoint in endpoints.iter().filter(|name| !skip.contains(name)) {
        let rows = first_due.query_map(params![endpoint, now, bound, to_i64(limit)], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
        for row in rows {
            due.push(row?);
        }
    }
    due.sort_unstable();
    Ok(due.into_iter().take(limit).map(|(_, seq)| seq).collect())
}

/// Claims the messages `seqs` under `token` until `until`.
fn claim_seqs(
    conn: &Connection,
    token: &Lease,
    until: i64,
    seqs: &[i64],
) -> Result<Vec<(i64, StoredMessage)>, Error> {
    if seqs.is_empty() {
        return Ok(Vec::new());
    }
    let seqs = serde_json::to_string(seqs).unwrap_or_else(|_| "[]".to_owned());
    let sql = format!(
        "UPDATE messages SET lease = ?1, due_at = ?2
         WHERE seq IN (SELECT value FROM json_each(?3))
         RETURNING seq, {MESSAGE_COLUMNS}"
    );
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(params![token.0, until, seqs], |row| {
            Ok((row.get(0)?, message_from(row, 1)?))
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

fn ack(
    conn: &Connection,
    id: &str,
    lease: &Lease,
    now: i64,
    retention: Duration,
) -> Result<(), Error> {
    let expires = now.saturating_add(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX));
    Acker::new(conn)?.ack(conn, id, lease, expires)
}

/// Acks each entry on its own: a lost lease fails that entry, an SQL error the whole batch.
fn ack_batch(
    conn: &Connection,
    acks: &[(String, Lease)],
    now: i64,
    retention: Duration,
) -> Result<Vec<Result<(), OutboxError>>, Error> {
    let expires = now.saturating_add(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX));
    let mut acker = Acker::new(conn)?;
    let mut results = Vec::with_capacity(acks.len());
    for (id, lease) in acks {
        match acker.ack(conn, id, lease, expires) {
            Ok(()) => results.push(Ok(())),
            Err(Error::Outbox(error)) => results.push(Err(error)),
            Err(error @ Error::Sql(_)) => return Err(error),
        }
    }
    Ok(results)
}

/// The statements of an ack, prepared once for a whole batch of them.
struct Acker<'conn> {
    find: CachedStatement<'conn>,
    delete: CachedStatement<'conn>,
}

impl<'conn> Acker<'conn> {
    fn new(conn: &'conn Connection) -> rusqlite::Result<Self> {
        // Found first, then deleted by its row id: a `DELETE ... RETURNING` would build a
        // temporary table for its one row on every ack.
        Ok(Acker {
            find: conn.prepare_cached(
                "SELECT seq, idempotency_key FROM messages
                 WHERE id = ?1 AND lease = ?2 AND dead_at IS NULL",
            )?,
            delete: conn.prepare_cached("DELETE FROM messages WHERE seq = ?1")?,
        })
    }

    /// Deletes message `id` if `lease` holds it; its idempotency key, if any, is then kept
    /// until `expires`.
    fn ack(
        &mut self,
        conn: &Connection,
        id: &str,
        lease: &Lease,
        expires: i64,
    ) -> Result<(), Error> {
        let found: Option<(i64, Option<String>)> = self
            .find
            .query_row(params![id, lease.0], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        let Some((seq, key)) = found else {
            return settle(conn, 0, id);
        };
        self.delete.execute(params![seq])?;
        if let Some(key) = key {
            conn.prepare_cached(
                "UPDATE idempotency SET expires_at = ?3 WHERE key = ?1 AND id = ?2",
            )?
            .execute(params![key, id, expires])?;
        }
        Ok(())
    }
}

/// Turns "no row changed" into the right error: the message is gone, or its lease is not ours.
fn settle(conn: &Connection, changed: usize, id: &str) -> Result<(), Error> {
    if changed > 0 {
        return Ok(());
    }
    let exists = conn
        .prepare_cached("SELECT 1 FROM messages WHERE id = ?1")?
        .exists(params![id])?;
    Err(Error::Outbox(if exists {
        OutboxError::LeaseLost(id.to_owned())
    } else {
        OutboxError::NotFound(id.to_owned())
    }))
}

fn stats(conn: &Connection, endpoint: Option<&str>, now: i64) -> Result<OutboxStats, Error> {
    let mut statement = conn.prepare_cached(
        "SELECT
            COALESCE(SUM(dead_at IS NULL AND NOT (lease IS NOT NULL AND due_at > ?2)), 0),
            COALESCE(SUM(dead_at IS NULL AND lease IS NOT NULL AND due_at > ?2), 0),
            COALESCE(SUM(dead_at IS NOT NULL), 0),
            MIN(CASE WHEN dead_at IS NULL THEN created_at END)
         FROM messages WHERE ?1 IS NULL OR endpoint = ?1",
    )?;
    let stats = statement.query_row(params![endpoint, now], |row| {
        let oldest: Option<i64> = row.get(3)?;
        Ok(OutboxStats {
            pending: row.get::<_, i64>(0)?.try_into().unwrap_or(0),
            in_flight: row.get::<_, i64>(1)?.try_into().unwrap_or(0),
            dead: row.get::<_, i64>(2)?.try_into().unwrap_or(0),
            oldest_age: oldest.map(|created| {
                Duration::from_millis(u64::try_from(now.saturating_sub(created)).unwrap_or(0))
            }),
        })
    })?;
    Ok(stats)
}

fn dead_letters(conn: &Connection, limit: usize) -> Result<Vec<DeadLetter>, Error> {
    let sql = format!(
        "SELECT dead_at, dead_reason, {MESSAGE_COLUMNS} FROM messages
         WHERE dead_at IS NOT NULL ORDER BY dead_at, seq LIMIT ?1"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let dead = statement
        .query_map(params![limit], |row| {
            Ok(DeadLetter {
                died_at: from_millis(row.get(0)?),
                reason: row.get::<_, Option<String>>(1)?.unwrap_or_default(),
                message: message_from(row, 2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(dead)
}

fn replay(conn: &Connection, which: &Replay, now: i64) -> Result<u64, Error> {
    const SET: &str = "UPDATE messages SET dead_at = NULL, dead_reason = NULL, attempts = 0,
        lease = NULL, due_at = ?1 WHERE dead_at IS NOT NULL";
    let changed = match which {
        Replay::All => conn.prepare_cached(SET)?.execute(params![now])?,
        Replay::Endpoint(name) => conn
            .prepare_cached(&format!("{SET} AND endpoint = ?2"))?
            .execute(params![now, name])?,
        Replay::Ids(ids) => {
            let ids = serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned());
            conn.prepare_cached(&format!(
                "{SET} AND id IN (SELECT value FROM json_each(?2))"
            ))?
            .execute(params![now, ids])?
        }
    };
    Ok(changed as u64)
}

/// The highest `seq` held now: every message inserted later gets a higher one.
pub(super) fn max_seq(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM messages")?
        .query_row([], |row| row.get(0))
}

/// Drops idempotency keys of messages delivered longer ago than the retention.
pub(super) fn purge_keys(conn: &Connection, now: i64) -> Result<usize, Error> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM idempotency WHERE expires_at IS NOT NULL AND expires_at <= ?1",
        )?
        .execute(params![now])?)
}

/// Makes every message under a lease due at `now`, uncounted, as if its lease had ended.
pub(super) fn release_leases(conn: &Connection, now: i64) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE messages SET lease = NULL, due_at = ?1
         WHERE dead_at IS NULL AND lease IS NOT NULL AND due_at > ?1",
        params![now],
    )
}

/// Reads the [`MESSAGE_COLUMNS`] starting at column `first`.
fn message_from(row: &Row<'_>, first: usize) -> rusqlite::Result<StoredMessage> {
    let headers: String = row.get(first + 3)?;
    let headers = serde_json::from_str(&headers).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(first + 3, rusqlite::types::Type::Text, e.into())
    })?;
    Ok(StoredMessage {
        id: row.get(first)?,
        endpoint: row.get(first + 1)?,
        payload: Bytes::from(row.get::<_, Vec<u8>>(first + 2)?),
        headers,
        event_type: row.get(first + 4)?,
        attempts: row.get(first + 5)?,
        created_at: from_millis(row.get(first + 6)?),
        last_error: row.get(first + 7)?,
    })
}
