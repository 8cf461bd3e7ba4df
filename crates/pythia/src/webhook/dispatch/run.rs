//! The dispatch loop: claim ahead, attempt, settle; and the drain on shutdown.
//!
//! Beside the loop run three bounded sets of tasks, so that no attempt waits on the outbox:
//!
//! - attempts, at most `concurrency` (and the per-endpoint limit for one endpoint). A slot is
//!   free as soon as its attempt has an answer; recording the outcome happens elsewhere.
//! - one claim at a time, which keeps up to `claim_ahead` claimed messages waiting, so a freed
//!   slot starts its next attempt at once instead of after a claim. A message waits at most
//!   the hold (a quarter of the lease, at most the poll interval) before it is handed back.
//! - settles: deliveries are acked together in one batch while the previous batch is being
//!   stored; reschedules, dead letters and hand-backs go one by one. At most
//!   [`UNSETTLED_PER_SLOT`] times `concurrency` messages may await their update; beyond that
//!   no attempt starts.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::{Id, JoinError, JoinSet};
use tokio::time::Instant;

mod ahead;

use super::settle::{self, Update};
use super::{Config, Deliver, Dispatcher};
use crate::outbox::{self, Claimed, Outbox, OutboxError};
use crate::webhook::{AttemptRequest, AttemptResult};

/// The longest wait between claims while the outbox keeps failing.
const MAX_FAILURE_BACKOFF: Duration = Duration::from_secs(30);

/// How many messages per concurrency slot may wait for their outcome to be stored.
const UNSETTLED_PER_SLOT: usize = 4;

/// A claimed message waiting for a free slot.
#[derive(Debug)]
struct Waiting {
    claimed: Claimed,
    since: Instant,
}

/// What a settle task did, for the loop's accounting.
#[derive(Debug, Clone, Copy)]
enum SettleDone {
    /// An ack batch of this many messages.
    Acks(usize),
    /// One message rescheduled, dead-lettered or handed back.
    One,
}

struct Loop {
    outbox: Arc<dyn Outbox>,
    deliver: Arc<dyn Deliver>,
    config: Config,
    per_endpoint_limit: usize,
    attempts: JoinSet<AttemptResult>,
    /// The message of each running attempt.
    flights: HashMap<Id, Claimed>,
    /// Attempts running, per endpoint.
    running: HashMap<String, usize>,
    /// Claimed ahead, oldest first.
    waiting: VecDeque<Waiting>,
    /// Messages in `waiting`, per endpoint.
    waiting_per_endpoint: HashMap<String, usize>,
    /// The claim in flight, at most one, with how many it asked for.
    claims: JoinSet<(usize, Result<Vec<Claimed>, OutboxError>)>,
    /// Whether to claim once the claim in flight (if any) is back and there is room.
    claim_again: bool,
    /// Delivered, waiting for the next ack batch.
    delivered: Vec<Claimed>,
    /// Whether an ack batch is being stored.
    acking: bool,
    settles: JoinSet<SettleDone>,
    /// Messages whose update is not stored yet: in `delivered` or in a settle task.
    unsettled: usize,
    /// Endpoints behind an open breaker, until when.
    blocked: HashMap<String, Instant>,
    claim_failures: u32,
}

impl Dispatcher {
    /// Delivers until `shutdown` completes, then drains: no new claims, messages claimed ahead
    /// go back at once, attempts in flight get until the drain timeout, and the messages of
    /// those still running are handed back to the outbox without counting an attempt.
    pub async fn run_until<F: Future<Output = ()>>(self, shutdown: F) {
        let per_endpoint_limit = self.config.per_endpoint.unwrap_or(self.config.concurrency);
        let mut state = Loop {
            outbox: self.outbox,
            deliver: self.deliver,
            config: self.config,
            per_endpoint_limit,
            attempts: JoinSet::new(),
            flights: HashMap::new(),
            running: HashMap::new(),
            waiting: VecDeque::new(),
            waiting_per_endpoint: HashMap::new(),
            claims: JoinSet::new(),
            claim_again: true,
            delivered: Vec::new(),
            acking: false,
            settles: JoinSet::new(),
            unsettled: 0,
            blocked: HashMap::new(),
            claim_failures: 0,
        };
        let wake = self.wake;
        tokio::pin!(shutdown);
        tracing::info!(name = %state.config.name, concurrency = state.config.concurrency,
            claim_ahead = state.config.claim_ahead, "webhook dispatcher started");
        let mut next_stats = Instant::now();

        loop {
            state.reap();
            if Instant::now() >= next_stats {
                state.report_stats().await;
                next_stats = Instant::now() + state.config.stats_interval;
            }
            state.start_waiting();
            state.flush_acks();
            state.claim_if_room();

            let wait = state.idle_wait();
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(done) = state.attempts.join_next_with_id(), if !state.attempts.is_empty() => {
                    state.finished(done);
                }
                Some(done) = state.claims.join_next(), if !state.claims.is_empty() => {
                    state.claimed(done);
                }
                Some(done) = state.settles.join_next(), if !state.settles.is_empty() => {
                    state.settled(done);
                }
                () = wake.notified() => state.claim_again = true,
                () = tokio::time::sleep(wait) => state.claim_again = true,
            }
        }

        state.drain().await;
        tracing::info!(name = %state.config.name, "webhook dispatcher stopped");
    }
}

impl Loop {
    /// Takes in whatever finished meanwhile, without waiting.
    fn reap(&mut self) {
        while let Some(done) = self.attempts.try_join_next_with_id() {
            self.finished(done);
        }
        while let Some(done) = self.claims.try_join_next() {
            self.claimed(done);
        }
        while let Some(done) = self.settles.try_join_next() {
            self.settled(done);
        }
    }

    fn settle_room(&self) -> bool {
        self.unsettled < self.config.concurrency.saturating_mul(UNSETTLED_PER_SLOT)
    }

    fn start(&mut self, claimed: Claimed) {
        let message = &claimed.message;
        *self.running.entry(message.endpoint.clone()).or_default() += 1;
        let request = AttemptRequest {
            id: message.id.clone(),
            endpoint: message.endpoint.clone(),
            payload: message.payload.clone(),
            headers: message.headers.clone(),
            timestamp: None,
        };
        let deliver = self.deliver.clone();

        let handle = self
            .attempts
            .spawn(async move { deliver.attempt(&request).await });
        self.flights.insert(handle.id(), claimed);
    }

    /// An attempt ended: its slot is free, and its outcome goes to be stored.
    fn finished(&mut self, done: Result<(Id, AttemptResult), JoinError>) {
        let (id, result) = match done {
            Ok((id, result)) => (id, Some(result)),
            Err(error) => {
                if error.is_panic() {
                    // The message stays leased and returns when the lease ends.
                    tracing::error!("a webhook attempt panicked");
                    metrics::counter!("pythia_webhook_attempt_panics_total").increment(1);
                }
                (error.id(), None)
            }
        };
        let Some(claimed) = self.flights.remove(&id) else {
            return;
        };
        let endpoint = &claimed.message.endpoint;
        if let Some(count) = self.running.get_mut(endpoint) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.running.remove(endpoint);
            }
        }
        self.claim_again = true;
        let Some(result) = result else {
            return;
        };

        let update = settle::decide(
            &*self.deliver,
            &claimed,
            &result,
            self.config.retry_after_cap,
        );
        self.unsettled += 1;
        match update {
            Update::Ack => self.delivered.push(claimed),
            update => {
                if let Update::Reschedule {
                    blocked: Some(retry_in),
                    ..
                } = update
                {
                    self.block(&claimed.message.endpoint, retry_in);
                }
                let outbox = self.outbox.clone();
                self.settles.spawn(async move {
                    settle::apply(&*outbox, &claimed, update).await;
                    SettleDone::One
                });
            }
        }
    }

    /// Skips `endpoint` for `retry_in`, handing back what waits for it.
    fn block(&mut self, endpoint: &str, retry_in: Duration) {
        self.blocked
            .insert(endpoint.to_owned(), Instant::now() + retry_in);
        let mut next = 0;
        while next < self.waiting.len() {
            if self.waiting[next].claimed.message.endpoint == endpoint {
                let waiting = self.take_waiting(next);
                self.hand_back(waiting.claimed);
            } else {
                next += 1;
            }
        }
    }

    /// Stores the deliveries waiting for an ack, unless a batch is being stored: then they
    /// go with the next one.
    fn flush_acks(&mut self) {
        if self.acking || self.delivered.is_empty() {
            return;
        }
        let delivered = std::mem::take(&mut self.delivered);
        let outbox = self.outbox.clone();

        self.acking = true;
        self.settles.spawn(async move {
            settle::ack_all(&*outbox, &delivered).await;
            SettleDone::Acks(delivered.len())
        });
    }

    fn settled(&mut self, done: Result<SettleDone, JoinError>) {
        match done {
            Ok(SettleDone::Acks(count)) => {
                self.acking = false;
                self.unsettled = self.unsettled.saturating_sub(count);
            }
            Ok(SettleDone::One) => self.unsettled = self.unsettled.saturating_sub(1),
            Err(error) => {
                // Only a panic gets here (settles are never aborted); which kind of settle it
                // was is unknown, so the count is rebuilt from what is still running.
                tracing::error!(%error, "storing the outcome of a webhook attempt panicked");
                self.acking = false;
                self.unsettled = self.delivered.len() + self.settles.len();
            }
        }
        self.claim_again = true;
    }

    /// Returns a message this dispatcher will not attempt now (its endpoint is blocked, holds
    /// enough, or the message waited too long), without counting an attempt.
    fn hand_back(&mut self, claimed: Claimed) {
        let wait = self
            .blocked
            .get(&claimed.message.endpoint)
            .map(|until| until.saturating_duration_since(Instant::now()))
            .unwrap_or(self.config.poll_interval);
        self.hand_back_at(claimed, wait);
    }

    fn hand_back_at(&mut self, claimed: Claimed, wait: Duration) {
        let outbox = self.outbox.clone();
        self.unsettled += 1;
        self.settles.spawn(async move {
            let message = &claimed.message;
            let at = outbox::now() + wait;
            if let Err(error) = outbox
                .reschedule(&message.id, &claimed.lease, at, false, None)
                .await
            {
                // The lease runs out and the message comes back anyway.
                tracing::warn!(endpoint = %message.endpoint, id = %message.id, %error,
                    "could not hand a webhook back to the outbox");
                metrics::counter!("pythia_outbox_settle_failures_total", "kind" => "hand_back")
                    .increment(1);
            }
            SettleDone::One
        });
    }

    /// How long to wait for work: the poll interval, longer after repeated claim failures,
    /// shorter when a waiting message is due to go back.
    fn idle_wait(&self) -> Duration {
        let factor = 2u32.saturating_pow(self.claim_failures.min(16));
        let wait = if self.claim_failures == 0 {
            self.config.poll_interval
        } else {
            self.config
                .poll_interval
                .saturating_mul(factor)
                .min(MAX_FAILURE_BACKOFF)
        };
        match self.waiting.front() {
            Some(front) => {
                let back_at = front.since + self.hold();
                wait.min(back_at.saturating_duration_since(Instant::now()))
            }
            None => wait,
        }
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

    /// No more claims; what waits goes back at once; attempts in flight get until the drain
    /// timeout, then the rest go back; every outcome is stored before it returns.
    async fn drain(&mut self) {
        let deadline = Instant::now() + self.config.drain_timeout;
        while let Some(done) = self.claims.join_next().await {
            self.claimed(done);
        }
        while !self.waiting.is_empty() {
            let waiting = self.take_waiting(0);
            self.hand_back_at(waiting.claimed, Duration::ZERO);
        }

        while !self.attempts.is_empty() {
            tokio::select! {
                biased;
                Some(done) = self.settles.join_next(), if !self.settles.is_empty() => {
                    self.settled(done);
                }
                done = tokio::time::timeout_at(deadline, self.attempts.join_next_with_id()) => {
                    match done {
                        Ok(Some(done)) => self.finished(done),
                        Ok(None) | Err(_) => break,
                    }
                }
            }
            self.flush_acks();
        }
        self.hand_back_unfinished().await;

        loop {
            self.flush_acks();
            match self.settles.join_next().await {
                Some(done) => self.settled(done),
                None if self.delivered.is_empty() => break,
                None => {}
            }
        }
    }

    /// Stops the attempts still running and hands their messages back uncounted.
    async fn hand_back_unfinished(&mut self) {
        if self.attempts.is_empty() {
            return;
        }
        self.attempts.abort_all();
        let mut unfinished = 0;
        while let Some(done) = self.attempts.join_next_with_id().await {
            match done {
                Ok(done) => self.finished(Ok(done)),
                Err(error) => {
                    if let Some(claimed) = self.flights.remove(&error.id()) {
                        unfinished += 1;
                        self.hand_back_at(claimed, Duration::ZERO);
                    }
                }
            }
        }
        tracing::info!(
            count = unfinished,
            "handing unfinished webhooks back to the outbox"
        );
    }
}
