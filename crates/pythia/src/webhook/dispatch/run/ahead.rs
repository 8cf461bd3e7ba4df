//! Claiming ahead: claims in the background, the messages waiting for a slot, and which
//! endpoints a claim skips.

use std::time::Duration;

use tokio::task::JoinError;
use tokio::time::Instant;

use super::{Loop, Waiting};
use crate::outbox::{Claimed, OutboxError};

impl Loop {
    /// How long a claimed message may wait for a slot: a quarter of the lease, so that it
    /// still has most of its lease when its attempt starts, and at most the poll interval.
    pub(super) fn hold(&self) -> Duration {
        (self.config.lease / 4).min(self.config.poll_interval)
    }

    /// Claims in the background when there is room for more messages than are held.
    pub(super) fn claim_if_room(&mut self) {
        if !self.claim_again || !self.claims.is_empty() || !self.settle_room() {
            return;
        }
        let held = self.attempts.len() + self.waiting.len();
        let room = (self.config.concurrency + self.config.claim_ahead).saturating_sub(held);
        if room == 0 {
            return;
        }
        let wanted = room.min(self.config.claim_batch);
        let skip = self.endpoints_to_skip();
        let outbox = self.outbox.clone();
        let lease = self.config.lease;

        self.claim_again = false;
        self.claims.spawn(async move {
            let claimed = outbox.claim_except(wanted, lease, &skip).await;
            (wanted, claimed)
        });
    }

    /// Endpoints behind an open breaker, or holding as many messages as they may.
    pub(super) fn endpoints_to_skip(&mut self) -> Vec<String> {
        let now = Instant::now();
        self.blocked.retain(|_, until| *until > now);
        let full = self
            .running
            .keys()
            .chain(self.waiting_per_endpoint.keys())
            .filter(|endpoint| !self.may_hold_more(endpoint));
        let mut skip: Vec<String> = self.blocked.keys().chain(full).cloned().collect();
        skip.sort_unstable();
        skip.dedup();
        skip
    }

    pub(super) fn running_to(&self, endpoint: &str) -> usize {
        self.running.get(endpoint).copied().unwrap_or(0)
    }

    /// Whether `endpoint` may hold one more message: its concurrency limit running, and as
    /// many again (at most the claim-ahead) waiting.
    pub(super) fn may_hold_more(&self, endpoint: &str) -> bool {
        let waiting = self
            .waiting_per_endpoint
            .get(endpoint)
            .copied()
            .unwrap_or(0);
        let ahead = self.per_endpoint_limit.min(self.config.claim_ahead);
        self.running_to(endpoint) + waiting < self.per_endpoint_limit + ahead
    }

    pub(super) fn is_blocked(&self, endpoint: &str) -> bool {
        self.blocked
            .get(endpoint)
            .is_some_and(|until| *until > Instant::now())
    }

    /// A claim came back: its messages wait for slots, except those of a blocked endpoint or
    /// of one that holds enough already, which go back.
    pub(super) fn claimed(
        &mut self,
        done: Result<(usize, Result<Vec<Claimed>, OutboxError>), JoinError>,
    ) {
        let (wanted, claimed) = match done {
            Ok((wanted, Ok(claimed))) => (wanted, claimed),
            Ok((_, Err(error))) => {
                self.claim_failures = self.claim_failures.saturating_add(1);
                tracing::warn!(%error, failures = self.claim_failures,
                    "could not claim webhooks from the outbox");
                metrics::counter!("pythia_outbox_claim_failures_total").increment(1);
                return;
            }
            Err(error) => {
                // Whatever it claimed comes back when its lease ends.
                tracing::error!(%error, "a claim from the outbox did not finish");
                metrics::counter!("pythia_outbox_claim_failures_total").increment(1);
                self.claim_failures = self.claim_failures.saturating_add(1);
                return;
            }
        };
        self.claim_failures = 0;

        let full = claimed.len() == wanted;
        let since = Instant::now();
        let mut kept = 0;
        for claimed in claimed {
            let endpoint = &claimed.message.endpoint;
            if self.is_blocked(endpoint) || !self.may_hold_more(endpoint) {
                self.hand_back(claimed);
                continue;
            }
            *self
                .waiting_per_endpoint
                .entry(endpoint.clone())
                .or_default() += 1;
            self.waiting.push_back(Waiting { claimed, since });
            kept += 1;
        }
        // A full claim: more may be due right now.
        if full && kept > 0 {
            self.claim_again = true;
        }
    }

    /// Starts waiting messages in free slots, in claim order, passing over endpoints at their
    /// limit; hands back those that waited longer than the hold.
    pub(super) fn start_waiting(&mut self) {
        let expired = Instant::now().checked_sub(self.hold());
        while let Some(front) = self.waiting.front() {
            if expired.is_none_or(|expired| front.since > expired) {
                break;
            }
            let waiting = self.take_waiting(0);
            self.hand_back(waiting.claimed);
        }

        let mut next = 0;
        while next < self.waiting.len()
            && self.attempts.len() < self.config.concurrency
            && self.settle_room()
        {
            let endpoint = &self.waiting[next].claimed.message.endpoint;
            if self.running_to(endpoint) < self.per_endpoint_limit {
                let waiting = self.take_waiting(next);
                self.start(waiting.claimed);
            } else {
                next += 1;
            }
        }
    }

    pub(super) fn take_waiting(&mut self, index: usize) -> Waiting {
        let waiting = self
            .waiting
            .remove(index)
            .expect("the index of a waiting message");
        let endpoint = &waiting.claimed.message.endpoint;
        if let Some(count) = self.waiting_per_endpoint.get_mut(endpoint) {
            *count -= 1;
            if *count == 0 {
                self.waiting_per_endpoint.remove(endpoint);
            }
        }
        waiting
    }
}
