//! The dispatcher's attempt slots, shared by its loop and its queues.
//!
//! Every attempt holds one slot overall and one of its endpoint's; the loop takes them for
//! the messages it claimed. A queue made by [`Dispatcher::queue`](super::Dispatcher::queue)
//! takes a hand-over instead, while nothing due waits in the outbox: it stores a fresh message
//! already claimed and hands the claim to the loop, where it waits for its slots behind the
//! messages ready before it (see
//! [`Outbox::enqueue_claimed`](crate::outbox::Outbox::enqueue_claimed)).

use std::collections::HashMap;

use parking_lot::Mutex;
use tokio::time::Instant;

#[derive(Debug)]
pub(super) struct Slots {
    capacity: usize,
    per_endpoint: usize,
    /// How many fresh messages handed over may be on their way or waiting for a slot.
    handovers: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Slots held: attempts running, arrivals on their way, and reservations for a claim.
    used: usize,
    /// Slots held per endpoint.
    endpoints: HashMap<String, usize>,
    /// Fresh messages handed over, on their way or waiting for a slot.
    handed: usize,
    /// Endpoints behind an open breaker, until when.
    blocked: HashMap<String, Instant>,
    /// Whether queues may hand fresh messages over: the loop runs, and nothing due waits in
    /// the outbox that the fresh message would overtake.
    open: bool,
}

impl State {
    fn admits(&self, endpoint: &str, limit: usize) -> bool {
        let running = self.endpoints.get(endpoint).copied().unwrap_or(0);
        let blocked = self
            .blocked
            .get(endpoint)
            .is_some_and(|until| *until > Instant::now());
        running < limit && !blocked
    }
}

impl Slots {
    pub(super) fn new(capacity: usize, per_endpoint: usize, handovers: usize) -> Self {
        Slots {
            capacity,
            per_endpoint,
            handovers,
            state: Mutex::new(State::default()),
        }
    }

    /// Takes a slot for a claimed message to `endpoint`, if one is free and the endpoint can
    /// take another attempt now.
    pub(super) fn try_start(&self, endpoint: &str) -> bool {
        let mut state = self.state.lock();
        if state.used >= self.capacity || !state.admits(endpoint, self.per_endpoint) {
            return false;
        }
        state.used += 1;
        *state.endpoints.entry(endpoint.to_owned()).or_default() += 1;
        true
    }

    /// Takes a hand-over for a fresh message to `endpoint`: only while the loop takes them,
    /// fewer than the allowance are on their way or waiting, and the endpoint's breaker is not
    /// open. The message then waits for a slot like a claimed one.
    pub(super) fn take(&self, endpoint: &str) -> bool {
        let mut state = self.state.lock();
        let blocked = state
            .blocked
            .get(endpoint)
            .is_some_and(|until| *until > Instant::now());
        if !state.open || state.handed >= self.handovers || blocked {
            return false;
        }
        state.handed += 1;
        true
    }

    /// Gives back a hand-over: the message started or went back to the outbox, or it never
    /// arrived.
    pub(super) fn handed_over(&self) {
        let mut state = self.state.lock();
        state.handed = state.handed.saturating_sub(1);
    }

    /// Frees the slot of a finished (or abandoned) attempt to `endpoint`.
    pub(super) fn free(&self, endpoint: &str) {
        let mut state = self.state.lock();
        state.used = state.used.saturating_sub(1);
        if let Some(count) = state.endpoints.get_mut(endpoint) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                state.endpoints.remove(endpoint);
            }
        }
    }

    /// Whether an attempt to `endpoint` that already holds its slots may start: not while the
    /// endpoint's breaker is open.
    pub(super) fn may_start(&self, endpoint: &str) -> bool {
        let state = self.state.lock();
        state
            .blocked
            .get(endpoint)
            .is_none_or(|until| *until <= Instant::now())
    }

    /// Marks `endpoint` as behind an open breaker until `until`.
    pub(super) fn block(&self, endpoint: String, until: Instant) {
        self.state.lock().blocked.insert(endpoint, until);
    }

    /// How long `endpoint` stays blocked, if it is.
    pub(super) fn blocked_for(&self, endpoint: &str) -> Option<std::time::Duration> {
        let state = self.state.lock();
        let until = state.blocked.get(endpoint)?;
        Some(until.saturating_duration_since(Instant::now()))
    }

    /// Endpoints behind an open breaker, which a claim should skip. Forgets breakers that
    /// have had their time.
    pub(super) fn blocked(&self) -> Vec<String> {
        let mut state = self.state.lock();
        let now = Instant::now();
        state.blocked.retain(|_, until| *until > now);
        state.blocked.keys().cloned().collect()
    }

    /// Endpoints at their concurrency limit, which a claim should skip too.
    pub(super) fn saturated(&self) -> Vec<String> {
        let state = self.state.lock();
        state
            .endpoints
            .iter()
            .filter(|(_, count)| **count >= self.per_endpoint)
            .map(|(endpoint, _)| endpoint.clone())
            .collect()
    }

    /// Whether queues may hand messages over.
    pub(super) fn set_open(&self, open: bool) {
        self.state.lock().open = open;
    }

    /// Free slots now.
    pub(super) fn available(&self) -> usize {
        self.capacity.saturating_sub(self.state.lock().used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_queue_hands_over_only_while_open_and_within_the_allowance() {
        let slots = Slots::new(1, 1, 2);

        assert!(!slots.take("a"), "closed until the loop opens it");
        slots.set_open(true);
        assert!(
            slots.try_start("a"),
            "slots and hand-overs are counted apart"
        );
        assert!(slots.take("a"));
        assert!(slots.take("b"));
        assert!(!slots.take("c"), "the allowance is spent");

        slots.handed_over();
        assert!(slots.take("c"));
        slots.set_open(false);
        slots.handed_over();
        assert!(!slots.take("c"));
    }

    #[test]
    fn claimed_messages_start_while_slots_are_free_even_with_queues_closed() {
        let slots = Slots::new(3, 2, 0);

        assert!(slots.try_start("a"));
        assert!(slots.try_start("a"));
        assert!(!slots.try_start("a"), "the endpoint holds its limit");
        assert!(slots.try_start("b"));
        assert!(!slots.try_start("c"), "every slot is held");

        assert_eq!(slots.available(), 0);
        assert_eq!(slots.saturated(), ["a"]);
        assert!(slots.blocked().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_blocked_endpoint_takes_nothing_until_its_breaker_may_close() {
        let slots = Slots::new(4, 4, 4);
        slots.set_open(true);
        slots.block("a".to_owned(), Instant::now() + Duration::from_secs(5));

        assert!(!slots.take("a"));
        assert!(!slots.may_start("a"));
        assert_eq!(slots.blocked(), ["a"]);

        tokio::time::advance(Duration::from_secs(5)).await;

        assert!(slots.may_start("a"));
        assert!(slots.take("a"));
        assert!(slots.blocked().is_empty());
    }
}
