//! The per-host circuit breaker: opens after the threshold, refuses while open without any
//! request reaching the server, half-opens after the open duration, closes after good probes,
//! re-opens (for longer) on a bad one, and exports its state.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::CompositeKey;

type Metrics = Vec<(
    CompositeKey,
    Option<metrics::Unit>,
    Option<metrics::SharedString>,
    DebugValue,
)>;
use pythia::http::{ErrorKind, HttpClient, HttpClientConfig};
use pythia::resilience::{BreakerState, CircuitBreakerConfig, RetryPolicy};
use pythia_testkit::{Reply, Route, TestServer};

const OPEN: Duration = Duration::from_secs(30);

/// A server whose `/api` answers with whatever status the returned handle holds.
async fn switchable_server() -> (TestServer, Arc<AtomicU16>) {
    let server = TestServer::start().await;
    let status = Arc::new(AtomicU16::new(500));
    let answer = status.clone();
    server.route(
        "/api",
        Route::from_fn(move |_| Reply::status(answer.load(Ordering::SeqCst))),
    );
    (server, status)
}

fn client(server: &TestServer) -> HttpClient {
    let breaker = CircuitBreakerConfig::builder()
        .failure_threshold(3)
        .open_duration(OPEN)
        .open_backoff(2.0)
        .half_open_probes(2)
        .build()
        .unwrap();
    let config = HttpClientConfig::builder()
        .base_url(server.base_url())
        .retry(RetryPolicy::none())
        .retry_budget(None)
        .circuit_breaker(Some(breaker))
        .build()
        .unwrap();
    HttpClient::new(config).unwrap()
}

async fn statuses(client: &HttpClient, times: usize) -> Vec<Result<u16, ErrorKind>> {
    let mut seen = Vec::new();
    for _ in 0..times {
        let result = client.get("/api").send().await;
        seen.push(result.map(|r| r.status().as_u16()).map_err(|e| e.kind()));
    }
    seen
}

fn host_key(server: &TestServer) -> String {
    server.addr().to_string()
}

#[tokio::test(start_paused = true)]
async fn the_breaker_opens_after_the_threshold_and_refuses_without_touching_the_server() {
    let (server, _) = switchable_server().await;
    let client = client(&server);

    let failures = statuses(&client, 3).await;
    let refused = client.get("/api").send().await.unwrap_err();

    assert_eq!(failures, [Ok(500), Ok(500), Ok(500)]);
    assert_eq!(refused.kind(), ErrorKind::CircuitOpen);
    assert_eq!(refused.attempts(), 1, "refused by the breaker, not retried");
    assert_eq!(
        server.hits("/api"),
        3,
        "no request reached the server while open"
    );
    let breaker = client.breaker(&host_key(&server)).unwrap();
    assert_eq!(breaker.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn the_breaker_refuses_until_the_open_duration_ends_then_lets_probes_through() {
    let (server, status) = switchable_server().await;
    let client = client(&server);
    statuses(&client, 3).await;
    status.store(200, Ordering::SeqCst);

    tokio::time::sleep(OPEN - Duration::from_millis(1)).await;
    let still_open = statuses(&client, 5).await;
    let hits_while_open = server.hits("/api");
    tokio::time::sleep(Duration::from_millis(1)).await;
    let half_open = client.breaker(&host_key(&server)).unwrap().state();

    assert!(still_open.iter().all(|r| *r == Err(ErrorKind::CircuitOpen)));
    assert_eq!(hits_while_open, 3);
    assert_eq!(half_open, BreakerState::HalfOpen);
}

#[tokio::test(start_paused = true)]
async fn good_probes_close_the_breaker() {
    let (server, status) = switchable_server().await;
    let client = client(&server);
    statuses(&client, 3).await;
    status.store(200, Ordering::SeqCst);
    tokio::time::sleep(OPEN).await;

    let first_probe = statuses(&client, 1).await;
    let after_one = client.breaker(&host_key(&server)).unwrap().state();
    let rest = statuses(&client, 3).await;

    assert_eq!(first_probe, [Ok(200)]);
    assert_eq!(after_one, BreakerState::HalfOpen, "two probes must succeed");
    assert_eq!(rest, [Ok(200), Ok(200), Ok(200)]);
    assert_eq!(
        client.breaker_states(),
        [(host_key(&server), BreakerState::Closed)]
    );
    assert_eq!(server.hits("/api"), 7);
}

#[tokio::test(start_paused = true)]
async fn a_bad_probe_reopens_the_breaker_for_longer() {
    let (server, _) = switchable_server().await;
    let client = client(&server);
    statuses(&client, 3).await;
    tokio::time::sleep(OPEN).await;

    let probe = statuses(&client, 1).await;
    let refused = client.get("/api").send().await.unwrap_err();
    tokio::time::sleep(OPEN).await;
    let after_first_duration = statuses(&client, 1).await;
    tokio::time::sleep(OPEN).await;
    let after_doubled_duration = statuses(&client, 1).await;

    assert_eq!(probe, [Ok(500)]);
    assert_eq!(refused.kind(), ErrorKind::CircuitOpen);
    assert_eq!(
        after_first_duration,
        [Err(ErrorKind::CircuitOpen)],
        "the second open period is twice as long"
    );
    assert_eq!(after_doubled_duration, [Ok(500)], "a probe goes through");
    assert_eq!(server.hits("/api"), 5);
}

#[tokio::test(start_paused = true)]
async fn client_errors_and_429_do_not_count_as_failures() {
    let (server, status) = switchable_server().await;
    let client = client(&server);

    status.store(404, Ordering::SeqCst);
    let not_found = statuses(&client, 5).await;
    status.store(429, Ordering::SeqCst);
    let limited = statuses(&client, 5).await;

    assert!(not_found.iter().all(|r| *r == Ok(404)));
    assert!(limited.iter().all(|r| *r == Ok(429)));
    assert_eq!(
        client.breaker(&host_key(&server)).unwrap().state(),
        BreakerState::Closed
    );
}

fn gauge(snapshot: &Metrics, name: &str, breaker: &str) -> Option<f64> {
    snapshot.iter().find_map(|(key, _, _, value)| {
        let labelled = key
            .key()
            .labels()
            .any(|l| l.key() == "breaker" && l.value() == breaker);
        match value {
            DebugValue::Gauge(v) if key.key().name() == name && labelled => Some(v.into_inner()),
            _ => None,
        }
    })
}

fn transitions(snapshot: &Metrics, breaker: &str, state: &str) -> u64 {
    snapshot
        .iter()
        .filter(|(key, ..)| key.key().name() == "pythia_breaker_transitions_total")
        .filter(|(key, ..)| {
            let labels: Vec<_> = key.key().labels().collect();
            labels
                .iter()
                .any(|l| l.key() == "breaker" && l.value() == breaker)
                && labels
                    .iter()
                    .any(|l| l.key() == "state" && l.value() == state)
        })
        .map(|(.., value)| match value {
            DebugValue::Counter(n) => *n,
            _ => 0,
        })
        .sum()
}

#[tokio::test(start_paused = true)]
async fn the_breaker_state_of_each_host_is_exported_as_metrics() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let (server, _) = switchable_server().await;
    let client = client(&server);
    let key = host_key(&server);

    statuses(&client, 3).await;
    // A snapshot drains the recorder, so take one and read both metrics from it.
    let snapshot = snapshotter.snapshot().into_vec();

    let open = gauge(&snapshot, "pythia_breaker_state", &key);
    assert_eq!(open, Some(BreakerState::Open.as_gauge()));
    assert_eq!(transitions(&snapshot, &key, "open"), 1);
}
