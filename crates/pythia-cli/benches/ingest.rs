//! The daemon under ingest load: 64 concurrent clients post webhooks to `pythia run`, which
//! stores each in its SQLite outbox before answering 202 and delivers it to a loopback receiver.
//!
//! Reports accepted messages per second, end-to-end latency (post sent to webhook received)
//! p50 and p99, the daemon's resident memory idle and under load, and its time from start to
//! ready. The baseline, measured in the same run, is the same 64 clients posting straight to
//! the receiver: the ratio is what durability and signing cost against a bare loopback POST.
//!
//! Bounded: at most `PYTHIA_BENCH_MESSAGES` messages (default 20,000) and 30 s of load per
//! phase, 60 s to drain. Run with `cargo bench -p pythia-cli --bench ingest`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Router;
use parking_lot::Mutex;
use serde_json::{json, Value};

const CLIENTS: usize = 64;
const LOAD_LIMIT: Duration = Duration::from_secs(30);
const DRAIN_LIMIT: Duration = Duration::from_secs(60);
/// The rate of the paced phase, below what the daemon delivers, so that its latency is the
/// pipeline's and not a queue's.
const PACED_RATE: f64 = 400.0;

/// What the receiver saw: when each message arrived, by its number.
#[derive(Clone)]
struct Receiver {
    epoch: Instant,
    arrivals: Arc<Mutex<HashMap<u64, Duration>>>,
    hits: Arc<AtomicUsize>,
}

async fn receive(State(receiver): State<Receiver>, body: Bytes) -> StatusCode {
    let at = receiver.epoch.elapsed();
    receiver.hits.fetch_add(1, Ordering::Relaxed);
    if let Some(n) = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["n"].as_u64())
    {
        receiver.arrivals.lock().entry(n).or_insert(at);
    }
    StatusCode::OK
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench());
}

async fn bench() {
    let messages: usize = std::env::var("PYTHIA_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let epoch = Instant::now();
    let receiver = Receiver {
        epoch,
        arrivals: Arc::default(),
        hits: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver_addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(receive).with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()
        .unwrap();

    // Baseline: the same clients straight to the receiver.
    let direct = format!("http://{receiver_addr}/direct");
    let (baseline_sent, baseline_elapsed) = drive(
        &client,
        &direct,
        messages,
        None,
        epoch,
        1_000_000_000,
        |_, n| json!({"n": n}),
    )
    .await;
    let baseline_rate = baseline_sent as f64 / baseline_elapsed.as_secs_f64();
    receiver.arrivals.lock().clear();

    // The daemon.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pythia.toml");
    std::fs::write(&config, config_text(dir.path(), receiver_addr)).unwrap();
    let ready_file = dir.path().join("ready.json");
    let spawned = Instant::now();
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_pythia"))
        .args(["--log-format", "json", "--log-level", "warn", "run"])
        .arg(&config)
        .arg("--ready-file")
        .arg(&ready_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn pythia");
    let ready = wait_ready(&ready_file, &mut daemon);
    let admin = ready["admin"].as_str().unwrap().to_owned();
    let ready_after = loop {
        let up = client
            .get(format!("http://{admin}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if up {
            break spawned.elapsed();
        }
        assert!(spawned.elapsed() < Duration::from_secs(20), "not ready");
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = rss_kib(daemon.id());

    let ingest = format!("http://{}/v1/messages", ready["ingest"].as_str().unwrap());
    let peak = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let peak = peak.clone();
        let pid = daemon.id();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let burst = load(&client, &ingest, &receiver, messages, None, 0).await;
    sampler.abort();
    let paced_count = (PACED_RATE * 5.0) as usize;
    let paced = load(
        &client,
        &ingest,
        &receiver,
        paced_count,
        Some(PACED_RATE),
        10_000_000,
    )
    .await;

    let _ = daemon.kill();
    let _ = daemon.wait();

    println!(
        "ingest: {CLIENTS} clients, burst of {} accepted in {:.2?}, {} delivered in {:.2?}",
        burst.accepted, burst.elapsed, burst.delivered, burst.drained
    );
    let rate = burst.accepted as f64 / burst.elapsed.as_secs_f64();
    println!("  accepted            {rate:>10.0} msg/s");
    println!("  baseline (direct)   {baseline_rate:>10.0} msg/s");
    println!(
        "  ratio               {:>10.3} (ingest / direct POST to the receiver)",
        rate / baseline_rate
    );
    println!(
        "  delivered           {:>10.0} msg/s (burst, first post to last webhook)",
        burst.delivered as f64 / burst.drained.as_secs_f64()
    );
    println!(
        "  burst e2e p50       {:>10.2} ms (queueing behind the burst)",
        burst.p50
    );
    println!("  burst e2e p99       {:>10.2} ms", burst.p99);
    println!(
        "  paced e2e p50       {:>10.2} ms ({PACED_RATE} msg/s, {} messages)",
        paced.p50, paced.accepted
    );
    println!("  paced e2e p99       {:>10.2} ms", paced.p99);
    println!(
        "  start to ready      {:>10.2} ms (target < 50)",
        ready_after.as_secs_f64() * 1e3
    );
    println!(
        "  rss idle            {:>10.1} MiB (target < 20)",
        idle_rss as f64 / 1024.0
    );
    println!(
        "  rss under load      {:>10.1} MiB (peak, burst)",
        peak.load(Ordering::Relaxed) as f64 / 1024.0
    );
    assert_eq!(
        burst.delivered, burst.accepted,
        "every accepted message was delivered"
    );
    assert_eq!(
        paced.delivered, paced.accepted,
        "every accepted message was delivered"
    );
}

/// What one load phase measured.
struct Phase {
    accepted: usize,
    delivered: usize,
    elapsed: Duration,
    drained: Duration,
    p50: f64,
    p99: f64,
}

/// Posts `count` messages to the ingest API and waits for their webhooks.
async fn load(
    client: &reqwest::Client,
    ingest: &str,
    receiver: &Receiver,
    count: usize,
    pace: Option<f64>,
    first: u64,
) -> Phase {
    let sent_at: Arc<Mutex<HashMap<u64, Duration>>> = Arc::default();
    let record = sent_at.clone();
    let started = Instant::now();
    let (accepted, elapsed) = drive(
        client,
        ingest,
        count,
        pace,
        receiver.epoch,
        first,
        move |at, n| {
            record.lock().insert(n, at);
            json!({"endpoint": "sink", "payload": {"n": n}})
        },
    )
    .await;
    let arrived = |receiver: &Receiver| {
        let arrivals = receiver.arrivals.lock();
        sent_at
            .lock()
            .keys()
            .filter(|n| arrivals.contains_key(n))
            .count()
    };
    while arrived(receiver) < accepted && started.elapsed() < LOAD_LIMIT + DRAIN_LIMIT {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let drained = started.elapsed();
    let mut latencies: Vec<Duration> = {
        let sent = sent_at.lock();
        let arrivals = receiver.arrivals.lock();
        sent.iter()
            .filter_map(|(n, at)| Some(arrivals.get(n)?.saturating_sub(*at)))
            .collect()
    };
    latencies.sort_unstable();
    let quantile = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    Phase {
        accepted,
        delivered: latencies.len(),
        elapsed,
        drained,
        p50: quantile(0.50),
        p99: quantile(0.99),
    }
}

/// Posts `count` bodies from `CLIENTS` tasks (at most `pace` per second when given), stopping
/// at `LOAD_LIMIT`; numbers start at `first`, and `body` gets the time since `epoch`. Returns
/// the number answered 2xx and the time taken.
async fn drive(
    client: &reqwest::Client,
    url: &str,
    count: usize,
    pace: Option<f64>,
    epoch: Instant,
    first: u64,
    body: impl Fn(Duration, u64) -> Value + Send + Sync + 'static,
) -> (usize, Duration) {
    let next = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicUsize::new(0));
    let body = Arc::new(body);
    let started = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, url) = (client.clone(), url.to_owned());
            let (next, ok, body) = (next.clone(), ok.clone(), body.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= count || started.elapsed() > LOAD_LIMIT {
                        break;
                    }
                    if let Some(rate) = pace {
                        let due = started + Duration::from_secs_f64(n as f64 / rate);
                        tokio::time::sleep_until(due.into()).await;
                    }
                    let value = body(epoch.elapsed(), first + n as u64);
                    let sent = client.post(&url).json(&value).send().await;
                    if sent.is_ok_and(|r| r.status().is_success()) {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    (ok.load(Ordering::Relaxed), started.elapsed())
}

fn config_text(dir: &Path, receiver: SocketAddr) -> String {
    format!(
        r#"[admin]
bind = "127.0.0.1:0"
[ingest]
bind = "127.0.0.1:0"
[outbox]
path = "{}"
poll_interval = "50ms"
[http]
allow_private_networks = true
[[endpoint]]
name = "sink"
url = "http://{receiver}/hooks"
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
concurrency = 64
"#,
        dir.join("outbox.db").display()
    )
}

fn wait_ready(path: &Path, daemon: &mut Child) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = std::fs::read_to_string(path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
        {
            return value;
        }
        assert!(daemon.try_wait().unwrap().is_none(), "pythia exited early");
        assert!(Instant::now() < deadline, "no ready file within 20 s");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Resident memory of a process in KiB, from `/proc` (0 where unavailable).
fn rss_kib(pid: u32) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
