//! The per-host (or per breaker key) resilience state of a client.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use tokio::time::Instant;

use super::HttpClientConfig;
use crate::resilience::{BreakerState, CircuitBreaker, RateLimiter, RetryBudget};

/// What a client keeps per host: breaker, rate limiter, retry budget and the pause set by a
/// `429` with `Retry-After`.
#[derive(Debug)]
pub(crate) struct Host {
    pub(crate) breaker: Option<CircuitBreaker>,
    pub(crate) limiter: Option<RateLimiter>,
    pub(crate) budget: Option<RetryBudget>,
    /// Nanoseconds after the registry's epoch until which requests wait; 0 for none.
    paused_until: AtomicU64,
    epoch: Instant,
}

impl Host {
    /// The instant requests to this host may resume, if a pause is set and not yet over.
    pub(crate) fn paused_until(&self, now: Instant) -> Option<Instant> {
        let nanos = self.paused_until.load(Ordering::Relaxed);
        if nanos == 0 {
            return None;
        }
        let until = self.epoch + Duration::from_nanos(nanos);
        (until > now).then_some(until)
    }

    /// Pauses requests to this host until `until` (an earlier pause is only ever extended).
    pub(crate) fn pause_until(&self, until: Instant) {
        let nanos = until.saturating_duration_since(self.epoch).as_nanos();
        let nanos = u64::try_from(nanos).unwrap_or(u64::MAX).max(1);
        self.paused_until.fetch_max(nanos, Ordering::Relaxed);
    }
}

/// The hosts a client has talked to.
#[derive(Debug)]
pub(crate) struct Hosts {
    map: RwLock<HashMap<String, Arc<Host>>>,
    epoch: Instant,
}

impl Hosts {
    pub(crate) fn new() -> Self {
        Hosts {
            map: RwLock::new(HashMap::new()),
            epoch: Instant::now(),
        }
    }

    /// The state for `key`, made on first use.
    pub(crate) fn get(&self, key: &str, config: &HttpClientConfig) -> Arc<Host> {
        if let Some(host) = self.map.read().get(key) {
            return host.clone();
        }
        let mut map = self.map.write();
        map.entry(key.to_owned())
            .or_insert_with(|| {
                Arc::new(Host {
                    breaker: config
                        .circuit_breaker
                        .clone()
                        .map(|c| CircuitBreaker::new(key.to_owned(), c)),
                    limiter: config.rate_limit.map(RateLimiter::new),
                    budget: config.retry_budget.map(RetryBudget::new),
                    paused_until: AtomicU64::new(0),
                    epoch: self.epoch,
                })
            })
            .clone()
    }

    pub(crate) fn breaker_states(&self) -> Vec<(String, BreakerState)> {
        let mut states: Vec<_> = self
            .map
            .read()
            .iter()
            .filter_map(|(key, host)| host.breaker.as_ref().map(|b| (key.clone(), b.state())))
            .collect();
        states.sort_by(|a, b| a.0.cmp(&b.0));
        states
    }

    pub(crate) fn breaker(&self, key: &str) -> Option<CircuitBreaker> {
        self.map
            .read()
            .get(key)
            .and_then(|host| host.breaker.clone())
    }
}

/// The default key of a URL: `host` or `host:port` when the port is explicit.
pub(crate) fn host_key(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}
