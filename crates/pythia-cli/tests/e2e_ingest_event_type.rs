//! A message sent to the ingest API by event type reaches exactly the endpoints that
//! subscribe to it (those listing it in `event_types`, and those with no filter).

mod common;

use std::time::Duration;

use common::{write, Daemon};
use pythia_testkit::{Reply, Route, TestServer};
use serde_json::{json, Value};

#[tokio::test]
async fn an_event_type_reaches_only_its_subscribers() {
    let server = TestServer::start().await;
    for path in ["/orders", "/audit", "/users"] {
        server.route(path, Route::reply(Reply::ok()));
    }
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"[ingest]
bind = "127.0.0.1:0"
[outbox]
path = "{outbox}"
[http]
allow_private_networks = true
[[endpoint]]
name = "orders"
url = "{orders}"
event_types = ["order.created"]
[[endpoint]]
name = "audit"
url = "{audit}"
[[endpoint]]
name = "users"
url = "{users}"
event_types = ["user.deleted"]
"#,
        outbox = dir.path().join("outbox.db").display(),
        orders = server.url("/orders"),
        audit = server.url("/audit"),
        users = server.url("/users"),
    );
    let path = write(dir.path(), "pythia.toml", &config);
    let daemon = Daemon::start(&path, dir.path());

    let response = reqwest::Client::new()
        .post(daemon.ingest_url("/v1/messages"))
        .json(&json!({"event_type": "order.created", "payload": {"order": 7}}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let accepted: Value = response.json().await.unwrap();

    assert_eq!(status, 202);
    let mut targets: Vec<&str> = accepted["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["endpoint"].as_str().unwrap())
        .collect();
    targets.sort_unstable();
    assert_eq!(targets, ["audit", "orders"]);
    tokio::time::timeout(Duration::from_secs(10), async {
        server.wait_for_hits("/orders", 1).await;
        server.wait_for_hits("/audit", 1).await;
    })
    .await
    .expect("both subscribers receive it");
    assert_eq!(server.hits("/users"), 0);
}
