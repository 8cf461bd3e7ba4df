//! What the webhook transport keeps of the HTTP client configuration: the user agent, auth
//! and default headers, the SSRF guard, the body cap, the attempt timeout and a pooled
//! connection, and errors that never show a URL's secrets.

use std::time::Duration;

use pythia::http::{Auth, HttpClientConfig, HttpClientConfigBuilder};
use pythia::webhook::{AttemptRequest, AttemptResult, WebhookConfig, WebhookSender};
use pythia_testkit::{closed_port, Reply, Route, TestServer};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn sender(base_url: &str, http: HttpClientConfigBuilder) -> WebhookSender {
    let config = WebhookConfig::builder()
        .base_url(base_url)
        .secret(SECRET)
        .timeout(Duration::from_secs(2))
        .endpoint("hook", "/hook")
        .http(http)
        .build()
        .unwrap();
    WebhookSender::new(config).unwrap()
}

async fn attempt(sender: &WebhookSender, endpoint: &str) -> AttemptResult {
    sender
        .attempt(&AttemptRequest::new("msg_1", endpoint, r#"{"n":1}"#))
        .await
}

/// The error and whether it is retryable, of an attempt that must have failed.
fn failure(result: AttemptResult) -> (Option<u16>, String, bool) {
    match result {
        AttemptResult::Failed {
            status,
            error,
            retryable,
            ..
        } => (status, error, retryable),
        other => panic!("the attempt must fail: {other:?}"),
    }
}

#[tokio::test]
async fn the_user_agent_auth_and_default_headers_reach_the_endpoint() {
    let server = TestServer::start().await;
    server.route("/hook", Route::reply(Reply::status(204)));
    let http = HttpClientConfig::builder()
        .user_agent("pythia-test/1")
        .auth(Auth::Bearer("hook-token".into()))
        .default_header("x-team", "payments")
        .default_header("x-region", "eu");
    let sender = sender(server.base_url(), http);
    let request = AttemptRequest::new("msg_1", "hook", "{}").header("x-region", "us");

    let result = sender.attempt(&request).await;

    assert!(result.is_delivered(), "{result:?}");
    let seen = &server.requests_to("/hook")[0];
    assert_eq!(seen.header("user-agent"), Some("pythia-test/1"));
    assert_eq!(seen.header("accept"), Some("*/*"));
    assert_eq!(seen.header("authorization"), Some("Bearer hook-token"));
    assert_eq!(seen.header("x-team"), Some("payments"));
    assert_eq!(
        seen.header("x-region"),
        Some("us"),
        "the request's own header wins"
    );
    assert_eq!(seen.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn the_guard_refuses_a_private_literal_and_a_name_resolving_to_loopback() {
    let server = TestServer::start().await;
    server.route("/hook", Route::reply(Reply::status(204)));
    let guarded = || HttpClientConfig::builder().allow_private_networks(false);
    let literal = sender(server.base_url(), guarded());
    let by_name = format!("http://localhost:{}", server.addr().port());
    let named = sender(&by_name, guarded());

    for sender in [literal, named] {
        let (status, error, retryable) = failure(attempt(&sender, "hook").await);

        assert!(error.starts_with("address refused"), "{error}");
        assert!(!retryable && status.is_none());
    }
    assert_eq!(server.hits("/hook"), 0);
}

#[tokio::test]
async fn a_body_over_the_cap_fails_with_or_without_a_content_length() {
    let server = TestServer::start().await;
    let body = "x".repeat(1024);
    server.route("/hook", Route::reply(Reply::ok().text(&body)));
    server.route(
        "/chunked",
        Route::reply(Reply::ok().text(&body).chunked(100)),
    );
    let sender = sender(
        server.base_url(),
        HttpClientConfig::builder().max_body_bytes(512),
    );

    for endpoint in ["hook", "/chunked"] {
        let (status, error, retryable) = failure(attempt(&sender, endpoint).await);

        assert!(error.starts_with("response body too large"), "{error}");
        assert_eq!(status, Some(200));
        assert!(!retryable);
    }
}

#[tokio::test]
async fn answers_with_a_body_leave_the_connection_pooled() {
    let server = TestServer::start().await;
    server.route("/hook", Route::reply(Reply::ok().text("thanks, got it")));
    let sender = sender(server.base_url(), HttpClientConfig::builder());

    for _ in 0..3 {
        let result = attempt(&sender, "hook").await;
        assert!(result.is_delivered(), "{result:?}");
    }

    assert_eq!(server.hits("/hook"), 3);
    assert_eq!(server.connections(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_endpoint_slower_than_its_timeout_is_a_retryable_timeout() {
    let server = TestServer::start().await;
    server.route(
        "/hook",
        Route::reply(Reply::status(204).delay(Duration::from_secs(60))),
    );
    let sender = sender(server.base_url(), HttpClientConfig::builder());

    let (status, error, retryable) = failure(attempt(&sender, "hook").await);

    assert!(error.starts_with("request timed out"), "{error}");
    assert!(retryable && status.is_none());
}

#[tokio::test]
async fn a_closed_port_is_a_retryable_connect_error_without_the_url_secrets() {
    let url = format!("http://ann:pw-secret@{}/hook?token=q-secret", closed_port());
    let sender = sender("http://unused.example", HttpClientConfig::builder());

    let (_, error, retryable) = failure(attempt(&sender, &url).await);

    assert!(error.starts_with("connection failed"), "{error}");
    assert!(retryable);
    assert!(!error.contains("secret"), "{error}");
}
