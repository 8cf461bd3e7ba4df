//! Connect timeout against a listener that never completes a connection, connect errors
//! against a closed port, read and attempt timeouts against slow routes.

use std::time::Duration;

use pythia::http::{ErrorKind, HttpClient, HttpClientConfig};
use pythia::resilience::{Jitter, RetryPolicy};
use pythia_testkit::{closed_port, Reply, Route, StalledListener, TestServer};
use tokio::time::Instant;

fn client(
    configure: impl FnOnce(
        pythia::http::HttpClientConfigBuilder,
    ) -> pythia::http::HttpClientConfigBuilder,
) -> HttpClient {
    let builder = HttpClientConfig::builder()
        .retry(RetryPolicy::none())
        .retry_budget(None)
        .circuit_breaker(None);
    HttpClient::new(configure(builder).build().unwrap()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_connect_that_never_completes_fails_with_a_timeout_after_the_connect_timeout() {
    let stalled = StalledListener::start().await;
    let client = client(|b| b.connect_timeout(Duration::from_secs(3)));
    let started = Instant::now();

    let error = client.get(stalled.url("/x")).send().await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Timeout, "{error:?}");
    assert!(error.is_timeout() && error.is_retryable());
    assert!(started.elapsed() >= Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn a_closed_port_fails_with_a_connect_error_and_is_retried() {
    let url = format!("http://{}/x", closed_port());
    let policy = RetryPolicy::builder()
        .fixed(Duration::from_secs(1))
        .jitter(Jitter::None)
        .max_attempts(3)
        .build()
        .unwrap();
    let client = client(|b| b.retry(policy));

    let error = client.get(&url).send().await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Connect, "{error:?}");
    assert!(error.is_connect() && error.is_retryable());
    assert_eq!(error.attempts(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_response_slower_than_the_read_timeout_fails_with_a_timeout() {
    let server = TestServer::start().await;
    server.route(
        "/slow",
        Route::reply(Reply::ok().delay(Duration::from_secs(60))),
    );
    let client = client(|b| b.read_timeout(Duration::from_secs(5)));
    let started = Instant::now();

    let error = client.get(server.url("/slow")).send().await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Timeout, "{error:?}");
    assert!(started.elapsed() >= Duration::from_secs(5));
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(server.hits("/slow"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_response_within_the_read_timeout_is_read() {
    let server = TestServer::start().await;
    server.route(
        "/slow",
        Route::reply(Reply::ok().text("made it").delay(Duration::from_secs(4))),
    );
    let client = client(|b| b.read_timeout(Duration::from_secs(5)));

    let response = client.get(server.url("/slow")).send().await.unwrap();

    assert_eq!(response.text(), "made it");
}

#[tokio::test(start_paused = true)]
async fn a_hanging_server_fails_each_attempt_at_the_attempt_timeout() {
    let server = TestServer::start().await;
    server.route("/hang", Route::reply(Reply::hang()));
    let policy = RetryPolicy::builder()
        .fixed(Duration::from_secs(1))
        .jitter(Jitter::None)
        .max_attempts(2)
        .build()
        .unwrap();
    let client = client(|b| b.attempt_timeout(Duration::from_secs(2)).retry(policy));

    let error = client.get(server.url("/hang")).send().await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Timeout, "{error:?}");
    assert_eq!(error.attempts(), 2);
    assert_eq!(server.hits("/hang"), 2);
    assert_eq!(server.arrival_gaps("/hang"), [Duration::from_secs(3)]);
}
