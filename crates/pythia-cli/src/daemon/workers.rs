//! The workers the runtime runs besides the dispatcher: one per poller, one per relay.

use std::sync::Arc;

use pythia::outbox::Outbox;
use pythia::poller::{StateStore, TargetLease};
use pythia::runtime::Worker;
use pythia::webhook::dispatch::WebhookQueue;

use super::pollers::{self, Shared};
use super::routing::Endpoints;
use super::status::PollerBoard;
use crate::config::Loaded;

/// What to run, and names for the startup line.
pub(crate) struct Workers {
    pub(crate) workers: Vec<Box<dyn Worker>>,
    pub(crate) summary: Summary,
}

/// Names of what runs, for the startup line.
#[derive(Debug, Clone, Default)]
pub(crate) struct Summary {
    pub(crate) pollers: Vec<String>,
    pub(crate) relays: Vec<String>,
}

/// Builds every worker the configuration declares.
pub(crate) async fn build(
    loaded: &Loaded,
    queue: &WebhookQueue,
    outbox: &Arc<dyn Outbox>,
    endpoints: &Arc<Endpoints>,
    board: &PollerBoard,
) -> Result<Workers, String> {
    let mut workers: Vec<Box<dyn Worker>> = Vec::new();
    let mut summary = Summary::default();

    if !loaded.config.pollers.is_empty() {
        let shared = Shared {
            loaded,
            queue,
            endpoints,
            board,
            client: pollers::default_client(loaded)?,
            state: state_store(loaded)?,
            lease: lease(loaded).await?,
        };
        for section in &loaded.config.pollers {
            let poller = pollers::build(section.get_ref(), &shared)?;
            pollers::attach_stats(board, &poller);
            summary.pollers.push(poller.name().to_owned());
            workers.push(Box::new(poller));
        }
    }

    for section in &loaded.config.relays {
        let relay = super::relays::build(section.get_ref(), outbox, endpoints)?;
        summary
            .relays
            .push(section.get_ref().name.get_ref().clone());
        workers.push(Box::new(relay));
    }

    Ok(Workers { workers, summary })
}

/// With a Redis outbox, pollers are shared: each target is polled by the one live daemon that
/// holds its lease in the same Redis, under the outbox prefix.
#[cfg_attr(not(feature = "redis"), allow(clippy::unused_async))]
async fn lease(loaded: &Loaded) -> Result<Option<Arc<dyn TargetLease>>, String> {
    let Some(url) = &loaded.config.outbox.url else {
        return Ok(None);
    };
    let url = url.get_ref().expose();
    if !url.starts_with("redis") {
        return Ok(None);
    }
    #[cfg(feature = "redis")]
    {
        let prefix = loaded.config.outbox.prefix.as_deref().unwrap_or("pythia");
        let lease = pythia::poller::RedisTargetLease::builder(url)
            .prefix(format!("{prefix}:lease"))
            .connect()
            .await
            .map_err(|e| format!("cannot reach the Redis for poller leases: {e}"))?;
        tracing::info!(
            holder = lease.holder(),
            "pollers are shared through Redis leases"
        );
        Ok(Some(Arc::new(lease)))
    }
    #[cfg(not(feature = "redis"))]
    {
        Ok(None)
    }
}

/// Where pollers keep validators, cursors and seen keys across restarts: a SQLite file beside
/// a SQLite outbox; in memory otherwise.
fn state_store(loaded: &Loaded) -> Result<Option<Arc<dyn StateStore>>, String> {
    if loaded.config.outbox.url.is_some() {
        return Ok(None);
    }
    #[cfg(feature = "sqlite")]
    {
        let path = loaded.outbox_path().with_extension("pollers.db");
        let store = pythia::poller::SqliteStateStore::open(&path)
            .map_err(|e| format!("cannot open the poller state {}: {e}", path.display()))?;
        Ok(Some(Arc::new(store)))
    }
    #[cfg(not(feature = "sqlite"))]
    {
        Ok(None)
    }
}
