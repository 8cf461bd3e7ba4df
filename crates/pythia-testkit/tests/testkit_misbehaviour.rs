//! Scripted misbehaviour: delays, connection resets, hangs, and the spacing of arrivals.

use std::time::Duration;

use pythia_testkit::{Reply, Route, TestServer};
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn a_delayed_reply_answers_after_its_delay_on_the_tokio_clock() {
    let server = TestServer::start().await;
    server.route(
        "/slow",
        Route::reply(Reply::ok().text("late").delay(Duration::from_secs(30))),
    );
    let client = reqwest::Client::new();
    let started = Instant::now();

    let response = client.get(server.url("/slow")).send().await.unwrap();

    assert_eq!(response.text().await.unwrap(), "late");
    assert!(started.elapsed() >= Duration::from_secs(30));
    assert_eq!(server.hits("/slow"), 1);
}

#[tokio::test]
async fn a_reset_closes_the_connection_without_a_response() {
    let server = TestServer::start().await;
    server.route("/reset", Route::sequence(vec![Reply::reset(), Reply::ok()]));
    let client = reqwest::Client::new();

    let first = client.get(server.url("/reset")).send().await;
    let second = client.get(server.url("/reset")).send().await.unwrap();

    let error = first.unwrap_err();
    assert!(!error.is_status() && !error.is_timeout(), "{error:?}");
    assert_eq!(second.status(), 200);
    assert_eq!(server.hits("/reset"), 2);
}

#[tokio::test(start_paused = true)]
async fn a_hanging_reply_never_answers_so_the_client_times_out() {
    let server = TestServer::start().await;
    server.route("/hang", Route::reply(Reply::hang()));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();

    let error = client.get(server.url("/hang")).send().await.unwrap_err();

    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(server.hits("/hang"), 1);
}

#[tokio::test(start_paused = true)]
async fn arrival_gaps_measure_the_spacing_of_requests_on_the_tokio_clock() {
    let server = TestServer::start().await;
    server.route("/tick", Route::reply(Reply::ok()));
    let client = reqwest::Client::new();

    for wait in [3, 7] {
        client.get(server.url("/tick")).send().await.unwrap();
        tokio::time::sleep(Duration::from_secs(wait)).await;
    }
    client.get(server.url("/tick")).send().await.unwrap();

    let gaps = server.arrival_gaps("/tick");
    assert_eq!(gaps.len(), 2);
    assert!(gaps[0] >= Duration::from_secs(3) && gaps[0] < Duration::from_secs(4));
    assert!(gaps[1] >= Duration::from_secs(7) && gaps[1] < Duration::from_secs(8));
}

#[tokio::test]
async fn retry_after_at_sends_an_http_date() {
    let server = TestServer::start().await;
    let at = std::time::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
    server.route("/busy", Route::reply(Reply::status(503).retry_after_at(at)));

    let response = reqwest::get(server.url("/busy")).await.unwrap();

    assert_eq!(
        response.headers()["retry-after"],
        "Wed, 21 Oct 2015 07:28:00 GMT"
    );
}

#[tokio::test]
async fn a_chunked_reply_has_no_content_length_and_arrives_whole() {
    let server = TestServer::start().await;
    let body = vec![b'z'; 10_000];
    server.route(
        "/stream",
        Route::reply(Reply::ok().bytes(body.clone()).chunked(1000)),
    );

    let response = reqwest::get(server.url("/stream")).await.unwrap();

    assert!(response.headers().get("content-length").is_none());
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    assert_eq!(response.bytes().await.unwrap(), body);
}
