//! `POLLER_READ_TIMEOUT` is the read timeout of every poll request (unless the file sets
//! `read_timeout`), as the specification gives it.

mod common;

use std::time::Duration;

use common::{write, Daemon};
use pythia_testkit::{Reply, Route, TestServer};
use serde_json::{json, Value};

#[tokio::test]
async fn poller_read_timeout_cuts_a_slow_poll_short() {
    let server = TestServer::start().await;
    server.route(
        "/slow",
        Route::reply(
            Reply::ok()
                .json(json!({"n": 1}))
                .delay(Duration::from_secs(3)),
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"[admin]
bind = "127.0.0.1:0"
[outbox]
path = "{outbox}"
[http]
allow_private_networks = true
retry = {{ max_attempts = 1 }}
[[poller]]
name = "slow"
url = "{url}"
interval = "1h"
spread = false
sink = "stdout"
"#,
        outbox = dir.path().join("outbox.db").display(),
        url = server.url("/slow"),
    );
    let path = write(dir.path(), "pythia.toml", &config);

    let daemon = Daemon::start_with_env(&path, dir.path(), &[("POLLER_READ_TIMEOUT", "0.5")]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let poller = loop {
        let status: Value = reqwest::get(daemon.admin_url("/status"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let poller = status["pollers"]["slow"].clone();
        if poller["status"] != "pending" || tokio::time::Instant::now() > deadline {
            break poller;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    assert_eq!(poller["status"], "failing", "{poller}");
    assert_eq!(poller["polls_failed"], 1, "{poller}");
}
