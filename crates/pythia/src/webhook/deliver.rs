//! Sending one webhook with in-memory retries: [`WebhookSender::send`] and
//! [`WebhookSender::send_from_message`].

use std::time::Duration;

use http::header::HeaderMap;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::attempt::AttemptResult;
use super::metrics;
use super::outcome::{ErrorClass, Outcome};
use super::payload::Payload;
use super::sender::{header_map, Signed, WebhookSender};
use crate::message::{new_message_id, Message};

impl WebhookSender {
    /// Sends `payload` to `endpoint` with extra `headers`, retrying by the endpoint's retry
    /// policy with the same `webhook-id` on every attempt (each attempt is signed afresh with
    /// its own `webhook-timestamp`).
    ///
    /// `endpoint` is a configured name, a path under the base URL (`/orders/created`) or an
    /// absolute URL. Never fails: what happened is in the [`Outcome`].
    pub async fn send(
        &self,
        endpoint: &str,
        payload: impl Into<Payload>,
        headers: &[(&str, &str)],
    ) -> Outcome {
        let payload = payload.into();
        let id = new_message_id();
        match header_map(headers.iter().copied()) {
            Ok(extra) => self.deliver(endpoint, id, &payload, &extra, None).await,
            Err(error) => refuse(endpoint, &id, ErrorClass::InvalidRequest, error),
        }
    }

    /// Sends a [`Message`]'s body to `endpoint` with extra `headers`, using the message id as
    /// the `webhook-id`, so a message sent twice is recognisably the same webhook.
    ///
    /// An endpoint configured with
    /// [`event_types`](super::EndpointConfig::event_types) only takes messages whose event type
    /// is listed; the event type is the message's `event-type` header or, failing that, the
    /// `event_type` or `type` field of a JSON body. Other messages are not sent and come back
    /// with [`ErrorClass::Filtered`].
    pub async fn send_from_message(
        &self,
        message: &Message,
        endpoint: &str,
        headers: &[(&str, &str)],
    ) -> Outcome {
        if let Some(resolved) = self.endpoint(endpoint) {
            let event_type = event_type(message);
            if !resolved.accepts_event(event_type) {
                tracing::debug!(endpoint = %resolved.label(),
                    "event type not taken by the endpoint");
                return refuse(
                    endpoint,
                    &message.id,
                    ErrorClass::Filtered,
                    "the endpoint does not take this event type",
                );
            }
        }
        let payload = Payload::from(&message.body);
        match header_map(headers.iter().copied()) {
            Ok(extra) => {
                self.deliver(endpoint, message.id.clone(), &payload, &extra, None)
                    .await
            }
            Err(error) => refuse(endpoint, &message.id, ErrorClass::InvalidRequest, error),
        }
    }

    /// The retry loop behind `send`, `send_from_message` and `broadcast`. Stops early, with
    /// [`ErrorClass::Cancelled`], when `cancel` fires.
    pub(crate) async fn deliver(
        &self,
        endpoint_name: &str,
        id: String,
        payload: &Payload,
        extra: &HeaderMap,
        cancel: Option<&CancellationToken>,
    ) -> Outcome {
        let mut outcome = Outcome::with_id(endpoint_name, id);
        let Some(endpoint) = self.endpoint(endpoint_name) else {
            metrics::delivery(endpoint_name, "unknown_endpoint", Duration::ZERO);
            return outcome.failed(
                ErrorClass::UnknownEndpoint,
                "no endpoint has this name, and it is not a path or url",
            );
        };
        let label = endpoint.label();
        let policy = endpoint.retry_policy();
        let signed = Signed {
            id: &outcome.id,
            timestamp: None,
            payload: payload.as_bytes(),
            content_type: payload.content_type(),
            extra,
        };
        let started = Instant::now();
        let mut retries = policy.start();

        loop {
            let attempt = self.attempt_on(&endpoint, &signed, policy);
            let (result, class) = match cancel {
                Some(cancel) => tokio::select! {
                    biased;
                    () = cancel.cancelled() => (None, None),
                    (result, class) = attempt => (Some(result), class),
                },
                None => {
                    let (result, class) = attempt.await;
                    (Some(result), class)
                }
            };
            let Some(result) = result else {
                return cancelled(outcome, started);
            };
            let (retry_after, error) = match &result {
                AttemptResult::Delivered { status, latency } => {
                    outcome.attempts += 1;
                    outcome.status = Some(*status);
                    outcome.latency = *latency;
                    outcome.elapsed = started.elapsed();
                    endpoint
                        .metrics()
                        .delivery(label, "delivered", outcome.elapsed);
                    return outcome;
                }
                AttemptResult::Failed {
                    status,
                    error,
                    retryable,
                    retry_after,
                } => {
                    outcome.attempts += 1;
                    outcome.status = *status;
                    if !retryable {
                        return give_up(outcome, label, class, error.clone(), started);
                    }
                    (*retry_after, error.clone())
                }
                AttemptResult::BreakerOpen { retry_in } => (
                    Some(*retry_in),
                    "the endpoint's circuit breaker is open".to_owned(),
                ),
                AttemptResult::EndpointDisabled => {
                    let error = "the endpoint is disabled after a 410 gone".to_owned();
                    return give_up(outcome, label, class, error, started);
                }
                AttemptResult::UnknownEndpoint => {
                    let error = "no endpoint has this name".to_owned();
                    return give_up(outcome, label, class, error, started);
                }
            };

            let Some(delay) = retries.next_delay(retry_after) else {
                return give_up(outcome, label, class, error, started);
            };
            tracing::debug!(
                endpoint = %label,
                attempt = outcome.attempts,
                error = %error,
                delay_ms = delay.as_millis() as u64,
                "webhook attempt failed, retrying"
            );
            match cancel {
                Some(cancel) => tokio::select! {
                    biased;
                    () = cancel.cancelled() => return cancelled(outcome, started),
                    () = tokio::time::sleep(delay) => {}
                },
                None => tokio::time::sleep(delay).await,
            }
        }
    }
}

fn give_up(
    mut outcome: Outcome,
    label: &str,
    class: Option<ErrorClass>,
    error: String,
    started: Instant,
) -> Outcome {
    let class = class.unwrap_or(ErrorClass::Transport);
    outcome.elapsed = started.elapsed();
    tracing::warn!(
        endpoint = %label,
        id = %outcome.id,
        attempts = outcome.attempts,
        status = outcome.status,
        class = %class,
        error = %error,
        "webhook not delivered"
    );
    metrics::delivery(label, class.as_str(), outcome.elapsed);
    outcome.failed(class, error)
}

fn cancelled(mut outcome: Outcome, started: Instant) -> Outcome {
    outcome.elapsed = started.elapsed();
    metrics::delivery(&outcome.endpoint.clone(), "cancelled", outcome.elapsed);
    outcome.failed(
        ErrorClass::Cancelled,
        "cancelled: another endpoint of the broadcast failed",
    )
}

fn refuse(endpoint: &str, id: &str, class: ErrorClass, error: impl Into<String>) -> Outcome {
    metrics::delivery(endpoint, class.as_str(), Duration::ZERO);
    Outcome::new(endpoint, id).failed(class, error)
}

/// The event type of a message: its `event-type` header, or a JSON body's `event_type` or
/// `type` field.
fn event_type(message: &Message) -> Option<&str> {
    message
        .headers
        .get("event-type")
        .or_else(|| message.body.get("event_type").and_then(|v| v.as_str()))
        .or_else(|| message.body.get("type").and_then(|v| v.as_str()))
}
