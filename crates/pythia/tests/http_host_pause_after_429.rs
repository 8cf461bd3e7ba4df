//! A `429` with `Retry-After` pauses every request to that host until then; other hosts are
//! not held up.

use std::time::Duration;

use pythia::http::{HttpClient, HttpClientConfig};
use pythia::resilience::RetryPolicy;
use pythia_testkit::{Reply, Route, TestServer};
use tokio::time::Instant;

fn client(cap: Duration) -> HttpClient {
    let policy = RetryPolicy::builder()
        .max_attempts(1)
        .retry_after_cap(cap)
        .build()
        .unwrap();
    let config = HttpClientConfig::builder()
        .retry(policy)
        .retry_budget(None)
        .circuit_breaker(None)
        .build()
        .unwrap();
    HttpClient::new(config).unwrap()
}

async fn limited_server(retry_after: &str) -> TestServer {
    let server = TestServer::start().await;
    server.route(
        "/limited",
        Route::reply(Reply::status(429).retry_after(retry_after)),
    );
    server.route("/other", Route::reply(Reply::ok()));
    server
}

#[tokio::test(start_paused = true)]
async fn after_a_429_the_next_request_to_that_host_waits_for_retry_after() {
    let server = limited_server("20").await;
    let client = client(Duration::from_secs(60));

    let limited = client.get(server.url("/limited")).send().await.unwrap();
    let other = client.get(server.url("/other")).send().await.unwrap();

    assert_eq!(limited.status(), 429);
    assert_eq!(other.status(), 200);
    let limited_at = server.requests_to("/limited")[0].at;
    let other_at = server.requests_to("/other")[0].at;
    assert_eq!(other_at - limited_at, Duration::from_secs(20));
}

#[tokio::test(start_paused = true)]
async fn the_pause_is_capped_like_the_retry_delay() {
    let server = limited_server("86400").await;
    let client = client(Duration::from_secs(5));

    client.get(server.url("/limited")).send().await.unwrap();
    client.get(server.url("/other")).send().await.unwrap();

    let limited_at = server.requests_to("/limited")[0].at;
    let other_at = server.requests_to("/other")[0].at;
    assert_eq!(other_at - limited_at, Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn another_host_is_not_paused() {
    let limited = limited_server("20").await;
    let elsewhere = TestServer::start().await;
    elsewhere.route("/free", Route::reply(Reply::ok()));
    let client = client(Duration::from_secs(60));

    client.get(limited.url("/limited")).send().await.unwrap();
    let before = Instant::now();
    client.get(elsewhere.url("/free")).send().await.unwrap();

    assert!(before.elapsed() < Duration::from_secs(1));
    assert_eq!(elsewhere.hits("/free"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_503_with_retry_after_does_not_pause_the_host() {
    let server = TestServer::start().await;
    server.route("/busy", Route::reply(Reply::status(503).retry_after("20")));
    server.route("/other", Route::reply(Reply::ok()));
    let client = client(Duration::from_secs(60));

    client.get(server.url("/busy")).send().await.unwrap();
    let before = Instant::now();
    client.get(server.url("/other")).send().await.unwrap();

    assert!(before.elapsed() < Duration::from_secs(1));
}
