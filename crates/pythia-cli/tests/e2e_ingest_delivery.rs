//! A message accepted by the ingest API (202) arrives at its endpoint, signed, with the
//! message id as its `webhook-id` and the endpoint's configured headers.

mod common;

use std::time::Duration;

use common::{write, Daemon};
use pythia::webhook::Verifier;
use pythia_testkit::{Reply, Route, TestServer};
use serde_json::{json, Value};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[tokio::test]
async fn an_accepted_message_arrives_signed_at_its_endpoint() {
    let receiver = TestServer::start().await;
    receiver.route("/hooks/orders", Route::reply(Reply::ok()));
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"[ingest]
bind = "127.0.0.1:0"
[outbox]
path = "{}"
[http]
allow_private_networks = true
[[endpoint]]
name = "orders"
url = "{}"
secrets = ["{SECRET}"]
headers = {{ "x-tenant" = "acme" }}
"#,
        dir.path().join("outbox.db").display(),
        receiver.url("/hooks/orders"),
    );
    let path = write(dir.path(), "pythia.toml", &config);
    let daemon = Daemon::start(&path, dir.path());

    let response = reqwest::Client::new()
        .post(daemon.ingest_url("/v1/messages"))
        .json(&json!({"endpoint": "orders", "payload": {"order": 42}, "id": "ord-42"}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let accepted: Value = response.json().await.unwrap();

    assert_eq!(status, 202);
    tokio::time::timeout(
        Duration::from_secs(10),
        receiver.wait_for_hits("/hooks/orders", 1),
    )
    .await
    .expect("the webhook arrives within 10 s");
    let request = receiver.requests_to("/hooks/orders").remove(0);
    assert_eq!(request.json().unwrap(), json!({"order": 42}));
    assert_eq!(request.header("webhook-id"), accepted["id"].as_str());
    assert_eq!(request.header("x-tenant"), Some("acme"));
    Verifier::from_secrets([SECRET])
        .unwrap()
        .verify(&request.headers, &request.body)
        .expect("the signature verifies");
}
