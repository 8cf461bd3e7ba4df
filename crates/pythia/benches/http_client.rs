//! `HttpClient` against a bare `reqwest::Client` on the same loopback testkit server, 64
//! requests in flight, measured in the same run: requests per second of each and the ratio.
//!
//! ```text
//! cargo bench -p pythia --bench http_client
//! ```
//!
//! Target: the client keeps at least 0.9 of the bare client's rate. The client runs with its
//! defaults (per-host breaker, retry budget, retry policy, body cap) except
//! `max_keepalive_connections`, raised to the 64 in flight so that both pools keep the same
//! connections. The two are measured in alternating rounds to share the machine's noise;
//! each phase is bounded by a request count and a time limit. `PYTHIA_BENCH_REQUESTS` sets
//! the count per round (default 20,000).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pythia::http::{HttpClient, HttpClientConfig};
use pythia_testkit::{Reply, Route, TestServer};

const IN_FLIGHT: usize = 64;
const ROUNDS: usize = 5;
const PHASE_LIMIT: Duration = Duration::from_secs(20);
const WARM_UP: usize = 2_000;

/// One way of making a request.
trait Caller: Clone + Send + Sync + 'static {
    fn call(&self, url: &str) -> impl std::future::Future<Output = bool> + Send;
}

#[derive(Clone)]
struct Bare(reqwest::Client);

impl Caller for Bare {
    async fn call(&self, url: &str) -> bool {
        match self.0.get(url).send().await {
            Ok(response) => response.bytes().await.is_ok(),
            Err(_) => false,
        }
    }
}

#[derive(Clone)]
struct Pythia(HttpClient);

impl Caller for Pythia {
    async fn call(&self, url: &str) -> bool {
        self.0
            .get(url)
            .send()
            .await
            .is_ok_and(|response| response.is_success())
    }
}

/// Sends `count` requests with `IN_FLIGHT` workers; returns requests per second.
async fn rate<C: Caller>(caller: &C, url: &str, count: usize) -> f64 {
    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + PHASE_LIMIT;

    let workers: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let (caller, url) = (caller.clone(), url.to_owned());
            let (next, failures) = (next.clone(), failures.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline && next.fetch_add(1, Ordering::Relaxed) < count {
                    if !caller.call(&url).await {
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
    assert_eq!(failures.load(Ordering::Relaxed), 0, "requests failed");
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let per_second = done as f64 / elapsed.as_secs_f64();
    per_second
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn requests_per_round() -> usize {
    std::env::var("PYTHIA_BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(20_000)
}

fn main() {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    tokio.block_on(async {
        let server = TestServer::start().await;
        server.set_recording(false);
        let body = serde_json::json!({"id": 1, "status": "completed", "amount": 1250});
        server.route("/bench", Route::reply(Reply::ok().json(body)));
        let url = server.url("/bench");

        let bare = Bare(
            reqwest::Client::builder()
                .tcp_nodelay(true)
                .build()
                .unwrap(),
        );
        let config = HttpClientConfig::builder()
            .max_keepalive_connections(IN_FLIGHT)
            .build()
            .expect("a valid configuration");
        let pythia = Pythia(HttpClient::new(config).expect("an http client"));

        let count = requests_per_round();
        rate(&bare, &url, WARM_UP).await;
        rate(&pythia, &url, WARM_UP).await;

        let (mut bare_rates, mut pythia_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            let b = rate(&bare, &url, count).await;
            let p = rate(&pythia, &url, count).await;
            println!(
                "round {round}: bare reqwest {b:>9.0} req/s, HttpClient {p:>9.0} req/s \
                 (ratio {:.3})",
                p / b
            );
            bare_rates.push(b);
            pythia_rates.push(p);
            ratios.push(p / b);
        }

        let (b, p) = (median(bare_rates), median(pythia_rates));
        println!(
            "http_client: {IN_FLIGHT} in flight, {count} requests per round, median of {ROUNDS}"
        );
        println!("  bare reqwest: {b:>9.0} req/s");
        println!("  HttpClient:   {p:>9.0} req/s");
        println!("  ratio of the medians:         {:.3}", p / b);
        // Each round measures both back to back, so its ratio shares that moment's noise.
        println!(
            "  median of the round ratios:   {:.3} (target >= 0.9)",
            median(ratios)
        );
        println!(
            "  connections accepted by the server: {}",
            server.connections()
        );
    });
}
