//! HTTPS with a generated CA, and a server that requires a client certificate (mTLS).

use pythia_testkit::{Reply, Route, TestServer, TlsOptions};

fn client_trusting(server: &TestServer) -> reqwest::ClientBuilder {
    let pki = server.tls().unwrap();
    let ca = reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap();
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
}

#[tokio::test]
async fn a_client_trusting_the_generated_ca_gets_an_answer_over_https() {
    let server = TestServer::start_tls(TlsOptions::default()).await;
    server.route("/secure", Route::reply(Reply::ok().text("hi")));
    let client = client_trusting(&server).build().unwrap();

    let response = client.get(server.url("/secure")).send().await.unwrap();

    assert!(server.base_url().starts_with("https://"));
    assert_eq!(response.text().await.unwrap(), "hi");
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_ca_is_refused() {
    let server = TestServer::start_tls(TlsOptions::default()).await;
    let client = reqwest::Client::builder().use_rustls_tls().build().unwrap();

    let result = client.get(server.url("/secure")).send().await;

    assert!(result.unwrap_err().is_connect());
    assert_eq!(server.hits("/secure"), 0);
}

#[tokio::test]
async fn a_server_requiring_a_client_certificate_answers_only_clients_presenting_one() {
    let server = TestServer::start_tls(TlsOptions {
        require_client_cert: true,
    })
    .await;
    server.route("/mtls", Route::reply(Reply::ok()));
    let pki = server.tls().unwrap();
    let identity = reqwest::Identity::from_pem(pki.client_identity_pem().as_bytes()).unwrap();
    let with_cert = client_trusting(&server).identity(identity).build().unwrap();
    let without_cert = client_trusting(&server).build().unwrap();

    let accepted = with_cert.get(server.url("/mtls")).send().await.unwrap();
    let refused = without_cert.get(server.url("/mtls")).send().await;

    assert_eq!(accepted.status(), 200);
    assert!(refused.is_err());
    assert_eq!(server.hits("/mtls"), 1);
}
