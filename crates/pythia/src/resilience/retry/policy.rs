//! [`RetryPolicy`]: when to retry and how long to wait.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use super::{Jitter, RetryState};
use crate::resilience::ConfigError;

/// How the delay before retry number `n` (counting from zero) is computed, before jitter.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Backoff {
    Fixed(Duration),
    Linear { initial: Duration, step: Duration },
    Exponential { initial: Duration, base: f64 },
    Schedule(Arc<[Duration]>),
}

impl Backoff {
    /// The delay before retry `n` (0 is the first retry), uncapped.
    pub(crate) fn delay(&self, n: u32) -> Duration {
        match self {
            Backoff::Fixed(delay) => *delay,
            Backoff::Linear { initial, step } => initial.saturating_add(step.saturating_mul(n)),
            Backoff::Exponential { initial, base } => {
                let factor = base.powi(i32::try_from(n).unwrap_or(i32::MAX));
                Duration::try_from_secs_f64(initial.as_secs_f64() * factor).unwrap_or(Duration::MAX)
            }
            Backoff::Schedule(delays) => {
                let index = usize::try_from(n)
                    .unwrap_or(usize::MAX)
                    .min(delays.len() - 1);
                delays[index]
            }
        }
    }
}

/// A set of HTTP status codes, as a bitmap over 0..1024.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct StatusSet([u64; 16]);

impl StatusSet {
    fn empty() -> Self {
        StatusSet([0; 16])
    }

    fn insert(&mut self, status: u16) {
        if status < 1024 {
            self.0[usize::from(status / 64)] |= 1 << (status % 64);
        }
    }

    pub(crate) fn contains(&self, status: u16) -> bool {
        status < 1024 && self.0[usize::from(status / 64)] & (1 << (status % 64)) != 0
    }

    fn default_retryable() -> Self {
        let mut set = StatusSet::empty();
        set.insert(408);
        set.insert(429);
        (500..600).filter(|s| *s != 501).for_each(|s| set.insert(s));
        set
    }
}

impl fmt::Debug for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries((0..1024u16).filter(|s| self.contains(*s)))
            .finish()
    }
}

pub(crate) struct PolicyInner {
    pub(crate) backoff: Backoff,
    pub(crate) jitter: Jitter,
    pub(crate) max_attempts: u32,
    pub(crate) max_delay: Duration,
    pub(crate) max_elapsed: Option<Duration>,
    pub(crate) retryable: StatusSet,
    pub(crate) retry_after_cap: Duration,
    pub(crate) seed: Option<u64>,
    pub(crate) starts: AtomicU64,
}

/// When to retry a failed attempt and how long to wait before it.
///
/// A policy is immutable and cheap to clone; each request (or each webhook delivery) calls
/// [`RetryPolicy::start`] to get a [`RetryState`] that hands out its delays. The default policy
/// makes at most 3 attempts, exponentially from 1 s with base 2, full jitter, each delay capped
/// at 30 s, and retries statuses 408, 429 and 5xx except 501.
///
/// ```
/// use std::time::Duration;
/// use pythia::resilience::{Jitter, RetryPolicy};
///
/// let policy = RetryPolicy::builder()
///     .exponential(Duration::from_millis(100), 2.0)
///     .jitter(Jitter::None)
///     .max_attempts(4)
///     .build()
///     .unwrap();
///
/// let mut state = policy.start();
/// assert_eq!(state.next_delay(None), Some(Duration::from_millis(100)));
/// assert_eq!(state.next_delay(None), Some(Duration::from_millis(200)));
/// assert_eq!(state.next_delay(None), Some(Duration::from_millis(400)));
/// assert_eq!(state.next_delay(None), None); // four attempts made
/// ```
#[derive(Clone)]
pub struct RetryPolicy {
    pub(crate) inner: Arc<PolicyInner>,
}

impl RetryPolicy {
    /// A builder starting from the default policy.
    pub fn builder() -> RetryPolicyBuilder {
        RetryPolicyBuilder::default()
    }

    /// A policy that never retries: one attempt only.
    pub fn none() -> Self {
        RetryPolicy::builder()
            .max_attempts(1)
            .build()
            .expect("a single attempt is a valid policy")
    }

    /// The most attempts a request makes, the first one included.
    pub fn max_attempts(&self) -> u32 {
        self.inner.max_attempts
    }

    /// The delay before retry `retry` (0 is the first retry) as the strategy computes it,
    /// capped by `max_delay`, before jitter: what a [`Jitter::None`] policy waits.
    pub fn nominal_delay(&self, retry: u32) -> Duration {
        self.inner.backoff.delay(retry).min(self.inner.max_delay)
    }

    /// The jitter applied to each delay.
    pub fn jitter(&self) -> Jitter {
        self.inner.jitter
    }

    /// The longest a `Retry-After` header is honoured for.
    pub fn retry_after_cap(&self) -> Duration {
        self.inner.retry_after_cap
    }

    /// The limit on the total time spent retrying, if any.
    pub fn max_elapsed(&self) -> Option<Duration> {
        self.inner.max_elapsed
    }

    /// Whether a response with this status is worth another attempt.
    pub fn is_retryable_status(&self, status: StatusCode) -> bool {
        self.inner.retryable.contains(status.as_u16())
    }

    /// Starts the retry sequence of one request.
    pub fn start(&self) -> RetryState {
        let seed = self.inner.seed.map(|seed| {
            let n = self.inner.starts.fetch_add(1, Ordering::Relaxed);
            seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        });
        RetryState::new(self.clone(), seed)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::builder()
            .build()
            .expect("the default policy is valid")
    }
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("RetryPolicy")
            .field("backoff", &inner.backoff)
            .field("jitter", &inner.jitter)
            .field("max_attempts", &inner.max_attempts)
            .field("max_delay", &inner.max_delay)
            .field("max_elapsed", &inner.max_elapsed)
            .field("retryable_statuses", &inner.retryable)
            .field("retry_after_cap", &inner.retry_after_cap)
            .field("seed", &inner.seed)
            .finish()
    }
}

impl PartialEq for RetryPolicy {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&self.inner, &other.inner);
        a.backoff == b.backoff
            && a.jitter == b.jitter
            && a.max_attempts == b.max_attempts
            && a.max_delay == b.max_delay
            && a.max_elapsed == b.max_elapsed
            && a.retryable == b.retryable
            && a.retry_after_cap == b.retry_after_cap
            && a.seed == b.seed
    }
}

/// Builds a [`RetryPolicy`]. Setters never fail; [`RetryPolicyBuilder::build`] reports
/// inconsistent settings.
#[derive(Clone, Debug)]
pub struct RetryPolicyBuilder {
    backoff: Backoff,
    jitter: Jitter,
    max_attempts: Option<u32>,
    max_delay: Duration,
    max_elapsed: Option<Duration>,
    retryable: StatusSet,
    retry_after_cap: Duration,
    seed: Option<u64>,
}

impl Default for RetryPolicyBuilder {
    fn default() -> Self {
        RetryPolicyBuilder {
            backoff: Backoff::Exponential {
                initial: Duration::from_secs(1),
                base: 2.0,
            },
            jitter: Jitter::Full,
            max_attempts: None,
            max_delay: Duration::from_secs(30),
            max_elapsed: None,
            retryable: StatusSet::default_retryable(),
            retry_after_cap: Duration::from_secs(60),
            seed: None,
        }
    }
}

impl RetryPolicyBuilder {
    /// The same delay before every retry.
    ///
    /// Default: exponential from 1 s with base 2.
    pub fn fixed(mut self, delay: Duration) -> Self {
        self.backoff = Backoff::Fixed(delay);
        self
    }

    /// A delay growing by `step` on each retry: `initial`, `initial + step`, ...
    ///
    /// Default: exponential from 1 s with base 2.
    pub fn linear(mut self, initial: Duration, step: Duration) -> Self {
        self.backoff = Backoff::Linear { initial, step };
        self
    }

    /// A delay multiplied by `base` on each retry: `initial`, `initial × base`, ...
    ///
    /// Default: exponential from 1 s with base 2.
    pub fn exponential(mut self, initial: Duration, base: f64) -> Self {
        self.backoff = Backoff::Exponential { initial, base };
        self
    }

    /// An explicit list of delays, one per retry; the last one repeats if `max_attempts` allows
    /// more retries than the list has entries. Unless `max_attempts` is set, the schedule makes
    /// one attempt more than it has delays.
    ///
    /// Default: exponential from 1 s with base 2.
    pub fn schedule(mut self, delays: Vec<Duration>) -> Self {
        self.backoff = Backoff::Schedule(delays.into());
        self
    }

    /// How delays are randomised.
    ///
    /// Default: [`Jitter::Full`].
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// The most attempts per request, the first one included; 1 disables retries.
    ///
    /// Default: 3, or one more than the schedule's length for [`schedule`](Self::schedule).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// The cap on each delay (a schedule's entries are capped too).
    ///
    /// Default: 30 s.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The limit on the time from the first attempt to the start of the last retry: a retry
    /// whose delay would end past it is not made.
    ///
    /// Default: none.
    pub fn max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = Some(elapsed);
        self
    }

    /// The statuses worth another attempt, replacing the default set.
    ///
    /// Default: 408, 429 and every 5xx except 501.
    pub fn retryable_statuses(mut self, statuses: impl IntoIterator<Item = u16>) -> Self {
        self.retryable = StatusSet::empty();
        statuses.into_iter().for_each(|s| self.retryable.insert(s));
        self
    }

    /// The longest a `Retry-After` header is honoured for: a longer one waits this long.
    ///
    /// Default: 60 s.
    pub fn retry_after_cap(mut self, cap: Duration) -> Self {
        self.retry_after_cap = cap;
        self
    }

    /// Seeds the jitter's random number generator, making every delay sequence reproducible
    /// (the n-th [`RetryPolicy::start`] always yields the same delays).
    ///
    /// Default: seeded from the operating system.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Checks the settings and builds the policy.
    pub fn build(self) -> Result<RetryPolicy, ConfigError> {
        let max_attempts = match (&self.backoff, self.max_attempts) {
            (_, Some(0)) => {
                return Err(ConfigError::invalid("max_attempts", "must be at least 1"));
            }
            (_, Some(attempts)) => attempts,
            (Backoff::Schedule(delays), None) => u32::try_from(delays.len())
                .unwrap_or(u32::MAX)
                .saturating_add(1),
            (_, None) => 3,
        };

        match &self.backoff {
            Backoff::Exponential { base, .. } if !base.is_finite() || *base < 1.0 => {
                return Err(ConfigError::invalid(
                    "exponential",
                    format!("base must be a finite number of at least 1, got {base}"),
                ));
            }
            Backoff::Schedule(delays) if delays.is_empty() => {
                return Err(ConfigError::invalid(
                    "schedule",
                    "must hold at least one delay",
                ));
            }
            _ => {}
        }

        if self.max_delay.is_zero() && self.backoff.delay(0) > Duration::ZERO {
            return Err(ConfigError::invalid(
                "max_delay",
                "must be greater than zero",
            ));
        }

        Ok(RetryPolicy {
            inner: Arc::new(PolicyInner {
                backoff: self.backoff,
                jitter: self.jitter,
                max_attempts,
                max_delay: self.max_delay,
                max_elapsed: self.max_elapsed,
                retryable: self.retryable,
                retry_after_cap: self.retry_after_cap,
                seed: self.seed,
                starts: AtomicU64::new(0),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_retries_408_429_and_5xx_except_501() {
        let policy = RetryPolicy::default();
        let retryable = |s: u16| policy.is_retryable_status(StatusCode::from_u16(s).unwrap());

        assert!(retryable(408) && retryable(429) && retryable(500) && retryable(503));
        assert!(retryable(599));
        assert!(!retryable(501) && !retryable(404) && !retryable(400) && !retryable(200));
    }

    #[test]
    fn custom_retryable_statuses_replace_the_default_set() {
        let policy = RetryPolicy::builder()
            .retryable_statuses([418])
            .build()
            .unwrap();

        assert!(policy.is_retryable_status(StatusCode::IM_A_TEAPOT));
        assert!(!policy.is_retryable_status(StatusCode::SERVICE_UNAVAILABLE));
    }

    #[test]
    fn zero_attempts_is_refused() {
        let error = RetryPolicy::builder().max_attempts(0).build().unwrap_err();

        assert_eq!(error.field(), "max_attempts");
        assert_eq!(
            error.to_string(),
            "invalid max_attempts: must be at least 1"
        );
    }

    #[test]
    fn an_exponential_base_below_one_is_refused() {
        for base in [0.5, f64::NAN, f64::INFINITY] {
            let result = RetryPolicy::builder()
                .exponential(Duration::from_secs(1), base)
                .build();

            assert_eq!(result.unwrap_err().field(), "exponential");
        }
    }

    #[test]
    fn an_empty_schedule_is_refused() {
        let error = RetryPolicy::builder().schedule(vec![]).build().unwrap_err();

        assert_eq!(error.field(), "schedule");
    }

    #[test]
    fn a_schedule_makes_one_attempt_more_than_its_delays_by_default() {
        let delays = vec![Duration::from_secs(1), Duration::from_secs(5)];

        let policy = RetryPolicy::builder().schedule(delays).build().unwrap();

        assert_eq!(policy.max_attempts(), 3);
    }

    #[test]
    fn none_makes_a_single_attempt() {
        let mut state = RetryPolicy::none().start();

        assert_eq!(RetryPolicy::none().max_attempts(), 1);
        assert_eq!(state.next_delay(None), None);
    }

    #[test]
    fn huge_exponents_saturate_instead_of_overflowing() {
        let backoff = Backoff::Exponential {
            initial: Duration::from_secs(1),
            base: 10.0,
        };

        assert_eq!(backoff.delay(400), Duration::MAX);
    }
}
