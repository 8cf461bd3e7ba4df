//! Webhooks to HTTPS endpoints: the CA file makes a test server trusted, an untrusted one is
//! a TLS failure that nothing reaches, verification off accepts it, and mutual TLS presents
//! the configured client certificate.

use pythia::http::HttpClientConfig;
use pythia::webhook::{AttemptRequest, AttemptResult, WebhookConfig, WebhookSender};
use pythia_testkit::{PkiPaths, Reply, Route, TestServer, TlsOptions};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

async fn tls_server(require_client_cert: bool) -> (TestServer, tempfile::TempDir, PkiPaths) {
    let server = TestServer::start_tls(TlsOptions {
        require_client_cert,
    })
    .await;
    server.route("/hook", Route::reply(Reply::status(204)));
    let dir = tempfile::tempdir().unwrap();
    let paths = server.tls().unwrap().write_to(dir.path()).unwrap();
    (server, dir, paths)
}

fn sender(server: &TestServer, http: pythia::http::HttpClientConfigBuilder) -> WebhookSender {
    let config = WebhookConfig::builder()
        .base_url(server.base_url())
        .secret(SECRET)
        .endpoint("hook", "/hook")
        .http(http)
        .build()
        .unwrap();
    WebhookSender::new(config).unwrap()
}

async fn attempt(sender: &WebhookSender) -> AttemptResult {
    sender
        .attempt(&AttemptRequest::new("msg_tls", "hook", r#"{"n":1}"#))
        .await
}

#[tokio::test]
async fn a_webhook_to_a_server_trusted_by_the_ca_file_is_delivered_signed() {
    let (server, _dir, paths) = tls_server(false).await;
    let sender = sender(&server, HttpClientConfig::builder().ca_file(&paths.ca));

    let result = attempt(&sender).await;

    assert!(
        matches!(result, AttemptResult::Delivered { status: 204, .. }),
        "{result:?}"
    );
    let requests = server.requests_to("/hook");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("webhook-id"), Some("msg_tls"));
    assert!(requests[0].header("webhook-signature").is_some());
}

#[tokio::test]
async fn an_untrusted_server_is_a_tls_failure_that_is_not_retried() {
    let (server, _dir, _paths) = tls_server(false).await;
    let sender = sender(&server, HttpClientConfig::builder());

    let result = attempt(&sender).await;

    let AttemptResult::Failed {
        error, retryable, ..
    } = result
    else {
        panic!("an untrusted server must fail: {result:?}");
    };
    assert!(error.starts_with("tls handshake failed"), "{error}");
    assert!(!retryable, "a bad certificate does not fix itself");
    assert_eq!(server.hits("/hook"), 0);
}

#[tokio::test]
async fn verification_off_accepts_an_untrusted_server() {
    let (server, _dir, _paths) = tls_server(false).await;
    let sender = sender(&server, HttpClientConfig::builder().verify_tls(false));

    let result = attempt(&sender).await;

    assert!(result.is_delivered(), "{result:?}");
    assert_eq!(server.hits("/hook"), 1);
}

#[tokio::test]
async fn mutual_tls_presents_the_client_certificate() {
    let (server, _dir, paths) = tls_server(true).await;
    let with_identity = HttpClientConfig::builder()
        .ca_file(&paths.ca)
        .client_identity(&paths.client_cert, &paths.client_key);
    let without = HttpClientConfig::builder().ca_file(&paths.ca);

    let answered = attempt(&sender(&server, with_identity)).await;
    let refused = attempt(&sender(&server, without)).await;

    assert!(answered.is_delivered(), "{answered:?}");
    assert!(!refused.is_delivered(), "{refused:?}");
    assert_eq!(server.hits("/hook"), 1);
}

#[tokio::test]
async fn a_ca_file_without_certificates_fails_the_sender_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.pem");
    std::fs::write(&path, "not a certificate").unwrap();
    let config = WebhookConfig::builder()
        .secret(SECRET)
        .http(HttpClientConfig::builder().ca_file(&path))
        .build()
        .unwrap();

    let error = WebhookSender::new(config).unwrap_err();

    assert!(error.to_string().contains("empty.pem"), "{error}");
}
