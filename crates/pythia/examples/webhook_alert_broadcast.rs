//! The specification's `SystemAlertBroadcaster`: one system alert sent to several endpoints at
//! once. A normal alert goes to `/general/alerts` and `/slack/alerts`, and each endpoint gets it
//! whatever happens to the other; an urgent one (`--urgent`) goes to `/critical/alerts`,
//! `/slack/alerts`, `/email/alerts` and `/sms/alerts` with fail-fast: the first endpoint that
//! finally fails cancels the deliveries still running.
//!
//! ```text
//! cargo run -p pythia-cli -- listen --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
//! cargo run -p pythia --example webhook_alert_broadcast -- http://127.0.0.1:9000 \
//!     --allow-private
//! cargo run -p pythia --example webhook_alert_broadcast -- http://127.0.0.1:9000 \
//!     --allow-private --urgent --alert '{"type":"disk_full","message":"/var is at 97%"}'
//! ```
//!
//! Every endpoint gets the same `webhook-id` and an `X-Alert-Priority` header (`high` or
//! `normal`). `WEBHOOK_SECRET` signs the webhooks; without it the documented test secret above
//! is used. Loopback and private addresses are refused unless `--allow-private` is given. One
//! line per endpoint is printed; the exit status is 1 unless every endpoint got the alert.

#[path = "webhook_common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::process::ExitCode;

use common::cli::Spec;
use pythia::webhook::{BroadcastOutcome, WebhookSender};
use pythia::BoxError;
use serde::Deserialize;
use serde_json::json;

static CLI: Spec = Spec {
    example: "webhook_alert_broadcast",
    positional: "base-url",
    switches: &[common::ALLOW_PRIVATE, "--urgent"],
    options: &[("--alert", "JSON")],
};

const URGENT_ENDPOINTS: [&str; 4] = [
    "/critical/alerts",
    "/slack/alerts",
    "/email/alerts",
    "/sms/alerts",
];
const NORMAL_ENDPOINTS: [&str; 2] = ["/general/alerts", "/slack/alerts"];

/// A system alert; `timestamp` defaults to now and `source` to `system`.
#[derive(Debug, Deserialize)]
struct Alert {
    #[serde(rename = "type")]
    kind: String,
    message: String,
    #[serde(default = "now")]
    timestamp: String,
    #[serde(default = "system")]
    source: String,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

fn system() -> String {
    "system".to_owned()
}

#[derive(Debug)]
struct SystemAlertBroadcaster {
    sender: WebhookSender,
}

impl SystemAlertBroadcaster {
    async fn broadcast_system_alert(&self, alert: &Alert, urgent: bool) -> BroadcastOutcome {
        let (endpoints, fail_fast): (&[&str], bool) = if urgent {
            (&URGENT_ENDPOINTS, true)
        } else {
            (&NORMAL_ENDPOINTS, false)
        };
        let payload = json!({
            "alert_type": alert.kind,
            "severity": if urgent { "urgent" } else { "normal" },
            "message": alert.message,
            "timestamp": alert.timestamp,
            "source": alert.source,
        });
        let priority = if urgent { "high" } else { "normal" };

        let outcome = self
            .sender
            .broadcast(
                endpoints,
                payload,
                &[("X-Alert-Priority", priority)],
                fail_fast,
            )
            .await;

        let results: BTreeMap<&str, &str> = outcome
            .iter()
            .map(|o| {
                let result = o.error_class().map_or("delivered", |class| class.as_str());
                (o.endpoint(), result)
            })
            .collect();
        tracing::info!(
            alert_type = %alert.kind,
            successful = outcome.delivered(),
            total = outcome.len(),
            ?results,
            "alert broadcast completed"
        );
        outcome
    }
}

#[tokio::main]
async fn main() -> Result<ExitCode, BoxError> {
    common::init_logging();
    let args = CLI.parse();
    let alert: Alert = match args.json("--alert") {
        Some(alert) => serde_json::from_value(alert)?,
        None => Alert {
            kind: "high_cpu".to_owned(),
            message: "cpu above 90% for 5 minutes".to_owned(),
            timestamp: now(),
            source: "monitoring".to_owned(),
        },
    };

    let broadcaster = SystemAlertBroadcaster {
        sender: WebhookSender::new(common::config(&args).build()?)?,
    };
    let outcome = broadcaster
        .broadcast_system_alert(&alert, args.flag("--urgent"))
        .await;

    outcome.iter().for_each(common::report);
    Ok(if outcome.is_all_delivered() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
