//! The scheduler: one task that fires every target's ticks, with bounded polls in flight.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use super::observe;
use super::poll::{poll, PollResult};
use super::schedule::{spread_offset, Clock};
use super::stats::PollerStats;
use super::target::Target;
use crate::http::HttpClient;
use crate::runtime::{HealthHandle, WorkerContext};
use crate::BoxError;

/// Many targets, one client, one scheduler.
#[derive(Debug)]
pub(crate) struct Engine {
    pub(crate) name: String,
    pub(crate) targets: Vec<Arc<Target>>,
    pub(crate) clients: Vec<HttpClient>,
    pub(crate) client_of: Vec<u32>,
    pub(crate) max_in_flight: usize,
    pub(crate) stats: PollerStats,
    pub(crate) seed: Option<u64>,
    pub(crate) spread_by_default: bool,
    pub(crate) failing: AtomicUsize,
}

/// A tick waiting in the heap: when it fires (jitter included), which target, and the nominal
/// tick it stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    at: Instant,
    index: u32,
    nominal: Instant,
}

impl Engine {
    /// Runs until shutdown, then waits for the polls in flight.
    pub(crate) async fn run(self: &Arc<Self>, ctx: WorkerContext) -> Result<(), BoxError> {
        let epoch = Instant::now();
        let clock = Clock::new(epoch, Utc::now());
        let mut rng = match self.seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_entropy(),
        };
        let slots = Arc::new(Semaphore::new(self.max_in_flight));
        let tracker = TaskTracker::new();

        let mut heap = BinaryHeap::with_capacity(self.targets.len());
        for (index, target) in self.targets.iter().enumerate() {
            let anchor = self.anchor(target, epoch);
            let nominal = match target.schedule.interval() {
                Some(_) => anchor,
                None => target.schedule.next_instant(anchor, epoch, &clock),
            };
            heap.push(Reverse(Due {
                at: nominal + jitter(target, &mut rng),
                index: u32::try_from(index).unwrap_or(u32::MAX),
                nominal,
            }));
        }
        tracing::info!(poller = %self.name, targets = self.targets.len(), "poller started");

        'ticks: loop {
            let Some(Reverse(next)) = heap.peek().copied() else {
                ctx.shutdown.triggered().await;
                break;
            };
            let wait = tokio::time::sleep_until(next.at);
            if ctx.shutdown.until_triggered(wait).await.is_none() {
                break;
            }
            let now = Instant::now();
            while let Some(Reverse(due)) = heap.peek().copied() {
                if due.at > now {
                    break;
                }
                heap.pop();
                let index = due.index as usize;
                let target = &self.targets[index];
                let anchor = self.anchor(target, epoch);

                let not_before =
                    epoch + Duration::from_nanos(target.live.not_before.load(Ordering::Acquire));
                if due.nominal < not_before {
                    let nominal = target.schedule.next_instant(
                        anchor,
                        not_before - Duration::from_nanos(1),
                        &clock,
                    );
                    let at = nominal + jitter(target, &mut rng);
                    heap.push(Reverse(Due { at, nominal, ..due }));
                    continue;
                }

                let nominal = target
                    .schedule
                    .next_instant(anchor, due.nominal.max(now), &clock);
                let missed = missed_ticks(target, due.nominal, nominal);
                let at = nominal + jitter(target, &mut rng);
                heap.push(Reverse(Due { at, nominal, ..due }));

                if target.is_in_flight() {
                    observe::skipped_ticks(target, &self.stats, 1 + missed);
                    continue;
                }
                if missed > 0 {
                    observe::skipped_ticks(target, &self.stats, missed);
                }

                let permit = match Arc::clone(&slots).try_acquire_owned() {
                    Ok(permit) => permit,
                    Err(_) => {
                        let acquire = Arc::clone(&slots).acquire_owned();
                        match ctx.shutdown.until_triggered(acquire).await {
                            Some(Ok(permit)) => permit,
                            _ => break 'ticks,
                        }
                    }
                };
                self.stats
                    .tick_late(Instant::now().saturating_duration_since(due.at));
                target.live.in_flight.store(true, Ordering::Release);

                let engine = Arc::clone(self);
                let target = Arc::clone(target);
                let health = ctx.health.clone();
                tracker.spawn(async move {
                    let _permit = permit;
                    let _in_flight = InFlight(&target);
                    engine.poll_once(index, &target, &health, epoch).await;
                });
            }
        }

        tracker.close();
        tracing::info!(poller = %self.name, in_flight = tracker.len(), "poller draining");
        tracker.wait().await;
        Ok(())
    }

    fn anchor(&self, target: &Target, epoch: Instant) -> Instant {
        let spread = target.spread.unwrap_or(self.spread_by_default);
        match target.schedule.interval() {
            Some(interval) if spread => epoch + spread_offset(&target.name, interval),
            _ => epoch,
        }
    }

    async fn poll_once(
        &self,
        index: usize,
        target: &Target,
        health: &HealthHandle,
        epoch: Instant,
    ) {
        let client = &self.clients[self.client_of[index] as usize];
        let started = Instant::now();
        let result = poll(target, client, &self.stats, epoch).await;
        let elapsed = started.elapsed();

        match result {
            PollResult::Skipped => {}
            PollResult::Ok | PollResult::NotModified => {
                let outcome = if matches!(result, PollResult::NotModified) {
                    "not_modified"
                } else {
                    "ok"
                };
                observe::poll_ok(target, &self.stats, outcome, elapsed);
                let failures = target.live.consecutive_failures.swap(0, Ordering::AcqRel);
                if failures > 0 {
                    observe::recovered(target, failures);
                    self.failing.fetch_sub(1, Ordering::AcqRel);
                }
                self.report_health(health, None);
            }
            PollResult::Failed { outcome, reason } => {
                let failures = target
                    .live
                    .consecutive_failures
                    .fetch_add(1, Ordering::AcqRel)
                    .saturating_add(1);
                if failures == 1 {
                    self.failing.fetch_add(1, Ordering::AcqRel);
                }
                observe::poll_failed(target, &self.stats, outcome, &reason, elapsed, failures);
                self.report_health(health, Some(&reason));
            }
        }
    }

    /// Healthy while no target's last poll failed.
    fn report_health(&self, health: &HealthHandle, reason: Option<&str>) {
        let failing = self.failing.load(Ordering::Acquire);
        if failing == 0 {
            health.success();
        } else if self.targets.len() == 1 {
            health.failure(reason.unwrap_or("the last poll failed"));
        } else if reason.is_some() {
            let total = self.targets.len();
            health.failure(&format!("{failing} of {total} targets failing"));
        }
    }
}

/// Clears a target's in-flight mark when its poll ends, even by a panic.
struct InFlight<'a>(&'a Target);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.live.in_flight.store(false, Ordering::Release);
    }
}

fn jitter(target: &Target, rng: &mut SmallRng) -> Duration {
    if target.jitter.is_zero() {
        return Duration::ZERO;
    }
    let nanos = u64::try_from(target.jitter.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.gen_range(0..nanos))
}

/// Ticks of an interval target that fell between `from` and `to` because the scheduler ran
/// late (none for cron schedules).
fn missed_ticks(target: &Target, from: Instant, to: Instant) -> u64 {
    let Some(interval) = target.schedule.interval() else {
        return 0;
    };
    let gap = to.saturating_duration_since(from).as_nanos();
    let steps = gap / interval.as_nanos().max(1);
    u64::try_from(steps.saturating_sub(1)).unwrap_or(u64::MAX)
}
