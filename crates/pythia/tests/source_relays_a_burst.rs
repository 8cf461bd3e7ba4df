//! Every source relays a burst of events, JSON and not, into the outbox: each event once,
//! routed by its `event_type`, the bytes of non-JSON ones untouched, and the broker left with
//! nothing unacknowledged.

// Every case needs a broker feature; without one there is nothing to run.
#![cfg(any(feature = "redis", feature = "nats", feature = "rabbitmq"))]

mod relay_support;

use std::time::Duration;

use pythia::outbox::Outbox;
use relay_support::*;

const BURST: usize = 90;

async fn wait_for_burst(running: &Running) {
    let outbox = running.outbox.clone();
    wait_until(
        Duration::from_secs(30),
        "the whole burst in the outbox",
        || {
            let outbox = outbox.clone();
            async move { outbox.stats(None).await.unwrap().pending as usize >= BURST }
        },
    )
    .await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn a_redis_list_burst_is_relayed_once_and_leaves_no_processing_entries() {
    if !pythia_testkit::broker::require("redis", "127.0.0.1:6379") {
        return;
    }
    let queue = unique("pythia_test_list");
    lpush_burst(&queue, 0..BURST).await;
    let source = pythia::source::RedisListSource::builder(REDIS_URL, &queue)
        .consumer("relay-a")
        .build()
        .unwrap();

    let running = spawn_relay(source);
    wait_for_burst(&running).await;
    let relayed = running.stats.relayed();
    let held = running.finish().await;

    assert_burst(&held, BURST);
    assert_eq!(relayed, BURST as u64);
    let mut conn = redis().await;
    let left: (i64, i64) = redis::pipe()
        .llen(&queue)
        .llen(format!("{queue}:processing:relay-a"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, (0, 0), "queue and processing list are empty");
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn a_redis_stream_burst_is_relayed_once_and_acknowledged() {
    if !pythia_testkit::broker::require("redis", "127.0.0.1:6379") {
        return;
    }
    let stream = unique("pythia_test_stream");
    let mut conn = redis().await;
    for i in 0..BURST {
        redis::cmd("XADD")
            .arg(&stream)
            .arg("*")
            .arg("payload")
            .arg(event(i))
            .query_async::<String>(&mut conn)
            .await
            .unwrap();
    }
    let source = pythia::source::RedisStreamSource::builder(REDIS_URL, &stream, "relay")
        .batch(16)
        .build()
        .unwrap();

    let running = spawn_relay(source);
    wait_for_burst(&running).await;
    let held = running.finish().await;

    assert_burst(&held, BURST);
    let pending: (i64, Option<String>, Option<String>, redis::Value) = redis::cmd("XPENDING")
        .arg(&stream)
        .arg("relay")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(pending.0, 0, "every entry is acknowledged");
    let _: () = redis::cmd("DEL")
        .arg(&stream)
        .query_async(&mut conn)
        .await
        .unwrap();
}

#[cfg(feature = "nats")]
#[tokio::test]
async fn a_nats_jetstream_burst_is_relayed_once_and_acknowledged() {
    if !pythia_testkit::broker::require("nats", "127.0.0.1:4222") {
        return;
    }
    let stream = unique("PYTHIA_TEST");
    let context = nats_stream(&stream).await;
    nats_publish_burst(&context, &stream, 0..BURST).await;
    let source = pythia::source::NatsSource::builder(NATS_URL, &stream, "relay")
        .batch(16)
        .build()
        .unwrap();

    let running = spawn_relay(source);
    wait_for_burst(&running).await;
    let held = running.finish().await;

    assert_burst(&held, BURST);
    let mut consumer: async_nats::jetstream::consumer::PullConsumer = context
        .get_stream(&stream)
        .await
        .unwrap()
        .get_consumer("relay")
        .await
        .unwrap();
    let info = consumer.info().await.unwrap();
    assert_eq!(info.num_ack_pending, 0, "every message is acknowledged");
    assert_eq!(info.num_pending, 0, "nothing is left to deliver");
    context.delete_stream(&stream).await.unwrap();
}

#[cfg(feature = "rabbitmq")]
#[tokio::test]
async fn a_rabbitmq_burst_is_relayed_once_and_acknowledged() {
    if !pythia_testkit::broker::require("rabbitmq", "127.0.0.1:5672") {
        return;
    }
    let queue = unique("pythia_test_amqp");
    let (_connection, channel) = amqp_channel(&queue).await;
    amqp_publish_burst(&channel, &queue, 0..BURST).await;
    let source = pythia::source::RabbitMqSource::builder(AMQP_URL, &queue)
        .prefetch(16)
        .build()
        .unwrap();

    let running = spawn_relay(source);
    wait_for_burst(&running).await;
    let held = running.finish().await;

    assert_burst(&held, BURST);
    let passive = lapin::options::QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    wait_until(Duration::from_secs(10), "the queue to be empty", || {
        let channel = channel.clone();
        let queue = queue.clone();
        async move {
            let declared = channel
                .queue_declare(&queue, passive, lapin::types::FieldTable::default())
                .await
                .unwrap();
            declared.message_count() == 0
        }
    })
    .await;
    amqp_delete(&channel, &queue).await;
}
