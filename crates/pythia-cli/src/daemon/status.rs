//! What `/status` reports: each poller's last poll and next tick, each endpoint's breaker,
//! depth, dead letters and last error.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::Serialize;

/// The state of one poller as its sink saw it.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct PollerStatus {
    /// The URL, without credentials or query.
    pub(crate) url: String,
    /// When the last message arrived.
    pub(crate) last_poll: Option<DateTime<Utc>>,
    /// The HTTP status of the last response.
    pub(crate) last_status: Option<u16>,
    /// When the next poll is due (the last poll plus the interval).
    pub(crate) next_tick: Option<DateTime<Utc>>,
    /// Messages handed to the sink.
    pub(crate) messages: u64,
    /// Messages the sink could not take.
    pub(crate) sink_errors: u64,
    /// The last sink error.
    pub(crate) last_error: Option<String>,
    #[serde(skip)]
    pub(crate) interval: Option<Duration>,
}

/// Poller states by name, shared by the sinks (writers) and `/status` (reader).
#[derive(Debug, Clone, Default)]
pub(crate) struct PollerBoard {
    inner: Arc<Mutex<BTreeMap<String, PollerStatus>>>,
}

impl PollerBoard {
    /// Registers a poller.
    pub(crate) fn register(&self, name: &str, url: String, interval: Option<Duration>) {
        self.inner.lock().insert(
            name.to_owned(),
            PollerStatus {
                url,
                interval,
                ..PollerStatus::default()
            },
        );
    }

    /// Records a message produced by a poll.
    pub(crate) fn message(&self, name: &str, status: Option<u16>, error: Option<String>) {
        let now = Utc::now();
        let mut board = self.inner.lock();
        let Some(entry) = board.get_mut(name) else {
            return;
        };
        entry.last_poll = Some(now);
        entry.last_status = status.or(entry.last_status);
        entry.next_tick = entry
            .interval
            .and_then(|interval| chrono::Duration::from_std(interval).ok())
            .map(|interval| now + interval);
        entry.messages += 1;
        if let Some(error) = error {
            entry.sink_errors += 1;
            entry.last_error = Some(error);
        }
    }

    /// A copy of every poller's state.
    pub(crate) fn snapshot(&self) -> BTreeMap<String, PollerStatus> {
        self.inner.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_moves_the_next_tick_one_interval_past_the_last_poll() {
        let board = PollerBoard::default();
        board.register("p", "http://x/".into(), Some(Duration::from_secs(30)));

        board.message("p", Some(200), None);
        board.message("p", None, Some("outbox: closed".into()));

        let status = board.snapshot().remove("p").unwrap();
        assert_eq!(status.messages, 2);
        assert_eq!(status.sink_errors, 1);
        assert_eq!(status.last_status, Some(200));
        let gap = status.next_tick.unwrap() - status.last_poll.unwrap();
        assert_eq!(gap.num_seconds(), 30);
    }
}
