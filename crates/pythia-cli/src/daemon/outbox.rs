//! Opening the outbox named by `[outbox]` or `--outbox`.

use std::path::Path;
use std::sync::Arc;

use pythia::outbox::{MemoryOutbox, Outbox, OutboxError};

/// Opens `memory:`, a `redis://` URL (with the `redis` feature) or a SQLite file.
pub(crate) async fn open(location: &str) -> Result<Arc<dyn Outbox>, OutboxError> {
    if location == "memory:" {
        return Ok(Arc::new(MemoryOutbox::new()));
    }
    if location.starts_with("redis://") || location.starts_with("rediss://") {
        return open_redis(location).await;
    }
    open_sqlite(Path::new(location))
}

#[cfg(feature = "sqlite")]
fn open_sqlite(path: &Path) -> Result<Arc<dyn Outbox>, OutboxError> {
    Ok(Arc::new(pythia::outbox::SqliteOutbox::open(path)?))
}

#[cfg(not(feature = "sqlite"))]
fn open_sqlite(path: &Path) -> Result<Arc<dyn Outbox>, OutboxError> {
    Err(OutboxError::Open {
        location: path.display().to_string(),
        reason: "this binary was built without the sqlite feature".into(),
    })
}

#[cfg(feature = "redis")]
async fn open_redis(url: &str) -> Result<Arc<dyn Outbox>, OutboxError> {
    redis_outbox::open(url).await
}

#[cfg(feature = "redis")]
mod redis_outbox {
    use super::*;

    // TODO(#5): switch to the Redis outbox once it is published on main; until then a
    // redis:// outbox is refused with a clear error.
    pub(super) async fn open(url: &str) -> Result<Arc<dyn Outbox>, OutboxError> {
        Err(OutboxError::Open {
            location: crate::config::types::redact_url_text(url),
            reason: "the Redis outbox is not available in this build yet".into(),
        })
    }
}

#[cfg(not(feature = "redis"))]
async fn open_redis(url: &str) -> Result<Arc<dyn Outbox>, OutboxError> {
    Err(OutboxError::Open {
        location: crate::config::types::redact_url_text(url),
        reason: "this binary was built without the redis feature".into(),
    })
}
