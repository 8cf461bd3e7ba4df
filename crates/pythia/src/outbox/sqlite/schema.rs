//! Opening the SQLite file: pragmas, and the schema with its version in `user_version`.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::outbox::OutboxError;

/// The schema version this build writes. Bump it with a migration step in [`migrate`].
pub(super) const SCHEMA_VERSION: i64 = 2;

const SCHEMA_V1: &str = "
CREATE TABLE messages (
    seq             INTEGER PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    endpoint        TEXT    NOT NULL,
    payload         BLOB    NOT NULL,
    headers         TEXT    NOT NULL,
    event_type      TEXT,
    idempotency_key TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    due_at          INTEGER NOT NULL,
    lease           TEXT,
    last_error      TEXT,
    dead_at         INTEGER,
    dead_reason     TEXT
);
CREATE INDEX messages_due ON messages (due_at, seq) WHERE dead_at IS NULL;
CREATE INDEX messages_dead ON messages (dead_at, seq) WHERE dead_at IS NOT NULL;
CREATE TABLE idempotency (
    key        TEXT PRIMARY KEY,
    id         TEXT NOT NULL,
    expires_at INTEGER
) WITHOUT ROWID;
CREATE INDEX idempotency_expiry ON idempotency (expires_at) WHERE expires_at IS NOT NULL;
";

/// Version 2: live messages per endpoint, for a claim that skips endpoints to find the others'
/// messages behind a long run of skipped ones.
const SCHEMA_V2: &str = "
CREATE INDEX messages_endpoint_due ON messages (endpoint, due_at, seq) WHERE dead_at IS NULL;
";

/// Opens (creating if needed) the outbox file at `path`, durable on commit, with the schema
/// migrated to [`SCHEMA_VERSION`]. Any failure is an [`OutboxError::Open`] naming the path.
pub(super) fn open(path: &Path) -> Result<Connection, OutboxError> {
    let open_error = |reason: String| OutboxError::Open {
        location: path.display().to_string(),
        reason,
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn =
        Connection::open_with_flags(path, flags).map_err(|e| open_error(e.to_string()))?;

    // Room for every statement the writer prepares (about twenty), so none is evicted and
    // prepared again; rusqlite keeps 16 by default.
    conn.set_prepared_statement_cache_capacity(32);
    configure(&conn).map_err(|e| open_error(e.to_string()))?;
    migrate(&mut conn).map_err(open_error)?;
    Ok(conn)
}

/// WAL with `synchronous = NORMAL`: SQLite syncs the log around checkpoints, and the outbox's
/// writer syncs it after each commit, before answering (see `sync.rs`); readers never block
/// the writer. Temporary data in memory and a page cache of up to 32 MiB.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "journal mode is {mode}, not wal"
        )));
    }
    // Savepoints journal each page they touch first; in memory rather than in a temporary
    // file. The sub-journal only serves a rollback inside the open transaction, never recovery.
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; PRAGMA temp_store = MEMORY;",
    )?;
    // A page cache of up to 32 MiB (SQLite's default is 2 MiB), filled only as pages are
    // read: a backlog of some 25,000 webhooks of 1 KiB is claimed and acked from memory
    // instead of being read back from the file page by page.
    conn.execute_batch("PRAGMA cache_size = -32768;")?;
    Ok(())
}

/// Brings the schema to [`SCHEMA_VERSION`], refusing a file written by a newer build.
fn migrate(conn: &mut Connection) -> Result<(), String> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| e.to_string())?;
    if version > SCHEMA_VERSION {
        return Err(format!(
            "schema version {version} is newer than this build supports ({SCHEMA_VERSION})"
        ));
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }

    let tx = conn.transaction().map_err(|e| e.to_string())?;
    if version < 1 {
        tx.execute_batch(SCHEMA_V1).map_err(|e| e.to_string())?;
    }
    if version < 2 {
        tx.execute_batch(SCHEMA_V2).map_err(|e| e.to_string())?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(|e| e.to_string())?;
    tx.commit().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_opened_file_syncs_around_checkpoints_with_its_caches_in_memory() {
        let dir = tempfile::tempdir().unwrap();

        let conn = open(&dir.path().join("outbox.db")).unwrap();

        let pragma = |name: &str| -> i64 {
            conn.query_row(&format!("PRAGMA {name}"), [], |row| row.get(0))
                .unwrap()
        };
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(
            pragma("synchronous"),
            1,
            "synchronous = NORMAL: commits synced by us"
        );
        assert_eq!(pragma("temp_store"), 2, "temp_store = MEMORY");
        assert_eq!(pragma("cache_size"), -32768, "a page cache of 32 MiB");
        assert_eq!(pragma("user_version"), SCHEMA_VERSION);
    }

    #[test]
    fn a_version_1_file_gains_the_endpoint_index_and_keeps_its_messages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(SCHEMA_V1).unwrap();
            conn.execute(
                "INSERT INTO messages (id, endpoint, payload, headers, created_at, due_at)
                 VALUES ('msg_1', 'orders', x'7b7d', '{}', 1, 1)",
                [],
            )
            .unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
        }

        let conn = open(&path).unwrap();

        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let indexed: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'messages_endpoint_due'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(indexed, 1);
        let kept: i64 = conn
            .query_row("SELECT COUNT(*) FROM messages", [], |row| row.get(0))
            .unwrap();
        assert_eq!(kept, 1);
    }
}
