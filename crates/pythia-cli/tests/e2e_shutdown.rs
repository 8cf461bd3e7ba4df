//! SIGTERM and SIGINT stop the daemon cleanly: intake closes, in-flight work drains, exit 0.

mod common;

use std::time::Duration;

use common::{write, Daemon};
use serde_json::json;

const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

fn config(dir: &std::path::Path) -> String {
    format!(
        r#"[admin]
bind = "127.0.0.1:0"
[ingest]
bind = "127.0.0.1:0"
[outbox]
path = "{}"
[shutdown]
drain_deadline = "5s"
[[endpoint]]
name = "orders"
url = "http://127.0.0.1:9/never"
"#,
        dir.join("outbox.db").display()
    )
}

#[tokio::test]
async fn sigterm_stops_the_daemon_with_exit_0_and_keeps_what_was_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "pythia.toml", &config(dir.path()));
    let daemon = Daemon::start(&path, dir.path());
    let status = reqwest::Client::new()
        .post(daemon.ingest_url("/v1/messages"))
        .json(&json!({"endpoint": "orders", "payload": {"n": 1}}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 202);

    daemon.signal(SIGTERM);
    let (exit, stderr) = daemon.wait(Duration::from_secs(10));

    assert_eq!(exit.code(), Some(0), "{stderr}");
    assert!(stderr.contains("pythia stopped"), "{stderr}");
    let stats = common::run(&[
        "outbox",
        "--outbox",
        dir.path().join("outbox.db").to_str().unwrap(),
        "stats",
    ]);
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(
        stats["depth"], 1,
        "the accepted message is still in the outbox"
    );
}

#[tokio::test]
async fn sigint_stops_the_daemon_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "pythia.toml", &config(dir.path()));
    let daemon = Daemon::start(&path, dir.path());

    daemon.signal(SIGINT);
    let (exit, stderr) = daemon.wait(Duration::from_secs(10));

    assert_eq!(exit.code(), Some(0), "{stderr}");
}
