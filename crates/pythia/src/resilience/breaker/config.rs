//! [`CircuitBreakerConfig`]: when a breaker trips and how long it stays open.

use std::time::Duration;

use crate::resilience::ConfigError;

/// When a [`CircuitBreaker`](super::CircuitBreaker) trips and how it recovers.
///
/// A breaker trips (opens) on whichever comes first:
/// - `failure_threshold` consecutive failures (default 5);
/// - a failure rate at or above `failure_rate` over the last `window` calls, once at least
///   `min_calls` calls are in the window (off by default);
/// - a slow-call rate at or above `slow_call_rate`, a call being slow when it takes at least
///   `slow_call_threshold` (off by default; uses the same window).
///
/// Open, it refuses calls for `open_duration`, then lets `half_open_probes` calls through: if
/// they all succeed it closes, if one fails it opens again for `open_backoff` times longer, up
/// to `max_open_duration`.
#[derive(Clone, Debug, PartialEq)]
pub struct CircuitBreakerConfig {
    pub(crate) failure_threshold: u32,
    pub(crate) failure_rate: Option<f64>,
    pub(crate) window: usize,
    pub(crate) min_calls: usize,
    pub(crate) slow_call_threshold: Option<Duration>,
    pub(crate) slow_call_rate: f64,
    pub(crate) half_open_probes: u32,
    pub(crate) open_duration: Duration,
    pub(crate) max_open_duration: Duration,
    pub(crate) open_backoff: f64,
}

impl CircuitBreakerConfig {
    /// A builder starting from the defaults.
    pub fn builder() -> CircuitBreakerConfigBuilder {
        CircuitBreakerConfigBuilder {
            config: CircuitBreakerConfig::defaults(),
        }
    }

    fn defaults() -> Self {
        CircuitBreakerConfig {
            failure_threshold: 5,
            failure_rate: None,
            window: 100,
            min_calls: 20,
            slow_call_threshold: None,
            slow_call_rate: 1.0,
            half_open_probes: 1,
            open_duration: Duration::from_secs(30),
            max_open_duration: Duration::from_secs(300),
            open_backoff: 2.0,
        }
    }

    /// The time the breaker stays open after its `trips`-th consecutive trip (0 is the first).
    pub(crate) fn open_duration_for(&self, trips: u32) -> Duration {
        let factor = self
            .open_backoff
            .powi(i32::try_from(trips).unwrap_or(i32::MAX));
        Duration::try_from_secs_f64(self.open_duration.as_secs_f64() * factor)
            .unwrap_or(Duration::MAX)
            .min(self.max_open_duration.max(self.open_duration))
    }

    /// Whether a window of recent calls must be kept.
    pub(crate) fn uses_window(&self) -> bool {
        self.failure_rate.is_some() || self.slow_call_threshold.is_some()
    }

    /// The number of consecutive failures that trips the breaker.
    pub fn failure_threshold(&self) -> u32 {
        self.failure_threshold
    }

    /// The time the breaker first stays open.
    pub fn open_duration(&self) -> Duration {
        self.open_duration
    }
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        CircuitBreakerConfig::defaults()
    }
}

/// Builds a [`CircuitBreakerConfig`]; setters never fail, [`build`](Self::build) checks.
#[derive(Clone, Debug)]
pub struct CircuitBreakerConfigBuilder {
    config: CircuitBreakerConfig,
}

impl CircuitBreakerConfigBuilder {
    /// Consecutive failures that trip the breaker; 0 turns this trigger off.
    ///
    /// Default: 5.
    pub fn failure_threshold(mut self, failures: u32) -> Self {
        self.config.failure_threshold = failures;
        self
    }

    /// Trips when the share of failures over the last `window` calls reaches `rate` (0 to 1),
    /// once the window holds at least `min_calls` calls.
    ///
    /// Default: off (window 100, min calls 20 when only slow calls are tracked).
    pub fn failure_rate(mut self, rate: f64, window: usize, min_calls: usize) -> Self {
        self.config.failure_rate = Some(rate);
        self.config.window = window;
        self.config.min_calls = min_calls;
        self
    }

    /// Trips when the share of calls taking at least `threshold` reaches `rate` (0 to 1), over
    /// the window of [`failure_rate`](Self::failure_rate).
    ///
    /// Default: off.
    pub fn slow_calls(mut self, threshold: Duration, rate: f64) -> Self {
        self.config.slow_call_threshold = Some(threshold);
        self.config.slow_call_rate = rate;
        self
    }

    /// Calls let through in half-open; all must succeed to close.
    ///
    /// Default: 1.
    pub fn half_open_probes(mut self, probes: u32) -> Self {
        self.config.half_open_probes = probes;
        self
    }

    /// How long the breaker stays open after its first trip.
    ///
    /// Default: 30 s.
    pub fn open_duration(mut self, duration: Duration) -> Self {
        self.config.open_duration = duration;
        self
    }

    /// The cap on the open duration as it grows on repeated trips.
    ///
    /// Default: 300 s.
    pub fn max_open_duration(mut self, duration: Duration) -> Self {
        self.config.max_open_duration = duration;
        self
    }

    /// The factor the open duration grows by on each trip that follows a failed probe; 1 keeps
    /// it constant.
    ///
    /// Default: 2.
    pub fn open_backoff(mut self, factor: f64) -> Self {
        self.config.open_backoff = factor;
        self
    }

    /// Checks the settings and builds the configuration.
    pub fn build(self) -> Result<CircuitBreakerConfig, ConfigError> {
        let config = self.config;
        let is_rate = |r: f64| r.is_finite() && r > 0.0 && r <= 1.0;

        if let Some(rate) = config.failure_rate {
            if !is_rate(rate) {
                return Err(ConfigError::invalid(
                    "failure_rate",
                    format!("rate must be above 0 and at most 1, got {rate}"),
                ));
            }
        }
        if config.uses_window() && (config.window == 0 || config.min_calls > config.window) {
            return Err(ConfigError::invalid(
                "failure_rate",
                format!(
                    "the window ({}) must be at least 1 and hold min_calls ({})",
                    config.window, config.min_calls
                ),
            ));
        }
        if config.slow_call_threshold.is_some() && !is_rate(config.slow_call_rate) {
            return Err(ConfigError::invalid(
                "slow_calls",
                format!(
                    "rate must be above 0 and at most 1, got {}",
                    config.slow_call_rate
                ),
            ));
        }
        if config.failure_threshold == 0 && config.failure_rate.is_none() {
            return Err(ConfigError::invalid(
                "failure_threshold",
                "must be at least 1 unless a failure rate is set",
            ));
        }
        if config.half_open_probes == 0 {
            return Err(ConfigError::invalid(
                "half_open_probes",
                "must be at least 1",
            ));
        }
        if !config.open_backoff.is_finite() || config.open_backoff < 1.0 {
            return Err(ConfigError::invalid(
                "open_backoff",
                format!(
                    "must be a finite number of at least 1, got {}",
                    config.open_backoff
                ),
            ));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_duration_grows_by_the_backoff_up_to_its_cap() {
        let config = CircuitBreakerConfig::builder()
            .open_duration(Duration::from_secs(10))
            .open_backoff(2.0)
            .max_open_duration(Duration::from_secs(50))
            .build()
            .unwrap();

        let durations: Vec<_> = (0..5)
            .map(|t| config.open_duration_for(t).as_secs())
            .collect();

        assert_eq!(durations, vec![10, 20, 40, 50, 50]);
    }

    #[test]
    fn bad_settings_are_reported_by_name() {
        let cases = [
            (
                CircuitBreakerConfig::builder().failure_rate(1.5, 10, 5),
                "failure_rate",
            ),
            (
                CircuitBreakerConfig::builder().failure_rate(0.5, 10, 20),
                "failure_rate",
            ),
            (
                CircuitBreakerConfig::builder().slow_calls(Duration::from_secs(1), 0.0),
                "slow_calls",
            ),
            (
                CircuitBreakerConfig::builder().failure_threshold(0),
                "failure_threshold",
            ),
            (
                CircuitBreakerConfig::builder().half_open_probes(0),
                "half_open_probes",
            ),
            (
                CircuitBreakerConfig::builder().open_backoff(0.5),
                "open_backoff",
            ),
        ];

        for (builder, field) in cases {
            assert_eq!(builder.build().unwrap_err().field(), field);
        }
    }
}
