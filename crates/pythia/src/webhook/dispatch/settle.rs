//! What to do with a claimed message once its attempt has an outcome.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::outbox::{self, Claimed, Outbox, OutboxError};
use crate::webhook::AttemptResult;

use super::acks::Delivered;
use super::Deliver;

/// What happened to a message after its attempt, for the dispatch loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Settled {
    Delivered,
    Retrying,
    /// The endpoint's breaker is open for this long; skip it meanwhile.
    Blocked(Duration),
    Dead,
    /// The outbox refused or failed the update; the lease will expire and the message return.
    Unsettled,
}

/// Acks (through `acks`, the batch writer), reschedules or dead-letters `claimed` according to
/// `result`. A `Retry-After` longer than `retry_after_cap` counts as the cap.
pub(super) async fn settle(
    outbox: &dyn Outbox,
    deliver: &dyn Deliver,
    acks: &mpsc::Sender<Delivered>,
    claimed: &Claimed,
    result: &AttemptResult,
    retry_after_cap: Duration,
) -> Settled {
    let message = &claimed.message;
    let lease = &claimed.lease;
    let endpoint = message.endpoint.as_str();
    let now = outbox::now();
    // The sender counts `pythia_webhook_attempts_total`; this counts what the outbox did.
    metrics::counter!("pythia_outbox_attempts_total",
        "endpoint" => endpoint.to_owned(), "outcome" => result.label())
    .increment(1);

    let (update, settled) = match result {
        AttemptResult::Delivered { latency, .. } => {
            metrics::histogram!("pythia_webhook_delivery_latency_seconds",
                "endpoint" => endpoint.to_owned())
            .record(latency.as_secs_f64());
            if let Ok(waited) = now.duration_since(message.created_at) {
                metrics::histogram!("pythia_outbox_delivery_delay_seconds",
                    "endpoint" => endpoint.to_owned())
                .record(waited.as_secs_f64());
            }
            let delivered = (message.id.clone(), lease.clone(), endpoint.to_owned());
            let update = match acks.send(delivered).await {
                Ok(()) => Ok(()),
                // No batch writer any more (the dispatcher is stopping): ack alone.
                Err(mpsc::error::SendError((id, lease, _))) => outbox.ack(&id, &lease).await,
            };
            (update, Settled::Delivered)
        }
        AttemptResult::BreakerOpen { retry_in } => {
            // Nothing was sent: the attempt does not count.
            let at = now + *retry_in;
            let update = outbox.reschedule(&message.id, lease, at, false, None).await;
            (update, Settled::Blocked(*retry_in))
        }
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
                    let update = outbox
                        .reschedule(&message.id, lease, now + delay, true, Some(&described))
                        .await;
                    (update, Settled::Retrying)
                }
                None => {
                    let reason = if *retryable {
                        format!("gave up after {failed} attempts: {described}")
                    } else {
                        format!("not retryable: {described}")
                    };
                    (bury(outbox, claimed, &reason, failed).await, Settled::Dead)
                }
            }
        }
        AttemptResult::EndpointDisabled => {
            let reason = "endpoint disabled (410 gone)";
            (
                bury(outbox, claimed, reason, message.attempts).await,
                Settled::Dead,
            )
        }
        AttemptResult::UnknownEndpoint => {
            let reason = "unknown endpoint";
            (
                bury(outbox, claimed, reason, message.attempts).await,
                Settled::Dead,
            )
        }
    };

    match update {
        Ok(()) => settled,
        Err(error) => {
            report_unsettled(endpoint, &message.id, &error);
            Settled::Unsettled
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

pub(super) fn report_unsettled(endpoint: &str, id: &str, error: &OutboxError) {
    let kind = match error {
        OutboxError::LeaseLost(_) | OutboxError::NotFound(_) => "lease_lost",
        _ => "storage",
    };
    // Nothing is lost: the message returns when its lease ends (a duplicate at worst).
    tracing::warn!(endpoint, id, %error, "could not record the outcome of a webhook attempt");
    metrics::counter!("pythia_outbox_settle_failures_total", "kind" => kind).increment(1);
}
