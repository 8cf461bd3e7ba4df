//! Every request is recorded with its method, path, query, headers, body and arrival time.

use std::time::Duration;

use pythia_testkit::{Reply, Route, TestServer};
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn a_request_is_recorded_with_everything_the_server_saw() {
    let server = TestServer::start().await;
    server.route("/hook", Route::reply(Reply::status(204)));
    let client = reqwest::Client::new();
    let before = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;

    client
        .post(server.url("/hook?source=test"))
        .header("x-signature", "abc")
        .body(r#"{"n":1}"#)
        .send()
        .await
        .unwrap();

    let recorded = server.requests();
    assert_eq!(recorded.len(), 1);
    let request = &recorded[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/hook");
    assert_eq!(request.query_param("source"), Some("test"));
    assert_eq!(request.header("x-signature"), Some("abc"));
    assert_eq!(request.json().unwrap(), serde_json::json!({"n": 1}));
    assert!(request.at >= before + Duration::from_secs(2));
}

#[tokio::test]
async fn with_recording_off_hits_are_still_counted() {
    let server = TestServer::start().await;
    server.route("/bench", Route::reply(Reply::ok()));
    server.set_recording(false);
    let client = reqwest::Client::new();

    for _ in 0..3 {
        client.get(server.url("/bench")).send().await.unwrap();
    }

    assert_eq!(server.hits("/bench"), 3);
    assert!(server.requests().is_empty());
    assert_eq!(server.connections(), 1, "keep-alive reuses one connection");
}

#[tokio::test]
async fn clear_requests_forgets_the_record_but_keeps_the_hits() {
    let server = TestServer::start().await;
    reqwest::get(server.url("/a")).await.unwrap();

    server.clear_requests();

    assert!(server.requests().is_empty());
    assert_eq!(server.hits("/a"), 1);
}
