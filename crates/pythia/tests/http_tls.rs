//! TLS verification: on by default and rejecting a server whose CA is not trusted; a trusted
//! CA file or verification turned off accepts it.

use pythia::http::{ErrorKind, HttpClient, HttpClientConfig};
use pythia_testkit::{Reply, Route, TestServer, TlsOptions};

async fn tls_server() -> TestServer {
    let server = TestServer::start_tls(TlsOptions::default()).await;
    server.route("/secure", Route::reply(Reply::ok().text("secret-free")));
    server
}

#[tokio::test]
async fn verification_is_on_by_default_and_rejects_an_untrusted_server() {
    let server = tls_server().await;
    let client = HttpClient::new(HttpClientConfig::default()).unwrap();

    let error = client.get(server.url("/secure")).send().await.unwrap_err();

    assert!(HttpClientConfig::default().verify_tls());
    assert_eq!(error.kind(), ErrorKind::Tls, "{error:?}");
    assert!(
        !error.is_retryable(),
        "a bad certificate does not fix itself"
    );
    assert_eq!(error.attempts(), 1);
    assert_eq!(server.hits("/secure"), 0);
}

#[tokio::test]
async fn verification_off_accepts_an_untrusted_server() {
    let server = tls_server().await;
    let config = HttpClientConfig::builder()
        .verify_tls(false)
        .build()
        .unwrap();
    let client = HttpClient::new(config).unwrap();

    let response = client.get(server.url("/secure")).send().await.unwrap();

    assert_eq!(response.text(), "secret-free");
}

#[tokio::test]
async fn a_ca_file_makes_the_server_trusted_with_verification_on() {
    let server = tls_server().await;
    let dir = tempfile::tempdir().unwrap();
    let paths = server.tls().unwrap().write_to(dir.path()).unwrap();
    let config = HttpClientConfig::builder()
        .ca_file(&paths.ca)
        .build()
        .unwrap();
    let client = HttpClient::new(config).unwrap();

    let response = client.get(server.url("/secure")).send().await.unwrap();

    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_ca_file_without_certificates_is_a_builder_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.pem");
    std::fs::write(&path, "not a certificate").unwrap();
    let config = HttpClientConfig::builder().ca_file(&path).build().unwrap();

    let error = HttpClient::new(config).unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Builder);
    assert!(error.to_string().contains("empty.pem"), "{error}");
}
