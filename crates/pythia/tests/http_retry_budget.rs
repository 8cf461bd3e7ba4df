//! The retry budget keeps retries under its share of the traffic when every request fails.

use std::time::Duration;

use pythia::http::{HttpClient, HttpClientConfig};
use pythia::resilience::{Jitter, RetryBudgetConfig, RetryPolicy};
use pythia_testkit::{Reply, Route, TestServer};

const REQUESTS: usize = 100;

async fn failing_server() -> TestServer {
    let server = TestServer::start().await;
    server.route("/down", Route::reply(Reply::status(503)));
    server
}

fn client(server: &TestServer, budget: Option<RetryBudgetConfig>) -> HttpClient {
    let policy = RetryPolicy::builder()
        .fixed(Duration::from_millis(10))
        .jitter(Jitter::None)
        .max_attempts(4)
        .build()
        .unwrap();
    let config = HttpClientConfig::builder()
        .base_url(server.base_url())
        .retry(policy)
        .retry_budget(budget)
        .circuit_breaker(None)
        .build()
        .unwrap();
    HttpClient::new(config).unwrap()
}

async fn send_all(client: &HttpClient) {
    for _ in 0..REQUESTS {
        let response = client.get("/down").send().await.unwrap();
        assert_eq!(response.status(), 503);
    }
}

#[tokio::test(start_paused = true)]
async fn retries_stay_within_their_share_of_requests_against_a_failing_server() {
    let server = failing_server().await;
    let budget = RetryBudgetConfig {
        ratio: 0.2,
        min_per_second: 0.0,
    };

    send_all(&client(&server, Some(budget))).await;

    let retries = server.hits("/down") - REQUESTS;
    assert_eq!(retries, REQUESTS / 5, "exactly the 20% share is spent");
}

#[tokio::test(start_paused = true)]
async fn the_default_budget_allows_20_percent_plus_one_retry_per_second() {
    let server = failing_server().await;

    send_all(&client(&server, Some(RetryBudgetConfig::default()))).await;

    // Everything happens within the ten-second window: 20 for the share, 10 for the floor.
    let retries = server.hits("/down") - REQUESTS;
    assert!(retries <= 30, "{retries} retries");
    assert!(retries >= 20, "{retries} retries");
}

#[tokio::test(start_paused = true)]
async fn without_a_budget_every_request_spends_all_its_attempts() {
    let server = failing_server().await;

    send_all(&client(&server, None)).await;

    assert_eq!(server.hits("/down"), REQUESTS * 4);
}
