//! [`CircuitBreaker`]: closed, open, half-open.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use super::window::Window;
use super::CircuitBreakerConfig;

/// The state of a circuit breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BreakerState {
    /// Calls go through; outcomes are counted.
    Closed,
    /// Calls are refused until the open duration ends.
    Open,
    /// A few probe calls go through to test recovery.
    HalfOpen,
}

impl BreakerState {
    /// The value of the `pythia_breaker_state` gauge: 0 closed, 1 open, 2 half-open.
    pub fn as_gauge(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::Open => 1.0,
            BreakerState::HalfOpen => 2.0,
        }
    }

    /// A lowercase name: `closed`, `open` or `half_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A call refused because the breaker is open (or its half-open probes are all taken).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker {name} is open")]
pub struct BreakerOpen {
    /// The breaker's name.
    pub name: Arc<str>,
    /// How long until the breaker lets a probe through (zero when waiting on probes in flight).
    pub retry_in: Duration,
}

impl BreakerOpen {
    /// True: the call may succeed once the breaker lets calls through again.
    pub fn is_retryable(&self) -> bool {
        true
    }
}

#[derive(Debug)]
enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { issued: u32, succeeded: u32 },
}

#[derive(Debug)]
struct Machine {
    phase: Phase,
    /// Bumped on every transition, so late outcomes of an earlier phase are ignored.
    generation: u64,
    consecutive_failures: u32,
    /// Trips since the breaker last closed; drives the growing open duration.
    trips: u32,
    window: Option<Window>,
}

struct Shared {
    name: Arc<str>,
    config: CircuitBreakerConfig,
    machine: Mutex<Machine>,
}

/// A circuit breaker guarding one host or endpoint.
///
/// Cheap to clone: clones share their state. Ask for a [`BreakerPermit`] before each call and
/// report the call's outcome on it; dropping a permit without an outcome reports nothing.
/// State changes are logged and exported as the gauge `pythia_breaker_state{breaker}` (see
/// [`BreakerState::as_gauge`]) and the counter `pythia_breaker_transitions_total{breaker,state}`.
///
/// ```
/// use std::time::Duration;
/// use pythia::resilience::{BreakerState, CircuitBreaker, CircuitBreakerConfig};
///
/// let config = CircuitBreakerConfig::builder().failure_threshold(2).build().unwrap();
/// let breaker = CircuitBreaker::new("api.example.com", config);
///
/// for _ in 0..2 {
///     breaker.try_acquire().unwrap().failure(Duration::from_millis(5));
/// }
/// assert_eq!(breaker.state(), BreakerState::Open);
/// assert!(breaker.try_acquire().is_err());
/// ```
#[derive(Clone)]
pub struct CircuitBreaker {
    shared: Arc<Shared>,
}

impl CircuitBreaker {
    /// A closed breaker with this name (used in logs and metrics) and configuration.
    pub fn new(name: impl Into<String>, config: CircuitBreakerConfig) -> Self {
        let name: Arc<str> = Arc::from(name.into());
        let window = config.uses_window().then(|| Window::new(config.window));
        metrics::gauge!("pythia_breaker_state", "breaker" => name.to_string())
            .set(BreakerState::Closed.as_gauge());
        CircuitBreaker {
            shared: Arc::new(Shared {
                name,
                config,
                machine: Mutex::new(Machine {
                    phase: Phase::Closed,
                    generation: 0,
                    consecutive_failures: 0,
                    trips: 0,
                    window,
                }),
            }),
        }
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The breaker's configuration.
    pub fn config(&self) -> &CircuitBreakerConfig {
        &self.shared.config
    }

    /// The current state. An open breaker whose open duration has ended reports `HalfOpen`.
    pub fn state(&self) -> BreakerState {
        let machine = self.shared.machine.lock();
        match machine.phase {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { until } if Instant::now() >= until => BreakerState::HalfOpen,
            Phase::Open { .. } => BreakerState::Open,
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Asks to make a call: a permit to report the outcome on, or the reason it is refused.
    pub fn try_acquire(&self) -> Result<BreakerPermit, BreakerOpen> {
        let mut changed = None;
        let result = {
            let mut machine = self.shared.machine.lock();
            if let Phase::Open { until } = machine.phase {
                let now = Instant::now();
                if now < until {
                    return Err(self.refusal(until - now));
                }
                changed = Some(self.enter(&mut machine, BreakerState::HalfOpen));
            }
            let generation = machine.generation;
            match &mut machine.phase {
                Phase::Closed => Ok(self.permit(generation, false)),
                Phase::HalfOpen { issued, .. } if *issued < self.shared.config.half_open_probes => {
                    *issued += 1;
                    Ok(self.permit(generation, true))
                }
                _ => Err(self.refusal(Duration::ZERO)),
            }
        };
        if let Some(change) = changed {
            self.announce(change);
        }
        result
    }

    fn permit(&self, generation: u64, probe: bool) -> BreakerPermit {
        BreakerPermit {
            breaker: self.clone(),
            generation,
            probe,
            reported: false,
        }
    }

    fn refusal(&self, retry_in: Duration) -> BreakerOpen {
        BreakerOpen {
            name: self.shared.name.clone(),
            retry_in,
        }
    }

    fn record(&self, generation: u64, probe: bool, failed: bool, elapsed: Duration) {
        let config = &self.shared.config;
        let slow = config.slow_call_threshold.is_some_and(|t| elapsed >= t);
        let mut changed = None;
        {
            let mut machine = self.shared.machine.lock();
            if machine.generation != generation {
                return;
            }
            match &mut machine.phase {
                Phase::Closed => {
                    if failed {
                        machine.consecutive_failures += 1;
                    } else {
                        machine.consecutive_failures = 0;
                    }
                    if let Some(window) = &mut machine.window {
                        window.record(failed, slow);
                    }
                    if self.should_trip(&machine) {
                        changed = Some(self.enter(&mut machine, BreakerState::Open));
                    }
                }
                Phase::HalfOpen { succeeded, .. } if probe => {
                    let bad = failed || (slow && config.slow_call_threshold.is_some());
                    if bad {
                        changed = Some(self.enter(&mut machine, BreakerState::Open));
                    } else {
                        *succeeded += 1;
                        if *succeeded >= config.half_open_probes {
                            changed = Some(self.enter(&mut machine, BreakerState::Closed));
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(change) = changed {
            self.announce(change);
        }
    }

    fn release_probe(&self, generation: u64) {
        let mut machine = self.shared.machine.lock();
        if machine.generation == generation {
            if let Phase::HalfOpen { issued, .. } = &mut machine.phase {
                *issued = issued.saturating_sub(1);
            }
        }
    }

    fn should_trip(&self, machine: &Machine) -> bool {
        let config = &self.shared.config;
        if config.failure_threshold > 0 && machine.consecutive_failures >= config.failure_threshold
        {
            return true;
        }
        let Some(window) = &machine.window else {
            return false;
        };
        if window.len() < config.min_calls.max(1) {
            return false;
        }
        let by_failures = config
            .failure_rate
            .is_some_and(|rate| window.failure_rate() >= rate);
        let by_slowness =
            config.slow_call_threshold.is_some() && window.slow_rate() >= config.slow_call_rate;
        by_failures || by_slowness
    }

    /// Moves to `state`; returns what to announce once the lock is released.
    fn enter(&self, machine: &mut Machine, state: BreakerState) -> (BreakerState, Duration) {
        machine.generation += 1;
        let mut open_for = Duration::ZERO;
        machine.phase = match state {
            BreakerState::Closed => {
                machine.trips = 0;
                machine.consecutive_failures = 0;
                if let Some(window) = &mut machine.window {
                    window.clear();
                }
                Phase::Closed
            }
            BreakerState::Open => {
                open_for = self.shared.config.open_duration_for(machine.trips);
                machine.trips = machine.trips.saturating_add(1);
                machine.consecutive_failures = 0;
                if let Some(window) = &mut machine.window {
                    window.clear();
                }
                Phase::Open {
                    until: Instant::now() + open_for,
                }
            }
            BreakerState::HalfOpen => Phase::HalfOpen {
                issued: 0,
                succeeded: 0,
            },
        };
        (state, open_for)
    }

    fn announce(&self, (state, open_for): (BreakerState, Duration)) {
        let name = &*self.shared.name;
        match state {
            BreakerState::Open => tracing::warn!(
                breaker = name,
                open_for_seconds = open_for.as_secs_f64(),
                "circuit breaker opened"
            ),
            _ => tracing::info!(
                breaker = name,
                state = state.as_str(),
                "circuit breaker moved"
            ),
        }
        metrics::gauge!("pythia_breaker_state", "breaker" => name.to_owned()).set(state.as_gauge());
        metrics::counter!(
            "pythia_breaker_transitions_total",
            "breaker" => name.to_owned(),
            "state" => state.as_str()
        )
        .increment(1);
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.shared.name)
            .field("state", &self.state())
            .finish()
    }
}

/// Permission for one call through a [`CircuitBreaker`]; report the outcome on it.
#[derive(Debug)]
#[must_use = "report the call's outcome with success() or failure()"]
pub struct BreakerPermit {
    breaker: CircuitBreaker,
    generation: u64,
    probe: bool,
    reported: bool,
}

impl BreakerPermit {
    /// The call succeeded after `elapsed` (slow calls count towards the slow-call rate).
    pub fn success(mut self, elapsed: Duration) {
        self.reported = true;
        self.breaker
            .record(self.generation, self.probe, false, elapsed);
    }

    /// The call failed after `elapsed`.
    pub fn failure(mut self, elapsed: Duration) {
        self.reported = true;
        self.breaker
            .record(self.generation, self.probe, true, elapsed);
    }

    /// Whether this call is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }
}

impl Drop for BreakerPermit {
    fn drop(&mut self) {
        if !self.reported && self.probe {
            self.breaker.release_probe(self.generation);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn breaker(builder: super::super::CircuitBreakerConfigBuilder) -> CircuitBreaker {
        CircuitBreaker::new("test", builder.build().unwrap())
    }

    fn fail(breaker: &CircuitBreaker, times: usize) {
        (0..times).for_each(|_| breaker.try_acquire().unwrap().failure(MS));
    }

    #[tokio::test(start_paused = true)]
    async fn breaker_opens_after_the_threshold_of_consecutive_failures() {
        let breaker = breaker(CircuitBreakerConfig::builder().failure_threshold(3));

        fail(&breaker, 2);
        let still_closed = breaker.state();
        fail(&breaker, 1);

        assert_eq!(still_closed, BreakerState::Closed);
        assert_eq!(breaker.state(), BreakerState::Open);
        let refused = breaker.try_acquire().unwrap_err();
        assert_eq!(refused.retry_in, Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_resets_the_consecutive_failures() {
        let breaker = breaker(CircuitBreakerConfig::builder().failure_threshold(3));

        fail(&breaker, 2);
        breaker.try_acquire().unwrap().success(MS);
        fail(&breaker, 2);

        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn breaker_half_opens_after_the_open_duration() {
        let breaker = breaker(
            CircuitBreakerConfig::builder()
                .failure_threshold(1)
                .open_duration(Duration::from_secs(10)),
        );
        fail(&breaker, 1);

        tokio::time::advance(Duration::from_secs(9)).await;
        let before = breaker.try_acquire().map(|_| ());
        tokio::time::advance(Duration::from_secs(1)).await;
        let state = breaker.state();
        let probe = breaker.try_acquire().unwrap();

        assert!(before.is_err());
        assert_eq!(state, BreakerState::HalfOpen);
        assert!(probe.is_probe());
        assert!(breaker.try_acquire().is_err(), "only one probe at a time");
    }

    #[tokio::test(start_paused = true)]
    async fn breaker_closes_after_all_probes_succeed() {
        let breaker = breaker(
            CircuitBreakerConfig::builder()
                .failure_threshold(1)
                .half_open_probes(2)
                .open_duration(Duration::from_secs(1)),
        );
        fail(&breaker, 1);
        tokio::time::advance(Duration::from_secs(1)).await;

        let first = breaker.try_acquire().unwrap();
        let second = breaker.try_acquire().unwrap();
        first.success(MS);
        let after_one = breaker.state();
        second.success(MS);

        assert_eq!(after_one, BreakerState::HalfOpen);
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_reopens_for_longer() {
        let breaker = breaker(
            CircuitBreakerConfig::builder()
                .failure_threshold(1)
                .open_duration(Duration::from_secs(10))
                .open_backoff(3.0),
        );
        fail(&breaker, 1);
        tokio::time::advance(Duration::from_secs(10)).await;

        breaker.try_acquire().unwrap().failure(MS);

        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(
            breaker.try_acquire().unwrap_err().retry_in,
            Duration::from_secs(30)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn closing_resets_the_open_duration() {
        let breaker = breaker(
            CircuitBreakerConfig::builder()
                .failure_threshold(1)
                .open_duration(Duration::from_secs(10)),
        );
        fail(&breaker, 1);
        tokio::time::advance(Duration::from_secs(10)).await;
        breaker.try_acquire().unwrap().success(MS);

        fail(&breaker, 1);

        assert_eq!(
            breaker.try_acquire().unwrap_err().retry_in,
            Duration::from_secs(10)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_probe_frees_its_slot() {
        let breaker = breaker(
            CircuitBreakerConfig::builder()
                .failure_threshold(1)
                .open_duration(Duration::from_secs(1)),
        );
        fail(&breaker, 1);
        tokio::time::advance(Duration::from_secs(1)).await;

        drop(breaker.try_acquire().unwrap());

        assert!(breaker.try_acquire().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn the_failure_rate_trips_once_the_window_has_its_minimum_calls() {
        let breaker = breaker(
            CircuitBreakerConfig::builder()
                .failure_threshold(100)
                .failure_rate(0.5, 10, 6),
        );

        for _ in 0..2 {
            fail(&breaker, 1);
            breaker.try_acquire().unwrap().success(MS);
        }
        let before_min_calls = breaker.state();
        fail(&breaker, 1);
        breaker.try_acquire().unwrap().success(MS);

        assert_eq!(before_min_calls, BreakerState::Closed);
        assert_eq!(breaker.state(), BreakerState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn a_low_failure_rate_keeps_the_breaker_closed() {
        // One failure in three: once five calls are in the window, no stretch of it reaches
        // half failures (with four calls, F S S F would be exactly 50% and trip, as it should).
        let breaker = breaker(
            CircuitBreakerConfig::builder()
                .failure_threshold(100)
                .failure_rate(0.5, 10, 5),
        );

        for _ in 0..20 {
            fail(&breaker, 1);
            (0..2).for_each(|_| breaker.try_acquire().unwrap().success(MS));
        }

        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_calls_trip_the_breaker() {
        let breaker = breaker(
            CircuitBreakerConfig::builder()
                .failure_rate(1.0, 4, 4)
                .slow_calls(Duration::from_secs(2), 0.75),
        );

        breaker.try_acquire().unwrap().success(MS);
        (0..2).for_each(|_| {
            breaker
                .try_acquire()
                .unwrap()
                .success(Duration::from_secs(3))
        });
        let before = breaker.state();
        breaker
            .try_acquire()
            .unwrap()
            .success(Duration::from_secs(2));

        assert_eq!(before, BreakerState::Closed);
        assert_eq!(breaker.state(), BreakerState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn outcomes_from_before_a_trip_are_ignored() {
        let breaker = breaker(
            CircuitBreakerConfig::builder()
                .failure_threshold(1)
                .open_duration(Duration::from_secs(1)),
        );
        let late = breaker.try_acquire().unwrap();
        fail(&breaker, 1);
        tokio::time::advance(Duration::from_secs(1)).await;
        let probe = breaker.try_acquire().unwrap();

        late.success(MS);

        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        probe.success(MS);
        assert_eq!(breaker.state(), BreakerState::Closed);
    }
}
