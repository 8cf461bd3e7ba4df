//! When polls happen: fixed intervals or cron expressions, spread by a stable offset.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::error::ConfigError;

/// When a target is polled.
///
/// An interval schedule fires every `interval`, each target at a stable offset inside the
/// interval derived from a hash of its name ([`spread_offset`]), so that many targets with the
/// same interval spread evenly instead of firing together. A cron schedule fires at the times the
/// expression names (UTC), without an offset; add jitter to spread those.
///
/// ```
/// use std::time::Duration;
/// use pythia::poller::Schedule;
///
/// let every_minute = Schedule::every(Duration::from_secs(60));
/// let hourly = Schedule::cron("0 * * * *")?; // five fields: minute precision
/// let precise = Schedule::cron("*/10 * * * * *")?; // six fields: seconds first
/// # let _ = (every_minute, hourly, precise);
/// # Ok::<(), pythia::poller::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Schedule {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Every(Duration),
    Cron(Box<cron::Schedule>),
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Every(interval) => f.debug_tuple("Every").field(interval).finish(),
            Kind::Cron(schedule) => f.debug_tuple("Cron").field(&schedule.source()).finish(),
        }
    }
}

impl Schedule {
    /// Fires every `interval` (a zero interval is refused when the poller is built).
    pub fn every(interval: Duration) -> Schedule {
        Schedule {
            kind: Kind::Every(interval),
        }
    }

    /// Fires at the times a cron expression names, in UTC. Five fields (minute, hour, day of
    /// month, month, day of week) or six or seven (seconds first, year last).
    pub fn cron(expression: &str) -> Result<Schedule, ConfigError> {
        let fields = expression.split_whitespace().count();
        let full = if fields == 5 {
            format!("0 {expression}")
        } else {
            expression.to_owned()
        };
        let schedule = cron::Schedule::from_str(&full).map_err(|e| ConfigError::InvalidCron {
            expression: expression.to_owned(),
            reason: e.to_string(),
        })?;
        if schedule.upcoming(Utc).next().is_none() {
            return Err(ConfigError::InvalidCron {
                expression: expression.to_owned(),
                reason: "it never fires again".to_owned(),
            });
        }
        Ok(Schedule {
            kind: Kind::Cron(Box::new(schedule)),
        })
    }

    /// The interval, for an interval schedule.
    pub fn interval(&self) -> Option<Duration> {
        match &self.kind {
            Kind::Every(interval) => Some(*interval),
            Kind::Cron(_) => None,
        }
    }

    /// The first fire time strictly after `after`, ignoring offsets and jitter; `None` when a
    /// cron schedule never fires again.
    pub fn next_fire_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.kind {
            Kind::Every(interval) => chrono::Duration::from_std(*interval)
                .ok()
                .and_then(|step| after.checked_add_signed(step)),
            Kind::Cron(schedule) => schedule.after(&after).next(),
        }
    }

    /// The shortest gap between two fires: the interval, or for cron the gap between the next
    /// two fires from `now` (used to refuse timeouts longer than it).
    pub fn shortest_gap(&self, now: DateTime<Utc>) -> Option<Duration> {
        match &self.kind {
            Kind::Every(interval) => Some(*interval),
            Kind::Cron(schedule) => {
                let mut upcoming = schedule.after(&now);
                let first = upcoming.next()?;
                let second = upcoming.next()?;
                (second - first).to_std().ok()
            }
        }
    }

    /// The nominal fire instant strictly after `after` for a target whose interval phase is
    /// `anchor` (start plus offset), mapping wall-clock cron times through `clock`.
    pub(crate) fn next_instant(&self, anchor: Instant, after: Instant, clock: &Clock) -> Instant {
        match &self.kind {
            Kind::Every(interval) => {
                if after < anchor {
                    return anchor;
                }
                let step = interval.as_nanos().max(1);
                let elapsed = (after - anchor).as_nanos();
                let steps = elapsed / step + 1;
                let offset = step.saturating_mul(steps);
                anchor + Duration::from_nanos(u64::try_from(offset).unwrap_or(u64::MAX / 2))
            }
            Kind::Cron(schedule) => {
                let wall = clock.wall(after);
                match schedule.after(&wall).next() {
                    Some(next) => clock.instant(next).max(after + Duration::from_millis(1)),
                    // A schedule that ended: park the target far in the future.
                    None => after + Duration::from_secs(365 * 24 * 3600),
                }
            }
        }
    }
}

/// The stable offset of a target inside an interval: the same name always gets the same
/// offset, and many names spread evenly over `[0, interval)`.
pub fn spread_offset(target: &str, interval: Duration) -> Duration {
    let nanos = interval.as_nanos();
    if nanos == 0 {
        return Duration::ZERO;
    }
    let hash = u128::from(stable_hash(target.as_bytes()));
    // Multiply-shift maps the hash onto the interval without modulo bias.
    let offset = (hash * nanos) >> 64;
    Duration::from_nanos(u64::try_from(offset).unwrap_or(0))
}

/// FNV-1a followed by a splitmix64 finaliser: stable across runs, builds and platforms.
fn stable_hash(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

/// Maps between the tokio clock (which tests pause) and wall-clock time for cron schedules.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    instant: Instant,
    wall: DateTime<Utc>,
}

impl Clock {
    /// A clock that reads `wall` at `instant`.
    pub(crate) fn new(instant: Instant, wall: DateTime<Utc>) -> Clock {
        Clock { instant, wall }
    }

    /// The wall-clock time at `instant`.
    pub(crate) fn wall(&self, instant: Instant) -> DateTime<Utc> {
        let since = chrono::Duration::from_std(instant.saturating_duration_since(self.instant))
            .unwrap_or_default();
        self.wall + since
    }

    /// The instant at which the wall clock reads `wall` (never before the clock's start).
    pub(crate) fn instant(&self, wall: DateTime<Utc>) -> Instant {
        let since = (wall - self.wall).to_std().unwrap_or_default();
        self.instant + since
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, h, m, s).unwrap()
    }

    #[test]
    fn cron_next_fire_times_follow_the_expression() {
        let every_quarter = Schedule::cron("*/15 * * * *").unwrap();
        let at_seconds = Schedule::cron("30 0 9 * * *").unwrap();

        let first = every_quarter.next_fire_after(at(10, 7, 12)).unwrap();
        let second = every_quarter.next_fire_after(first).unwrap();
        let daily = at_seconds.next_fire_after(at(10, 0, 0)).unwrap();

        assert_eq!(first, at(10, 15, 0));
        assert_eq!(second, at(10, 30, 0));
        assert_eq!(daily, Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 30).unwrap());
    }

    #[test]
    fn invalid_cron_expressions_are_refused_with_the_expression() {
        let error = Schedule::cron("every tuesday").unwrap_err();

        assert!(error.to_string().contains("every tuesday"), "{error}");
    }

    #[test]
    fn cron_gaps_are_measured_between_fires() {
        let schedule = Schedule::cron("0 */5 * * * *").unwrap();

        assert_eq!(
            schedule.shortest_gap(at(1, 2, 3)),
            Some(Duration::from_secs(300))
        );
    }

    #[test]
    fn offsets_are_stable_and_inside_the_interval() {
        let interval = Duration::from_secs(60);

        let first = spread_offset("payments", interval);
        let again = spread_offset("payments", interval);
        let other = spread_offset("events", interval);

        assert_eq!(first, again);
        assert_ne!(first, other);
        assert!(first < interval && other < interval);
    }

    #[test]
    fn interval_instants_keep_their_phase_after_a_late_tick() {
        let clock = Clock::new(Instant::now(), at(0, 0, 0));
        let anchor = clock.instant(at(0, 0, 3));
        let schedule = Schedule::every(Duration::from_secs(10));

        let late = clock.instant(at(0, 0, 27));
        let next = schedule.next_instant(anchor, late, &clock);

        assert_eq!(clock.wall(next), at(0, 0, 33));
    }

    #[test]
    fn cron_instants_map_through_the_clock() {
        let clock = Clock::new(Instant::now(), at(0, 0, 0));
        let schedule = Schedule::cron("*/20 * * * * *").unwrap();

        let next = schedule.next_instant(
            clock.instant(at(0, 0, 0)),
            clock.instant(at(0, 0, 5)),
            &clock,
        );

        assert_eq!(clock.wall(next), at(0, 0, 20));
    }
}
