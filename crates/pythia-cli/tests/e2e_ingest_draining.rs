//! Once shutdown starts, the ingest API answers 503 while in-flight work drains.

mod common;

use std::time::Duration;

use common::{write, Daemon};
use pythia_testkit::{Reply, Route, TestServer};
use serde_json::json;

const SIGTERM: i32 = 15;

// Multi-threaded: the receiver runs on this runtime while the test thread waits on the child.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_answers_503_while_the_daemon_drains() {
    let server = TestServer::start().await;
    server.route("/hang", Route::reply(Reply::hang()));
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"[ingest]
bind = "127.0.0.1:0"
[outbox]
path = "{}"
[http]
allow_private_networks = true
[shutdown]
drain_deadline = "3s"
[[endpoint]]
name = "orders"
url = "{}"
"#,
        dir.path().join("outbox.db").display(),
        server.url("/hang"),
    );
    let path = write(dir.path(), "pythia.toml", &config);
    let daemon = Daemon::start(&path, dir.path());
    let client = reqwest::Client::new();
    let post = || {
        client
            .post(daemon.ingest_url("/v1/messages"))
            .json(&json!({"endpoint": "orders", "payload": {}}))
            .send()
    };
    assert_eq!(post().await.unwrap().status(), 202);
    tokio::time::timeout(Duration::from_secs(10), server.wait_for_hits("/hang", 1))
        .await
        .expect("the delivery is in flight");

    daemon.signal(SIGTERM);
    let mut status = 0;
    for _ in 0..100 {
        status = post().await.map_or(0, |r| r.status().as_u16());
        if status == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    assert_eq!(status, 503);
    let (exit, stderr) = daemon.wait(Duration::from_secs(10));
    assert_eq!(exit.code(), Some(0), "{stderr}");
}
