//! Pollers at scale, against one loopback testkit server.
//!
//! ```text
//! cargo bench -p pythia --all-features --bench poller_scale            # both modes
//! cargo bench -p pythia --all-features --bench poller_scale -- scale   # 100,000 on 60 s
//! cargo bench -p pythia --all-features --bench poller_scale -- sustain # largest on 1 s
//! ```
//!
//! `scale` runs 100,000 pollers on a 60 s interval in one [`PollerGroup`] for one interval
//! (a shortened window: every target polls once; `PYTHIA_BENCH_WINDOW_SECS` changes it) and
//! reports resident memory (from `/proc/self/statm`) against the process before the pollers
//! were built, polls per second against the schedule's nominal rate, and the p50, p99 and max
//! lateness of ticks against bare tokio timers firing at the same rate in the same run.
//! Targets: under 300 MiB resident, p99 lateness under 50 ms.
//!
//! `sustain` searches (doubling, then bisecting; at most 12 trials of 5 s) for the largest
//! number of pollers on a 1 s interval that keeps skipped ticks under 1% and dispatches at
//! least 99% of the nominal ticks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pythia::poller::{Handler, Outcome, Poller, PollerConfig, PollerGroup, PollerStats};
use pythia::runtime::{HealthRegistry, ShutdownTrigger, Worker, WorkerContext};
use pythia::{BoxError, Message};
use pythia_testkit::{Reply, Route, TestServer};
use tokio::time::Instant;

const SCALE_POLLERS: usize = 100_000;
const SCALE_INTERVAL: Duration = Duration::from_secs(60);
const BASELINE_WINDOW: Duration = Duration::from_secs(10);
const SUSTAIN_WINDOW: Duration = Duration::from_secs(5);
const SUSTAIN_MAX_TRIALS: usize = 12;
const SUSTAIN_CAP: usize = 256_000;

/// Counts messages, nothing else.
#[derive(Debug, Default)]
struct Count(AtomicU64);

#[async_trait]
impl Handler for Count {
    async fn process_message(&self, _message: Message) -> Result<Outcome, BoxError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(Outcome::Processed)
    }
}

fn resident_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

fn group(
    server: &TestServer,
    count: usize,
    interval: Duration,
    handler: &Arc<Count>,
) -> PollerGroup {
    let shared: Arc<dyn Handler> = handler.clone();
    let targets = (0..count).map(|n| {
        let config = PollerConfig::builder()
            .url(&server.url(&format!("/t?id={n}")))
            .interval(interval)
            .build()
            .expect("a valid poller configuration");
        Poller::builder(config)
            .name(format!("t{n}"))
            .shared_handler(Arc::clone(&shared))
    });
    PollerGroup::builder()
        .name("bench")
        .max_in_flight(256)
        .targets(targets)
        .build()
        .expect("a valid group")
}

/// Runs `group` for `window`, then stops it and waits for the polls in flight.
async fn run_for(group: PollerGroup, window: Duration, peak: &mut f64) -> PollerStats {
    let stats = group.stats();
    let trigger = ShutdownTrigger::new();
    let health = HealthRegistry::new().register("bench");
    let ctx = WorkerContext::new(trigger.shutdown(), health);
    let mut worker = group;
    let task = tokio::spawn(async move { worker.run(ctx).await });
    let end = Instant::now() + window;
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(500).min(end - Instant::now())).await;
        *peak = peak.max(resident_mib());
    }
    trigger.trigger();
    let _ = task.await;
    stats
}

/// Lateness of bare tokio timers firing evenly at `rate` per second for `window`.
async fn timer_baseline(rate: f64, window: Duration) -> Vec<Duration> {
    let count = (rate * window.as_secs_f64()) as usize;
    let start = Instant::now() + Duration::from_millis(100);
    let tasks: Vec<_> = (0..count)
        .map(|n| {
            let at = start + window.mul_f64(n as f64 / count as f64);
            tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                Instant::now().saturating_duration_since(at)
            })
        })
        .collect();
    let mut late = Vec::with_capacity(count);
    for task in tasks {
        late.push(task.await.unwrap_or_default());
    }
    late.sort();
    late
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

async fn scale(server: &TestServer) {
    let window = std::env::var("PYTHIA_BENCH_WINDOW_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(SCALE_INTERVAL, Duration::from_secs);
    let nominal_rate = SCALE_POLLERS as f64 / SCALE_INTERVAL.as_secs_f64();

    let baseline = timer_baseline(nominal_rate, BASELINE_WINDOW).await;
    let before = resident_mib();
    let handler = Arc::new(Count::default());
    let built = std::time::Instant::now();
    let group = group(server, SCALE_POLLERS, SCALE_INTERVAL, &handler);
    let build_time = built.elapsed();
    let after_build = resident_mib();

    let mut peak = after_build;
    let stats = run_for(group, window, &mut peak).await;

    let snapshot = stats.snapshot();
    let rate = snapshot.ticks as f64 / window.as_secs_f64();
    let p50 = stats.lateness_quantile(0.50).unwrap_or_default();
    let p99 = stats.lateness_quantile(0.99).unwrap_or_default();
    let max = stats.lateness_max();
    let base_p99 = quantile(&baseline, 0.99);
    println!(
        "poller_scale/scale: {SCALE_POLLERS} pollers, {}s interval, window {}s",
        SCALE_INTERVAL.as_secs(),
        window.as_secs()
    );
    println!(
        "  resident: peak {peak:.1} MiB, after building {after_build:.1} MiB, before {before:.1} \
         MiB (ratio {:.2}); built in {:.2}s; target < 300 MiB",
        peak / before.max(1.0),
        build_time.as_secs_f64()
    );
    println!(
        "  polls: {} dispatched, {} ok, {} failed, {} skipped ticks, {} messages; \
         {rate:.0}/s vs nominal {nominal_rate:.0}/s (ratio {:.3})",
        snapshot.ticks,
        snapshot.polls_ok,
        snapshot.polls_failed,
        snapshot.skipped_ticks,
        handler.0.load(Ordering::Relaxed),
        rate / nominal_rate
    );
    println!(
        "  tick lateness: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; bare tokio timers p50 {:.2} \
         ms, p99 {:.2} ms, max {:.2} ms (p99 ratio {:.2}); target p99 < 50 ms",
        ms(p50),
        ms(p99),
        ms(max),
        ms(quantile(&baseline, 0.5)),
        ms(base_p99),
        ms(quantile(&baseline, 1.0)),
        ms(p99) / ms(base_p99).max(0.001)
    );
}

/// One sustain trial: whether `count` pollers on 1 s keep up.
async fn trial(server: &TestServer, count: usize) -> (bool, f64, f64, Duration) {
    let handler = Arc::new(Count::default());
    let group = group(server, count, Duration::from_secs(1), &handler);
    let mut peak = 0.0;
    let stats = run_for(group, SUSTAIN_WINDOW, &mut peak).await;
    let snapshot = stats.snapshot();
    let expected = count as f64 * SUSTAIN_WINDOW.as_secs_f64();
    let skipped = snapshot.skipped_ticks as f64 / expected;
    let dispatched = snapshot.ticks as f64 / expected;
    let p99 = stats.lateness_quantile(0.99).unwrap_or_default();
    (
        skipped < 0.01 && dispatched >= 0.99,
        skipped,
        dispatched,
        p99,
    )
}

async fn sustain(server: &TestServer) {
    let mut pass = 0;
    let mut fail = None;
    let mut count = 1_000;
    for _ in 0..SUSTAIN_MAX_TRIALS {
        let (ok, skipped, dispatched, p99) = trial(server, count).await;
        println!(
            "  trial: {count} pollers on 1s: skipped {:.2}%, dispatched {:.1}% of nominal, \
             p99 lateness {:.1} ms -> {}",
            skipped * 100.0,
            dispatched * 100.0,
            ms(p99),
            if ok { "sustained" } else { "not sustained" }
        );
        if ok {
            pass = count;
        } else {
            fail = Some(count);
        }
        count = match fail {
            None if count * 2 <= SUSTAIN_CAP => count * 2,
            None => break,
            Some(fail) if fail - pass > pass / 10 => (pass + fail) / 2,
            Some(_) => break,
        };
    }
    let nominal = pass as f64;
    println!(
        "poller_scale/sustain: {pass} pollers on a 1 s interval with < 1% skipped ticks \
         ({nominal:.0} polls/s; first failing count {}; ratio to the 60 s scale run's nominal \
         rate {:.1})",
        fail.map_or("none up to the cap".to_owned(), |f| f.to_string()),
        nominal / (SCALE_POLLERS as f64 / SCALE_INTERVAL.as_secs_f64())
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wants = |mode: &str| args.is_empty() || args.iter().any(|a| a == mode);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let server = TestServer::start().await;
        server.set_recording(false);
        server.route(
            "/t",
            Route::reply(Reply::ok().json(serde_json::json!({"ok": true}))),
        );
        if wants("scale") {
            scale(&server).await;
        }
        if wants("sustain") {
            sustain(&server).await;
        }
    });
}
