//! With a Redis outbox, one dead letter counts once in `pythia_outbox_dead_letters_total`, under
//! one label set (`endpoint`).

mod common;
#[path = "common/prometheus.rs"]
mod prometheus;

use std::time::Duration;

use common::{rand_suffix, write, Daemon};
use pythia_testkit::{Reply, Route, TestServer};
use serde_json::json;

const REDIS: &str = "127.0.0.1:6379";

#[tokio::test]
async fn a_dead_letter_counts_once_with_its_endpoint() {
    if !pythia_testkit::broker::require("redis", REDIS) {
        return;
    }
    let server = TestServer::start().await;
    server.route("/hooks", Route::reply(Reply::status(400)));
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"[admin]
bind = "127.0.0.1:0"
[ingest]
bind = "127.0.0.1:0"
[outbox]
url = "redis://{REDIS}"
prefix = "pythia-e2e-dead-{suffix}"
poll_interval = "50ms"
[http]
allow_private_networks = true
[[endpoint]]
name = "orders"
url = "{hooks}"
"#,
        suffix = rand_suffix(),
        hooks = server.url("/hooks"),
    );
    let path = write(dir.path(), "pythia.toml", &config);
    let daemon = Daemon::start(&path, dir.path());
    let client = reqwest::Client::new();

    let status = client
        .post(daemon.ingest_url("/v1/messages"))
        .json(&json!({"endpoint": "orders", "payload": {"n": 1}}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 202);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let samples = loop {
        let text = client
            .get(daemon.admin_url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let samples: Vec<_> = prometheus::parse(&text)
            .unwrap()
            .into_iter()
            .filter(|s| s.name == "pythia_outbox_dead_letters_total")
            .collect();
        if !samples.is_empty() || tokio::time::Instant::now() > deadline {
            break samples;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    assert_eq!(samples.len(), 1, "{samples:?}");
    assert_eq!(samples[0].value, 1.0);
    let labels: Vec<_> = samples[0].labels.iter().collect();
    assert_eq!(labels, [(&"endpoint".to_owned(), &"orders".to_owned())]);
}
