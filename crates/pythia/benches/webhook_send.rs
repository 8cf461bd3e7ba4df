//! Webhook delivery rates, each against a baseline measured in the same run: sends in memory
//! against a bare hyper client, sends through the durable SQLite outbox against sends in
//! memory, and a broadcast to 1,000 endpoints against its slowest endpoint alone.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/bench-target cargo bench -p pythia --bench webhook_send
//! PYTHIA_BENCH_MESSAGES=5000 CARGO_TARGET_DIR=/work/bench-target \
//!     cargo bench -p pythia --bench webhook_send
//! ```
//!
//! Targets (DESIGN.md section 6):
//!
//! - In memory: `WebhookSender::send` of a 1 KiB JSON body, 64 in flight, keeps at least 0.8
//!   of the rate of a bare hyper client (hyper-util's pooled client, nothing on top) posting the
//!   same bytes to the same receiver, 64 in flight. A bare reqwest client, which `HttpClient`
//!   wraps (webhooks no longer go through it), is measured too, for reference.
//! - Durable: 64 producers enqueue through `WebhookQueue` into a `SqliteOutbox` while a
//!   `Dispatcher` delivers with the same sender; messages arrived at the receiver per second,
//!   from the first enqueue to the last arrival, reach at least 0.5 of the in-memory rate. The
//!   enqueue-only rate (accepted per second, no dispatcher running) is printed alongside.
//! - Broadcast: `broadcast` to 1,000 endpoints takes at most 1.5 times as long as one `send`
//!   to the slowest of them.
//!
//! Every receiver is a loopback `pythia_testkit::TestServer` answering `204`, with recording
//! off (hit counts only) so that the server is not the bottleneck. The senders run as in
//! production: signed with a `whsec_` secret, with the default timeout, in-memory retries and
//! circuit breaker per endpoint. Nothing had to change for 64 in flight: the default
//! per-endpoint concurrency limit of the sender is 64 and its pool keeps 1,024 idle
//! connections; the bare clients keep 64. Loopback is reachable because the library allows
//! private networks by default (the binary turns that off).
//!
//! The dispatcher gets 192 attempt slots, all usable by the one endpoint (the defaults are 64
//! and half of that per endpoint): the sender still lets 64 of them be in flight, and the
//! others wait their turn at its concurrency limit, so that a finished request is followed at
//! once by the next instead of when the dispatch loop next runs. Its other settings are the
//! defaults (claims of 64, 64 claimed ahead, woken by each enqueue, fresh messages handed
//! over by its queue). Each round opens a fresh outbox with `SqliteOutbox::open` in a new
//! temporary directory, durable on commit (an answer waits for the fsync of the log); for the
//! figure to mean anything that directory must be on a real disk, not tmpfs. The durable case
//! runs before the enqueue-only one, whose writes are still being flushed after it ends.
//!
//! The whole process runs under mimalloc, as the `pythia` binary built with its `mimalloc`
//! feature does. Under glibc's allocator the worker threads wait on each other's frees, which
//! costs sends far more than a bare client (send / hyper 0.75), while the durable rate stays
//! about the same (48,000/s against 49,000/s on one build machine), so that its ratio is higher
//! (0.53).
//!
//! The broadcast endpoints are `/ep/0` to `/ep/999` spread over four servers, each answering
//! after 20 to 50 ms except `/ep/500`, the slowest, after 200 ms. A warm-up broadcast opens the
//! connections first.
//!
//! The cases run in alternating rounds to share the machine's noise, and their medians are
//! compared; the lowest and highest round ratio of durable to in memory are printed too, as
//! a shared machine's speed can move between rounds by as much as a target's margin. Every
//! phase is bounded by a count and a time limit (20 s). `PYTHIA_BENCH_MESSAGES` sets the
//! messages per round of the first two cases (default 100,000: shorter rounds are
//! dominated by a fresh file's first pages); `PYTHIA_BENCH_ONLY=durable` runs the in-memory
//! and durable cases alone, round by round, printing their ratio, the CPU time per message of
//! each and the bytes the durable one writes; any other value of it skips the broadcast.
//! `PYTHIA_BENCH_PRODUCERS` sets how many producers the durable and enqueue-only cases run
//! (default 64). Each producer waits for its message to be durable before it enqueues the
//! next, so with 64 the durable rate is bounded by 64 over the time an enqueue takes (1.1 to
//! 1.9 ms on four build machines: queueing at the writer, the batch, the commit, one
//! `fdatasync`, and the way back through the runtime); on two cores it is bounded by CPU time
//! too. 128 producers did no better on one machine and a little better on others (0.46 to
//! 0.47 against 0.43 to 0.44, before the writer synced itself). `PYTHIA_BENCH_MEMORY_OUTBOX`
//! (any value) runs the durable case on a `MemoryOutbox` instead, for the cost of the
//! dispatcher and its queue alone, and `PYTHIA_BENCH_FLOOR_OUTBOX` (any value) on the cheapest
//! durable layout SQLite allows (`support/floor_outbox.rs`: the payload alone, in a table with
//! no index), for what no layout of `SqliteOutbox`'s tables can go below.
//! `PYTHIA_BENCH_WRITER_NICE` sets the SQLite writer's niceness
//! (`SqliteOutboxBuilder::writer_nice`; default -10, which needs `CAP_SYS_NICE`: without it
//! the writer keeps the process's priority and the durable rate is lower).
//! `PYTHIA_BENCH_ROUNDS` sets the rounds of every case (default 5). With
//! `PYTHIA_BENCH_ONLY=durable`, each round also prints how many cores each case kept busy
//! (fewer than all means its rate is set by how long a producer waits, not by CPU time), and
//! with `PYTHIA_BENCH_LATENCY` (any value) where the enqueues' time went, from the outbox's
//! own histograms: the wait for the writer, the commit, the sync. That mode installs a
//! recorder of every metric, which costs CPU: its rates are not the figures.

#[path = "support/floor_outbox.rs"]
mod floor_outbox;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use pythia::outbox::{Outbox, SqliteOutbox};
use pythia::webhook::dispatch::Dispatcher;
use pythia::webhook::{Payload, WebhookConfig, WebhookSender};
use pythia_testkit::{Reply, Route, TestServer};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The allocator of the `pythia` binary, for the bench to measure what the daemon runs. Every
/// case, baselines included, runs with it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const IN_FLIGHT: usize = 64;
/// Attempts the durable case's dispatcher runs: the sender lets `IN_FLIGHT` of them be in
/// flight to the endpoint (its default concurrency limit), the others wait their turn there.
const DISPATCH_SLOTS: usize = 3 * IN_FLIGHT;
/// Rounds of each case, unless `PYTHIA_BENCH_ROUNDS` says otherwise.
const ROUNDS: usize = 5;
const PHASE_LIMIT: Duration = Duration::from_secs(20);
const WARM_UP: usize = 2_000;
const MEMORY_PATH: &str = "/memory";
const DURABLE_PATH: &str = "/durable";

const ENDPOINTS: usize = 1_000;
const SERVERS: usize = 4;
const SLOWEST: usize = 500;
const SLOWEST_DELAY: Duration = Duration::from_millis(200);

/// A compact JSON document of exactly 1 KiB.
fn payload() -> Bytes {
    let head = r#"{"type":"order.created","data":{"order_id":12345,"note":""#;
    let tail = r#""}}"#;
    let note = "x".repeat(1024 - head.len() - tail.len());
    let body = format!("{head}{note}{tail}");
    assert_eq!(body.len(), 1024);
    serde_json::from_str::<serde_json::Value>(&body).expect("the payload is json");
    Bytes::from(body)
}

/// What one phase did.
#[derive(Clone, Copy)]
struct Run {
    done: usize,
    failures: usize,
    elapsed: Duration,
}

impl Run {
    fn per_second(self) -> f64 {
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let done = self.done as f64;
        done / self.elapsed.as_secs_f64()
    }
}

/// Runs `op` `count` times with `workers` concurrent workers, stopping early at `deadline`.
async fn drive<F, Fut>(workers: usize, count: usize, deadline: Instant, op: F) -> Run
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();

    let workers: Vec<_> = (0..workers)
        .map(|_| {
            let (op, next, failures) = (op.clone(), next.clone(), failures.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline && next.fetch_add(1, Ordering::Relaxed) < count {
                    if !op().await {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("a bench worker panicked");
    }

    let elapsed = started.elapsed();
    let done = next.load(Ordering::Relaxed).min(count);
    if Instant::now() >= deadline {
        println!("  (a phase ran out of time after {done} of {count})");
    }
    Run {
        done,
        failures: failures.load(Ordering::Relaxed),
        elapsed,
    }
}

/// The end of a phase that starts now.
fn phase_deadline() -> Instant {
    Instant::now() + PHASE_LIMIT
}

/// The baseline of the in-memory case: hyper's own pooled client, nothing on top.
async fn bare(
    client: &Client<HttpConnector, Full<Bytes>>,
    url: &str,
    body: &Bytes,
    n: usize,
) -> Run {
    let uri: http::Uri = url.parse().expect("a valid uri");
    let (client, body) = (client.clone(), body.clone());
    drive(IN_FLIGHT, n, phase_deadline(), move || {
        let (client, uri, body) = (client.clone(), uri.clone(), body.clone());
        async move {
            let request = http::Request::post(uri)
                .header(CONTENT_TYPE, "application/json")
                .body(Full::new(body))
                .expect("a valid request");
            match client.request(request).await {
                Ok(response) => {
                    response.status().is_success() && response.into_body().collect().await.is_ok()
                }
                Err(_) => false,
            }
        }
    })
    .await
}

/// Where the gap comes from: reqwest, which `HttpClient` wraps, with nothing on top.
async fn bare_reqwest(client: &reqwest::Client, url: &str, body: &Bytes, n: usize) -> Run {
    let (client, url, body) = (client.clone(), url.to_owned(), body.clone());
    drive(IN_FLIGHT, n, phase_deadline(), move || {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        async move {
            let sent = client
                .post(url)
                .header(CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await;
            match sent {
                Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                Err(_) => false,
            }
        }
    })
    .await
}

/// `WebhookSender::send` to a named endpoint, with its retries, breaker and signing.
async fn in_memory(sender: &WebhookSender, body: &Bytes, n: usize) -> Run {
    let payload = Payload::bytes(body.clone(), "application/json");
    let sender = sender.clone();
    drive(IN_FLIGHT, n, phase_deadline(), move || {
        let (sender, payload) = (sender.clone(), payload.clone());
        async move { sender.send("memory", payload, &[]).await.is_delivered() }
    })
    .await
}

/// Producers of the durable and enqueue-only cases: `PYTHIA_BENCH_PRODUCERS`, by default
/// `IN_FLIGHT`. Each waits for its message to be durable before it enqueues the next, so with
/// few producers the rate is theirs divided by the time a commit takes to reach the disk.
fn producers() -> usize {
    env_count("PYTHIA_BENCH_PRODUCERS", IN_FLIGHT)
}

/// A fresh outbox file in its own temporary directory, with the default settings except the
/// writer's niceness when `PYTHIA_BENCH_WRITER_NICE` sets one.
fn fresh_outbox() -> (tempfile::TempDir, SqliteOutbox) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut builder = SqliteOutbox::builder(dir.path().join("outbox.db"));
    if let Some(nice) = std::env::var("PYTHIA_BENCH_WRITER_NICE")
        .ok()
        .and_then(|nice| nice.parse().ok())
    {
        builder = builder.writer_nice(nice);
    }
    let outbox = builder.open().expect("a sqlite outbox");
    (dir, outbox)
}

fn dispatcher(outbox: &Arc<dyn Outbox>, sender: &WebhookSender) -> Dispatcher {
    Dispatcher::builder(outbox.clone(), sender.clone())
        .concurrency(DISPATCH_SLOTS)
        .per_endpoint_concurrency(DISPATCH_SLOTS)
        .build()
}

/// Enqueues only, no dispatcher running: messages accepted (durable) per second.
async fn enqueue_only(sender: &WebhookSender, body: &Bytes, n: usize) -> Run {
    let (_dir, outbox) = fresh_outbox();
    let outbox: Arc<dyn Outbox> = Arc::new(outbox);
    let queue = dispatcher(&outbox, sender).queue();
    let body = body.clone();
    drive(producers(), n, phase_deadline(), move || {
        let (queue, body) = (queue.clone(), body.clone());
        async move { queue.send("durable", body).await.is_ok() }
    })
    .await
}

/// End to end: producers enqueue while the dispatcher delivers; done counts arrivals at the
/// receiver, elapsed runs from the first enqueue to the last arrival.
async fn durable(sender: &WebhookSender, server: &TestServer, body: &Bytes, n: usize) -> Run {
    let (_dir, outbox): (_, Arc<dyn Outbox>) =
        if std::env::var_os("PYTHIA_BENCH_MEMORY_OUTBOX").is_some() {
            (None, Arc::new(pythia::outbox::MemoryOutbox::new()))
        } else if std::env::var_os("PYTHIA_BENCH_FLOOR_OUTBOX").is_some() {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let outbox = floor_outbox::FloorOutbox::open(&dir.path().join("floor.db"));
            (Some(dir), Arc::new(outbox))
        } else {
            let (dir, outbox) = fresh_outbox();
            (Some(dir), Arc::new(outbox))
        };
    let dispatcher = dispatcher(&outbox, sender);
    let queue = dispatcher.queue();
    let stop = CancellationToken::new();
    let running = tokio::spawn(dispatcher.run_until(stop.clone().cancelled_owned()));
    let before = server.hits(DURABLE_PATH);
    let deadline = phase_deadline();
    let started = Instant::now();

    let body = body.clone();
    let produced = drive(producers(), n, deadline, move || {
        let (queue, body) = (queue.clone(), body.clone());
        async move { queue.send("durable", body).await.is_ok() }
    })
    .await;
    // Polled rather than awaited with `wait_for_hits`, which would wake a waiter per request.
    let target = before + produced.done;
    while server.hits(DURABLE_PATH) < target && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed = started.elapsed();
    let delivered = server.hits(DURABLE_PATH) - before;

    stop.cancel();
    running.await.expect("the dispatcher panicked");
    let stats = outbox.stats(None).await.expect("outbox stats");
    if delivered < produced.done || stats.depth() > 0 {
        println!(
            "  (durable: {delivered} of {} arrived in time, {} left in the outbox)",
            produced.done,
            stats.depth()
        );
    }
    Run {
        done: delivered,
        failures: produced.failures + usize::try_from(stats.dead).unwrap_or(usize::MAX),
        elapsed,
    }
}

/// What the process has spent so far: CPU time in clock ticks (10 ms) under the empty name
/// (the whole process, exited threads included) and under each thread's name (summed over the
/// live threads of that name), and the counters of `/proc/self/io` under `io:` names.
fn thread_cpu() -> HashMap<String, u64> {
    let mut spent = HashMap::new();
    if let Some((_, ticks)) = stat_ticks("/proc/self/stat") {
        spent.insert(String::new(), ticks);
    }
    if let Ok(io) = std::fs::read_to_string("/proc/self/io") {
        for line in io.lines() {
            if let Some((key, value)) = line.split_once(": ") {
                if let Ok(value) = value.trim().parse::<u64>() {
                    spent.insert(format!("io:{key}"), value);
                }
            }
        }
    }
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Some((name, ticks)) = stat_ticks(task.path().join("stat")) {
                *spent.entry(name).or_default() += ticks;
            }
        }
    }
    spent
}

/// The name and the user plus system CPU ticks of a `/proc` `stat` file.
fn stat_ticks(path: impl AsRef<std::path::Path>) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(path).ok()?;
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let fields: Vec<&str> = stat.get(close + 2..)?.split(' ').collect();
    let ticks = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i)?.parse::<u64>().ok())
        .sum();
    Some((stat[open + 1..close].to_owned(), ticks))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The lowest and highest of `values`.
fn spread(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), value| {
            (low.min(*value), high.max(*value))
        })
}

/// `PYTHIA_BENCH_ROUNDS`, by default `ROUNDS`: more rounds narrow a median on a noisy machine.
fn rounds() -> usize {
    env_count("PYTHIA_BENCH_ROUNDS", ROUNDS)
}

fn messages_per_round() -> usize {
    env_count("PYTHIA_BENCH_MESSAGES", 100_000)
}

/// The positive count in the environment variable `name`, or `default`.
fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .filter(|count| *count > 0)
        .unwrap_or(default)
}

fn check(run: Run, what: &str) -> f64 {
    assert_eq!(run.failures, 0, "{what}: deliveries failed");
    run.per_second()
}

/// Cases 1 and 2: in memory against bare hyper, durable against in memory.
async fn throughput(body: &Bytes) {
    let server = TestServer::start().await;
    server.set_recording(false);
    server.route(MEMORY_PATH, Route::reply(Reply::status(204)));
    server.route(DURABLE_PATH, Route::reply(Reply::status(204)));
    let url = server.url(MEMORY_PATH);

    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let hyper = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(IN_FLIGHT)
        .build(connector);
    let reqwest = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(IN_FLIGHT)
        .build()
        .expect("a reqwest client");
    let config = WebhookConfig::builder()
        .base_url(server.base_url())
        .secret(SECRET)
        .endpoint("memory", MEMORY_PATH)
        .endpoint("durable", DURABLE_PATH)
        .build()
        .expect("a valid webhook configuration");
    let sender = WebhookSender::new(config).expect("a webhook sender");

    let count = messages_per_round();
    bare(&hyper, &url, body, WARM_UP).await;
    bare_reqwest(&reqwest, &url, body, WARM_UP).await;
    in_memory(&sender, body, WARM_UP).await;
    durable(&sender, &server, body, WARM_UP).await;

    if std::env::var("PYTHIA_BENCH_ONLY").is_ok_and(|only| only == "durable") {
        durable_alone(&sender, &server, body, count).await;
        return;
    }
    let rounds = rounds();
    let mut rates: [Vec<f64>; 5] = Default::default();
    for round in 0..rounds {
        let h = check(bare(&hyper, &url, body, count).await, "bare hyper");
        let r = check(
            bare_reqwest(&reqwest, &url, body, count).await,
            "bare reqwest",
        );
        let m = check(in_memory(&sender, body, count).await, "in memory");
        // Durable before enqueue-only: what the enqueue-only case writes is still being
        // flushed to disk for a while after it ends, which would slow the syncs that follow.
        let d = check(durable(&sender, &server, body, count).await, "durable");
        let e = check(enqueue_only(&sender, body, count).await, "enqueue only");
        let figures = [h, r, m, e, d];
        println!(
            "round {round}: hyper {h:>6.0}/s, reqwest {r:>6.0}/s, send {m:>6.0}/s, \
             enqueue {e:>6.0}/s, durable {d:>6.0}/s"
        );
        for (all, figure) in rates.iter_mut().zip(figures) {
            all.push(figure);
        }
    }

    // The ratio of each round too: the machine's speed moves between rounds, and the spread
    // says how far one median can be trusted.
    let round_ratios: Vec<f64> = rates[4].iter().zip(&rates[2]).map(|(d, m)| d / m).collect();
    let (low, high) = spread(&round_ratios);
    let [h, r, m, e, d] = rates.map(median);
    println!(
        "webhook_send: 1 KiB JSON, {IN_FLIGHT} in flight, {count} per round, median of {rounds}"
    );
    println!("  bare hyper client:            {h:>7.0} req/s (baseline)");
    println!(
        "  bare reqwest, for reference:  {r:>7.0} req/s ({:.3} of hyper)",
        r / h
    );
    println!("  WebhookSender::send:          {m:>7.0} sends/s");
    println!(
        "  ratio send / hyper:           {:>7.3} (target >= 0.8: {})",
        m / h,
        verdict(m / h >= 0.8)
    );
    println!("  sqlite outbox, enqueue only:  {e:>7.0} accepted/s");
    println!("  sqlite outbox, end to end:    {d:>7.0} delivered/s");
    println!(
        "  ratio durable / in memory:    {:>7.3} (target >= 0.5: {})",
        d / m,
        verdict(d / m >= 0.5)
    );
    println!("  durable / in memory by round: {low:.3} to {high:.3}");
    println!(
        "  connections accepted:         {:>7}",
        server.connections()
    );
}

/// `PYTHIA_BENCH_ONLY=durable`: the durable case against the in-memory one, round by round,
/// with the CPU time each takes per message (the durable one split between the runtime's
/// workers and the outbox's threads) and what the durable one writes.
async fn durable_alone(sender: &WebhookSender, server: &TestServer, body: &Bytes, count: usize) {
    #[allow(clippy::cast_precision_loss)]
    let per_message = |before: &HashMap<String, u64>, after: &HashMap<String, u64>, key: &str| {
        let spent = after.get(key).unwrap_or(&0) - before.get(key).unwrap_or(&0);
        spent as f64 / count as f64
    };
    let tick_us = 10_000.0;
    #[allow(clippy::cast_precision_loss)] // a handful of cores
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    let mut ratios = Vec::new();
    for round in 0..rounds() {
        let before = thread_cpu();
        let m = check(in_memory(sender, body, count).await, "in memory");
        let between = thread_cpu();
        let connections = server.connections();
        let d = check(durable(sender, server, body, count).await, "durable");
        let after = thread_cpu();
        let memory_cpu = per_message(&before, &between, "") * tick_us;
        let all = per_message(&between, &after, "") * tick_us;
        let workers = per_message(&between, &after, "tokio-rt-worker") * tick_us;
        println!(
            "round {round}: in memory {m:>6.0}/s, {memory_cpu:.1} us cpu per message; durable \
             {d:>6.0}/s = {:.3}, {all:.1} us cpu per message: runtime workers {workers:.1} \
             us, the rest (the outbox threads) {:.1} us",
            d / m,
            all - workers
        );
        println!(
            "  durable, per message: {:.0} bytes written by syscalls (sockets included), {:.0} \
             bytes to storage; {} connections opened",
            per_message(&between, &after, "io:wchar"),
            per_message(&between, &after, "io:write_bytes"),
            server.connections() - connections
        );
        // Below all cores, the rate is set by how long each producer waits for its enqueue,
        // not by the CPU the work takes.
        println!(
            "  cores busy: in memory {:.2}, durable {:.2} of {cores}",
            memory_cpu * m / 1e6,
            all * d / 1e6
        );
        if let Some(snapshotter) = LATENCY.get() {
            print_latency(snapshotter);
        }
        ratios.push(d / m);
    }
    let (low, high) = spread(&ratios);
    println!(
        "  median ratio durable / in memory: {:.3} (rounds {low:.3} to {high:.3})",
        median(ratios)
    );
}

/// With `PYTHIA_BENCH_LATENCY` set, the recorder behind [`print_latency`]. It records every
/// metric of the library, which costs CPU time: the rates of such a run are lower.
static LATENCY: std::sync::OnceLock<metrics_util::debugging::Snapshotter> =
    std::sync::OnceLock::new();

/// Installs the recorder of `PYTHIA_BENCH_LATENCY`, if asked for.
fn record_latency() {
    if std::env::var_os("PYTHIA_BENCH_LATENCY").is_none() {
        return;
    }
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    if metrics::set_global_recorder(recorder).is_ok() {
        let _ = LATENCY.set(snapshotter);
    }
}

/// Where the enqueues of the round just run spent their time, from the outbox's histograms
/// (taking them empties them for the next round).
fn print_latency(snapshotter: &metrics_util::debugging::Snapshotter) {
    let mut means = HashMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        if let metrics_util::debugging::DebugValue::Histogram(values) = value {
            #[allow(clippy::cast_precision_loss)] // far fewer than 2^52 samples
            let count = values.len() as f64;
            let sum: f64 = values.iter().map(|v| v.into_inner()).sum();
            means.insert(
                key.key().name().to_owned(),
                (sum / count.max(1.0), values.len()),
            );
        }
    }
    let mean = |name: &str| means.get(name).copied().unwrap_or((0.0, 0));
    let (enqueue, _) = mean("pythia_outbox_enqueue_duration_seconds");
    let (wait, batches) = mean("pythia_outbox_sqlite_wait_seconds");
    let (commit, _) = mean("pythia_outbox_sqlite_commit_seconds");
    let (sync, syncs) = mean("pythia_outbox_sqlite_sync_seconds");
    let (batch, _) = mean("pythia_outbox_sqlite_batch_size");
    println!(
        "  latency, means: enqueue {:.0} us; per batch ({batches}, {batch:.1} requests): \
         oldest waited {:.0} us, ran and committed in {:.0} us; per sync ({syncs}): {:.0} us",
        enqueue * 1e6,
        wait * 1e6,
        commit * 1e6,
        sync * 1e6
    );
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISSED"
    }
}

fn delay_of(endpoint: usize) -> Duration {
    if endpoint == SLOWEST {
        return SLOWEST_DELAY;
    }
    let spread = u64::try_from(endpoint * 13 % 31).expect("below 31");
    Duration::from_millis(20 + spread)
}

/// Case 3: a broadcast to 1,000 endpoints against the slowest endpoint alone.
async fn broadcast(body: &Bytes) {
    let mut servers = Vec::new();
    for _ in 0..SERVERS {
        let server = TestServer::start().await;
        server.set_recording(false);
        servers.push(server);
    }
    let mut builder = WebhookConfig::builder().secret(SECRET);
    let mut names = Vec::with_capacity(ENDPOINTS);
    for endpoint in 0..ENDPOINTS {
        let server = &servers[endpoint % SERVERS];
        let path = format!("/ep/{endpoint}");
        server.route(
            &path,
            Route::reply(Reply::status(204).delay(delay_of(endpoint))),
        );
        let name = format!("ep{endpoint}");
        builder = builder.endpoint(&name, &server.url(&path));
        names.push(name);
    }
    let sender = WebhookSender::new(builder.build().expect("a valid webhook configuration"))
        .expect("a webhook sender");
    let payload = Payload::bytes(body.clone(), "application/json");
    let slowest = &names[SLOWEST];

    let broadcast_once = || async {
        let started = Instant::now();
        let sent = sender.broadcast(&names, payload.clone(), &[], false);
        let outcome = tokio::time::timeout(PHASE_LIMIT, sent)
            .await
            .expect("a broadcast within the phase limit");
        assert!(outcome.is_all_delivered(), "a broadcast delivery failed");
        started.elapsed()
    };
    let single_once = || async {
        let started = Instant::now();
        let sent = sender.send(slowest, payload.clone(), &[]);
        let outcome = tokio::time::timeout(PHASE_LIMIT, sent)
            .await
            .expect("a send within the phase limit");
        assert!(outcome.is_delivered(), "the single send failed");
        started.elapsed()
    };

    broadcast_once().await;
    single_once().await;
    let (mut singles, mut broadcasts) = (vec![], vec![]);
    let rounds = rounds();
    for round in 0..rounds {
        let single = single_once().await;
        let all = broadcast_once().await;
        println!(
            "round {round}: slowest alone {:>6.1} ms, broadcast {:>6.1} ms",
            ms(single),
            ms(all)
        );
        singles.push(ms(single));
        broadcasts.push(ms(all));
    }

    let (single, all) = (median(singles), median(broadcasts));
    let ratio = all / single;
    let slowest_ms = SLOWEST_DELAY.as_millis();
    let connections: usize = servers.iter().map(TestServer::connections).sum();
    println!(
        "webhook_send broadcast: {ENDPOINTS} endpoints on {SERVERS} servers, median of {rounds}"
    );
    println!("  slowest endpoint alone:       {single:>7.1} ms (answers after {slowest_ms} ms)");
    println!("  broadcast:                    {all:>7.1} ms");
    let met = verdict(ratio <= 1.5);
    println!("  ratio broadcast / slowest:    {ratio:>7.3} (target <= 1.5: {met})");
    println!("  connections accepted:         {connections:>7}");
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn main() {
    record_latency();
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let body = payload();
    tokio.block_on(async {
        throughput(&body).await;
        if std::env::var_os("PYTHIA_BENCH_ONLY").is_none() {
            broadcast(&body).await;
        }
    });
}
