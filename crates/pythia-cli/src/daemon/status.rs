//! What `/status` reports: each poller's last poll and next tick, each endpoint's breaker,
//! depth, dead letters and last error.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use pythia::poller::PollerStats;
use serde::Serialize;

/// The state of one poller as its sink saw it.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "snake_case")]
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
    /// Where its messages go.
    pub(crate) sink: String,
    /// Polls that succeeded (2xx or 304).
    pub(crate) polls_ok: u64,
    /// Polls that failed (transport, status, body).
    pub(crate) polls_failed: u64,
    /// Polls answered `304 Not Modified`.
    pub(crate) not_modified: u64,
    /// Polls skipped because another instance holds the target's lease.
    pub(crate) lease_skipped: u64,
    /// `ok` after a successful poll, `failing` after a failed one, `pending` before any.
    pub(crate) status: &'static str,
    #[serde(skip)]
    pub(crate) interval: Option<Duration>,
    #[serde(skip)]
    stats: Option<PollerStats>,
    #[serde(skip)]
    seen: (u64, u64),
}

impl PollerStatus {
    /// A poll happened at `now`: the next is one interval later.
    fn touch(&mut self, now: DateTime<Utc>) {
        self.last_poll = Some(now);
        self.next_tick = self
            .interval
            .and_then(|interval| chrono::Duration::from_std(interval).ok())
            .map(|interval| now + interval);
    }
}

/// Poller states by name, shared by the sinks (writers) and `/status` (reader).
#[derive(Debug, Clone, Default)]
pub(crate) struct PollerBoard {
    inner: Arc<Mutex<BTreeMap<String, PollerStatus>>>,
}

impl PollerBoard {
    /// Registers a poller.
    pub(crate) fn register(
        &self,
        name: &str,
        url: String,
        interval: Option<Duration>,
        sink: String,
    ) {
        self.inner.lock().insert(
            name.to_owned(),
            PollerStatus {
                url,
                interval,
                sink,
                status: "pending",
                ..PollerStatus::default()
            },
        );
    }

    /// Gives a poller's counters to its entry.
    pub(crate) fn attach(&self, name: &str, stats: PollerStats) {
        if let Some(entry) = self.inner.lock().get_mut(name) {
            entry.stats = Some(stats);
        }
    }

    /// Records a message produced by a poll.
    pub(crate) fn message(&self, name: &str, status: Option<u16>, error: Option<String>) {
        let now = Utc::now();
        let mut board = self.inner.lock();
        let Some(entry) = board.get_mut(name) else {
            return;
        };
        entry.touch(now);
        entry.last_status = status.or(entry.last_status);
        entry.messages += 1;
        if let Some(error) = error {
            entry.sink_errors += 1;
            entry.last_error = Some(error);
        }
    }

    /// A copy of every poller's state, with its counters read now. A poll that ended since
    /// the last look (a success or a failure, with or without a message) moves the last poll
    /// and the next tick.
    pub(crate) fn snapshot(&self) -> BTreeMap<String, PollerStatus> {
        let mut board = self.inner.lock();
        for entry in board.values_mut() {
            let Some(stats) = &entry.stats else {
                continue;
            };
            let now = stats.snapshot();
            entry.polls_ok = now.polls_ok;
            entry.polls_failed = now.polls_failed;
            entry.not_modified = now.not_modified;
            entry.lease_skipped = now.lease_skipped;
            let (ok, failed) = entry.seen;
            if now.polls_failed > failed {
                entry.status = "failing";
            } else if now.polls_ok > ok {
                entry.status = "ok";
            }
            if (now.polls_ok, now.polls_failed) != entry.seen {
                entry.seen = (now.polls_ok, now.polls_failed);
                if entry
                    .last_poll
                    .is_none_or(|at| at < Utc::now() - chrono::Duration::seconds(1))
                {
                    entry.touch(Utc::now());
                }
            }
        }
        board.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_moves_the_next_tick_one_interval_past_the_last_poll() {
        let board = PollerBoard::default();
        board.register(
            "p",
            "http://x/".into(),
            Some(Duration::from_secs(30)),
            "stdout".into(),
        );

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
