//! [`DeliverySchedule`]: when the next attempt of an outbox message is due. Each endpoint has
//! one (by default [`DEFAULT_DELAYS`]), and the outbox dispatcher follows it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The default waits between attempts: ten attempts spread over about 22 hours (a day with
/// jitter): 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 6 h and 12 h.
pub const DEFAULT_DELAYS: [Duration; 9] = [
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(2 * 60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(3600),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(6 * 3600),
    Duration::from_secs(12 * 3600),
];

/// The waits between the attempts of one message, by how many attempts failed so far.
///
/// Jitter only ever lengthens a wait (by up to the jitter fraction), so an attempt is never
/// early: a partner told "we retry after 5 minutes" is never called at 4.
///
/// ```
/// use std::time::Duration;
/// use pythia::webhook::DeliverySchedule;
///
/// let schedule = DeliverySchedule::new([Duration::from_secs(1), Duration::from_secs(10)])
///     .jitter(0.0);
///
/// assert_eq!(schedule.max_attempts(), 3);
/// assert_eq!(schedule.delay_after(1), Some(Duration::from_secs(1)));
/// assert_eq!(schedule.delay_after(2), Some(Duration::from_secs(10)));
/// assert_eq!(schedule.delay_after(3), None); // give up: dead-letter
/// ```
#[derive(Clone)]
pub struct DeliverySchedule {
    delays: Arc<[Duration]>,
    jitter: f64,
    rng: Arc<Mutex<SmallRng>>,
}

impl DeliverySchedule {
    /// A schedule with these waits: after the first failed attempt the first wait, and so on;
    /// one more attempt than there are waits. Jitter defaults to 10%.
    pub fn new(delays: impl IntoIterator<Item = Duration>) -> Self {
        DeliverySchedule {
            delays: delays.into_iter().collect(),
            jitter: 0.1,
            rng: Arc::new(Mutex::new(SmallRng::from_entropy())),
        }
    }

    /// Each wait grows by a random fraction in `[0, fraction)` of itself. Default: `0.1`;
    /// clamped to `[0, 1]` (NaN counts as 0).
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 1.0)
        };
        self
    }

    /// Seeds the jitter, for reproducible tests. Default: seeded from the OS.
    pub fn seed(mut self, seed: u64) -> Self {
        self.rng = Arc::new(Mutex::new(SmallRng::seed_from_u64(seed)));
        self
    }

    /// The most attempts a message gets: one more than the number of waits.
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.delays.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1)
    }

    /// The wait before the next attempt once `failed` attempts have failed, or `None` when the
    /// schedule is spent and the message should be dead-lettered.
    pub fn delay_after(&self, failed: u32) -> Option<Duration> {
        let index = usize::try_from(failed.checked_sub(1)?).ok()?;
        let base = *self.delays.get(index)?;
        if self.jitter == 0.0 {
            return Some(base);
        }
        let extra: f64 = self.rng.lock().gen_range(0.0..self.jitter);
        Some(base + base.mul_f64(extra))
    }
}

impl Default for DeliverySchedule {
    /// [`DEFAULT_DELAYS`] with 10% jitter.
    fn default() -> Self {
        DeliverySchedule::new(DEFAULT_DELAYS)
    }
}

impl fmt::Debug for DeliverySchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeliverySchedule")
            .field("delays", &self.delays)
            .field("jitter", &self.jitter)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_makes_ten_attempts_over_about_a_day() {
        let schedule = DeliverySchedule::default().jitter(0.0);

        let total: Duration = (1..schedule.max_attempts())
            .map(|failed| schedule.delay_after(failed).unwrap())
            .sum();

        assert_eq!(schedule.max_attempts(), 10);
        assert!(total > Duration::from_secs(20 * 3600), "{total:?}");
        assert!(total < Duration::from_secs(26 * 3600), "{total:?}");
    }

    #[test]
    fn jitter_never_makes_an_attempt_early() {
        let schedule = DeliverySchedule::default().jitter(0.5).seed(7);

        for failed in 1..schedule.max_attempts() {
            let base = DEFAULT_DELAYS[failed as usize - 1];
            for _ in 0..100 {
                let delay = schedule.delay_after(failed).unwrap();
                assert!(delay >= base && delay < base.mul_f64(1.5), "{delay:?}");
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_delays() {
        let a = DeliverySchedule::default().seed(42);
        let b = DeliverySchedule::default().seed(42);

        let delays = |s: &DeliverySchedule| (1..10).map(|n| s.delay_after(n)).collect::<Vec<_>>();

        assert_eq!(delays(&a), delays(&b));
    }

    #[test]
    fn no_failed_attempt_has_no_delay() {
        assert_eq!(DeliverySchedule::default().delay_after(0), None);
    }
}
