//! Opening the outbox named by `[outbox]` or `--outbox`.

use std::path::Path;
use std::sync::Arc;

use pythia::outbox::{MemoryOutbox, Outbox, OutboxError};

/// Opens `memory:`, a `redis://` URL (with the `redis` feature; `prefix` names its keys) or a
/// SQLite file. `daemon` says the caller is `pythia run`, the one process of a SQLite file:
/// messages its killed predecessor had claimed are then due at once, not when their leases
/// end (`pythia outbox` opens the file beside a running daemon and must not), and its writer
/// thread takes the niceness `writer_nice` (the library's default when `None`); for any other
/// caller the writer keeps the process's priority.
pub(crate) async fn open(
    location: &str,
    prefix: Option<&str>,
    writer_nice: Option<i32>,
    daemon: bool,
) -> Result<Arc<dyn Outbox>, OutboxError> {
    if location == "memory:" {
        return Ok(Arc::new(MemoryOutbox::new()));
    }
    if location.starts_with("redis://") || location.starts_with("rediss://") {
        return open_redis(location, prefix).await;
    }
    open_sqlite(Path::new(location), writer_nice, daemon)
}

#[cfg(feature = "sqlite")]
fn open_sqlite(
    path: &Path,
    writer_nice: Option<i32>,
    daemon: bool,
) -> Result<Arc<dyn Outbox>, OutboxError> {
    let nice = match (daemon, writer_nice) {
        (true, Some(nice)) => nice,
        (true, None) => pythia::outbox::DEFAULT_WRITER_NICE,
        (false, _) => 0,
    };
    let outbox = pythia::outbox::SqliteOutbox::builder(path)
        .release_leases_on_open(daemon)
        .writer_nice(nice)
        .open()?;
    Ok(Arc::new(outbox))
}

#[cfg(not(feature = "sqlite"))]
fn open_sqlite(
    path: &Path,
    _writer_nice: Option<i32>,
    _daemon: bool,
) -> Result<Arc<dyn Outbox>, OutboxError> {
    Err(OutboxError::Open {
        location: path.display().to_string(),
        reason: "this binary was built without the sqlite feature".into(),
    })
}

#[cfg(feature = "redis")]
async fn open_redis(url: &str, prefix: Option<&str>) -> Result<Arc<dyn Outbox>, OutboxError> {
    redis_outbox::open(url, prefix).await
}

#[cfg(feature = "redis")]
mod redis_outbox {
    use super::*;

    /// A shared outbox in Redis; several daemons on one URL share its queue.
    pub(super) async fn open(
        url: &str,
        prefix: Option<&str>,
    ) -> Result<Arc<dyn Outbox>, OutboxError> {
        let mut builder = pythia::outbox::RedisOutbox::builder(url);
        if let Some(prefix) = prefix {
            builder = builder.prefix(prefix);
        }
        let outbox = builder.connect().await?;
        tracing::info!(
            url = %crate::config::types::redact_url_text(url),
            prefix = outbox.prefix(),
            "redis outbox connected"
        );
        Ok(Arc::new(outbox))
    }
}

#[cfg(not(feature = "redis"))]
async fn open_redis(url: &str, _prefix: Option<&str>) -> Result<Arc<dyn Outbox>, OutboxError> {
    Err(OutboxError::Open {
        location: crate::config::types::redact_url_text(url),
        reason: "this binary was built without the redis feature".into(),
    })
}
