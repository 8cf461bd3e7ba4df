//! [`RetryBudget`]: keeps retries under a share of the traffic.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use crate::resilience::ConfigError;

const SLOTS: usize = 10;
const SLOT: Duration = Duration::from_secs(1);

/// How many retries a [`RetryBudget`] allows.
///
/// Over the last ten seconds, retries may be at most `ratio` times the requests, plus
/// `min_per_second` retries per second so that a quiet client can still retry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryBudgetConfig {
    /// Retries allowed per request (default 0.2: retries stay under 20% of requests).
    pub ratio: f64,
    /// Retries allowed per second whatever the traffic (default 1).
    pub min_per_second: f64,
}

impl Default for RetryBudgetConfig {
    fn default() -> Self {
        RetryBudgetConfig {
            ratio: 0.2,
            min_per_second: 1.0,
        }
    }
}

impl RetryBudgetConfig {
    /// Checks both numbers are finite and not negative.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("ratio", self.ratio),
            ("min_per_second", self.min_per_second),
        ] {
            if !value.is_finite() || value < 0.0 {
                return Err(ConfigError::invalid(
                    "retry_budget",
                    format!("{name} must be a finite number of at least 0, got {value}"),
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Slot {
    requests: u64,
    retries: u64,
}

#[derive(Debug)]
struct Ledger {
    slots: [Slot; SLOTS],
    current: usize,
    current_started: Instant,
}

/// Counts requests and retries over a sliding ten-second window and refuses retries beyond
/// the configured share. Cheap to clone; clones share the counts.
///
/// ```
/// use pythia::resilience::{RetryBudget, RetryBudgetConfig};
///
/// let budget = RetryBudget::new(RetryBudgetConfig { ratio: 0.5, min_per_second: 0.0 });
/// budget.deposit();
/// budget.deposit();
/// assert!(budget.try_withdraw());
/// assert!(!budget.try_withdraw()); // one retry for two requests is the limit
/// ```
#[derive(Clone, Debug)]
pub struct RetryBudget {
    config: RetryBudgetConfig,
    ledger: Arc<Mutex<Ledger>>,
}

impl RetryBudget {
    /// An empty budget (only the `min_per_second` allowance is available at first).
    pub fn new(config: RetryBudgetConfig) -> Self {
        let ledger = Ledger {
            slots: [Slot::default(); SLOTS],
            current: 0,
            current_started: Instant::now(),
        };
        RetryBudget {
            config,
            ledger: Arc::new(Mutex::new(ledger)),
        }
    }

    /// The budget's configuration.
    pub fn config(&self) -> RetryBudgetConfig {
        self.config
    }

    /// Records a request (a first attempt).
    pub fn deposit(&self) {
        let mut ledger = self.ledger.lock();
        roll(&mut ledger);
        let current = ledger.current;
        ledger.slots[current].requests += 1;
    }

    /// Asks for one retry: true (and counted) when the budget allows it.
    pub fn try_withdraw(&self) -> bool {
        let mut ledger = self.ledger.lock();
        roll(&mut ledger);
        let (requests, retries) = ledger.slots.iter().fold((0u64, 0u64), |(q, r), slot| {
            (q + slot.requests, r + slot.retries)
        });

        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let allowed = self.config.ratio.mul_add(
            requests as f64,
            self.config.min_per_second * (SLOT * SLOTS as u32).as_secs_f64(),
        );
        #[allow(clippy::cast_precision_loss)]
        let wanted = (retries + 1) as f64;
        if wanted <= allowed {
            let current = ledger.current;
            ledger.slots[current].retries += 1;
            true
        } else {
            false
        }
    }
}

/// Moves the current slot forward to now, clearing the slots it passes.
fn roll(ledger: &mut Ledger) {
    let elapsed = ledger.current_started.elapsed();
    if elapsed < SLOT {
        return;
    }
    let steps = usize::try_from(elapsed.as_secs()).unwrap_or(usize::MAX);
    for _ in 0..steps.min(SLOTS) {
        ledger.current = (ledger.current + 1) % SLOTS;
        let current = ledger.current;
        ledger.slots[current] = Slot::default();
    }
    let whole = SLOT.saturating_mul(u32::try_from(steps).unwrap_or(u32::MAX));
    ledger.current_started += whole.min(elapsed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn retries_stay_under_the_ratio_of_requests() {
        let budget = RetryBudget::new(RetryBudgetConfig {
            ratio: 0.2,
            min_per_second: 0.0,
        });

        let mut granted = 0;
        for _ in 0..100 {
            budget.deposit();
            granted += (0..3).filter(|_| budget.try_withdraw()).count();
        }

        assert_eq!(granted, 20);
    }

    #[tokio::test(start_paused = true)]
    async fn the_minimum_allows_retries_without_traffic() {
        let budget = RetryBudget::new(RetryBudgetConfig {
            ratio: 0.0,
            min_per_second: 0.5,
        });

        let granted = (0..20).filter(|_| budget.try_withdraw()).count();

        assert_eq!(granted, 5);
    }

    #[tokio::test(start_paused = true)]
    async fn old_traffic_leaves_the_window() {
        let budget = RetryBudget::new(RetryBudgetConfig {
            ratio: 1.0,
            min_per_second: 0.0,
        });
        (0..10).for_each(|_| budget.deposit());

        tokio::time::advance(Duration::from_secs(11)).await;

        assert!(!budget.try_withdraw());
    }

    #[test]
    fn negative_numbers_are_refused() {
        let config = RetryBudgetConfig {
            ratio: -1.0,
            min_per_second: 0.0,
        };

        assert_eq!(config.validate().unwrap_err().field(), "retry_budget");
    }
}
