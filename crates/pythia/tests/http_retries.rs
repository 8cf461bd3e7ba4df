//! The client retries retryable statuses and transport errors on the policy's schedule, and
//! returns the last response when the attempts are spent.

use std::time::Duration;

use pythia::http::{ErrorKind, HttpClient, HttpClientConfig};
use pythia::resilience::{Jitter, RetryPolicy};
use pythia_testkit::{Reply, Route, TestServer};

fn client(server: &TestServer, policy: RetryPolicy) -> HttpClient {
    let config = HttpClientConfig::builder()
        .base_url(server.base_url())
        .retry(policy)
        .retry_budget(None)
        .circuit_breaker(None)
        .build()
        .unwrap();
    HttpClient::new(config).unwrap()
}

fn exponential(attempts: u32) -> RetryPolicy {
    RetryPolicy::builder()
        .exponential(Duration::from_secs(1), 2.0)
        .jitter(Jitter::None)
        .max_attempts(attempts)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn retries_are_spaced_by_the_policy_until_a_success() {
    let server = TestServer::start().await;
    let failures = vec![Reply::status(500), Reply::status(502), Reply::status(503)];
    server.route(
        "/flaky",
        Route::sequence(failures.into_iter().chain([Reply::ok()]).collect()),
    );

    let response = client(&server, exponential(5))
        .get("/flaky")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.attempts(), 4);
    let secs = |n| Duration::from_secs(n);
    assert_eq!(server.arrival_gaps("/flaky"), [secs(1), secs(2), secs(4)]);
    assert!(response.elapsed() >= secs(7));
}

#[tokio::test(start_paused = true)]
async fn the_last_response_comes_back_when_the_attempts_are_spent() {
    let server = TestServer::start().await;
    server.route("/down", Route::reply(Reply::status(503).text("down")));

    let response = client(&server, exponential(3))
        .get("/down")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 503);
    assert_eq!(response.text(), "down");
    assert_eq!(response.attempts(), 3);
    assert_eq!(server.hits("/down"), 3);
}

#[tokio::test(start_paused = true)]
async fn statuses_outside_the_retryable_set_are_not_retried() {
    let server = TestServer::start().await;
    for (path, status) in [("/a", 400), ("/b", 404), ("/c", 501)] {
        server.route(path, Route::reply(Reply::status(status)));
    }
    let client = client(&server, exponential(3));

    for path in ["/a", "/b", "/c"] {
        let response = client.get(path).send().await.unwrap();
        assert_eq!(response.attempts(), 1, "{path}");
        assert_eq!(server.hits(path), 1, "{path}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_connection_reset_is_retried() {
    let server = TestServer::start().await;
    server.route("/reset", Route::sequence(vec![Reply::reset(), Reply::ok()]));

    let response = client(&server, exponential(3))
        .get("/reset")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.attempts(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_total_deadline_bounds_the_retries_and_their_delays() {
    let server = TestServer::start().await;
    server.route("/down", Route::reply(Reply::status(503)));
    let policy = RetryPolicy::builder()
        .fixed(Duration::from_secs(4))
        .jitter(Jitter::None)
        .max_attempts(100)
        .build()
        .unwrap();

    let result = client(&server, policy)
        .get("/down")
        .total_timeout(Duration::from_secs(10))
        .send()
        .await;

    // Attempts at 0, 4 and 8 s; the next would start at 12 s, past the deadline. The last
    // response is returned rather than waiting out a delay that cannot help.
    assert_eq!(result.unwrap().status(), 503);
    assert_eq!(server.hits("/down"), 3);
}

#[tokio::test(start_paused = true)]
async fn a_slow_attempt_past_the_total_deadline_fails_with_deadline() {
    let server = TestServer::start().await;
    server.route(
        "/slow",
        Route::reply(Reply::ok().delay(Duration::from_secs(20))),
    );

    let error = client(&server, exponential(3))
        .get("/slow")
        .total_timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Deadline);
    assert!(error.is_timeout());
    assert_eq!(server.hits("/slow"), 1);
}
