//! The specification's `HealthCheckPoller`: every 30 seconds, error responses included, count
//! consecutive failures and raise an alert at three.
//!
//! ```text
//! cargo run -p pythia --example poller_health_check -- https://api.example.com/health
//! cargo run -p pythia --example poller_health_check -- http://127.0.0.1:8080/health --count 4
//! ```

#[path = "poller_common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use parking_lot::Mutex;
use pythia::poller::{Handler, Outcome, Poller, PollerConfig};
use pythia::{BoxError, Message};
use serde_json::json;

#[derive(Debug)]
struct HealthCheckPoller {
    url: String,
    last_successful_poll: Mutex<Option<SystemTime>>,
    consecutive_failures: AtomicU32,
    countdown: common::Countdown,
}

impl HealthCheckPoller {
    fn send_health_alert(&self, failures: u32) {
        tracing::error!(
            url = %self.url,
            consecutive_failures = failures,
            "api health check failed {failures} times consecutively"
        );
    }
}

#[async_trait]
impl Handler for HealthCheckPoller {
    async fn process_message(&self, message: Message) -> Result<Outcome, BoxError> {
        let status_code = message.status_code().unwrap_or(0);
        let healthy = (200..300).contains(&status_code);
        let failures = if healthy {
            *self.last_successful_poll.lock() = Some(SystemTime::now());
            self.consecutive_failures.store(0, Ordering::SeqCst);
            tracing::info!(
                status_code,
                response_time_ms = message.headers.get_number("response_time").unwrap_or(0.0),
                "api health check successful"
            );
            0
        } else {
            let failures = self.consecutive_failures.fetch_add(1, Ordering::SeqCst) + 1;
            tracing::warn!(
                status_code,
                consecutive_failures = failures,
                "api health check failed"
            );
            if failures >= 3 {
                self.send_health_alert(failures);
            }
            failures
        };
        self.countdown.count_one();
        Ok(Outcome::Report(json!({
            "healthy": healthy,
            "status_code": status_code,
            "consecutive_failures": failures,
        })))
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = common::args("poller_health_check");
    let config = PollerConfig::builder()
        .url(&args.url)
        .interval(Duration::from_secs(30))
        .build()?;
    let url = config.display_url();

    let countdown = common::Countdown::new(args.count);
    let poller = Poller::builder(config)
        .name("health-check")
        .deliver_errors(true)
        .handler(HealthCheckPoller {
            url,
            last_successful_poll: Mutex::new(None),
            consecutive_failures: AtomicU32::new(0),
            countdown: countdown.clone(),
        })
        .build()?;

    common::run(poller, &countdown).await
}
