//! SIGTERM and SIGINT stop the daemon cleanly: intake closes, in-flight work drains, exit 0.

mod common;

use std::time::Duration;

use common::{write, Daemon};
use pythia_testkit::{Reply, Route, TestServer};
use serde_json::json;

const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

fn config(dir: &std::path::Path, endpoint: &str, drain: &str) -> String {
    format!(
        r#"[admin]
bind = "127.0.0.1:0"
[ingest]
bind = "127.0.0.1:0"
[outbox]
path = "{}"
[http]
allow_private_networks = true
[shutdown]
drain_deadline = "{drain}"
[[endpoint]]
name = "orders"
url = "{endpoint}"
"#,
        dir.join("outbox.db").display()
    )
}

async fn ingest_one(daemon: &Daemon) {
    let status = reqwest::Client::new()
        .post(daemon.ingest_url("/v1/messages"))
        .json(&json!({"endpoint": "orders", "payload": {"n": 1}}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 202);
}

fn outbox_stats(dir: &std::path::Path) -> serde_json::Value {
    let stats = common::run(&[
        "outbox",
        "--outbox",
        dir.join("outbox.db").to_str().unwrap(),
        "stats",
    ]);
    serde_json::from_slice(&stats.stdout).unwrap()
}

// Multi-threaded: the receiver runs on this runtime while the test thread blocks in `wait`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_delivery_in_flight_finish_and_exits_0() {
    let receiver = TestServer::start().await;
    receiver.route(
        "/slow",
        Route::reply(Reply::ok().delay(Duration::from_millis(800))),
    );
    let dir = tempfile::tempdir().unwrap();
    let text = config(dir.path(), &receiver.url("/slow"), "5s");
    let path = write(dir.path(), "pythia.toml", &text);
    let daemon = Daemon::start(&path, dir.path());
    ingest_one(&daemon).await;
    tokio::time::timeout(Duration::from_secs(10), receiver.wait_for_hits("/slow", 1))
        .await
        .expect("the delivery starts");

    daemon.signal(SIGTERM);
    let (exit, stderr) = daemon.wait(Duration::from_secs(10));

    assert_eq!(exit.code(), Some(0), "{stderr}");
    assert!(stderr.contains("pythia stopped"), "{stderr}");
    let stats = outbox_stats(dir.path());
    assert_eq!(
        stats["depth"], 0,
        "the delivery in flight was finished: {stats}"
    );
    assert_eq!(stats["dead"], 0, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_still_hanging_at_the_drain_deadline_is_kept_for_the_next_start() {
    let receiver = TestServer::start().await;
    receiver.route("/hang", Route::reply(Reply::hang()));
    let dir = tempfile::tempdir().unwrap();
    let text = config(dir.path(), &receiver.url("/hang"), "2s");
    let path = write(dir.path(), "pythia.toml", &text);
    let daemon = Daemon::start(&path, dir.path());
    ingest_one(&daemon).await;
    tokio::time::timeout(Duration::from_secs(10), receiver.wait_for_hits("/hang", 1))
        .await
        .expect("the delivery starts");

    daemon.signal(SIGTERM);
    let (exit, stderr) = daemon.wait(Duration::from_secs(10));

    assert_eq!(exit.code(), Some(0), "{stderr}");
    let stats = outbox_stats(dir.path());
    assert_eq!(stats["depth"], 1, "the message was handed back: {stats}");
}

#[tokio::test]
async fn sigint_stops_the_daemon_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let text = config(dir.path(), "http://127.0.0.1:9/never", "5s");
    let path = write(dir.path(), "pythia.toml", &text);
    let daemon = Daemon::start(&path, dir.path());

    daemon.signal(SIGINT);
    let (exit, stderr) = daemon.wait(Duration::from_secs(10));

    assert_eq!(exit.code(), Some(0), "{stderr}");
}
