//! The specification's relay: events from a Redis list go to the endpoints their
//! `event_type` maps to, with `X-Source` and `X-Event-Type`; an unknown type is counted and
//! dead-lettered to `<queue>:dead` rather than lost or stored.
#![cfg(feature = "redis")]

mod relay_support;

use std::sync::Arc;
use std::time::Duration;

use pythia::outbox::{MemoryOutbox, Outbox};
use pythia::source::{RedisListSource, Relay, Route, Unroutable};
use relay_support::*;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn events_go_where_their_type_maps_and_unknown_types_are_dead_lettered() {
    if !pythia_testkit::broker::require("redis", "127.0.0.1:6379") {
        return;
    }
    let queue = unique("pythia_test_route");
    let mut conn = redis().await;
    let events = [
        r#"{"event_type":"order_created","id":1}"#,
        r#"{"event_type":"order_cancelled","id":2}"#,
        r#"{"event_type":"order_refunded","id":3}"#,
    ];
    for event in events {
        redis::cmd("LPUSH")
            .arg(&queue)
            .arg(event)
            .query_async::<i64>(&mut conn)
            .await
            .unwrap();
    }
    let outbox = Arc::new(MemoryOutbox::new());
    let relay = Relay::builder(
        RedisListSource::builder(REDIS_URL, &queue).build().unwrap(),
        outbox.clone() as Arc<dyn Outbox>,
    )
    .route(
        Route::field("/event_type")
            .map("order_created", ["created"])
            .map("order_cancelled", ["cancelled", "audit"]),
    )
    .unroutable(Unroutable::DeadLetter)
    .header("X-Source", "order-service")
    .event_type_header("X-Event-Type")
    .build()
    .unwrap();
    let stats = relay.stats();
    let stop = CancellationToken::new();
    let token = stop.clone();
    let task = tokio::spawn(relay.run_until(async move { token.cancelled().await }));

    wait_until(Duration::from_secs(20), "all three events handled", || {
        let stats = stats.clone();
        async move { stats.relayed() + stats.unroutable() == 3 }
    })
    .await;
    stop.cancel();
    task.await.unwrap().unwrap();

    let mut claimed = outbox.claim(10, Duration::from_secs(60)).await.unwrap();
    claimed.sort_by(|a, b| a.message.endpoint.cmp(&b.message.endpoint));
    let endpoints: Vec<&str> = claimed
        .iter()
        .map(|c| c.message.endpoint.as_str())
        .collect();
    assert_eq!(endpoints, ["audit", "cancelled", "created"]);
    let created = claimed
        .iter()
        .find(|c| c.message.endpoint == "created")
        .unwrap();
    assert!(created
        .message
        .headers
        .contains(&("X-Event-Type".to_owned(), "order_created".to_owned())));
    assert!(created
        .message
        .headers
        .contains(&("X-Source".to_owned(), "order-service".to_owned())));
    assert_eq!(created.message.event_type.as_deref(), Some("order_created"));
    assert_eq!((stats.relayed(), stats.unroutable()), (2, 1));
    let dead: Vec<String> = redis::cmd("LRANGE")
        .arg(format!("{queue}:dead"))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        dead,
        [events[2]],
        "the unknown type is dead-lettered as it was"
    );
}
