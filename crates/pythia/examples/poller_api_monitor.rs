//! The specification's `APIMonitor` ("Common Use Cases"): poll a status API every 60 seconds
//! and alert the ops team whenever its `status` is not `operational`. An error response (a
//! `503` from a status page that is down, say) is not operational either.
//!
//! ```text
//! cargo run -p pythia --example poller_api_monitor -- https://status.example.com/api
//! cargo run -p pythia --example poller_api_monitor -- http://127.0.0.1:8080/api --count 1 \
//!     --alert-url http://127.0.0.1:9000/ops/alerts
//! ```
//!
//! The alert is an error log line and, with `--alert-url`, a webhook carrying the status report
//! (signed when `WEBHOOK_SECRET` holds a `whsec_` secret; try it with `pythia listen`).

#[path = "cli/mod.rs"]
mod cli;
#[path = "poller_common/mod.rs"]
mod common;

use std::time::Duration;

use async_trait::async_trait;
use pythia::poller::{Handler, Outcome, Poller, PollerConfig};
use pythia::webhook::{WebhookConfig, WebhookSender};
use pythia::{BoxError, Message};
use serde_json::{json, Value};

static CLI: cli::Spec = cli::Spec {
    example: "poller_api_monitor",
    positional: "url",
    switches: &[],
    options: &[("--count", "N"), ("--alert-url", "URL")],
};

/// Where the ops team is alerted, besides the log.
#[derive(Debug)]
struct OpsWebhook {
    sender: WebhookSender,
    url: String,
}

#[derive(Debug)]
struct ApiMonitor {
    url: String,
    ops: Option<OpsWebhook>,
    countdown: common::Countdown,
}

impl ApiMonitor {
    async fn alert_ops_team(&self, message: &Message, status: &str) -> Result<(), BoxError> {
        let status_code = message.status_code();
        tracing::error!(url = %self.url, status, status_code, "api is not operational");
        let Some(ops) = &self.ops else {
            return Ok(());
        };

        let alert = json!({
            "alert": "api_not_operational",
            "url": self.url,
            "status": status,
            "status_code": status_code,
            "report": message.body.as_json(),
        });
        let outcome = ops.sender.send(&ops.url, alert, &[]).await;
        if outcome.is_delivered() {
            Ok(())
        } else {
            Err(format!(
                "ops alert not delivered after {} attempts",
                outcome.attempts()
            )
            .into())
        }
    }
}

#[async_trait]
impl Handler for ApiMonitor {
    async fn process_message(&self, message: Message) -> Result<Outcome, BoxError> {
        let answered = message
            .status_code()
            .is_some_and(|code| (200..300).contains(&code));
        let status = message
            .body
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        let operational = answered && status == "operational";

        let alerted = if operational {
            tracing::info!(url = %self.url, "api operational");
            Ok(())
        } else {
            self.alert_ops_team(&message, status).await
        };
        self.countdown.count_one();
        alerted?;
        Ok(Outcome::Report(
            json!({"operational": operational, "status": status}),
        ))
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = CLI.parse();
    let config = PollerConfig::builder()
        .url(args.positional())
        .interval(Duration::from_secs(60))
        .build()?;
    let url = config.display_url();

    let ops = match args.value("--alert-url") {
        Some(alert_url) => {
            let mut webhook = WebhookConfig::builder();
            if let Ok(secret) = std::env::var("WEBHOOK_SECRET") {
                webhook = webhook.secret(&secret);
            }
            Some(OpsWebhook {
                sender: WebhookSender::new(webhook.build()?)?,
                url: alert_url.to_owned(),
            })
        }
        None => None,
    };
    let countdown = common::Countdown::new(args.parsed("--count"));
    let poller = Poller::builder(config)
        .name("api-monitor")
        .deliver_errors(true)
        .handler(ApiMonitor {
            url,
            ops,
            countdown: countdown.clone(),
        })
        .build()?;

    common::run(poller, &countdown).await
}
