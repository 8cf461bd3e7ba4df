//! The specification's `RetryableWebhookSender`: a critical alert to `/critical/alerts` with
//! `X-Priority: critical`, under a custom retry policy: exponential from 1 s with base 2,
//! capped at 60 s per wait, full jitter, at most 5 attempts. Every attempt carries the same
//! `webhook-id`, so the receiver can drop duplicates.
//!
//! ```text
//! cargo run -p pythia-cli -- listen --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw --status 503
//! cargo run -p pythia --example webhook_critical_retry -- http://127.0.0.1:9000 --allow-private
//! cargo run -p pythia --example webhook_critical_retry -- http://127.0.0.1:9000 \
//!     --allow-private --data '{"alert":"payments_down","region":"eu-west-1"}'
//! ```
//!
//! With the receiver answering 503 (as above) all five attempts fail and an error is logged
//! once the retries are spent; the payload itself is never logged. `WEBHOOK_SECRET` signs the
//! webhook; without it the documented test secret above is used. Loopback and private
//! addresses are refused unless `--allow-private` is given. The exit status is 1 when the
//! webhook was not delivered.

#[path = "webhook_common/mod.rs"]
mod common;

use std::process::ExitCode;
use std::time::Duration;

use common::cli::Spec;
use pythia::resilience::{Jitter, RetryPolicy};
use pythia::webhook::{Outcome, WebhookSender};
use pythia::BoxError;
use serde_json::{json, Value};

static CLI: Spec = Spec {
    example: "webhook_critical_retry",
    positional: "base-url",
    switches: &[common::ALLOW_PRIVATE],
    options: &[("--data", "JSON")],
};

#[derive(Debug)]
struct RetryableWebhookSender {
    sender: WebhookSender,
}

impl RetryableWebhookSender {
    async fn send_critical_webhook(&self, data: Value) -> Outcome {
        let outcome = self
            .sender
            .send("/critical/alerts", data, &[("X-Priority", "critical")])
            .await;

        if !outcome.is_delivered() {
            tracing::error!(
                endpoint = %outcome.endpoint(),
                webhook_id = %outcome.id(),
                attempts = outcome.attempts(),
                status = outcome.status(),
                error_class = outcome.error_class().map(|class| class.as_str()),
                error = outcome.error(),
                "critical webhook failed after all retries"
            );
        }
        outcome
    }
}

#[tokio::main]
async fn main() -> Result<ExitCode, BoxError> {
    common::init_logging();
    let args = CLI.parse();
    let data = args.json("--data").unwrap_or_else(|| {
        json!({
            "alert": "database_unreachable",
            "service": "billing",
            "severity": "critical",
        })
    });

    let retry = RetryPolicy::builder()
        .exponential(Duration::from_secs(1), 2.0)
        .max_attempts(5)
        .max_delay(Duration::from_secs(60))
        .jitter(Jitter::Full)
        .build()?;
    let config = common::config(&args).retry(retry).build()?;
    let critical = RetryableWebhookSender {
        sender: WebhookSender::new(config)?,
    };
    let outcome = critical.send_critical_webhook(data).await;

    common::report(&outcome);
    Ok(if outcome.is_delivered() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
