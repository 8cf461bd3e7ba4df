//! A `[[relay]]` from a Redis list: events are routed by their `event_type` field to
//! endpoints, non-JSON events pass through as bytes to the default route, and each arrives as
//! a webhook.
#![cfg(feature = "redis")]

mod common;

use std::time::Duration;

use common::{rand_suffix, write, Daemon};
use pythia_testkit::{Reply, Route, TestServer};
use serde_json::json;

const REDIS: &str = "127.0.0.1:6379";

#[tokio::test]
async fn events_on_a_redis_list_are_routed_to_their_endpoints() {
    if !pythia_testkit::broker::require("redis", REDIS) {
        return;
    }
    let server = TestServer::start().await;
    server.route("/orders", Route::reply(Reply::ok()));
    server.route("/audit", Route::reply(Reply::ok()));
    let queue = format!("pythia-e2e-relay-{}", rand_suffix());
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"[outbox]
path = "{outbox}"
[http]
allow_private_networks = true
[[endpoint]]
name = "orders"
url = "{orders}"
[[endpoint]]
name = "audit"
url = "{audit}"
[[relay]]
name = "orders"
source = {{ kind = "redis_list", url = "redis://{REDIS}", queue = "{queue}" }}
route = {{ field = "/event_type", map = {{ order_created = ["orders"] }}, default = ["audit"] }}
"#,
        outbox = dir.path().join("outbox.db").display(),
        orders = server.url("/orders"),
        audit = server.url("/audit"),
    );
    let path = write(dir.path(), "pythia.toml", &config);
    let client = redis::Client::open(format!("redis://{REDIS}")).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let events = [
        json!({"event_type": "order_created", "order": 1}).to_string(),
        json!({"event_type": "order_created", "order": 2}).to_string(),
        json!({"event_type": "user_deleted", "user": 7}).to_string(),
        "not json at all".to_owned(),
    ];
    for event in &events {
        let _: i64 = redis::cmd("LPUSH")
            .arg(&queue)
            .arg(event)
            .query_async(&mut redis)
            .await
            .unwrap();
    }

    let _daemon = Daemon::start(&path, dir.path());
    let arrived = tokio::time::timeout(Duration::from_secs(15), async {
        server.wait_for_hits("/orders", 2).await;
        server.wait_for_hits("/audit", 2).await;
    })
    .await;

    assert!(arrived.is_ok(), "every event arrives within 15 s");
    let mut orders: Vec<i64> = server
        .requests_to("/orders")
        .iter()
        .map(|r| r.json().unwrap()["order"].as_i64().unwrap())
        .collect();
    orders.sort_unstable();
    assert_eq!(orders, [1, 2]);
    let audit: Vec<String> = server
        .requests_to("/audit")
        .iter()
        .map(|r| r.text())
        .collect();
    assert!(
        audit.iter().any(|body| body == "not json at all"),
        "{audit:?}"
    );
    let left: i64 = redis::cmd("LLEN")
        .arg(&queue)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(left, 0, "every event was taken off the queue");
    let _: i64 = redis::cmd("DEL")
        .arg(&queue)
        .query_async(&mut redis)
        .await
        .unwrap();
}
