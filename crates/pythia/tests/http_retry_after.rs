//! `Retry-After` in both forms (seconds and HTTP date) sets the wait before the retry, up to
//! the policy's cap.

use std::time::{Duration, SystemTime};

use pythia::http::{HttpClient, HttpClientConfig};
use pythia::resilience::{Jitter, RetryPolicy};
use pythia_testkit::{Reply, Route, TestServer};

const CAP: Duration = Duration::from_secs(10);

fn client(server: &TestServer) -> HttpClient {
    let policy = RetryPolicy::builder()
        .fixed(Duration::from_millis(100))
        .jitter(Jitter::None)
        .max_attempts(2)
        .retry_after_cap(CAP)
        .build()
        .unwrap();
    let config = HttpClientConfig::builder()
        .base_url(server.base_url())
        .retry(policy)
        .retry_budget(None)
        .circuit_breaker(None)
        .build()
        .unwrap();
    HttpClient::new(config).unwrap()
}

/// Answers `first`, then `200`, and returns the time between the two arrivals.
async fn gap_after(first: Reply) -> Duration {
    let server = TestServer::start().await;
    server.route("/r", Route::sequence(vec![first, Reply::ok()]));

    let response = client(&server).get("/r").send().await.unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.attempts(), 2);
    let gaps = server.arrival_gaps("/r");
    assert_eq!(gaps.len(), 1);
    gaps[0]
}

#[tokio::test(start_paused = true)]
async fn retry_after_in_seconds_sets_the_wait() {
    let gap = gap_after(Reply::status(503).retry_after("3")).await;

    assert_eq!(gap, Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn retry_after_as_an_http_date_sets_the_wait() {
    // HTTP dates have whole seconds, so a date 5 s ahead is between 4 and 5 s away.
    let at = SystemTime::now() + Duration::from_secs(5);

    let gap = gap_after(Reply::status(503).retry_after_at(at)).await;

    assert!(
        gap > Duration::from_secs(4) && gap <= Duration::from_secs(5),
        "{gap:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_in_seconds_is_capped() {
    let gap = gap_after(Reply::status(429).retry_after("3600")).await;

    assert_eq!(gap, CAP);
}

#[tokio::test(start_paused = true)]
async fn retry_after_as_a_date_far_ahead_is_capped() {
    let at = SystemTime::now() + Duration::from_secs(7200);

    let gap = gap_after(Reply::status(503).retry_after_at(at)).await;

    assert_eq!(gap, CAP);
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_shorter_than_the_backoff_does_not_shorten_it() {
    let gap = gap_after(Reply::status(503).retry_after("0")).await;

    assert_eq!(gap, Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn an_unreadable_retry_after_falls_back_to_the_backoff() {
    let gap = gap_after(Reply::status(503).retry_after("soon")).await;

    assert_eq!(gap, Duration::from_millis(100));
}
