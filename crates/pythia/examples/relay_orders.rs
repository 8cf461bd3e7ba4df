//! The specification's `OrderWebhookRelay`: consume order events from the Redis list
//! `order_events` and send each as a signed webhook to the endpoint chosen by its
//! `event_type`, with `X-Source` and `X-Event-Type` headers.
//!
//! ```text
//! cargo run -p pythia --features redis --example relay_orders
//! cargo run -p pythia --features redis --example relay_orders -- \
//!     --redis redis://127.0.0.1:6379 --base-url http://127.0.0.1:8080 --outbox orders.db
//! redis-cli LPUSH order_events '{"event_type":"order_created","order_id":42}'
//! ```
//!
//! Each event is stored in a SQLite outbox before it leaves the Redis list, so a crash at any
//! point loses nothing; the dispatcher then delivers from the outbox with retries. An event of
//! an unknown type is logged, counted and moved to `order_events:dead`.
//! `WEBHOOK_SECRET` (a `whsec_` secret) signs the webhooks when set.

use std::sync::Arc;

use anyhow::Context;
use pythia::outbox::{Outbox, SqliteOutbox};
use pythia::source::{RedisListSource, Relay, Route, Unroutable};
use pythia::webhook::dispatch::Dispatcher;
use pythia::webhook::{WebhookConfig, WebhookSender};
use tokio_util::sync::CancellationToken;

struct Args {
    redis: String,
    base_url: String,
    outbox: String,
}

fn args() -> anyhow::Result<Args> {
    let mut parsed = Args {
        redis: "redis://127.0.0.1:6379".to_owned(),
        base_url: "https://partner-webhooks.com".to_owned(),
        outbox: "relay_orders.db".to_owned(),
    };
    let mut rest = std::env::args().skip(1);
    while let Some(flag) = rest.next() {
        let value = rest
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--redis" => parsed.redis = value,
            "--base-url" => parsed.base_url = value,
            "--outbox" => parsed.outbox = value,
            other => anyhow::bail!("unknown option {other}"),
        }
    }
    Ok(parsed)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let args = args()?;

    // The three endpoints of the specification, under the partner's base URL.
    let mut config = WebhookConfig::builder()
        .base_url(&args.base_url)
        .endpoint("orders_created", "/webhooks/orders/created")
        .endpoint("orders_updated", "/webhooks/orders/updated")
        .endpoint("orders_cancelled", "/webhooks/orders/cancelled");
    if let Ok(secret) = std::env::var("WEBHOOK_SECRET") {
        config = config.secret(&secret);
    }
    let sender = WebhookSender::new(config.build()?)?;

    let outbox: Arc<dyn Outbox> = Arc::new(SqliteOutbox::open(&args.outbox)?);
    let dispatcher = Dispatcher::builder(outbox.clone(), sender).build();

    let source = RedisListSource::builder(&args.redis, "order_events").build()?;
    let relay = Relay::builder(source, outbox)
        .name("order-webhook-relay")
        .route(
            Route::field("/event_type")
                .map("order_created", ["orders_created"])
                .map("order_updated", ["orders_updated"])
                .map("order_cancelled", ["orders_cancelled"]),
        )
        .unroutable(Unroutable::DeadLetter)
        .header("X-Source", "order-service")
        .event_type_header("X-Event-Type")
        .build()?;

    let stop = CancellationToken::new();
    let dispatching = {
        let stop = stop.clone();
        tokio::spawn(dispatcher.run_until(async move { stop.cancelled().await }))
    };
    let relaying = {
        let stop = stop.clone();
        tokio::spawn(relay.run_until(async move { stop.cancelled().await }))
    };
    tracing::info!("relaying order_events; Ctrl-C stops");
    tokio::signal::ctrl_c().await?;
    stop.cancel();
    relaying.await??;
    dispatching.await?;
    Ok(())
}
