//! What to do with a claimed message once its attempt has an outcome.
//!
//! [`decide`] turns the outcome into an [`Update`] (and counts it); the dispatch loop then
//! acks deliveries in batches with [`ack_all`] and applies the other updates one by one with
//! [`apply`].

use std::time::{Duration, SystemTime};

use crate::outbox::{self, Claimed, Lease, Outbox, OutboxError};
use crate::webhook::AttemptResult;

use super::Deliver;

/// What the outbox must record for a message after its attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Update {
    /// Delivered: remove it.
    Ack,
    /// Try again at `at`.
    Reschedule {
        at: SystemTime,
        count_attempt: bool,
        last_error: Option<String>,
        /// The endpoint's breaker is open for this long; skip it meanwhile.
        blocked: Option<Duration>,
    },
    /// Move it to the dead letters.
    Bury { reason: String, attempts: u32 },
}

/// The update for `claimed` after an attempt ended with `result`, counted in the metrics. A
/// `Retry-After` longer than `retry_after_cap` counts as the cap.
pub(super) fn decide(
    deliver: &dyn Deliver,
    claimed: &Claimed,
    result: &AttemptResult,
    retry_after_cap: Duration,
) -> Update {
    let message = &claimed.message;
    let endpoint = message.endpoint.as_str();
    let now = outbox::now();
    // The sender counts `pythia_webhook_attempts_total`; this counts what the outbox did.
    metrics::counter!("pythia_outbox_attempts_total",
        "endpoint" => endpoint.to_owned(), "outcome" => result.label())
    .increment(1);

    match result {
        AttemptResult::Delivered { latency, .. } => {
            metrics::histogram!("pythia_webhook_delivery_latency_seconds",
                "endpoint" => endpoint.to_owned())
            .record(latency.as_secs_f64());
            if let Ok(waited) = now.duration_since(message.created_at) {
                metrics::histogram!("pythia_outbox_delivery_delay_seconds",
                    "endpoint" => endpoint.to_owned())
                .record(waited.as_secs_f64());
            }
            Update::Ack
        }
        // Nothing was sent: the attempt does not count.
        AttemptResult::BreakerOpen { retry_in } => Update::Reschedule {
            at: now + *retry_in,
            count_attempt: false,
            last_error: None,
            blocked: Some(*retry_in),
        },
        AttemptResult::Failed {
            status,
            error,
            retryable,
            retry_after,
        } => {
            let failed = message.attempts.saturating_add(1);
            let described = match status {
                Some(status) => format!("status {status}: {error}"),
                None => error.clone(),
            };
            let delay = if *retryable {
                deliver.next_delay(endpoint, failed)
            } else {
                None
            };
            match delay {
                Some(delay) => {
                    let delay = delay.max(retry_after.unwrap_or_default().min(retry_after_cap));
                    tracing::debug!(endpoint, id = %message.id, attempt = failed,
                        retry_in = ?delay, error = %described, "webhook attempt failed, retrying");
                    Update::Reschedule {
                        at: now + delay,
                        count_attempt: true,
                        last_error: Some(described),
                        blocked: None,
                    }
                }
                None => {
                    let reason = if *retryable {
                        format!("gave up after {failed} attempts: {described}")
                    } else {
                        format!("not retryable: {described}")
                    };
                    Update::Bury {
                        reason,
                        attempts: failed,
                    }
                }
            }
        }
        AttemptResult::EndpointDisabled => Update::Bury {
            reason: "endpoint disabled (410 gone)".to_owned(),
            attempts: message.attempts,
        },
        AttemptResult::UnknownEndpoint => Update::Bury {
            reason: "unknown endpoint".to_owned(),
            attempts: message.attempts,
        },
    }
}

/// Records `update` for `claimed`; a failure is reported, not returned: the message comes
/// back when its lease ends.
pub(super) async fn apply(outbox: &dyn Outbox, claimed: &Claimed, update: Update) {
    let message = &claimed.message;
    let lease = &claimed.lease;
    let result = match update {
        Update::Ack => outbox.ack(&message.id, lease).await,
        Update::Reschedule {
            at,
            count_attempt,
            last_error,
            ..
        } => {
            outbox
                .reschedule(&message.id, lease, at, count_attempt, last_error.as_deref())
                .await
        }
        Update::Bury { reason, attempts } => bury(outbox, claimed, &reason, attempts).await,
    };
    if let Err(error) = result {
        report_unsettled(&message.endpoint, &message.id, &error);
    }
}

/// Acks every message of `delivered` in one batch, reporting those the outbox refused.
pub(super) async fn ack_all(outbox: &dyn Outbox, delivered: &[Claimed]) {
    let acks: Vec<(&str, &Lease)> = delivered
        .iter()
        .map(|claimed| (claimed.message.id.as_str(), &claimed.lease))
        .collect();
    let results = outbox.ack_batch(&acks).await;
    for (claimed, result) in delivered.iter().zip(results) {
        if let Err(error) = result {
            report_unsettled(&claimed.message.endpoint, &claimed.message.id, &error);
        }
    }
}

/// Moves the message to the dead letters, loudly: someone has to look at it.
async fn bury(
    outbox: &dyn Outbox,
    claimed: &Claimed,
    reason: &str,
    attempts: u32,
) -> Result<(), OutboxError> {
    let message = &claimed.message;
    outbox
        .dead_letter(&message.id, &claimed.lease, reason)
        .await?;
    tracing::error!(endpoint = %message.endpoint, id = %message.id, attempts, reason,
        "webhook dead-lettered");
    metrics::counter!("pythia_outbox_dead_letters_total",
        "endpoint" => message.endpoint.clone())
    .increment(1);
    Ok(())
}

fn report_unsettled(endpoint: &str, id: &str, error: &OutboxError) {
    let kind = match error {
        OutboxError::LeaseLost(_) | OutboxError::NotFound(_) => "lease_lost",
        _ => "storage",
    };
    // Nothing is lost: the message returns when its lease ends (a duplicate at worst).
    tracing::warn!(endpoint, id, %error, "could not record the outcome of a webhook attempt");
    metrics::counter!("pythia_outbox_settle_failures_total", "kind" => kind).increment(1);
}
