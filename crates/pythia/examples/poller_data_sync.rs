//! The specification's `DataSyncPoller` ("Common Use Cases"): poll an API every 60 seconds and
//! copy what it returns into a local SQLite table, one row per item keyed by its `id`. An item
//! seen again replaces its row; items of one response are written in one transaction.
//!
//! ```text
//! cargo run -p pythia --example poller_data_sync -- https://api.example.com/items
//! cargo run -p pythia --example poller_data_sync -- http://127.0.0.1:8080/items --count 1 \
//!     --db items.db
//! sqlite3 items.db 'select id, data, synced_at from synced_items'
//! ```
//!
//! The response is a JSON array of items or a single item; an item without a string or
//! number `id` is skipped and counted. The database defaults to `data_sync.db`.

#[path = "cli/mod.rs"]
mod cli;
#[path = "poller_common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use pythia::poller::{Handler, Outcome, Poller, PollerConfig};
use pythia::{BoxError, Message};
use rusqlite::Connection;
use serde_json::{json, Value};

static CLI: cli::Spec = cli::Spec {
    example: "poller_data_sync",
    positional: "url",
    switches: &[],
    options: &[("--count", "N"), ("--db", "PATH")],
};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS synced_items (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    synced_at TEXT NOT NULL
)";

const UPSERT: &str = "INSERT INTO synced_items (id, data, synced_at) VALUES (?1, ?2, ?3)
    ON CONFLICT (id) DO UPDATE SET data = excluded.data, synced_at = excluded.synced_at";

/// What one sync wrote.
#[derive(Debug, Default)]
struct Synced {
    upserted: usize,
    skipped: usize,
}

#[derive(Debug)]
struct DataSyncPoller {
    // rusqlite blocks: the connection is used on the blocking pool, one sync at a time.
    db: Arc<Mutex<Connection>>,
    countdown: common::Countdown,
}

impl DataSyncPoller {
    fn open(path: &str) -> rusqlite::Result<Connection> {
        let db = Connection::open(path)?;
        db.execute_batch(SCHEMA)?;
        Ok(db)
    }

    /// Upserts every item with an id, all or nothing.
    fn sync_data_to_database(db: &mut Connection, items: &[Value]) -> rusqlite::Result<Synced> {
        let synced_at = chrono::Utc::now().to_rfc3339();
        let mut synced = Synced::default();
        let transaction = db.transaction()?;
        {
            let mut upsert = transaction.prepare_cached(UPSERT)?;
            for item in items {
                let id = match item.get("id") {
                    Some(Value::String(id)) => id.clone(),
                    Some(Value::Number(id)) => id.to_string(),
                    _ => {
                        synced.skipped += 1;
                        continue;
                    }
                };
                upsert.execute((id, item.to_string(), &synced_at))?;
                synced.upserted += 1;
            }
        }
        transaction.commit()?;
        Ok(synced)
    }

    async fn sync(&self, message: &Message) -> Result<Synced, BoxError> {
        let items = match message.body.as_json() {
            Some(Value::Array(items)) => items.clone(),
            Some(item) => vec![item.clone()],
            None => return Err("the api did not answer json".into()),
        };
        let db = self.db.clone();
        let synced = tokio::task::spawn_blocking(move || {
            Self::sync_data_to_database(&mut db.lock(), &items)
        })
        .await??;
        Ok(synced)
    }
}

#[async_trait]
impl Handler for DataSyncPoller {
    async fn process_message(&self, message: Message) -> Result<Outcome, BoxError> {
        let synced = self.sync(&message).await;
        self.countdown.count_one();

        let synced = synced?;
        tracing::info!(
            upserted = synced.upserted,
            skipped = synced.skipped,
            "synced items to the local database"
        );
        Ok(Outcome::Report(
            json!({"upserted": synced.upserted, "skipped": synced.skipped}),
        ))
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = CLI.parse();
    let db = DataSyncPoller::open(args.value("--db").unwrap_or("data_sync.db"))?;
    let config = PollerConfig::builder()
        .url(args.positional())
        .interval(Duration::from_secs(60))
        .build()?;

    let countdown = common::Countdown::new(args.parsed("--count"));
    let poller = Poller::builder(config)
        .name("data-sync")
        .handler(DataSyncPoller {
            db: Arc::new(Mutex::new(db)),
            countdown: countdown.clone(),
        })
        .build()?;

    common::run(poller, &countdown).await
}
