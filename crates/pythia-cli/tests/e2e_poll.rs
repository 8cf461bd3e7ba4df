//! `pythia poll URL` prints one JSON line per message, with its status code, response time,
//! timestamp and body, and stops after `--count` polls.

mod common;

use common::run;
use pythia_testkit::{Reply, Route, TestServer};
use serde_json::{json, Value};

// Multi-threaded: the server runs on this runtime while the test thread waits for the child.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_extracted_item_of_each_poll_is_one_json_line() {
    let server = TestServer::start().await;
    server.route(
        "/feed",
        Route::reply(Reply::ok().json(json!({"events": [{"id": 1}, {"id": 2}]}))),
    );

    let output = run(&[
        "poll",
        &server.url("/feed"),
        "--count",
        "2",
        "--interval",
        "200ms",
        "--extract",
        "/events",
        "-H",
        "X-Tenant: acme",
        "--param",
        "status=open",
    ]);

    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let lines: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    let ids: Vec<&Value> = lines.iter().map(|l| &l["body"]["id"]).collect();
    assert_eq!(ids, [&json!(1), &json!(2), &json!(1), &json!(2)]);
    for line in &lines {
        assert_eq!(line["status_code"], 200);
        assert!(line["response_time_ms"].as_f64().unwrap() >= 0.0);
        assert!(line["timestamp"].as_str().unwrap().ends_with('Z'));
    }
    let requests = server.requests_to("/feed");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].header("x-tenant"), Some("acme"));
    assert_eq!(requests[0].query_param("status"), Some("open"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_response_is_printed_and_no_success_exits_1() {
    let server = TestServer::start().await;
    server.route("/down", Route::reply(Reply::status(500).text("boom")));

    let output = run(&["poll", &server.url("/down"), "--count", "1"]);

    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let line: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(line["status_code"], 500);
}

#[test]
fn a_bad_pointer_is_bad_usage() {
    let output = run(&["poll", "http://127.0.0.1:9/", "--extract", "no-slash"]);

    assert_eq!(output.status.code(), Some(2), "{output:?}");
}
