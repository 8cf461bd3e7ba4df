//! The reconnect delay shared by the sources.

// Without a broker feature only the relay's `Backoff::next_delay` is used.
#![cfg_attr(
    not(any(feature = "redis", feature = "nats", feature = "rabbitmq")),
    allow(dead_code)
)]

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Exponential backoff with equal jitter: each delay is between half and all of the current
/// step, and the step doubles up to `max`.
#[derive(Debug)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    step: Duration,
    rng: SmallRng,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            step: initial,
            rng: SmallRng::from_entropy(),
        }
    }

    #[cfg(test)]
    fn seeded(initial: Duration, max: Duration, seed: u64) -> Self {
        Backoff {
            rng: SmallRng::seed_from_u64(seed),
            ..Backoff::new(initial, max)
        }
    }

    /// The next delay to wait.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let half = self.step / 2;
        let jitter = self.rng.gen_range(0..=half.as_millis() as u64);
        let delay = half + Duration::from_millis(jitter);
        self.step = (self.step * 2).min(self.max);
        delay
    }

    /// Starts over after a success.
    pub(crate) fn reset(&mut self) {
        self.step = self.initial;
    }
}

/// The default reconnect backoff of every source: 100 ms doubling up to 5 s.
pub(crate) fn reconnect_backoff() -> Backoff {
    Backoff::new(Duration::from_millis(100), Duration::from_secs(5))
}

/// Paces reconnects of one source: logs and counts each failure, sleeps, and logs the
/// recovery.
#[derive(Debug)]
pub(crate) struct Reconnect {
    source: String,
    backoff: Backoff,
    failures: u32,
}

impl Reconnect {
    pub(crate) fn new(source: &str) -> Self {
        Reconnect {
            source: source.to_owned(),
            backoff: reconnect_backoff(),
            failures: 0,
        }
    }

    /// Records a lost or refused connection and waits before the next try.
    pub(crate) async fn failed(&mut self, error: &(dyn std::fmt::Display + Sync)) {
        self.failures += 1;
        let delay = self.backoff.next_delay();
        metrics::counter!("pythia_source_reconnects_total", "source" => self.source.clone())
            .increment(1);
        tracing::warn!(
            source = %self.source,
            error = %error,
            failures = self.failures,
            retry_in_ms = delay.as_millis() as u64,
            "broker unavailable, reconnecting"
        );
        tokio::time::sleep(delay).await;
    }

    /// Records a working connection.
    pub(crate) fn connected(&mut self) {
        if self.failures > 0 {
            tracing::info!(source = %self.source, failures = self.failures, "broker reconnected");
        }
        self.failures = 0;
        self.backoff.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_up_to_the_cap_and_stay_within_their_step() {
        let mut backoff = Backoff::seeded(Duration::from_millis(100), Duration::from_secs(1), 7);

        let delays: Vec<_> = (0..8).map(|_| backoff.next_delay()).collect();

        let steps = [100, 200, 400, 800, 1000, 1000, 1000, 1000];
        for (delay, step) in delays.iter().zip(steps) {
            assert!(
                delay.as_millis() >= step / 2 && delay.as_millis() <= step,
                "{delay:?}"
            );
        }
    }

    #[test]
    fn reset_starts_over_from_the_initial_step() {
        let mut backoff = Backoff::seeded(Duration::from_millis(100), Duration::from_secs(5), 1);
        for _ in 0..5 {
            backoff.next_delay();
        }

        backoff.reset();

        assert!(backoff.next_delay() <= Duration::from_millis(100));
    }
}
