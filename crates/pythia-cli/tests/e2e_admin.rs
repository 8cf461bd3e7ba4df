//! The admin listener: liveness, readiness, Prometheus metrics and a JSON status.

mod common;

#[path = "common/prometheus.rs"]
mod prometheus;

use common::{write, Daemon};
use serde_json::{json, Value};

fn config(dir: &std::path::Path) -> String {
    format!(
        r#"[admin]
bind = "127.0.0.1:0"
[ingest]
bind = "127.0.0.1:0"
[outbox]
path = "{}"
[[endpoint]]
name = "orders"
url = "http://127.0.0.1:9/never"
"#,
        dir.join("outbox.db").display()
    )
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_count_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "pythia.toml", &config(dir.path()));
    let daemon = Daemon::start(&path, dir.path());
    let client = reqwest::Client::new();
    for n in 0..3 {
        let status = client
            .post(daemon.ingest_url("/v1/messages"))
            .json(&json!({"endpoint": "orders", "payload": {"n": n}}))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 202);
    }

    let response = client
        .get(daemon.admin_url("/metrics"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let samples = prometheus::parse(&response.text().await.unwrap()).unwrap();
    let accepted = samples
        .iter()
        .find(|s| s.name == "pythia_ingest_accepted_total")
        .expect("pythia_ingest_accepted_total is exported");
    assert_eq!(accepted.value, 3.0);
}

#[tokio::test]
async fn health_readiness_and_status_answer() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "pythia.toml", &config(dir.path()));
    let daemon = Daemon::start(&path, dir.path());
    let client = reqwest::Client::new();
    client
        .post(daemon.ingest_url("/v1/messages"))
        .json(&json!({"endpoint": "orders", "payload": {}}))
        .send()
        .await
        .unwrap();

    let healthz = client
        .get(daemon.admin_url("/healthz"))
        .send()
        .await
        .unwrap();
    let readyz = client
        .get(daemon.admin_url("/readyz"))
        .send()
        .await
        .unwrap();
    // The endpoint is on loopback and the config does not allow private networks, so the
    // SSRF guard refuses it: the message is dead-lettered and the reason shows in /status.
    let mut status = Value::Null;
    for _ in 0..500 {
        status = client
            .get(daemon.admin_url("/status"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if status["endpoints"]["orders"]["dead_letters"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    assert_eq!(healthz.status(), 200);
    assert_eq!(readyz.status(), 200);
    let orders = &status["endpoints"]["orders"];
    assert_eq!(orders["dead_letters"], 1, "{status}");
    assert_eq!(orders["depth"], 0, "{status}");
    assert_eq!(orders["breaker"], "closed", "{status}");
    let error = orders["last_error"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("address refused"), "{status}");
}
