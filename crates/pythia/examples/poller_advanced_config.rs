//! The specification's `AdvancedAPIPoller`: every `PollerConfig` knob set explicitly, a `POST`
//! with a JSON body, and a handler that reads the status code and timestamp of each response.
//!
//! ```text
//! cargo run -p pythia --example poller_advanced_config -- https://api.example.com/events
//! cargo run -p pythia --example poller_advanced_config -- http://127.0.0.1:8080/events --count 2
//! ```

#[path = "poller_common/mod.rs"]
mod common;

use std::time::Duration;

use pythia::poller::{Outcome, Poller, PollerConfig};
use pythia::{BoxError, Message};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = common::args("poller_advanced_config");
    let token = std::env::var("API_TOKEN").unwrap_or_else(|_| "your-token".to_owned());
    let config = PollerConfig::builder()
        .url(&args.url)
        .interval(Duration::from_secs(60))
        .method("POST")
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(30))
        .max_connections(50)
        .verify_tls(true)
        .follow_redirects(true)
        .user_agent("MyApp/1.0")
        .header("authorization", &format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(json!({"since": "last-poll"}).to_string())
        .build()?;

    let countdown = common::Countdown::new(args.count);
    let counted = countdown.clone();
    let poller = Poller::builder(config)
        .name("advanced-api")
        .handler_fn(move |message: Message| {
            let countdown = counted.clone();
            async move {
                let status_code = message.headers.get("status_code").unwrap_or("?").to_owned();
                tracing::info!(
                    status_code = %status_code,
                    timestamp = %message.timestamp,
                    response_size = message.body.len(),
                    "received response"
                );
                countdown.count_one();
                Ok(Outcome::Report(
                    json!({"status": "processed", "response_code": status_code}),
                ))
            }
        })
        .build()?;

    common::run(poller, &countdown).await
}
