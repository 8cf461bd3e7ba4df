//! The specification's `OrderNotificationSender`: an `order_created` webhook to
//! `/orders/created` with `X-Event-Source: order-service`, 30 s per attempt and 3 retries
//! starting 2 s apart. The configuration also names the endpoints of the specification's
//! "Programmatic Configuration" (`orders`, `users`, `alerts`); `--endpoint orders` sends the
//! event to `/orders/webhook` instead.
//!
//! ```text
//! cargo run -p pythia-cli -- listen --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
//! cargo run -p pythia --example webhook_order_notification -- http://127.0.0.1:9000 \
//!     --allow-private
//! cargo run -p pythia --example webhook_order_notification -- http://127.0.0.1:9000 \
//!     --allow-private --endpoint orders \
//!     --order '{"id":"ord_7","customer_id":"cus_3","total":12.5}'
//! WEBHOOK_SECRET=whsec_... cargo run -p pythia --example webhook_order_notification -- \
//!     https://webhooks.example.com
//! ```
//!
//! `WEBHOOK_SECRET` signs the webhook; without it the documented test secret above is used.
//! Loopback and private addresses are refused unless `--allow-private` is given. The exit
//! status is 1 when the webhook was not delivered.

#[path = "webhook_common/mod.rs"]
mod common;

use std::process::ExitCode;
use std::time::Duration;

use common::cli::{Args, Spec};
use pythia::webhook::{Outcome, WebhookSender};
use pythia::BoxError;
use serde::Deserialize;
use serde_json::json;

static CLI: Spec = Spec {
    example: "webhook_order_notification",
    positional: "base-url",
    switches: &[common::ALLOW_PRIVATE],
    options: &[("--order", "JSON"), ("--endpoint", "NAME-OR-PATH")],
};

/// An order as the order service knows it. The total is passed on as the JSON number it was
/// (no currency arithmetic happens here); `created_at` defaults to now.
#[derive(Debug, Deserialize)]
struct Order {
    id: String,
    customer_id: String,
    total: serde_json::Number,
    #[serde(default = "now")]
    created_at: String,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

impl Order {
    /// The order used when `--order` is not given.
    fn sample() -> Order {
        Order {
            id: "ord_1001".to_owned(),
            customer_id: "cus_42".to_owned(),
            total: serde_json::Number::from(129),
            created_at: now(),
        }
    }
}

#[derive(Debug)]
struct OrderNotificationSender {
    sender: WebhookSender,
    endpoint: String,
}

impl OrderNotificationSender {
    fn new(args: &Args) -> Result<Self, BoxError> {
        let config = common::config(args)
            .timeout(Duration::from_secs(30))
            .max_retries(3)
            .retry_delay(Duration::from_secs(2))
            .retry_backoff(2.0)
            .endpoint("orders", "/orders/webhook")
            .endpoint("users", "/users/webhook")
            .endpoint("alerts", "/system/alerts")
            .build()?;
        Ok(OrderNotificationSender {
            sender: WebhookSender::new(config)?,
            endpoint: args
                .value("--endpoint")
                .unwrap_or("/orders/created")
                .to_owned(),
        })
    }

    async fn send_order_created(&self, order: &Order) -> Outcome {
        let event = json!({
            "event": "order_created",
            "order_id": order.id,
            "customer_id": order.customer_id,
            "amount": order.total,
            "timestamp": order.created_at,
        });
        let outcome = self
            .sender
            .send(
                &self.endpoint,
                event,
                &[("X-Event-Source", "order-service")],
            )
            .await;

        if outcome.is_delivered() {
            tracing::info!(
                order_id = %order.id,
                webhook_id = %outcome.id(),
                attempts = outcome.attempts(),
                "order created webhook sent"
            );
        } else {
            tracing::error!(
                order_id = %order.id,
                webhook_id = %outcome.id(),
                attempts = outcome.attempts(),
                status = outcome.status(),
                error = outcome.error(),
                "failed to send order created webhook"
            );
        }
        outcome
    }
}

#[tokio::main]
async fn main() -> Result<ExitCode, BoxError> {
    common::init_logging();
    let args = CLI.parse();
    let order = match args.json("--order") {
        Some(order) => serde_json::from_value(order)?,
        None => Order::sample(),
    };

    let notifier = OrderNotificationSender::new(&args)?;
    let outcome = notifier.send_order_created(&order).await;

    common::report(&outcome);
    Ok(if outcome.is_delivered() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
