//! Poller state that survives a restart: validators, cursor and seen keys.

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::BoxError;

/// What a poller remembers about one target between polls.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TargetState {
    /// The last `ETag`, sent back as `If-None-Match`.
    pub etag: Option<String>,
    /// The last `Last-Modified`, sent back as `If-Modified-Since`.
    pub last_modified: Option<String>,
    /// The cursor the next poll starts from (cursor pagination).
    pub cursor: Option<String>,
    /// Keys of items already handed over, oldest first (deduplication).
    #[serde(default)]
    pub seen: Vec<String>,
}

/// Where target state is kept between runs. Loads happen before a target's first poll, saves
/// after each poll that changed something; a failing store is logged and counted
/// (`pythia_poller_state_errors_total`) and polling goes on with the state in memory.
#[async_trait]
pub trait StateStore: Send + Sync + 'static {
    /// The saved state of `target`, if any.
    async fn load(&self, target: &str) -> Result<Option<TargetState>, BoxError>;
    /// Replaces the saved state of `target`, atomically.
    async fn save(&self, target: &str, state: &TargetState) -> Result<(), BoxError>;
}

/// A [`StateStore`] in memory: state survives a restart of a poller inside one process (tests,
/// or a poller rebuilt after a configuration reload), not of the process.
#[derive(Default)]
pub struct MemoryStateStore {
    states: Mutex<HashMap<String, TargetState>>,
}

impl fmt::Debug for MemoryStateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStateStore")
            .field("targets", &self.states.lock().len())
            .finish()
    }
}

impl MemoryStateStore {
    /// An empty store.
    pub fn new() -> MemoryStateStore {
        MemoryStateStore::default()
    }
}

#[async_trait]
impl StateStore for MemoryStateStore {
    async fn load(&self, target: &str) -> Result<Option<TargetState>, BoxError> {
        Ok(self.states.lock().get(target).cloned())
    }

    async fn save(&self, target: &str, state: &TargetState) -> Result<(), BoxError> {
        self.states.lock().insert(target.to_owned(), state.clone());
        Ok(())
    }
}

#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStateStore;

#[cfg(feature = "sqlite")]
mod sqlite {
    use std::fmt;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use async_trait::async_trait;
    use parking_lot::Mutex;
    use rusqlite::{Connection, OptionalExtension};

    use super::{StateStore, TargetState};
    use crate::BoxError;

    /// A [`StateStore`] in an SQLite file. Each save replaces one row in a single statement, so
    /// a crash leaves either the old state or the new one, never a mix.
    ///
    /// ```no_run
    /// use pythia::poller::SqliteStateStore;
    ///
    /// let store = SqliteStateStore::open("/var/lib/pythia/poller-state.db")?;
    /// # Ok::<(), pythia::BoxError>(())
    /// ```
    #[derive(Clone)]
    pub struct SqliteStateStore {
        connection: Arc<Mutex<Connection>>,
        path: PathBuf,
    }

    impl fmt::Debug for SqliteStateStore {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SqliteStateStore")
                .field("path", &self.path)
                .finish()
        }
    }

    impl SqliteStateStore {
        /// Opens (or creates) the store at `path`.
        pub fn open(path: impl AsRef<Path>) -> Result<SqliteStateStore, BoxError> {
            let path = path.as_ref().to_path_buf();
            let connection = Connection::open(&path)?;
            connection.pragma_update(None, "journal_mode", "WAL")?;
            connection.pragma_update(None, "synchronous", "NORMAL")?;
            connection.busy_timeout(std::time::Duration::from_secs(5))?;
            connection.execute_batch(
                "CREATE TABLE IF NOT EXISTS poller_state (
                    target TEXT PRIMARY KEY,
                    state TEXT NOT NULL,
                    updated_at INTEGER NOT NULL
                )",
            )?;
            Ok(SqliteStateStore {
                connection: Arc::new(Mutex::new(connection)),
                path,
            })
        }
    }

    #[async_trait]
    impl StateStore for SqliteStateStore {
        async fn load(&self, target: &str) -> Result<Option<TargetState>, BoxError> {
            let connection = Arc::clone(&self.connection);
            let target = target.to_owned();
            let text: Option<String> = tokio::task::spawn_blocking(move || {
                connection
                    .lock()
                    .query_row(
                        "SELECT state FROM poller_state WHERE target = ?1",
                        [&target],
                        |row| row.get(0),
                    )
                    .optional()
            })
            .await??;
            Ok(match text {
                Some(text) => Some(serde_json::from_str(&text)?),
                None => None,
            })
        }

        async fn save(&self, target: &str, state: &TargetState) -> Result<(), BoxError> {
            let connection = Arc::clone(&self.connection);
            let target = target.to_owned();
            let text = serde_json::to_string(state)?;
            let now = chrono::Utc::now().timestamp();
            tokio::task::spawn_blocking(move || {
                connection.lock().execute(
                    "INSERT INTO poller_state (target, state, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(target) DO UPDATE SET
                        state = excluded.state, updated_at = excluded.updated_at",
                    rusqlite::params![target, text, now],
                )
            })
            .await??;
            Ok(())
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[tokio::test]
        async fn saved_state_is_read_back_after_reopening_the_file() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("state.db");
            let state = TargetState {
                etag: Some("\"v2\"".to_owned()),
                cursor: Some("c-9".to_owned()),
                seen: vec!["a".to_owned(), "b".to_owned()],
                ..TargetState::default()
            };

            SqliteStateStore::open(&path)
                .unwrap()
                .save("t1", &state)
                .await
                .unwrap();
            let reopened = SqliteStateStore::open(&path).unwrap();

            assert_eq!(reopened.load("t1").await.unwrap(), Some(state));
            assert_eq!(reopened.load("t2").await.unwrap(), None);
        }
    }
}
