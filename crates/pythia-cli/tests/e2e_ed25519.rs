//! Ed25519 keys: an endpoint and `pythia send` sign `v1a` with a `whsk_` key, and
//! `pythia listen` verifies with the matching `whpk_` public key.

mod common;

use common::{run, write, Daemon, Listener};
use pythia::webhook::Ed25519SecretKey;
use serde_json::json;

#[tokio::test]
async fn an_endpoint_signs_with_a_whsk_key_and_listen_verifies_with_its_whpk_key() {
    let key = Ed25519SecretKey::generate();
    let listener = Listener::start(&["--secret", &key.public_key().to_text()]);
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"[ingest]
bind = "127.0.0.1:0"
[outbox]
path = "{outbox}"
[http]
allow_private_networks = true
[[endpoint]]
name = "partner"
url = "{url}"
secrets = ["{secret}"]
"#,
        outbox = dir.path().join("outbox.db").display(),
        url = listener.url("/hooks"),
        secret = key.to_text(),
    );
    let path = write(dir.path(), "pythia.toml", &config);
    let daemon = Daemon::start(&path, dir.path());

    let status = reqwest::Client::new()
        .post(daemon.ingest_url("/v1/messages"))
        .json(&json!({"endpoint": "partner", "payload": {"n": 1}}))
        .send()
        .await
        .unwrap()
        .status();
    let line = listener.next();

    assert_eq!(status, 202);
    assert_eq!(line["verified"], true, "{line}");
    assert_eq!(line["body"]["n"], 1);
}

#[tokio::test]
async fn send_signs_with_a_whsk_key_and_refuses_a_public_one() {
    let key = Ed25519SecretKey::generate();
    let public = key.public_key().to_text();
    let listener = Listener::start(&["--secret", &public]);
    let url = listener.url("/hooks");

    let sent = run(&[
        "send",
        &url,
        "--data",
        r#"{"n":2}"#,
        "--secret",
        &key.to_text(),
    ]);
    let line = listener.next();
    let refused = run(&["send", &url, "--data", "{}", "--secret", &public]);

    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert_eq!(line["verified"], true, "{line}");
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("can verify but not sign"), "{stderr}");
}
