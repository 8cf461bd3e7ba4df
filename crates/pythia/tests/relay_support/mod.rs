//! Shared by the relay and source tests: unique names, a TCP proxy that can cut a broker off,
//! a bounded wait, and the burst of events every source relays.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use pythia::outbox::{MemoryOutbox, Outbox};
use pythia::source::{Relay, RelayStats, Route, Source};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const REDIS_URL: &str = "redis://127.0.0.1:6379";
pub const NATS_URL: &str = "nats://127.0.0.1:4222";
pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// `prefix` with a random suffix, so every test has its own key, subject or queue.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// Waits until `check` holds, polling every 20 ms, for at most `limit`; panics with `what`.
pub async fn wait_until<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Event `i` of a burst: every third one is not JSON (and not even UTF-8).
pub fn event(i: usize) -> Vec<u8> {
    if i % 3 == 0 {
        let mut raw = format!("raw event {i} ").into_bytes();
        raw.push(0xff);
        raw
    } else {
        serde_json::to_vec(&serde_json::json!({"event_type": "order_created", "seq": i})).unwrap()
    }
}

/// The route of the burst: JSON orders to `orders`, anything else to `raw`.
pub fn burst_route() -> Route {
    Route::field("/event_type")
        .map("order_created", ["orders"])
        .otherwise(["raw"])
}

/// Held messages by payload: endpoint, headers, and how many copies.
pub type Held = BTreeMap<Vec<u8>, (String, Vec<(String, String)>, usize)>;

/// A relay from `source` into a fresh memory outbox, running until the returned token is
/// cancelled.
pub struct Running {
    pub outbox: Arc<MemoryOutbox>,
    pub stats: RelayStats,
    pub stop: CancellationToken,
    pub task: JoinHandle<Result<(), pythia::source::SourceError>>,
}

pub fn spawn_relay(source: impl Source) -> Running {
    let outbox = Arc::new(MemoryOutbox::new());
    let relay = Relay::builder(source, outbox.clone() as Arc<dyn Outbox>)
        .route(burst_route())
        .build()
        .unwrap();
    let stats = relay.stats();
    let stop = CancellationToken::new();
    let token = stop.clone();
    let task = tokio::spawn(relay.run_until(async move { token.cancelled().await }));
    Running {
        outbox,
        stats,
        stop,
        task,
    }
}

impl Running {
    /// Stops the relay and returns every message the outbox holds, by payload.
    pub async fn finish(self) -> Held {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the relay stops")
            .unwrap()
            .unwrap();
        held(&*self.outbox).await
    }
}

/// Every message `outbox` holds, keyed by payload: endpoint, headers, and how many copies.
pub async fn held(outbox: &dyn Outbox) -> Held {
    let mut out: Held = BTreeMap::new();
    loop {
        let claimed = outbox.claim(500, Duration::from_secs(600)).await.unwrap();
        if claimed.is_empty() {
            return out;
        }
        for c in claimed {
            let entry = out.entry(c.message.payload.to_vec()).or_insert((
                c.message.endpoint.clone(),
                c.message.headers.clone(),
                0,
            ));
            entry.2 += 1;
        }
    }
}

/// Checks that `held` is exactly events `0..n`, each once, JSON ones to `orders` and the rest
/// to `raw` with a content type.
pub fn assert_burst(held: &Held, n: usize) {
    assert_eq!(held.len(), n, "every event of the burst is held once");
    for i in 0..n {
        let (endpoint, headers, copies) = held
            .get(&event(i))
            .unwrap_or_else(|| panic!("event {i} was lost"));
        assert_eq!(*copies, 1, "event {i} is held once");
        if i % 3 == 0 {
            assert_eq!(endpoint, "raw", "event {i}");
            assert!(
                headers.iter().any(|(name, _)| name == "content-type"),
                "bytes keep a content type: {headers:?}"
            );
        } else {
            assert_eq!(endpoint, "orders", "event {i}");
        }
    }
}

/// A TCP proxy to a broker that a test can cut off and restore.
pub struct Proxy {
    pub addr: SocketAddr,
    cut: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy on a free loopback port forwarding to `target`.
    pub async fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let target = target.to_owned();
        let accept = {
            let cut = cut.clone();
            let links = links.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((mut inbound, _)) = listener.accept().await else {
                        continue;
                    };
                    if cut.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let target = target.clone();
                    links.lock().push(tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(&target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    }));
                }
            })
        };
        Proxy {
            addr,
            cut,
            links,
            accept,
        }
    }

    /// Closes every open connection and refuses new ones until [`restore`](Proxy::restore).
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for link in self.links.lock().drain(..) {
            link.abort();
        }
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        for link in self.links.lock().drain(..) {
            link.abort();
        }
    }
}

/// Publishing into each broker, for the tests.
#[cfg(feature = "redis")]
pub async fn redis() -> redis::aio::MultiplexedConnection {
    redis::Client::open(REDIS_URL)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[cfg(feature = "redis")]
pub async fn lpush_burst(queue: &str, range: std::ops::Range<usize>) {
    let mut conn = redis().await;
    for i in range {
        redis::cmd("LPUSH")
            .arg(queue)
            .arg(event(i))
            .query_async::<i64>(&mut conn)
            .await
            .unwrap();
    }
}

#[cfg(feature = "nats")]
pub async fn nats_stream(stream: &str) -> async_nats::jetstream::Context {
    let client = async_nats::connect(NATS_URL).await.unwrap();
    let context = async_nats::jetstream::new(client);
    context
        .get_or_create_stream(async_nats::jetstream::stream::Config {
            name: stream.to_owned(),
            subjects: vec![format!("{stream}.>")],
            storage: async_nats::jetstream::stream::StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();
    context
}

#[cfg(feature = "nats")]
pub async fn nats_publish_burst(
    context: &async_nats::jetstream::Context,
    stream: &str,
    range: std::ops::Range<usize>,
) {
    for i in range {
        context
            .publish(format!("{stream}.orders"), event(i).into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
}

#[cfg(feature = "rabbitmq")]
pub async fn amqp_channel(queue: &str) -> (lapin::Connection, lapin::Channel) {
    use lapin::options::{ConfirmSelectOptions, QueueDeclareOptions};
    let connection = lapin::Connection::connect(AMQP_URL, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let options = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(queue, options, lapin::types::FieldTable::default())
        .await
        .unwrap();
    (connection, channel)
}

#[cfg(feature = "rabbitmq")]
pub async fn amqp_publish_burst(
    channel: &lapin::Channel,
    queue: &str,
    range: std::ops::Range<usize>,
) {
    use lapin::options::BasicPublishOptions;
    for i in range {
        let properties = lapin::BasicProperties::default()
            .with_message_id(format!("{queue}-{i}").into())
            .with_delivery_mode(2);
        channel
            .basic_publish(
                "",
                queue,
                BasicPublishOptions::default(),
                &event(i),
                properties,
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }
}

#[cfg(feature = "rabbitmq")]
pub async fn amqp_delete(channel: &lapin::Channel, queue: &str) {
    let _ = channel
        .queue_delete(queue, lapin::options::QueueDeleteOptions::default())
        .await;
}
