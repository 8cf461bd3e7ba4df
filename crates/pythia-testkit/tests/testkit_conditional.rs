//! Conditional documents: `ETag` and `Last-Modified` validators answered with `304`.

use pythia_testkit::{Route, TestServer};
use serde_json::json;

const MODIFIED: &str = "Wed, 21 Oct 2015 07:28:00 GMT";

async fn server() -> TestServer {
    let server = TestServer::start().await;
    server.route(
        "/doc",
        Route::conditional(json!({"v": 1}), Some("\"v1\""), Some(MODIFIED)),
    );
    server
}

#[tokio::test]
async fn a_first_request_gets_the_document_and_its_validators() {
    let server = server().await;

    let response = reqwest::get(server.url("/doc")).await.unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"v1\"");
    assert_eq!(response.headers()["last-modified"], MODIFIED);
    assert_eq!(response.text().await.unwrap(), r#"{"v":1}"#);
}

#[tokio::test]
async fn a_matching_if_none_match_gets_304_without_a_body() {
    let server = server().await;
    let client = reqwest::Client::new();

    let same = client
        .get(server.url("/doc"))
        .header("if-none-match", "\"v1\"")
        .send()
        .await
        .unwrap();
    let other = client
        .get(server.url("/doc"))
        .header("if-none-match", "\"v0\"")
        .send()
        .await
        .unwrap();

    assert_eq!(same.status(), 304);
    assert_eq!(same.headers()["etag"], "\"v1\"");
    assert!(same.bytes().await.unwrap().is_empty());
    assert_eq!(other.status(), 200);
}

#[tokio::test]
async fn if_modified_since_gets_304_unless_the_document_is_newer() {
    let server = server().await;
    let client = reqwest::Client::new();
    let ask = |since: &'static str| {
        client
            .get(server.url("/doc"))
            .header("if-modified-since", since)
            .send()
    };

    let same = ask(MODIFIED).await.unwrap();
    let earlier = ask("Tue, 20 Oct 2015 07:28:00 GMT").await.unwrap();

    assert_eq!(same.status(), 304);
    assert_eq!(earlier.status(), 200);
    assert_eq!(server.hits("/doc"), 2);
}
