//! Scheduled polling of HTTP APIs.
//!
//! A [`Poller`] polls one URL on a [`Schedule`] and hands each response, or each item an
//! [`Extractor`] pulls out of it, to a [`Handler`] as a [`Message`](crate::Message). A
//! [`PollerGroup`] drives many targets (100,000 in one process) from one scheduler task with a
//! bounded number of polls in flight.
//!
//! What a poll does, in order:
//!
//! 1. Ask the [`TargetLease`], if one is set; skip the poll when another instance holds it.
//! 2. Send the request through the shared [`HttpClient`](crate::http::HttpClient) (its retry
//!    policy and per-host breaker apply), with `If-None-Match` / `If-Modified-Since` from the
//!    last response. A `304` ends the poll with no message.
//! 3. Decode the body by content type, follow [`Pagination`] up to the page cap, extract items,
//!    drop items whose [`Dedup`] key was seen before, and call the handler for each message.
//! 4. Remember validators, cursor and seen keys, in a [`StateStore`] when one is set.
//!
//! Never two polls of one target run at once: a tick that comes while the previous poll still
//! runs is skipped and counted. A `429` or `503` with `Retry-After` pushes the next poll back.
//! Errors of every kind (transport, status, invalid JSON, body too large, handler) are logged and
//! counted, and the next poll happens as scheduled.
//!
//! # Metrics
//!
//! | name | kind | labels |
//! | --- | --- | --- |
//! | `pythia_poller_polls_total` | counter | `poller`, `outcome` |
//! | `pythia_poller_poll_duration_seconds` | histogram | `poller` |
//! | `pythia_poller_items_total` | counter | `poller` |
//! | `pythia_poller_not_modified_total` | counter | `poller` |
//! | `pythia_poller_skipped_ticks_total` | counter | `poller` |
//! | `pythia_poller_consecutive_failures` | gauge | `poller` |
//! | `pythia_poller_handler_errors_total` | counter | `poller` |
//! | `pythia_poller_duplicates_total` | counter | `poller` |
//! | `pythia_poller_page_cap_total` | counter | `poller` |
//! | `pythia_poller_retry_after_total` | counter | `poller` |
//! | `pythia_poller_lease_skipped_total` | counter | `poller` |
//! | `pythia_poller_state_errors_total` | counter | `poller` |

mod builder;
mod client;
mod config;
mod dedup;
mod deliver;
mod engine;
mod error;
mod extract;
mod group;
mod handler;
mod lease;
mod observe;
mod pagination;
mod poll;
mod redact;
#[cfg(feature = "redis")]
mod redis_lease;
mod schedule;
mod state;
mod stats;
mod target;
mod worker;

pub use builder::PollerBuilder;
pub use config::{
    PollerConfig, PollerConfigBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_INTERVAL,
    DEFAULT_MAX_BODY_BYTES, DEFAULT_READ_TIMEOUT,
};
pub use dedup::{Dedup, DEFAULT_DEDUP_CAPACITY};
pub use error::ConfigError;
pub use extract::Extractor;
pub use group::{PollerGroup, PollerGroupBuilder, DEFAULT_MAX_IN_FLIGHT};
pub use handler::{handler_fn, Handler, HandlerFn, Outcome};
pub use lease::TargetLease;
pub use pagination::{Pagination, DEFAULT_MAX_PAGES};
#[cfg(feature = "redis")]
pub use redis_lease::{RedisTargetLease, RedisTargetLeaseBuilder};
pub use schedule::{spread_offset, Schedule};
#[cfg(feature = "sqlite")]
pub use state::SqliteStateStore;
pub use state::{MemoryStateStore, StateStore, TargetState};
pub use stats::{PollerStats, StatsSnapshot};
pub use worker::Poller;
