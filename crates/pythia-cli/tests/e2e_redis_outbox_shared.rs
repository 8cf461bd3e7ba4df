//! Two daemons on one Redis outbox share its queue: every message is delivered exactly once
//! between them in the normal case.
#![cfg(feature = "redis")]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{rand_suffix, write, Daemon};
use futures::StreamExt;
use pythia_testkit::{Reply, Route, TestServer};
use serde_json::json;

const REDIS: &str = "127.0.0.1:6379";
const MESSAGES: u64 = 200;

fn config(prefix: &str, hooks: &str) -> String {
    format!(
        r#"[ingest]
bind = "127.0.0.1:0"
[outbox]
url = "redis://{REDIS}"
prefix = "{prefix}"
poll_interval = "50ms"
[http]
allow_private_networks = true
[[endpoint]]
name = "orders"
url = "{hooks}"
"#
    )
}

fn hits_per_message(server: &TestServer) -> HashMap<u64, usize> {
    let mut hits = HashMap::new();
    for request in server.requests_to("/hooks") {
        if let Some(n) = request.json().ok().and_then(|v| v["n"].as_u64()) {
            *hits.entry(n).or_insert(0) += 1;
        }
    }
    hits
}

async fn clean(prefix: &str) {
    let client = redis::Client::open(format!("redis://{REDIS}")).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut redis)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: i64 = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut redis)
            .await
            .unwrap();
    }
}

// Multi-threaded: the receiver runs on this runtime while the test thread polls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_deliver_each_message_exactly_once() {
    if !pythia_testkit::broker::require("redis", REDIS) {
        return;
    }
    let server = TestServer::start().await;
    server.route(
        "/hooks",
        Route::reply(Reply::ok().delay(Duration::from_millis(5))),
    );
    let prefix = format!("pythia-e2e-shared-{}", rand_suffix());
    let dir = tempfile::tempdir().unwrap();
    let text = config(&prefix, &server.url("/hooks"));
    let path = write(dir.path(), "pythia.toml", &text);
    let first = Daemon::start(&path, dir.path());
    let second = Daemon::start(&path, dir.path());
    let urls = [
        first.ingest_url("/v1/messages"),
        second.ingest_url("/v1/messages"),
    ];
    let client = reqwest::Client::new();

    let accepted = futures::stream::iter(0..MESSAGES)
        .map(|n| {
            let request = client
                .post(&urls[(n % 2) as usize])
                .json(&json!({"endpoint": "orders", "payload": {"n": n}}));
            async move { request.send().await.is_ok_and(|r| r.status() == 202) }
        })
        .buffer_unordered(16)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    let all = common::eventually(Duration::from_secs(30), || {
        hits_per_message(&server).len() as u64 == MESSAGES
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let hits = hits_per_message(&server);
    clean(&prefix).await;

    assert_eq!(accepted as u64, MESSAGES);
    assert!(all, "only {} of {MESSAGES} delivered", hits.len());
    let twice: Vec<_> = hits.iter().filter(|(_, &count)| count > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
}
