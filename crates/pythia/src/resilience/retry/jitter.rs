//! Jitter: randomness added to retry delays so that many clients do not retry in lockstep.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::Rng;

/// How a retry delay is randomised.
///
/// With `d` the delay the strategy computes for a retry (already capped by the policy's
/// `max_delay`):
///
/// | jitter | delay |
/// | --- | --- |
/// | `None` | exactly `d` |
/// | `Full` | uniform in `[0, d]` |
/// | `Equal` | `d / 2` plus uniform in `[0, d / 2]` |
/// | `Decorrelated` | uniform in `[first, 3 × previous]`, capped by `max_delay` (see below) |
///
/// For `Decorrelated`, `first` is the strategy's first delay and `previous` the delay
/// actually used last time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Jitter {
    /// No randomness: the delays are exactly the strategy's.
    None,
    /// A uniform delay between zero and the strategy's delay (the default).
    #[default]
    Full,
    /// Half the strategy's delay, plus a uniform share of the other half.
    Equal,
    /// Each delay drawn between the first delay and three times the previous one.
    Decorrelated,
}

/// A uniform duration in `[low, high]` (or `low` when the range is empty).
pub(crate) fn uniform(rng: &mut SmallRng, low: Duration, high: Duration) -> Duration {
    if high <= low {
        return low;
    }
    let low_ns = saturating_nanos(low);
    let high_ns = saturating_nanos(high);
    Duration::from_nanos(rng.gen_range(low_ns..=high_ns))
}

fn saturating_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn uniform_stays_inside_its_bounds() {
        let mut rng = SmallRng::seed_from_u64(7);
        let low = Duration::from_millis(10);
        let high = Duration::from_millis(20);

        let draws: Vec<_> = (0..1000).map(|_| uniform(&mut rng, low, high)).collect();

        assert!(draws.iter().all(|d| *d >= low && *d <= high));
        assert!(draws.iter().any(|d| *d < Duration::from_millis(12)));
        assert!(draws.iter().any(|d| *d > Duration::from_millis(18)));
    }

    #[test]
    fn uniform_of_an_empty_range_is_its_low_end() {
        let mut rng = SmallRng::seed_from_u64(7);

        let draw = uniform(&mut rng, Duration::from_secs(3), Duration::from_secs(1));

        assert_eq!(draw, Duration::from_secs(3));
    }
}
