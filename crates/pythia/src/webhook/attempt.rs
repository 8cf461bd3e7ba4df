//! One delivery attempt, the unit the outbox dispatcher works in.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;

/// One signed attempt to deliver a message to a named endpoint, without retries.
///
/// The dispatcher builds one per claimed outbox message and hands it to
/// [`WebhookSender::attempt`](super::WebhookSender::attempt); retrying is the dispatcher's job,
/// by the endpoint's [retry schedule](super::Endpoint::retry_schedule).
#[derive(Clone, PartialEq, Eq)]
pub struct AttemptRequest {
    /// The message id, sent as `webhook-id`; the same on every attempt of one message.
    pub id: String,
    /// The endpoint: a configured name, a path under the base URL, or an absolute URL.
    pub endpoint: String,
    /// The exact bytes to sign and send.
    pub payload: Bytes,
    /// Extra headers to send. They cannot replace the `webhook-*` headers.
    pub headers: Vec<(String, String)>,
    /// The `webhook-timestamp` in unix seconds; the current time when `None` (the usual case:
    /// each attempt is signed when it is made).
    pub timestamp: Option<i64>,
}

impl AttemptRequest {
    /// An attempt to send `payload` to `endpoint` as message `id`, with no extra headers.
    pub fn new(
        id: impl Into<String>,
        endpoint: impl Into<String>,
        payload: impl Into<Bytes>,
    ) -> Self {
        AttemptRequest {
            id: id.into(),
            endpoint: endpoint.into(),
            payload: payload.into(),
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Fixes the `webhook-timestamp` (unix seconds) instead of signing with the current time.
    pub fn timestamp(mut self, unix_seconds: i64) -> Self {
        self.timestamp = Some(unix_seconds);
        self
    }
}

impl fmt::Debug for AttemptRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The payload and header values may carry personal data or credentials.
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("AttemptRequest")
            .field("id", &self.id)
            .field("endpoint", &self.endpoint)
            .field("payload_bytes", &self.payload.len())
            .field("headers", &names)
            .field("timestamp", &self.timestamp)
            .finish()
    }
}

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptResult {
    /// The endpoint answered 2xx.
    Delivered {
        /// The status code.
        status: u16,
        /// How long the attempt took, from sending to the response headers.
        latency: Duration,
    },
    /// The endpoint answered something else, or could not be reached.
    Failed {
        /// The status, when the endpoint answered.
        status: Option<u16>,
        /// What went wrong, in words (never a secret or a payload).
        error: String,
        /// Whether a later attempt may succeed (5xx, 408, 429, timeouts, connection errors);
        /// false for answers a retry will not change, such as most 4xx and redirects.
        retryable: bool,
        /// The delay the endpoint asked for with `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// The endpoint's circuit breaker is open: nothing was sent, and no attempt should be
    /// counted.
    BreakerOpen {
        /// When the breaker will let a probe through.
        retry_in: Duration,
    },
    /// The endpoint answered `410 Gone` (now or earlier) and is disabled: nothing was sent.
    EndpointDisabled,
    /// No endpoint has that name and it is not a path or URL either.
    UnknownEndpoint,
}

impl AttemptResult {
    /// Whether the message was delivered.
    pub fn is_delivered(&self) -> bool {
        matches!(self, AttemptResult::Delivered { .. })
    }

    /// Whether a later attempt may succeed: retryable failures and an open breaker.
    pub fn is_retryable(&self) -> bool {
        match self {
            AttemptResult::Failed { retryable, .. } => *retryable,
            AttemptResult::BreakerOpen { .. } => true,
            _ => false,
        }
    }

    /// The label used for the `outcome` of `pythia_webhook_attempts_total`.
    pub fn label(&self) -> &'static str {
        match self {
            AttemptResult::Delivered { .. } => "delivered",
            AttemptResult::Failed {
                retryable: true, ..
            } => "failed_retryable",
            AttemptResult::Failed { .. } => "failed",
            AttemptResult::BreakerOpen { .. } => "breaker_open",
            AttemptResult::EndpointDisabled => "endpoint_disabled",
            AttemptResult::UnknownEndpoint => "unknown_endpoint",
        }
    }

    /// The status code, when the endpoint answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            AttemptResult::Delivered { status, .. } => Some(*status),
            AttemptResult::Failed { status, .. } => *status,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_request_shows_neither_payload_nor_header_values() {
        let request = AttemptRequest::new("msg_1", "orders", r#"{"card":"4111"}"#)
            .header("authorization", "Bearer s3cret");

        let shown = format!("{request:?}");

        assert!(!shown.contains("4111"));
        assert!(!shown.contains("s3cret"));
        assert!(shown.contains("authorization"));
    }

    #[test]
    fn an_open_breaker_is_retryable_and_a_disabled_endpoint_is_not() {
        let open = AttemptResult::BreakerOpen {
            retry_in: Duration::from_secs(1),
        };

        assert!(open.is_retryable());
        assert!(!AttemptResult::EndpointDisabled.is_retryable());
        assert_eq!(open.label(), "breaker_open");
    }
}
