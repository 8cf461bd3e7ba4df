//! A broker that becomes unreachable for a while (a proxy in front of it cuts every
//! connection and refuses new ones) does not stop the relay: it reconnects with backoff once
//! the broker is back and relays everything, what came before, during and after the outage.

// Every case needs a broker feature; without one there is nothing to run.
#![cfg(any(feature = "redis", feature = "nats", feature = "rabbitmq"))]

mod relay_support;

use std::time::Duration;

use pythia::outbox::Outbox;
use relay_support::*;

const HALF: usize = 30;

async fn wait_for(running: &Running, count: usize) {
    let outbox = running.outbox.clone();
    wait_until(Duration::from_secs(60), "the relayed events", || {
        let outbox = outbox.clone();
        async move { outbox.stats(None).await.unwrap().pending as usize >= count }
    })
    .await;
}

/// Relays the first half through `proxy`, cuts it, publishes the second half straight to the
/// broker with `publish`, waits while the relay fails to reach it, restores, and checks all.
async fn outage<P, Fut>(proxy: &Proxy, running: Running, publish: P)
where
    P: Fn(std::ops::Range<usize>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    publish(0..HALF).await;
    wait_for(&running, HALF).await;

    proxy.cut();
    publish(HALF..2 * HALF).await;
    // Long enough for several failed reconnects; the test only needs the relay to be cut off.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during = running.outbox.stats(None).await.unwrap().pending as usize;
    proxy.restore();
    wait_for(&running, 2 * HALF).await;
    let held = running.finish().await;

    assert_eq!(during, HALF, "nothing passed while the broker was cut off");
    assert_burst(&held, 2 * HALF);
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn a_redis_list_relay_recovers_when_redis_comes_back() {
    if !pythia_testkit::broker::require("redis", "127.0.0.1:6379") {
        return;
    }
    let proxy = Proxy::start("127.0.0.1:6379").await;
    let queue = unique("pythia_test_outage_list");
    let source =
        pythia::source::RedisListSource::builder(format!("redis://{}", proxy.addr), &queue)
            .consumer("outage")
            .block_timeout(Duration::from_millis(200))
            .build()
            .unwrap();
    let running = spawn_relay(source);

    outage(&proxy, running, |range| lpush_burst(&queue, range)).await;
}

#[cfg(feature = "nats")]
#[tokio::test]
async fn a_nats_relay_recovers_when_the_server_comes_back() {
    if !pythia_testkit::broker::require("nats", "127.0.0.1:4222") {
        return;
    }
    let proxy = Proxy::start("127.0.0.1:4222").await;
    let stream = unique("PYTHIA_TEST_OUTAGE");
    let context = nats_stream(&stream).await;
    let source =
        pythia::source::NatsSource::builder(format!("nats://{}", proxy.addr), &stream, "relay")
            .block_timeout(Duration::from_millis(200))
            .connect_timeout(Duration::from_secs(1))
            .build()
            .unwrap();
    let running = spawn_relay(source);

    outage(&proxy, running, |range| {
        nats_publish_burst(&context, &stream, range)
    })
    .await;
    context.delete_stream(&stream).await.unwrap();
}

#[cfg(feature = "rabbitmq")]
#[tokio::test]
async fn a_rabbitmq_relay_recovers_when_the_broker_comes_back() {
    if !pythia_testkit::broker::require("rabbitmq", "127.0.0.1:5672") {
        return;
    }
    let proxy = Proxy::start("127.0.0.1:5672").await;
    let queue = unique("pythia_test_outage_amqp");
    let (_connection, channel) = amqp_channel(&queue).await;
    let source = pythia::source::RabbitMqSource::builder(
        format!("amqp://guest:guest@{}/%2f", proxy.addr),
        &queue,
    )
    .connect_timeout(Duration::from_secs(1))
    .build()
    .unwrap();
    let running = spawn_relay(source);

    outage(&proxy, running, |range| {
        amqp_publish_burst(&channel, &queue, range)
    })
    .await;
    amqp_delete(&channel, &queue).await;
}
