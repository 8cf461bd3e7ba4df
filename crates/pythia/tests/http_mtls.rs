//! Mutual TLS: a server that requires a client certificate answers a client configured with
//! one and refuses a client without.

use pythia::http::{HttpClient, HttpClientConfig};
use pythia_testkit::{PkiPaths, Reply, Route, TestServer, TlsOptions};

async fn mtls_server() -> (TestServer, tempfile::TempDir, PkiPaths) {
    let server = TestServer::start_tls(TlsOptions {
        require_client_cert: true,
    })
    .await;
    server.route("/mtls", Route::reply(Reply::ok().text("hello, client")));
    let dir = tempfile::tempdir().unwrap();
    let paths = server.tls().unwrap().write_to(dir.path()).unwrap();
    (server, dir, paths)
}

#[tokio::test]
async fn a_client_with_its_certificate_is_answered() {
    let (server, _dir, paths) = mtls_server().await;
    let config = HttpClientConfig::builder()
        .ca_file(&paths.ca)
        .client_identity(&paths.client_cert, &paths.client_key)
        .build()
        .unwrap();
    let client = HttpClient::new(config).unwrap();

    let response = client.get(server.url("/mtls")).send().await.unwrap();

    assert_eq!(response.text(), "hello, client");
    assert_eq!(server.hits("/mtls"), 1);
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused() {
    let (server, _dir, paths) = mtls_server().await;
    let config = HttpClientConfig::builder()
        .ca_file(&paths.ca)
        .retry(pythia::resilience::RetryPolicy::none())
        .build()
        .unwrap();
    let client = HttpClient::new(config).unwrap();

    let result = client.get(server.url("/mtls")).send().await;

    assert!(result.is_err(), "{result:?}");
    assert_eq!(server.hits("/mtls"), 0);
}

#[tokio::test]
async fn a_missing_key_file_is_a_builder_error_naming_it() {
    let (_server, dir, paths) = mtls_server().await;
    let missing = dir.path().join("missing.key");
    let config = HttpClientConfig::builder()
        .client_identity(&paths.client_cert, &missing)
        .build()
        .unwrap();

    let error = HttpClient::new(config).unwrap_err();

    assert!(error.to_string().contains("missing.key"), "{error}");
}
