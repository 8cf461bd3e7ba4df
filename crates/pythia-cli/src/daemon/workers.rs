//! The workers the runtime runs: the dispatcher, one per poller, one per relay.

use std::sync::Arc;

use pythia::runtime::Worker;
use pythia::webhook::dispatch::WebhookQueue;

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
pub(crate) fn build(
    loaded: &Loaded,
    queue: &WebhookQueue,
    endpoints: &Arc<Endpoints>,
    board: &PollerBoard,
) -> Result<Workers, String> {
    let _ = (loaded, queue, endpoints, board);
    Ok(Workers {
        workers: Vec::new(),
        summary: Summary::default(),
    })
}
