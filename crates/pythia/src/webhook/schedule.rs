//! The default durable retry schedule, shared by the endpoints and the outbox dispatcher.

use std::time::Duration;

use crate::resilience::{Jitter, RetryPolicy};

/// The delays before the 2nd to 10th durable attempts, before jitter: ten attempts in all.
///
/// With [`Jitter::Equal`] each delay lands between half of its value and its value, so the
/// last attempt comes between about 16 and 31 hours after the first: roughly a day.
pub const DEFAULT_RETRY_SCHEDULE: [Duration; 9] = [
    Duration::from_secs(10),
    Duration::from_secs(2 * 60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(60 * 60),
    Duration::from_secs(2 * 60 * 60),
    Duration::from_secs(4 * 60 * 60),
    Duration::from_secs(6 * 60 * 60),
    Duration::from_secs(8 * 60 * 60),
    Duration::from_secs(10 * 60 * 60),
];

/// The durable retry schedule an endpoint gets unless configured otherwise: ten attempts
/// spread over roughly a day ([`DEFAULT_RETRY_SCHEDULE`]), with equal jitter and
/// `Retry-After` honoured up to an hour.
pub fn default_retry_schedule() -> RetryPolicy {
    RetryPolicy::builder()
        .schedule(DEFAULT_RETRY_SCHEDULE.to_vec())
        .jitter(Jitter::Equal)
        .max_attempts(DEFAULT_RETRY_SCHEDULE.len() as u32 + 1)
        .retry_after_cap(Duration::from_secs(60 * 60))
        .build()
        .expect("the default retry schedule is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_default_schedule_spreads_ten_attempts_over_roughly_a_day() {
        let policy = default_retry_schedule();
        let mut state = policy.start();

        let mut delays = Vec::new();
        while let Some(delay) = state.next_delay(None) {
            delays.push(delay);
        }
        let total: Duration = delays.iter().sum();

        assert_eq!(policy.max_attempts(), 10);
        assert_eq!(delays.len(), 9);
        assert!(total >= Duration::from_secs(15 * 3600), "{total:?}");
        assert!(total <= Duration::from_secs(32 * 3600), "{total:?}");
    }
}
