//! The specification's `MonitoredPoller`: counts responses and errors, logs each response with
//! its context, and lets handler errors be logged and counted by the poller.
//!
//! ```text
//! cargo run -p pythia --example poller_monitored -- https://api.example.com/metrics
//! cargo run -p pythia --example poller_monitored -- http://127.0.0.1:8080/metrics --count 3
//! ```

#[path = "poller_common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use pythia::poller::{Handler, Outcome, Poller, PollerConfig};
use pythia::{Body, BoxError, Message};
use serde_json::json;

/// The example's own counters, as the specification keeps in `self.metrics`.
#[derive(Debug, Default)]
struct Counters {
    responses_received: AtomicU64,
    errors_count: AtomicU64,
}

#[derive(Debug)]
struct MonitoredPoller {
    url: String,
    counters: Counters,
    countdown: common::Countdown,
}

impl MonitoredPoller {
    fn handle_response(body: &Body) -> Result<Outcome, BoxError> {
        match body {
            Body::Json(value) => Ok(Outcome::Report(
                json!({"keys": value.as_object().map(|o| o.len())}),
            )),
            _ => Err("the metrics endpoint did not answer json".into()),
        }
    }
}

#[async_trait]
impl Handler for MonitoredPoller {
    async fn process_message(&self, message: Message) -> Result<Outcome, BoxError> {
        let received = self
            .counters
            .responses_received
            .fetch_add(1, Ordering::Relaxed)
            + 1;
        tracing::info!(
            url = %self.url,
            status_code = message.headers.get("status_code"),
            response_size = message.body.len(),
            responses_received = received,
            errors_count = self.counters.errors_count.load(Ordering::Relaxed),
            "processing api response"
        );
        self.countdown.count_one();
        Self::handle_response(&message.body).inspect_err(|error| {
            let errors = self.counters.errors_count.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::error!(error = %error, errors_count = errors, "error processing api response");
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = common::args("poller_monitored");
    let config = PollerConfig::builder()
        .url(&args.url)
        .interval(Duration::from_secs(60))
        .build()?;
    let url = config.display_url();

    let countdown = common::Countdown::new(args.count);
    let poller = Poller::builder(config)
        .name("monitored")
        .handler(MonitoredPoller {
            url,
            counters: Counters::default(),
            countdown: countdown.clone(),
        })
        .build()?;

    common::run(poller, &countdown).await
}
