//! Wall-clock time that follows tokio's clock.
//!
//! Due times and leases are stored as wall-clock instants (they must survive a restart), but
//! tests drive the dispatcher under a paused tokio clock. [`now`] reads tokio's clock and maps it
//! onto the wall clock from an anchor taken once per process, so advancing a paused clock moves
//! outbox time too, and in production it is the system time.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

static ANCHOR: OnceLock<(SystemTime, std::time::Instant)> = OnceLock::new();

/// The current wall-clock time, as seen through tokio's (possibly paused) clock.
pub fn now() -> SystemTime {
    let tokio_now = tokio::time::Instant::now().into_std();
    let (wall, mono) = *ANCHOR.get_or_init(|| (SystemTime::now(), tokio_now));
    wall + tokio_now.saturating_duration_since(mono)
}

/// Milliseconds since the Unix epoch, saturating at zero for times before it.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(crate) fn to_millis(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The instant `millis` milliseconds after the Unix epoch (negative values clamp to it).
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(crate) fn from_millis(millis: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn outbox_time_advances_with_a_paused_tokio_clock() {
        let before = now();

        tokio::time::advance(Duration::from_secs(3600)).await;

        let elapsed = now().duration_since(before).unwrap();
        assert!(elapsed >= Duration::from_secs(3600));
        assert!(elapsed < Duration::from_secs(3601));
    }

    #[test]
    fn millis_round_trip() {
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);

        assert_eq!(from_millis(to_millis(at)), at);
        assert_eq!(from_millis(-5), UNIX_EPOCH);
    }
}
