//! The dispatch loop: claim, attempt, settle; and the drain on shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::task::{Id, JoinError, JoinSet};
use tokio::time::Instant;

use super::settle::{settle, Settled};
use super::{Config, Deliver, Dispatcher};
use crate::outbox::{self, Claimed, Lease, Outbox};
use crate::webhook::AttemptRequest;

/// The longest wait between claims while the outbox keeps failing.
const MAX_FAILURE_BACKOFF: Duration = Duration::from_secs(30);

/// A message whose attempt is running.
#[derive(Debug)]
struct Flight {
    id: String,
    lease: Lease,
    endpoint: String,
}

struct Loop {
    outbox: Arc<dyn Outbox>,
    deliver: Arc<dyn Deliver>,
    config: Config,
    per_endpoint_limit: usize,
    tasks: JoinSet<Settled>,
    flights: HashMap<Id, Flight>,
    per_endpoint: HashMap<String, usize>,
    /// Endpoints behind an open breaker, until when.
    blocked: HashMap<String, Instant>,
    claim_failures: u32,
}

impl Dispatcher {
    /// Delivers until `shutdown` completes, then drains: no new claims, attempts in flight get
    /// until the drain timeout, and the messages of those still running are handed back to the
    /// outbox without counting an attempt.
    pub async fn run_until<F: Future<Output = ()>>(self, shutdown: F) {
        let per_endpoint_limit = self.config.per_endpoint.unwrap_or(self.config.concurrency);
        let mut state = Loop {
            outbox: self.outbox,
            deliver: self.deliver,
            config: self.config,
            per_endpoint_limit,
            tasks: JoinSet::new(),
            flights: HashMap::new(),
            per_endpoint: HashMap::new(),
            blocked: HashMap::new(),
            claim_failures: 0,
        };
        let wake = self.wake;
        tokio::pin!(shutdown);
        tracing::info!(name = %state.config.name, concurrency = state.config.concurrency,
            "webhook dispatcher started");
        let mut next_stats = Instant::now();

        loop {
            while let Some(done) = state.tasks.try_join_next_with_id() {
                state.finished(done);
            }
            if Instant::now() >= next_stats {
                state.report_stats().await;
                next_stats = Instant::now() + state.config.stats_interval;
            }

            let started = state.claim_and_start().await;
            if started.is_some_and(|full| full) && shutdown.as_mut().now_or_never().is_none() {
                // A full claim: more may be due right now.
                continue;
            }

            let wait = state.idle_wait(started.is_none());
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(done) = state.tasks.join_next_with_id(), if !state.tasks.is_empty() => {
                    state.finished(done);
                }
                () = wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }

        state.drain().await;
        tracing::info!(name = %state.config.name, "webhook dispatcher stopped");
    }
}

impl Loop {
    /// Claims what there is room for and starts the attempts. `Some(true)` when the claim was
    /// full (more may be waiting), `Some(false)` otherwise, `None` when the claim failed.
    async fn claim_and_start(&mut self) -> Option<bool> {
        let free = self.config.concurrency.saturating_sub(self.tasks.len());
        if free == 0 {
            return Some(false);
        }
        let wanted = free.min(self.config.claim_batch);
        let skip = self.endpoints_to_skip();

        let claimed = match self
            .outbox
            .claim_except(wanted, self.config.lease, &skip)
            .await
        {
            Ok(claimed) => claimed,
            Err(error) => {
                self.claim_failures = self.claim_failures.saturating_add(1);
                tracing::warn!(%error, failures = self.claim_failures,
                    "could not claim webhooks from the outbox");
                metrics::counter!("pythia_outbox_claim_failures_total").increment(1);
                return None;
            }
        };
        self.claim_failures = 0;

        let full = claimed.len() == wanted;
        let mut started = 0;
        for claimed in claimed {
            if self.can_start(&claimed.message.endpoint) {
                self.start(claimed);
                started += 1;
            } else {
                self.hand_back(&claimed).await;
            }
        }
        Some(full && started > 0)
    }

    /// Endpoints at their concurrency limit or behind an open breaker.
    fn endpoints_to_skip(&mut self) -> Vec<String> {
        let now = Instant::now();
        self.blocked.retain(|_, until| *until > now);
        let saturated = self
            .per_endpoint
            .iter()
            .filter(|(_, count)| **count >= self.per_endpoint_limit)
            .map(|(endpoint, _)| endpoint.clone());
        let mut skip: Vec<String> = self.blocked.keys().cloned().chain(saturated).collect();
        skip.sort_unstable();
        skip.dedup();
        skip
    }

    fn can_start(&self, endpoint: &str) -> bool {
        let running = self.per_endpoint.get(endpoint).copied().unwrap_or(0);
        let blocked = self
            .blocked
            .get(endpoint)
            .is_some_and(|until| *until > Instant::now());
        running < self.per_endpoint_limit && !blocked
    }

    fn start(&mut self, claimed: Claimed) {
        let message = &claimed.message;
        *self
            .per_endpoint
            .entry(message.endpoint.clone())
            .or_default() += 1;
        let flight = Flight {
            id: message.id.clone(),
            lease: claimed.lease.clone(),
            endpoint: message.endpoint.clone(),
        };
        let outbox = self.outbox.clone();
        let deliver = self.deliver.clone();
        let retry_after_cap = self.config.retry_after_cap;

        let handle = self.tasks.spawn(async move {
            let message = &claimed.message;
            let request = AttemptRequest {
                id: message.id.clone(),
                endpoint: message.endpoint.clone(),
                payload: message.payload.clone(),
                headers: message.headers.clone(),
                timestamp: None,
            };
            let result = deliver.attempt(&request).await;
            settle(&*outbox, &*deliver, &claimed, &result, retry_after_cap).await
        });
        self.flights.insert(handle.id(), flight);
    }

    /// Returns a message this dispatcher will not attempt now (its endpoint is saturated or
    /// blocked), without counting an attempt.
    async fn hand_back(&self, claimed: &Claimed) {
        let endpoint = &claimed.message.endpoint;
        let wait = self
            .blocked
            .get(endpoint)
            .map(|until| until.saturating_duration_since(Instant::now()))
            .unwrap_or(self.config.poll_interval);
        let at = outbox::now() + wait;
        let id = &claimed.message.id;
        if let Err(error) = self
            .outbox
            .reschedule(id, &claimed.lease, at, false, None)
            .await
        {
            // The lease runs out and the message comes back anyway.
            tracing::warn!(%endpoint, %id, %error, "could not hand a webhook back to the outbox");
            metrics::counter!("pythia_outbox_settle_failures_total", "kind" => "hand_back")
                .increment(1);
        }
    }

    fn finished(&mut self, done: Result<(Id, Settled), JoinError>) {
        let (id, settled) = match done {
            Ok((id, settled)) => (id, Some(settled)),
            Err(error) => {
                if error.is_panic() {
                    // The message stays leased and returns when the lease ends.
                    tracing::error!("a webhook attempt panicked");
                    metrics::counter!("pythia_webhook_attempt_panics_total").increment(1);
                }
                (error.id(), None)
            }
        };
        let Some(flight) = self.flights.remove(&id) else {
            return;
        };
        if let Some(count) = self.per_endpoint.get_mut(&flight.endpoint) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.per_endpoint.remove(&flight.endpoint);
            }
        }
        if let Some(Settled::Blocked(retry_in)) = settled {
            self.blocked
                .insert(flight.endpoint, Instant::now() + retry_in);
        }
    }

    /// How long to wait for work: the poll interval, longer after repeated claim failures.
    fn idle_wait(&self, claim_failed: bool) -> Duration {
        if !claim_failed {
            return self.config.poll_interval;
        }
        let factor = 2u32.saturating_pow(self.claim_failures.min(16));
        self.config
            .poll_interval
            .saturating_mul(factor)
            .min(MAX_FAILURE_BACKOFF)
    }

    async fn report_stats(&self) {
        match self.outbox.stats(None).await {
            Ok(stats) => {
                metrics::gauge!("pythia_outbox_depth").set(stats.depth() as f64);
                metrics::gauge!("pythia_outbox_pending").set(stats.pending as f64);
                metrics::gauge!("pythia_outbox_in_flight").set(stats.in_flight as f64);
                metrics::gauge!("pythia_outbox_dead").set(stats.dead as f64);
                let age = stats.oldest_age.unwrap_or_default().as_secs_f64();
                metrics::gauge!("pythia_outbox_oldest_age_seconds").set(age);
            }
            Err(error) => {
                tracing::warn!(%error, "could not read outbox stats");
                metrics::counter!("pythia_outbox_stats_failures_total").increment(1);
            }
        }
    }

    /// Lets attempts in flight finish until the drain timeout, then hands the rest back.
    async fn drain(&mut self) {
        let deadline = Instant::now() + self.config.drain_timeout;
        while !self.tasks.is_empty() {
            match tokio::time::timeout_at(deadline, self.tasks.join_next_with_id()).await {
                Ok(Some(done)) => self.finished(done),
                Ok(None) => break,
                Err(_) => break,
            }
        }
        if self.tasks.is_empty() {
            return;
        }

        self.tasks.abort_all();
        let mut unfinished = Vec::new();
        while let Some(done) = self.tasks.join_next_with_id().await {
            match done {
                Ok(done) => self.finished(Ok(done)),
                Err(error) => {
                    if let Some(flight) = self.flights.remove(&error.id()) {
                        unfinished.push(flight);
                    }
                }
            }
        }
        tracing::info!(
            count = unfinished.len(),
            "handing unfinished webhooks back to the outbox"
        );
        let now = outbox::now();
        for flight in unfinished {
            let result = self
                .outbox
                .reschedule(&flight.id, &flight.lease, now, false, None)
                .await;
            if let Err(error) = result {
                tracing::warn!(endpoint = %flight.endpoint, id = %flight.id, %error,
                    "could not hand a webhook back to the outbox; it returns when its lease ends");
            }
        }
    }
}
