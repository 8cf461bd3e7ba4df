//! [`RetryState`]: the delays of one request's retries.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::SeedableRng;
use tokio::time::Instant;

use super::jitter::uniform;
use super::{Jitter, RetryPolicy};

/// The retry sequence of one request, from [`RetryPolicy::start`].
///
/// Call [`next_delay`](RetryState::next_delay) after each failed attempt: it returns how long to
/// wait before the next one, or `None` to give up because the attempts or the elapsed-time
/// limit are spent. Time is read from [`tokio::time::Instant`], so a paused test clock drives it.
#[derive(Debug)]
pub struct RetryState {
    policy: RetryPolicy,
    retries: u32,
    started: Instant,
    previous: Option<Duration>,
    seed: Option<u64>,
    rng: Option<SmallRng>,
}

impl RetryState {
    pub(crate) fn new(policy: RetryPolicy, seed: Option<u64>) -> Self {
        RetryState {
            policy,
            retries: 0,
            started: Instant::now(),
            previous: None,
            seed,
            rng: None,
        }
    }

    /// The attempts made so far, assuming one attempt per delay handed out plus the first.
    pub fn attempts(&self) -> u32 {
        self.retries + 1
    }

    /// The retries handed out so far.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The time since [`RetryPolicy::start`].
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The policy this sequence follows.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The delay before the next attempt, or `None` to give up.
    ///
    /// `retry_after` is the server's `Retry-After`, if it sent one: the delay is then at least
    /// that long, up to the policy's cap. A retry whose delay would end past the policy's
    /// `max_elapsed` is not made.
    pub fn next_delay(&mut self, retry_after: Option<Duration>) -> Option<Duration> {
        if self.attempts() >= self.policy.inner.max_attempts {
            return None;
        }

        let mut delay = self.jittered(self.retries);
        let inner = &self.policy.inner;
        if let Some(retry_after) = retry_after {
            delay = delay.max(retry_after.min(inner.retry_after_cap));
        }

        if let Some(max_elapsed) = inner.max_elapsed {
            if self.elapsed().saturating_add(delay) > max_elapsed {
                return None;
            }
        }

        self.retries += 1;
        Some(delay)
    }

    fn jittered(&mut self, n: u32) -> Duration {
        let policy = self.policy.clone();
        let inner = &policy.inner;
        let cap = inner.max_delay;
        let delay = inner.backoff.delay(n).min(cap);

        match inner.jitter {
            Jitter::None => delay,
            Jitter::Full => uniform(self.rng(), Duration::ZERO, delay),
            Jitter::Equal => {
                let half = delay / 2;
                half + uniform(self.rng(), Duration::ZERO, delay - half)
            }
            Jitter::Decorrelated => {
                let first = inner.backoff.delay(0).min(cap);
                let previous = self.previous.unwrap_or(first);
                let high = previous.saturating_mul(3).min(cap);
                let drawn = uniform(self.rng(), first, high);
                self.previous = Some(drawn);
                drawn
            }
        }
    }

    fn rng(&mut self) -> &mut SmallRng {
        let seed = self.seed;
        self.rng.get_or_insert_with(|| match seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_rng(rand::thread_rng())
                .unwrap_or_else(|_| SmallRng::seed_from_u64(u64::from(std::process::id()))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resilience::RetryPolicyBuilder;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn delays(builder: RetryPolicyBuilder) -> Vec<Duration> {
        let mut state = builder.build().unwrap().start();
        std::iter::from_fn(|| state.next_delay(None)).collect()
    }

    #[test]
    fn fixed_waits_the_same_before_every_retry() {
        let builder = RetryPolicy::builder()
            .fixed(ms(250))
            .jitter(Jitter::None)
            .max_attempts(4);

        assert_eq!(delays(builder), vec![ms(250), ms(250), ms(250)]);
    }

    #[test]
    fn linear_grows_by_its_step() {
        let builder = RetryPolicy::builder()
            .linear(ms(100), ms(50))
            .jitter(Jitter::None)
            .max_attempts(5);

        assert_eq!(delays(builder), vec![ms(100), ms(150), ms(200), ms(250)]);
    }

    #[test]
    fn exponential_multiplies_by_its_base_up_to_the_cap() {
        let builder = RetryPolicy::builder()
            .exponential(ms(100), 3.0)
            .jitter(Jitter::None)
            .max_delay(ms(2000))
            .max_attempts(6);

        assert_eq!(
            delays(builder),
            vec![ms(100), ms(300), ms(900), ms(2000), ms(2000)]
        );
    }

    #[test]
    fn a_schedule_is_followed_and_its_last_delay_repeats() {
        let builder = RetryPolicy::builder()
            .schedule(vec![ms(10), ms(20), ms(40)])
            .jitter(Jitter::None)
            .max_attempts(6);

        assert_eq!(
            delays(builder),
            vec![ms(10), ms(20), ms(40), ms(40), ms(40)]
        );
    }

    #[test]
    fn a_schedule_alone_makes_one_retry_per_delay() {
        let builder = RetryPolicy::builder()
            .schedule(vec![ms(10), ms(20)])
            .jitter(Jitter::None);

        assert_eq!(delays(builder), vec![ms(10), ms(20)]);
    }

    #[test]
    fn full_jitter_stays_between_zero_and_the_delay() {
        let policy = RetryPolicy::builder()
            .exponential(ms(100), 2.0)
            .jitter(Jitter::Full)
            .max_attempts(5)
            .seed(42)
            .build()
            .unwrap();

        for _ in 0..200 {
            let mut state = policy.start();
            for n in 0..4 {
                let delay = state.next_delay(None).unwrap();
                assert!(delay <= ms(100 << n), "retry {n}: {delay:?}");
            }
        }
        let all: Vec<_> = (0..200)
            .map(|_| policy.start().next_delay(None).unwrap())
            .collect();
        assert!(all.iter().any(|d| *d < ms(20)) && all.iter().any(|d| *d > ms(80)));
    }

    #[test]
    fn equal_jitter_stays_between_half_the_delay_and_the_delay() {
        let policy = RetryPolicy::builder()
            .fixed(ms(1000))
            .jitter(Jitter::Equal)
            .max_attempts(2)
            .seed(7)
            .build()
            .unwrap();

        let all: Vec<_> = (0..500)
            .map(|_| policy.start().next_delay(None).unwrap())
            .collect();

        assert!(all.iter().all(|d| *d >= ms(500) && *d <= ms(1000)));
        assert!(all.iter().any(|d| *d < ms(600)) && all.iter().any(|d| *d > ms(900)));
    }

    #[test]
    fn decorrelated_jitter_stays_between_the_first_delay_and_three_times_the_previous() {
        let policy = RetryPolicy::builder()
            .exponential(ms(100), 2.0)
            .jitter(Jitter::Decorrelated)
            .max_delay(ms(5000))
            .max_attempts(10)
            .seed(3)
            .build()
            .unwrap();

        for _ in 0..100 {
            let mut state = policy.start();
            let mut previous = ms(100);
            while let Some(delay) = state.next_delay(None) {
                assert!(delay >= ms(100), "{delay:?}");
                assert!(
                    delay <= (previous * 3).min(ms(5000)),
                    "{delay:?} after {previous:?}"
                );
                previous = delay;
            }
        }
    }

    #[test]
    fn a_seed_makes_the_delays_reproducible() {
        let build = || {
            RetryPolicy::builder()
                .exponential(ms(100), 2.0)
                .jitter(Jitter::Full)
                .max_attempts(6)
                .seed(99)
                .build()
                .unwrap()
        };
        let run = |policy: &RetryPolicy| {
            let mut state = policy.start();
            std::iter::from_fn(|| state.next_delay(None)).collect::<Vec<_>>()
        };
        let (first, second) = (build(), build());

        let a = [run(&first), run(&first)];
        let b = [run(&second), run(&second)];

        assert_eq!(a, b);
        assert_ne!(
            a[0], a[1],
            "two requests of one policy get different jitter"
        );
    }

    #[test]
    fn retry_after_lengthens_the_delay_up_to_its_cap() {
        let policy = RetryPolicy::builder()
            .fixed(ms(100))
            .jitter(Jitter::None)
            .retry_after_cap(Duration::from_secs(10))
            .max_attempts(4)
            .build()
            .unwrap();
        let mut state = policy.start();

        let short = state.next_delay(Some(ms(20)));
        let honoured = state.next_delay(Some(Duration::from_secs(4)));
        let capped = state.next_delay(Some(Duration::from_secs(3600)));

        assert_eq!(short, Some(ms(100)));
        assert_eq!(honoured, Some(Duration::from_secs(4)));
        assert_eq!(capped, Some(Duration::from_secs(10)));
    }

    #[tokio::test(start_paused = true)]
    async fn max_elapsed_stops_a_retry_that_would_end_too_late() {
        let policy = RetryPolicy::builder()
            .fixed(Duration::from_secs(4))
            .jitter(Jitter::None)
            .max_attempts(100)
            .max_elapsed(Duration::from_secs(10))
            .build()
            .unwrap();
        let mut state = policy.start();

        let mut waited = Vec::new();
        while let Some(delay) = state.next_delay(None) {
            tokio::time::sleep(delay).await;
            waited.push(delay);
        }

        assert_eq!(waited, vec![Duration::from_secs(4), Duration::from_secs(4)]);
        assert_eq!(state.retries(), 2);
    }
}
