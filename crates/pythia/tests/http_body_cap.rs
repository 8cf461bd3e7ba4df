//! Response bodies are capped: a larger body fails with `BodyTooLarge` and is not retried.

use pythia::http::{ErrorKind, HttpClient, HttpClientConfig};
use pythia_testkit::{Reply, Route, TestServer};

const CAP: usize = 1024;

fn client(server: &TestServer) -> HttpClient {
    let config = HttpClientConfig::builder()
        .base_url(server.base_url())
        .max_body_bytes(CAP)
        .build()
        .unwrap();
    HttpClient::new(config).unwrap()
}

#[tokio::test]
async fn a_body_over_the_cap_fails_with_body_too_large() {
    let server = TestServer::start().await;
    server.route("/big", Route::reply(Reply::ok().bytes(vec![b'x'; CAP + 1])));

    let error = client(&server).get("/big").send().await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::BodyTooLarge);
    assert_eq!(error.status().map(|s| s.as_u16()), Some(200));
    assert!(!error.is_retryable());
    assert_eq!(error.attempts(), 1);
    assert_eq!(server.hits("/big"), 1);
}

#[tokio::test]
async fn a_body_of_exactly_the_cap_is_read_whole() {
    let server = TestServer::start().await;
    server.route("/fits", Route::reply(Reply::ok().bytes(vec![b'x'; CAP])));

    let response = client(&server).get("/fits").send().await.unwrap();

    assert_eq!(response.body().len(), CAP);
}

#[tokio::test]
async fn an_oversized_error_body_is_refused_too() {
    let server = TestServer::start().await;
    server.route(
        "/big-error",
        Route::reply(Reply::status(404).bytes(vec![b'x'; CAP * 4])),
    );

    let error = client(&server).get("/big-error").send().await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::BodyTooLarge);
    assert_eq!(error.status().map(|s| s.as_u16()), Some(404));
}

#[tokio::test]
async fn a_chunked_body_without_a_length_is_cut_off_at_the_cap() {
    let server = TestServer::start().await;
    let body = vec![b'x'; CAP * 8];
    server.route(
        "/stream",
        Route::reply(Reply::ok().bytes(body).chunked(256)),
    );

    let error = client(&server).get("/stream").send().await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::BodyTooLarge);
}

#[tokio::test]
async fn a_chunked_body_within_the_cap_is_read_whole() {
    let server = TestServer::start().await;
    server.route(
        "/stream",
        Route::reply(Reply::ok().bytes(vec![b'x'; CAP]).chunked(100)),
    );

    let response = client(&server).get("/stream").send().await.unwrap();

    assert_eq!(response.body().len(), CAP);
}
