//! The daemon killed with SIGKILL after accepting 2,000 messages, then restarted on the same
//! outbox: every accepted message is delivered.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{write, Daemon};
use futures::StreamExt;
use pythia_testkit::{Reply, Route, TestServer};
use serde_json::json;

const MESSAGES: usize = 2_000;
const SIGKILL: i32 = 9;

fn config(dir: &std::path::Path, hooks: &str) -> String {
    format!(
        r#"[ingest]
bind = "127.0.0.1:0"
[outbox]
path = "{}"
concurrency = 8
[http]
allow_private_networks = true
[[endpoint]]
name = "orders"
url = "{hooks}"
concurrency = 8
"#,
        dir.join("outbox.db").display()
    )
}

fn delivered(server: &TestServer) -> HashSet<u64> {
    server
        .requests_to("/hooks")
        .iter()
        .filter_map(|r| r.json().ok()?["n"].as_u64())
        .collect()
}

// Multi-threaded: the receiver runs on this runtime while the test thread waits on children.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_accepted_before_a_sigkill_is_delivered_after_a_restart() {
    let server = TestServer::start().await;
    // Slow enough that most messages are still in the outbox when the daemon dies.
    server.route(
        "/hooks",
        Route::reply(Reply::ok().delay(Duration::from_millis(20))),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "pythia.toml",
        &config(dir.path(), &server.url("/hooks")),
    );
    let first = Daemon::start(&path, dir.path());
    let client = reqwest::Client::new();
    let url = first.ingest_url("/v1/messages");

    let statuses: Vec<u16> = futures::stream::iter(0..MESSAGES)
        .map(|n| {
            let request = client
                .post(&url)
                .json(&json!({"endpoint": "orders", "payload": {"n": n}, "id": format!("m{n}")}));
            async move { request.send().await.map_or(0, |r| r.status().as_u16()) }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    assert!(
        statuses.iter().all(|&s| s == 202),
        "every message was accepted"
    );
    first.signal(SIGKILL);
    let (exit, _) = first.wait(Duration::from_secs(10));
    assert_eq!(exit.code(), None, "killed by a signal");
    let before_restart = delivered(&server).len();

    let _second = Daemon::start(&path, dir.path());
    let all = common::eventually(Duration::from_secs(60), || {
        delivered(&server).len() == MESSAGES
    })
    .await;

    assert!(
        before_restart < MESSAGES,
        "the kill came while messages were still waiting ({before_restart} delivered)"
    );
    assert!(
        all,
        "only {} of {MESSAGES} delivered",
        delivered(&server).len()
    );
}
