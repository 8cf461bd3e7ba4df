//! Two daemons on one Redis: when one is killed, the other takes over its pollers within the
//! lease time and its unfinished webhooks once their lease runs out.
#![cfg(feature = "redis")]

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{rand_suffix, write, Daemon};
use parking_lot::Mutex;
use pythia_testkit::{Reply, Route, TestServer};
use serde_json::json;

const REDIS: &str = "127.0.0.1:6379";
const SIGKILL: i32 = 9;

fn config(prefix: &str, rest: &str) -> String {
    format!(
        r#"[ingest]
bind = "127.0.0.1:0"
[outbox]
url = "redis://{REDIS}"
prefix = "{prefix}"
lease = "3s"
poll_interval = "50ms"
[http]
allow_private_networks = true
{rest}"#
    )
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

fn instances_polling(server: &TestServer, from: usize) -> Vec<String> {
    server.requests_to("/feed")[from..]
        .iter()
        .filter_map(|r| r.header("x-instance").map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_survivor_takes_over_the_pollers() {
    if !pythia_testkit::broker::require("redis", REDIS) {
        return;
    }
    let server = TestServer::start().await;
    server.route("/feed", Route::reply(Reply::ok().json(json!({"ok": true}))));
    let prefix = format!("pythia-e2e-takeover-{}", rand_suffix());
    let dir = tempfile::tempdir().unwrap();
    let poller = |instance: &str| {
        format!(
            r#"[[poller]]
name = "feed"
url = "{}"
interval = "200ms"
headers = {{ "x-instance" = "{instance}" }}
sink = "stdout"
"#,
            server.url("/feed")
        )
    };
    let a = write(dir.path(), "a.toml", &config(&prefix, &poller("a")));
    let b = write(dir.path(), "b.toml", &config(&prefix, &poller("b")));
    let mut daemons = [
        Some(Daemon::start(&a, dir.path())),
        Some(Daemon::start(&b, dir.path())),
    ];
    assert!(
        common::eventually(Duration::from_secs(10), || server.hits("/feed") >= 5).await,
        "the target is polled"
    );
    let before = instances_polling(&server, 0);
    let holders: HashSet<&String> = before[before.len() - 3..].iter().collect();
    assert_eq!(holders.len(), 1, "one instance polls at a time: {before:?}");
    let holder = before.last().unwrap().clone();

    let victim = daemons[usize::from(holder == "b")].take().unwrap();
    victim.signal(SIGKILL);
    let _ = victim.wait(Duration::from_secs(10));
    let mark = server.requests_to("/feed").len();
    let survivor = if holder == "a" { "b" } else { "a" };
    let taken_over = common::eventually(Duration::from_secs(30), || {
        instances_polling(&server, mark)
            .iter()
            .any(|who| who == survivor)
    })
    .await;
    clean(&prefix).await;

    assert!(taken_over, "{survivor} polls after {holder} died");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_survivor_delivers_the_webhooks_the_dead_daemon_had_claimed() {
    if !pythia_testkit::broker::require("redis", REDIS) {
        return;
    }
    let server = TestServer::start().await;
    let up = Arc::new(AtomicBool::new(false));
    let delivered: Arc<Mutex<HashSet<u64>>> = Arc::default();
    {
        let (up, delivered) = (up.clone(), delivered.clone());
        server.route(
            "/hooks",
            Route::from_fn(move |request| {
                if !up.load(Ordering::SeqCst) {
                    return Reply::hang();
                }
                if let Some(n) = request.json().ok().and_then(|v| v["n"].as_u64()) {
                    delivered.lock().insert(n);
                }
                Reply::ok()
            }),
        );
    }
    let prefix = format!("pythia-e2e-takeover-{}", rand_suffix());
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!(
        "[[endpoint]]\nname = \"orders\"\nurl = \"{}\"\ntimeout = \"2s\"\n",
        server.url("/hooks")
    );
    let path = write(dir.path(), "pythia.toml", &config(&prefix, &endpoint));
    let first = Daemon::start(&path, dir.path());
    let client = reqwest::Client::new();
    for n in 0..5u64 {
        let status = client
            .post(first.ingest_url("/v1/messages"))
            .json(&json!({"endpoint": "orders", "payload": {"n": n}}))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 202);
    }
    tokio::time::timeout(Duration::from_secs(10), server.wait_for_hits("/hooks", 5))
        .await
        .expect("the first daemon claimed all five");

    let _second = Daemon::start(&path, dir.path());
    first.signal(SIGKILL);
    let _ = first.wait(Duration::from_secs(10));
    up.store(true, Ordering::SeqCst);
    let all = common::eventually(Duration::from_secs(30), || delivered.lock().len() == 5).await;
    clean(&prefix).await;

    assert!(all, "delivered after the takeover: {:?}", delivered.lock());
}
