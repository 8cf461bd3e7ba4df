//! [`RestartPolicy`]: whether and when a failed worker runs again.

use std::time::Duration;

/// Whether the runtime runs a worker again after its `run` failed (returned an error or
/// panicked) before shutdown, and how long it waits first.
///
/// The wait doubles after each restart, from `initial` up to `max`; shutdown interrupts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartPolicy {
    backoff: Option<Backoff>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Backoff {
    initial: Duration,
    max: Duration,
    max_restarts: Option<u32>,
}

impl Default for RestartPolicy {
    /// [`RestartPolicy::never`].
    fn default() -> Self {
        Self::never()
    }
}

impl RestartPolicy {
    /// A failed worker stays failed (the default).
    pub fn never() -> Self {
        Self { backoff: None }
    }

    /// A failed worker runs again after `initial`, then after twice that, and so on up to
    /// `max` between runs, without a limit on restarts (see
    /// [`max_restarts`](Self::max_restarts)).
    pub fn on_failure(initial: Duration, max: Duration) -> Self {
        Self {
            backoff: Some(Backoff {
                initial,
                max: max.max(initial),
                max_restarts: None,
            }),
        }
    }

    /// Gives up after this many restarts. Default: no limit. No effect on
    /// [`never`](Self::never).
    pub fn max_restarts(mut self, limit: u32) -> Self {
        if let Some(backoff) = &mut self.backoff {
            backoff.max_restarts = Some(limit);
        }
        self
    }

    /// The wait before restart number `restarts + 1`, or `None` to give up.
    pub(crate) fn delay(&self, restarts: u32) -> Option<Duration> {
        let backoff = self.backoff.as_ref()?;
        if backoff.max_restarts.is_some_and(|limit| restarts >= limit) {
            return None;
        }
        let factor = 2u32.saturating_pow(restarts.min(31));
        Some(backoff.initial.saturating_mul(factor).min(backoff.max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_gives_up_at_once() {
        assert_eq!(RestartPolicy::never().delay(0), None);
    }

    #[test]
    fn on_failure_doubles_the_wait_up_to_the_max() {
        let policy = RestartPolicy::on_failure(Duration::from_secs(1), Duration::from_secs(5));

        let delays: Vec<_> = (0..5).map(|n| policy.delay(n).unwrap().as_secs()).collect();

        assert_eq!(delays, [1, 2, 4, 5, 5]);
        assert_eq!(policy.delay(1000), Some(Duration::from_secs(5)));
    }

    #[test]
    fn max_restarts_gives_up_after_the_limit() {
        let policy = RestartPolicy::on_failure(Duration::from_secs(1), Duration::from_secs(5))
            .max_restarts(2);

        assert!(policy.delay(1).is_some());
        assert_eq!(policy.delay(2), None);
    }
}
