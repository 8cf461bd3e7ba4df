//! Scripted replies: fixed, sequences, closures, unknown paths.

use pythia_testkit::{Reply, Route, TestServer};
use serde_json::json;

#[tokio::test]
async fn a_fixed_reply_answers_every_method_with_its_status_headers_and_body() {
    let server = TestServer::start().await;
    server.route(
        "/items",
        Route::reply(
            Reply::status(201)
                .json(json!({"ok": true}))
                .header("x-test", "yes"),
        ),
    );
    let client = reqwest::Client::new();

    let get = client.get(server.url("/items")).send().await.unwrap();
    let post = client.post(server.url("/items")).send().await.unwrap();

    assert_eq!(get.status(), 201);
    assert_eq!(get.headers()["x-test"], "yes");
    assert_eq!(get.headers()["content-type"], "application/json");
    assert_eq!(get.text().await.unwrap(), r#"{"ok":true}"#);
    assert_eq!(post.status(), 201);
    assert_eq!(server.hits("/items"), 2);
}

#[tokio::test]
async fn a_sequence_answers_in_order_and_repeats_its_last_reply() {
    let server = TestServer::start().await;
    server.route(
        "/flaky",
        Route::sequence(vec![Reply::status(500), Reply::status(503), Reply::ok()]),
    );
    let client = reqwest::Client::new();

    let mut statuses = Vec::new();
    for _ in 0..5 {
        let response = client.get(server.url("/flaky")).send().await.unwrap();
        statuses.push(response.status().as_u16());
    }

    assert_eq!(statuses, [500, 503, 200, 200, 200]);
}

#[tokio::test]
async fn replacing_a_route_restarts_its_sequence_and_keeps_its_hits() {
    let server = TestServer::start().await;
    server.route("/a", Route::sequence(vec![Reply::status(500), Reply::ok()]));
    let client = reqwest::Client::new();
    client.get(server.url("/a")).send().await.unwrap();

    server.route("/a", Route::sequence(vec![Reply::status(502), Reply::ok()]));
    let response = client.get(server.url("/a")).send().await.unwrap();

    assert_eq!(response.status(), 502);
    assert_eq!(server.hits("/a"), 2);
}

#[tokio::test]
async fn a_function_route_answers_from_the_request() {
    let server = TestServer::start().await;
    server.route(
        "/echo",
        Route::from_fn(|request| Reply::status(200).bytes(request.body.clone())),
    );
    let client = reqwest::Client::new();

    let response = client
        .post(server.url("/echo"))
        .body("hello")
        .send()
        .await
        .unwrap();

    assert_eq!(response.text().await.unwrap(), "hello");
}

#[tokio::test]
async fn an_unknown_path_answers_404_and_is_counted() {
    let server = TestServer::start().await;
    let client = reqwest::Client::new();

    let response = client.get(server.url("/nowhere")).send().await.unwrap();

    assert_eq!(response.status(), 404);
    assert_eq!(server.hits("/nowhere"), 1);
    assert_eq!(server.requests_to("/nowhere").len(), 1);
}

#[tokio::test]
async fn retry_after_is_sent_as_a_header() {
    let server = TestServer::start().await;
    server.route("/busy", Route::reply(Reply::status(429).retry_after("7")));

    let response = reqwest::get(server.url("/busy")).await.unwrap();

    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
}
