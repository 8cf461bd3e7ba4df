//! The daemon's side of delivery: the webhook sender with each endpoint's configured headers
//! added to every attempt, and the last error of each endpoint kept for `/status`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use pythia::webhook::dispatch::Deliver;
use pythia::webhook::{AttemptRequest, AttemptResult, WebhookSender};
use serde::Serialize;

/// The last failed attempt to one endpoint.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LastError {
    /// When it failed.
    pub(crate) at: DateTime<Utc>,
    /// The status, when the endpoint answered.
    pub(crate) status: Option<u16>,
    /// What went wrong (never a payload or a secret).
    pub(crate) error: String,
}

/// The last error of each endpoint, shared with `/status`.
pub(crate) type LastErrors = Arc<Mutex<HashMap<String, LastError>>>;

/// A [`Deliver`] over the sender that adds configured headers and remembers failures.
#[derive(Clone)]
pub(crate) struct DaemonDeliver {
    sender: WebhookSender,
    headers: Arc<HashMap<String, Vec<(String, String)>>>,
    last_errors: LastErrors,
}

impl DaemonDeliver {
    /// Wraps `sender`; `headers` are each endpoint's extra headers.
    pub(crate) fn new(
        sender: WebhookSender,
        headers: HashMap<String, Vec<(String, String)>>,
    ) -> Self {
        DaemonDeliver {
            sender,
            headers: Arc::new(headers),
            last_errors: LastErrors::default(),
        }
    }

    /// The last errors, for `/status`.
    pub(crate) fn last_errors(&self) -> LastErrors {
        self.last_errors.clone()
    }
}

#[async_trait]
impl Deliver for DaemonDeliver {
    async fn attempt(&self, request: &AttemptRequest) -> AttemptResult {
        let result = match self.headers.get(&request.endpoint) {
            Some(extra) if !extra.is_empty() => {
                let mut with_headers = request.clone();
                for (name, value) in extra {
                    if !with_headers
                        .headers
                        .iter()
                        .any(|(n, _)| n.eq_ignore_ascii_case(name))
                    {
                        with_headers.headers.push((name.clone(), value.clone()));
                    }
                }
                self.sender.attempt(&with_headers).await
            }
            _ => self.sender.attempt(request).await,
        };
        if let AttemptResult::Failed { status, error, .. } = &result {
            self.last_errors.lock().insert(
                request.endpoint.clone(),
                LastError {
                    at: Utc::now(),
                    status: *status,
                    error: error.clone(),
                },
            );
        }
        result
    }

    fn next_delay(&self, endpoint: &str, failed: u32) -> Option<Duration> {
        Deliver::next_delay(&self.sender, endpoint, failed)
    }

    fn knows_endpoint(&self, endpoint: &str) -> bool {
        Deliver::knows_endpoint(&self.sender, endpoint)
    }
}
