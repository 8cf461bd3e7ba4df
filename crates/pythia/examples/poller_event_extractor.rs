//! The specification's `EventPoller` with `extract_events`: one response becomes one message
//! per event, and each event is handled by its type.
//!
//! ```text
//! cargo run -p pythia --example poller_event_extractor -- https://api.events.example/feed
//! cargo run -p pythia --example poller_event_extractor -- http://127.0.0.1:8080/feed --count 5
//! ```

#[path = "poller_common/mod.rs"]
mod common;

use std::time::Duration;

use pythia::poller::{Extractor, Outcome, Poller, PollerConfig};
use pythia::{BoxError, Message};
use serde_json::{json, Value};

/// The `events` list, or the whole response as a single event.
fn extract_events(response: &Value) -> Vec<Value> {
    match response.get("events") {
        Some(Value::Array(events)) => events.clone(),
        _ => vec![response.clone()],
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = common::args("poller_event_extractor");
    let config = PollerConfig::builder()
        .url(&args.url)
        .interval(Duration::from_secs(120))
        .build()?;

    let countdown = common::Countdown::new(args.count);
    let counted = countdown.clone();
    let poller = Poller::builder(config)
        .name("events")
        .extractor(Extractor::from_fn(extract_events))
        .handler_fn(move |message: Message| {
            let countdown = counted.clone();
            async move {
                let event_type = message
                    .body
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown")
                    .to_owned();
                match event_type.as_str() {
                    "user_signup" => tracing::info!("handling a user signup"),
                    "purchase" => tracing::info!("handling a purchase"),
                    other => tracing::debug!(event_type = other, "event ignored"),
                }
                countdown.count_one();
                Ok(Outcome::Report(
                    json!({"event_type": event_type, "processed": true}),
                ))
            }
        })
        .build()?;

    common::run(poller, &countdown).await
}
