//! The specification's `PaymentStatusPoller`: poll a payment API every 30 seconds for pending
//! payments and act on each completed or failed one.
//!
//! ```text
//! cargo run -p pythia --example poller_payment_status -- https://api.payments.example/status
//! cargo run -p pythia --example poller_payment_status -- http://127.0.0.1:8080/status --count 3
//! ```
//!
//! `PAYMENTS_TOKEN` is sent as a bearer token when set.

#[path = "poller_common/mod.rs"]
mod common;

use std::time::Duration;

use async_trait::async_trait;
use pythia::poller::{Handler, Outcome, Poller, PollerConfig};
use pythia::{BoxError, Message};
use serde_json::{json, Value};

/// Handles one response: a list of payments or a single one.
#[derive(Debug)]
struct PaymentStatus {
    countdown: common::Countdown,
}

impl PaymentStatus {
    fn process_payment_update(payment: &Value) {
        let id = payment.get("id");
        let status = payment.get("status").and_then(Value::as_str);
        match status {
            Some("completed") => tracing::info!(?id, "payment completed"),
            Some("failed") => {
                let error = payment
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown");
                tracing::warn!(?id, error, "payment failed");
            }
            _ => {}
        }
        tracing::info!(?id, ?status, "processed payment");
    }
}

#[async_trait]
impl Handler for PaymentStatus {
    async fn process_message(&self, message: Message) -> Result<Outcome, BoxError> {
        let count = match message.body.as_json() {
            Some(Value::Array(payments)) => {
                payments.iter().for_each(Self::process_payment_update);
                payments.len()
            }
            Some(payment) => {
                Self::process_payment_update(payment);
                1
            }
            None => 0,
        };
        self.countdown.count_one();
        Ok(Outcome::Report(json!({"processed": true, "count": count})))
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = common::args("poller_payment_status");
    let mut config = PollerConfig::builder()
        .url(&args.url)
        .interval(Duration::from_secs(30))
        .method("GET")
        .query("status", "pending");
    if let Ok(token) = std::env::var("PAYMENTS_TOKEN") {
        config = config.header("authorization", &format!("Bearer {token}"));
    }
    let countdown = common::Countdown::new(args.count);
    let poller = Poller::builder(config.build()?)
        .name("payment-status")
        .handler(PaymentStatus {
            countdown: countdown.clone(),
        })
        .build()?;

    common::run(poller, &countdown).await
}
