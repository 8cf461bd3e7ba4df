//! The dispatch loop: claim ahead (or take what the queues hand over), attempt, settle; and
//! the drain on shutdown.
//!
//! The loop never waits for the outbox while there is work to start. A claim runs as a task
//! of its own and keeps up to `claim_ahead` claimed messages ready beyond the free slots, so
//! a finished attempt is followed at once by the next; deliveries are acked in batches by
//! the [ack writer](super::acks), so a slot is free as soon as its attempt has an answer.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::{Id, JoinError, JoinHandle, JoinSet};
use tokio::time::Instant;

use super::acks::{Acks, Delivered};
use super::settle::{settle, Settled};
use super::slots::Slots;
use super::{Config, Deliver, Dispatcher};
use crate::outbox::{self, Claimed, Lease, Outbox, OutboxError};
use crate::webhook::AttemptRequest;

/// The longest wait between claims while the outbox keeps failing.
const MAX_FAILURE_BACKOFF: Duration = Duration::from_secs(30);

/// Acks that may wait for the batch writer, per unit of concurrency, before attempts wait.
const PENDING_ACKS_PER_SLOT: usize = 4;

/// A message whose attempt is running.
#[derive(Debug)]
struct Flight {
    id: String,
    lease: Lease,
    endpoint: String,
}

/// A claimed message waiting for a slot.
#[derive(Debug)]
struct Ready {
    claimed: Claimed,
    since: Instant,
    /// Handed over by a queue (it holds a hand-over until it starts) rather than claimed.
    handed: bool,
}

/// What a claim asked for and got.
struct Claim {
    wanted: usize,
    /// Whether it skipped endpoints for having no room.
    skipped_full: bool,
    claimed: Result<Vec<Claimed>, OutboxError>,
}

/// The claim in flight.
type Claiming = JoinHandle<Claim>;

struct Loop {
    outbox: Arc<dyn Outbox>,
    deliver: Arc<dyn Deliver>,
    config: Config,
    slots: Arc<Slots>,
    acks: mpsc::Sender<Delivered>,
    tasks: JoinSet<Settled>,
    flights: HashMap<Id, Flight>,
    /// Claimed, oldest first, waiting for a slot.
    ready: VecDeque<Ready>,
    /// Messages in `ready`, per endpoint.
    ready_per_endpoint: HashMap<String, usize>,
    claiming: Option<Claiming>,
    claim_failures: u32,
    /// The last claim took all it asked for: more may be due.
    behind: bool,
    /// An enqueue that was not handed over asked for a claim.
    woken: bool,
    next_claim: Instant,
}

impl Dispatcher {
    /// Delivers until `shutdown` completes, then drains: no new claims, messages claimed ahead
    /// go back at once, attempts in flight get until the drain timeout, and the messages of
    /// those still running are handed back to the outbox without counting an attempt.
    pub async fn run_until<F: Future<Output = ()>>(self, shutdown: F) {
        let pending_acks = self
            .config
            .concurrency
            .saturating_mul(PENDING_ACKS_PER_SLOT);
        let acks = Acks::start(self.outbox.clone(), pending_acks);
        let mut arrivals = self.arrivals;
        let mut state = Loop {
            outbox: self.outbox,
            deliver: self.deliver,
            config: self.config,
            slots: self.slots,
            acks: acks.sender(),
            tasks: JoinSet::new(),
            flights: HashMap::new(),
            ready: VecDeque::new(),
            ready_per_endpoint: HashMap::new(),
            claiming: None,
            claim_failures: 0,
            behind: false,
            woken: true,
            next_claim: Instant::now(),
        };
        let wake = self.wake;
        tokio::pin!(shutdown);
        tracing::info!(name = %state.config.name, concurrency = state.config.concurrency,
            claim_ahead = state.config.claim_ahead, "webhook dispatcher started");
        let mut next_stats = Instant::now();

        loop {
            while let Some(done) = state.tasks.try_join_next_with_id() {
                state.finished(done);
            }
            if Instant::now() >= next_stats {
                state.report_stats().await;
                next_stats = Instant::now() + state.config.stats_interval;
            }
            state.start_ready().await;
            state.claim_if_wanted();

            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(done) = state.tasks.join_next_with_id(), if !state.tasks.is_empty() => {
                    state.finished(done);
                }
                Some(claimed) = arrivals.recv() => state.arrived(claimed).await,
                done = async { state.claiming.as_mut().expect("a claim runs").await },
                    if state.claiming.is_some() => {
                    state.claiming = None;
                    state.claimed(done).await;
                }
                () = wake.notified() => state.woken = true,
                () = tokio::time::sleep_until(state.next_claim), if state.claiming.is_none() => {}
            }
        }

        state.slots.set_open(false);
        arrivals.close();
        while let Some(claimed) = arrivals.recv().await {
            state.hand_back(&claimed, Duration::ZERO).await;
            state.slots.handed_over();
        }
        // What a claim still running brings, and what is ready, goes back without starting.
        if let Some(claiming) = state.claiming.take() {
            if let Ok(Claim {
                claimed: Ok(claimed),
                ..
            }) = claiming.await
            {
                for claimed in claimed {
                    state.hand_back(&claimed, Duration::ZERO).await;
                }
            }
        }
        while let Some(ready) = state.ready.pop_front() {
            state.hand_back(&ready.claimed, Duration::ZERO).await;
        }
        state.drain().await;
        let name = std::mem::take(&mut state.config.name);
        drop(state);
        acks.finish().await;
        tracing::info!(%name, "webhook dispatcher stopped");
    }
}

impl Loop {
    /// How many more messages a claim may bring: room in the free slots plus the claim-ahead
    /// allowance, less what is ready already.
    fn room(&self) -> usize {
        (self.slots.available() + self.config.claim_ahead)
            .saturating_sub(self.ready.len())
            .min(self.config.claim_batch)
    }

    /// Starts a claim when none runs and one is worth making: woken by an enqueue, the poll
    /// interval passed, or behind with room for a good part of a batch.
    fn claim_if_wanted(&mut self) {
        if self.claiming.is_some() {
            return;
        }
        let room = self.room();
        let worthwhile = (self.config.claim_batch / 4).max(1);
        let due = self.woken || Instant::now() >= self.next_claim;
        if room == 0 || !(due || self.behind && room >= worthwhile) {
            return;
        }
        self.woken = false;
        let per_endpoint = self.config.per_endpoint.unwrap_or(self.config.concurrency);
        let mut saturated = self.slots.saturated();
        saturated.extend(
            self.ready_per_endpoint
                .iter()
                .filter(|(_, count)| **count >= per_endpoint)
                .map(|(endpoint, _)| endpoint.clone()),
        );
        // With an endpoint skipped for being full, a short claim does not mean nothing else
        // is due: claim again as soon as there is room.
        let skipped_full = !saturated.is_empty();
        let mut skip = self.slots.blocked();
        skip.extend(saturated);
        skip.sort_unstable();
        skip.dedup();
        let outbox = self.outbox.clone();
        let lease = self.config.lease;
        self.claiming = Some(tokio::spawn(async move {
            let claimed = outbox.claim_except(room, lease, &skip).await;
            Claim {
                wanted: room,
                skipped_full,
                claimed,
            }
        }));
    }

    /// Takes in what a claim brought.
    async fn claimed(&mut self, done: Result<Claim, JoinError>) {
        let Claim {
            wanted,
            skipped_full,
            claimed,
        } = done.unwrap_or_else(|error| Claim {
            wanted: 0,
            skipped_full: false,
            claimed: Err(OutboxError::Storage(format!(
                "the claim task failed: {error}"
            ))),
        });
        let claimed = match claimed {
            Ok(claimed) => claimed,
            Err(error) => {
                self.claim_failures = self.claim_failures.saturating_add(1);
                self.next_claim = Instant::now() + self.idle_wait();
                tracing::warn!(%error, failures = self.claim_failures,
                    "could not claim webhooks from the outbox");
                metrics::counter!("pythia_outbox_claim_failures_total").increment(1);
                return;
            }
        };
        self.claim_failures = 0;
        self.next_claim = Instant::now() + self.idle_wait();
        self.behind = skipped_full || (wanted > 0 && claimed.len() == wanted);
        let since = Instant::now();
        for claimed in claimed {
            *self
                .ready_per_endpoint
                .entry(claimed.message.endpoint.clone())
                .or_default() += 1;
            self.ready.push_back(Ready {
                claimed,
                since,
                handed: false,
            });
        }
        self.start_ready().await;
    }

    /// Starts ready messages, oldest first, while slots are free. A message whose endpoint is
    /// behind an open breaker, or that waited a quarter of its lease for its endpoint, goes
    /// back to the outbox.
    async fn start_ready(&mut self) {
        let hold = self.config.lease / 4;
        // Endpoints found full in this pass: their other messages are not tried again.
        let mut full: Vec<String> = Vec::new();
        let mut index = 0;
        while index < self.ready.len() && self.slots.available() > 0 {
            let endpoint = &self.ready[index].claimed.message.endpoint;
            let waited = self.ready[index].since.elapsed() >= hold;
            if !waited && full.contains(endpoint) {
                index += 1;
                continue;
            }
            if self.slots.try_start(endpoint) {
                let ready = self.take_ready(index);
                self.start(ready.claimed);
                continue;
            }
            if !self.slots.may_start(endpoint) || waited {
                let ready = self.take_ready(index);
                let wait = self.wait_for(&ready.claimed.message.endpoint);
                self.hand_back(&ready.claimed, wait).await;
                continue;
            }
            full.push(endpoint.clone());
            index += 1;
        }
        // Fresh messages join the ready ones only when nothing due waits in the outbox before
        // them.
        self.slots.set_open(!self.behind);
    }

    fn take_ready(&mut self, index: usize) -> Ready {
        let ready = self.ready.remove(index).expect("the index is in range");
        if ready.handed {
            self.slots.handed_over();
        }
        let endpoint = &ready.claimed.message.endpoint;
        if let Some(count) = self.ready_per_endpoint.get_mut(endpoint) {
            *count -= 1;
            if *count == 0 {
                self.ready_per_endpoint.remove(endpoint);
            }
        }
        ready
    }

    /// A fresh message handed over by a queue: it waits for a slot behind what is ready.
    async fn arrived(&mut self, claimed: Claimed) {
        *self
            .ready_per_endpoint
            .entry(claimed.message.endpoint.clone())
            .or_default() += 1;
        self.ready.push_back(Ready {
            claimed,
            since: Instant::now(),
            handed: true,
        });
        self.start_ready().await;
    }

    /// The wait before a message to `endpoint` that cannot start now is due again.
    fn wait_for(&self, endpoint: &str) -> Duration {
        self.slots
            .blocked_for(endpoint)
            .unwrap_or(self.config.poll_interval)
    }

    /// Starts the attempt of a message whose slots are held.
    fn start(&mut self, claimed: Claimed) {
        let message = &claimed.message;
        let flight = Flight {
            id: message.id.clone(),
            lease: claimed.lease.clone(),
            endpoint: message.endpoint.clone(),
        };
        let outbox = self.outbox.clone();
        let deliver = self.deliver.clone();
        let acks = self.acks.clone();
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
            settle(
                &*outbox,
                &*deliver,
                &acks,
                &claimed,
                &result,
                retry_after_cap,
            )
            .await
        });
        self.flights.insert(handle.id(), flight);
    }

    /// Returns a message this dispatcher will not attempt now (its endpoint is saturated or
    /// blocked, or the dispatcher is stopping), due again after `wait`, without counting an
    /// attempt.
    async fn hand_back(&self, claimed: &Claimed, wait: Duration) {
        let endpoint = &claimed.message.endpoint;
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
        self.slots.free(&flight.endpoint);
        if let Some(Settled::Blocked(retry_in)) = settled {
            self.slots.block(flight.endpoint, Instant::now() + retry_in);
        }
    }

    /// How long until the next claim: the poll interval, longer after repeated claim failures.
    fn idle_wait(&self) -> Duration {
        if self.claim_failures == 0 {
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
