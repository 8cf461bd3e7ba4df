//! Relayed messages per second, end to end: from a broker, through a relay into a Redis
//! outbox, and on through the dispatcher to a loopback HTTP receiver.
//!
//! ```text
//! cargo bench -p pythia --all-features --bench relay_throughput
//! PYTHIA_BENCH_MESSAGES=5000 cargo bench -p pythia --all-features --bench relay_throughput
//! ```
//!
//! Each case pre-loads `PYTHIA_BENCH_MESSAGES` messages (default 2000) into its broker, then
//! times how long the relay takes to store them all and the receiver to get them all (each
//! phase bounded by 120 s; a case that runs out reports what it did). The baseline, measured
//! first in the same run, is one instance on a Redis list; every other case prints its rate
//! against it. The scale-out case runs two instances (each a relay and a dispatcher, with its
//! own connections) on one list and one Redis outbox, against one instance on the same load.
//! A source whose broker is not running is skipped with the reason.

use std::sync::Arc;
use std::time::Duration;

use pythia::outbox::{Outbox, RedisOutbox};
use pythia::source::{RedisListSource, RedisStreamSource, Relay, RelayStats, Route, Source};
use pythia::webhook::dispatch::Dispatcher;
use pythia::webhook::{WebhookConfig, WebhookSender};
use pythia_testkit::{Reply, Route as HttpRoute, TestServer};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const REDIS: &str = "redis://127.0.0.1:6379";
const PHASE_LIMIT: Duration = Duration::from_secs(120);

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

fn payload(i: usize) -> Vec<u8> {
    format!(r#"{{"event_type":"order_created","order_id":{i},"total":"19.99"}}"#).into_bytes()
}

/// One instance: a relay from `source` and a dispatcher, both on the outbox at `prefix`.
struct Instance {
    relayed: RelayStats,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

async fn start_instance(
    source: impl Source,
    prefix: &str,
    server: &TestServer,
    stop: &CancellationToken,
) -> Instance {
    let outbox = RedisOutbox::builder(REDIS)
        .prefix(prefix)
        .connect()
        .await
        .expect("redis outbox");
    let outbox: Arc<dyn Outbox> = Arc::new(outbox);
    let config = WebhookConfig::builder()
        .base_url(server.base_url())
        .secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .endpoint("sink", "/sink")
        .build()
        .expect("webhook config");
    let sender = WebhookSender::new(config).expect("sender");
    let dispatcher = Dispatcher::builder(outbox.clone(), sender)
        .concurrency(64)
        .claim_batch(64)
        .poll_interval(Duration::from_millis(5))
        .build();
    let relay = Relay::builder(source, outbox)
        .route(Route::to(["sink"]))
        .build()
        .expect("relay");
    let relayed = relay.stats();
    let dispatch_stop = stop.clone();
    let relay_stop = stop.clone();
    let tasks = vec![
        tokio::spawn(dispatcher.run_until(async move { dispatch_stop.cancelled().await })),
        tokio::spawn(async move {
            let _ = relay
                .run_until(async move { relay_stop.cancelled().await })
                .await;
        }),
    ];
    Instance { relayed, tasks }
}

/// What one case measured.
struct Rates {
    relayed: u64,
    delivered: usize,
    relay_secs: f64,
    total_secs: f64,
}

impl Rates {
    fn relay_rate(&self) -> f64 {
        self.relayed as f64 / self.relay_secs
    }

    fn total_rate(&self) -> f64 {
        self.delivered as f64 / self.total_secs
    }
}

/// Starts one instance per source, waits (bounded) until all `n` are relayed and delivered.
async fn run_case(sources: Vec<Box<dyn Source>>, n: usize) -> Rates {
    let server = TestServer::start().await;
    server.route("/sink", HttpRoute::reply(Reply::ok()));
    server.set_recording(false);
    let prefix = unique("pythia-bench:outbox");
    let stop = CancellationToken::new();
    let started = Instant::now();
    let mut instances = Vec::new();
    for source in sources {
        instances.push(start_instance(source, &prefix, &server, &stop).await);
    }
    let relayed = || instances.iter().map(|i| i.relayed.relayed()).sum::<u64>();
    while (relayed() as usize) < n && started.elapsed() < PHASE_LIMIT {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let relay_secs = started.elapsed().as_secs_f64();
    let relayed_count = relayed();
    let _ = tokio::time::timeout(PHASE_LIMIT, server.wait_for_hits("/sink", n)).await;
    let total_secs = started.elapsed().as_secs_f64();
    let delivered = server.hits("/sink");
    stop.cancel();
    for instance in instances {
        for task in instance.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
        }
    }
    Rates {
        relayed: relayed_count,
        delivered,
        relay_secs,
        total_secs,
    }
}

fn report(name: &str, n: usize, rates: &Rates, baseline: Option<&Rates>) {
    let ratio = baseline
        .map(|b| format!("{:.2}x baseline", rates.total_rate() / b.total_rate()))
        .unwrap_or_else(|| "baseline".to_owned());
    let short = if rates.delivered < n {
        format!(" (ran out of time: {} of {n} delivered)", rates.delivered)
    } else {
        String::new()
    };
    println!(
        "{name:<34} relayed {:>8.0} msg/s   end to end {:>8.0} msg/s   {ratio}{short}",
        rates.relay_rate(),
        rates.total_rate(),
    );
}

async fn redis_conn() -> Option<redis::aio::MultiplexedConnection> {
    if !pythia_testkit::broker::require("redis", "127.0.0.1:6379") {
        return None;
    }
    let client = redis::Client::open(REDIS).ok()?;
    client.get_multiplexed_async_connection().await.ok()
}

async fn fill_list(conn: &mut redis::aio::MultiplexedConnection, queue: &str, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut cmd = redis::cmd("LPUSH");
        cmd.arg(queue);
        for i in chunk {
            cmd.arg(payload(*i));
        }
        cmd.query_async::<i64>(conn).await.expect("LPUSH");
    }
}

fn list_source(queue: &str, consumer: &str) -> Box<dyn Source> {
    Box::new(
        RedisListSource::builder(REDIS, queue)
            .consumer(consumer)
            .build()
            .expect("list source"),
    )
}

async fn redis_stream_case(conn: &mut redis::aio::MultiplexedConnection, n: usize) -> Rates {
    let stream = unique("pythia_bench_stream");
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut pipe = redis::pipe();
        for i in chunk {
            pipe.cmd("XADD")
                .arg(&stream)
                .arg("*")
                .arg("payload")
                .arg(payload(*i))
                .ignore();
        }
        pipe.query_async::<()>(conn).await.expect("XADD");
    }
    let source = RedisStreamSource::builder(REDIS, &stream, "bench")
        .build()
        .expect("stream source");
    let rates = run_case(vec![Box::new(source)], n).await;
    let _: redis::RedisResult<()> = redis::cmd("DEL").arg(&stream).query_async(conn).await;
    rates
}

#[cfg(feature = "nats")]
async fn nats_case(n: usize) -> Option<Rates> {
    if !pythia_testkit::broker::require("nats", "127.0.0.1:4222") {
        return None;
    }
    let client = async_nats::connect("nats://127.0.0.1:4222").await.ok()?;
    let context = async_nats::jetstream::new(client);
    let stream = unique("PYTHIA_BENCH");
    context
        .get_or_create_stream(async_nats::jetstream::stream::Config {
            name: stream.clone(),
            subjects: vec![format!("{stream}.>")],
            storage: async_nats::jetstream::stream::StorageType::Memory,
            ..Default::default()
        })
        .await
        .ok()?;
    let mut acks = Vec::with_capacity(n);
    for i in 0..n {
        let ack = context
            .publish(format!("{stream}.orders"), payload(i).into())
            .await
            .ok()?;
        acks.push(ack);
    }
    for ack in acks {
        ack.await.ok()?;
    }
    let source = pythia::source::NatsSource::builder("nats://127.0.0.1:4222", &stream, "bench")
        .batch(256)
        .build()
        .ok()?;
    let rates = run_case(vec![Box::new(source)], n).await;
    let _ = context.delete_stream(&stream).await;
    Some(rates)
}

#[cfg(feature = "rabbitmq")]
async fn rabbitmq_case(n: usize) -> Option<Rates> {
    use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
    if !pythia_testkit::broker::require("rabbitmq", "127.0.0.1:5672") {
        return None;
    }
    let url = "amqp://guest:guest@127.0.0.1:5672/%2f";
    let connection = lapin::Connection::connect(url, lapin::ConnectionProperties::default())
        .await
        .ok()?;
    let channel = connection.create_channel().await.ok()?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .ok()?;
    let queue = unique("pythia_bench_amqp");
    let declare = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(&queue, declare, lapin::types::FieldTable::default())
        .await
        .ok()?;
    let mut confirms = Vec::with_capacity(n);
    for i in 0..n {
        let properties = lapin::BasicProperties::default()
            .with_message_id(format!("bench-{i}").into())
            .with_delivery_mode(2);
        let confirm = channel
            .basic_publish(
                "",
                &queue,
                BasicPublishOptions::default(),
                &payload(i),
                properties,
            )
            .await
            .ok()?;
        confirms.push(confirm);
    }
    for confirm in confirms {
        confirm.await.ok()?;
    }
    let source = pythia::source::RabbitMqSource::builder(url, &queue)
        .prefetch(256)
        .build()
        .ok()?;
    let rates = run_case(vec![Box::new(source)], n).await;
    let _ = channel
        .queue_delete(&queue, lapin::options::QueueDeleteOptions::default())
        .await;
    Some(rates)
}

fn main() {
    let n: usize = std::env::var("PYTHIA_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
        .clamp(1, 100_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        println!("relay_throughput: {n} messages per case, JSON orders of ~70 bytes");
        let Some(mut conn) = redis_conn().await else {
            println!("skipping every case: the Redis outbox needs Redis on 127.0.0.1:6379");
            return;
        };

        let queue = unique("pythia_bench_list");
        fill_list(&mut conn, &queue, n).await;
        let baseline = run_case(vec![list_source(&queue, "one")], n).await;
        report("redis list, 1 instance", n, &baseline, None);

        let stream = redis_stream_case(&mut conn, n).await;
        report("redis stream, 1 instance", n, &stream, Some(&baseline));

        #[cfg(feature = "nats")]
        match nats_case(n).await {
            Some(rates) => report("nats jetstream, 1 instance", n, &rates, Some(&baseline)),
            None => println!("nats jetstream: skipped (see the reason above)"),
        }
        #[cfg(not(feature = "nats"))]
        println!("nats jetstream: skipped (built without the `nats` feature)");

        #[cfg(feature = "rabbitmq")]
        match rabbitmq_case(n).await {
            Some(rates) => report("rabbitmq, 1 instance", n, &rates, Some(&baseline)),
            None => println!("rabbitmq: skipped (see the reason above)"),
        }
        #[cfg(not(feature = "rabbitmq"))]
        println!("rabbitmq: skipped (built without the `rabbitmq` feature)");

        // Scale-out: one instance again as the reference, then two on one list and outbox.
        let queue = unique("pythia_bench_list");
        fill_list(&mut conn, &queue, n).await;
        let one = run_case(vec![list_source(&queue, "one")], n).await;
        report("redis list + outbox, 1 instance", n, &one, Some(&baseline));
        let queue = unique("pythia_bench_list");
        fill_list(&mut conn, &queue, n).await;
        let two = run_case(
            vec![list_source(&queue, "first"), list_source(&queue, "second")],
            n,
        )
        .await;
        report("redis list + outbox, 2 instances", n, &two, Some(&baseline));
        println!(
            "two instances against one: {:.2}x end to end, {:.2}x relayed",
            two.total_rate() / one.total_rate(),
            two.relay_rate() / one.relay_rate()
        );
    });
}
