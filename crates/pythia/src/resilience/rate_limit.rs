//! [`RateLimiter`]: a token bucket on tokio time.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use crate::resilience::ConfigError;

/// A rate: `per_second` calls on average, with bursts of up to `burst` calls.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// The sustained rate, in calls per second (above zero).
    pub per_second: f64,
    /// The most calls allowed at once after an idle period (at least 1).
    pub burst: u32,
}

impl RateLimit {
    /// `per_second` calls per second, with a burst of the same size (at least 1).
    pub fn per_second(per_second: f64) -> Self {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let burst = per_second.ceil().clamp(1.0, f64::from(u32::MAX)) as u32;
        RateLimit { per_second, burst }
    }

    /// Checks the rate is usable: a finite rate above zero and a burst of at least 1.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.per_second.is_finite() || self.per_second <= 0.0 {
            return Err(ConfigError::invalid(
                "rate_limit",
                format!(
                    "per_second must be a finite number above 0, got {}",
                    self.per_second
                ),
            ));
        }
        if self.burst == 0 {
            return Err(ConfigError::invalid(
                "rate_limit",
                "burst must be at least 1",
            ));
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Bucket {
    /// Tokens available; negative when callers have reserved future tokens.
    tokens: f64,
    refilled: Instant,
}

/// A token bucket: [`acquire`](RateLimiter::acquire) waits for a token,
/// [`try_acquire`](RateLimiter::try_acquire) says how long one would take.
///
/// Cheap to clone; clones share the bucket. Time is tokio time, so a paused test clock drives
/// it. Waiters are served in arrival order: each reserves the next token and sleeps until it is
/// due (a cancelled wait keeps its reservation, which errs on the side of fewer calls).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use pythia::resilience::{RateLimit, RateLimiter};
///
/// let limiter = RateLimiter::new(RateLimit { per_second: 10.0, burst: 2 });
/// limiter.acquire().await;
/// limiter.acquire().await;
/// assert!(limiter.try_acquire().is_err()); // the burst is spent
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    bucket: Arc<Mutex<Bucket>>,
}

impl RateLimiter {
    /// A full bucket. An unusable rate (see [`RateLimit::validate`]) is clamped to one call per
    /// thousand seconds and a burst of 1, so the limiter errs on the side of fewer calls.
    pub fn new(limit: RateLimit) -> Self {
        let limit = match limit.validate() {
            Ok(()) => limit,
            Err(_) => RateLimit {
                per_second: if limit.per_second.is_finite() && limit.per_second > 0.0 {
                    limit.per_second
                } else {
                    0.001
                },
                burst: limit.burst.max(1),
            },
        };
        let bucket = Bucket {
            tokens: f64::from(limit.burst),
            refilled: Instant::now(),
        };
        RateLimiter {
            limit,
            bucket: Arc::new(Mutex::new(bucket)),
        }
    }

    /// The rate this limiter enforces.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Takes a token now, or says how long until one is available.
    pub fn try_acquire(&self) -> Result<(), Duration> {
        let mut bucket = self.bucket.lock();
        self.refill(&mut bucket);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(self.time_for(1.0 - bucket.tokens))
        }
    }

    /// Waits for a token.
    pub async fn acquire(&self) {
        let wait = {
            let mut bucket = self.bucket.lock();
            self.refill(&mut bucket);
            bucket.tokens -= 1.0;
            (bucket.tokens < 0.0).then(|| self.time_for(-bucket.tokens))
        };
        if let Some(wait) = wait {
            tokio::time::sleep(wait).await;
        }
    }

    fn refill(&self, bucket: &mut Bucket) {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = elapsed
            .mul_add(self.limit.per_second, bucket.tokens)
            .min(f64::from(self.limit.burst));
        bucket.refilled = now;
    }

    fn time_for(&self, tokens: f64) -> Duration {
        Duration::try_from_secs_f64(tokens / self.limit.per_second).unwrap_or(Duration::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_passes_at_once_then_the_rate_applies() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 4.0,
            burst: 3,
        });
        let start = Instant::now();

        let mut passed_at = Vec::new();
        for _ in 0..7 {
            limiter.acquire().await;
            passed_at.push(start.elapsed());
        }

        let ms = |n| Duration::from_millis(n);
        assert_eq!(
            passed_at,
            vec![ms(0), ms(0), ms(0), ms(250), ms(500), ms(750), ms(1000)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn try_acquire_says_how_long_until_a_token() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 2.0,
            burst: 1,
        });

        let first = limiter.try_acquire();
        let second = limiter.try_acquire();
        tokio::time::advance(Duration::from_millis(500)).await;
        let third = limiter.try_acquire();

        assert_eq!(first, Ok(()));
        assert_eq!(second, Err(Duration::from_millis(500)));
        assert_eq!(third, Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_bucket_refills_only_up_to_its_burst() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 100.0,
            burst: 2,
        });

        tokio::time::advance(Duration::from_secs(60)).await;
        let passed = (0..5).filter(|_| limiter.try_acquire().is_ok()).count();

        assert_eq!(passed, 2);
    }

    #[test]
    fn unusable_rates_are_reported() {
        for limit in [
            RateLimit {
                per_second: 0.0,
                burst: 1,
            },
            RateLimit {
                per_second: f64::NAN,
                burst: 1,
            },
            RateLimit {
                per_second: 1.0,
                burst: 0,
            },
        ] {
            assert_eq!(limit.validate().unwrap_err().field(), "rate_limit");
        }
    }
}
