//! [`Outcome`]: what sending one webhook came to, after its retries.

use std::fmt;
use std::time::Duration;

/// Why a webhook was not delivered, in broad classes for logs, metrics and decisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The endpoint answered with a status that is neither 2xx, 3xx nor 410.
    Status,
    /// The endpoint answered with a redirect, which webhooks never follow.
    Redirect,
    /// The endpoint answered `410 Gone` and has been disabled.
    Gone,
    /// An attempt ran out of time.
    Timeout,
    /// The connection could not be made (refused, reset, DNS, TLS).
    Connect,
    /// Another transport failure.
    Transport,
    /// The endpoint's circuit breaker is open.
    BreakerOpen,
    /// The endpoint was disabled by an earlier `410 Gone`.
    EndpointDisabled,
    /// The endpoint is not configured and is not a path or URL.
    UnknownEndpoint,
    /// The endpoint does not take this event type; nothing was sent.
    Filtered,
    /// The request could not be built (an invalid extra header, a refused address).
    InvalidRequest,
    /// A broadcast with `fail_fast` gave up on this delivery.
    Cancelled,
}

impl ErrorClass {
    /// A lowercase label: `status`, `timeout`, `breaker_open` and so on.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Status => "status",
            ErrorClass::Redirect => "redirect",
            ErrorClass::Gone => "gone",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Connect => "connect",
            ErrorClass::Transport => "transport",
            ErrorClass::BreakerOpen => "breaker_open",
            ErrorClass::EndpointDisabled => "endpoint_disabled",
            ErrorClass::UnknownEndpoint => "unknown_endpoint",
            ErrorClass::Filtered => "filtered",
            ErrorClass::InvalidRequest => "invalid_request",
            ErrorClass::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What sending one webhook to one endpoint came to, after every retry.
///
/// The specification's boolean is [`Outcome::is_delivered`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub(crate) endpoint: String,
    pub(crate) id: String,
    pub(crate) attempts: u32,
    pub(crate) status: Option<u16>,
    pub(crate) latency: Duration,
    pub(crate) elapsed: Duration,
    pub(crate) error: Option<(ErrorClass, String)>,
}

impl Outcome {
    pub(crate) fn new(endpoint: &str, id: &str) -> Self {
        Outcome::with_id(endpoint, id.to_owned())
    }

    /// An outcome that keeps `id` rather than copying it.
    pub(crate) fn with_id(endpoint: &str, id: String) -> Self {
        Outcome {
            endpoint: endpoint.to_owned(),
            id,
            attempts: 0,
            status: None,
            latency: Duration::ZERO,
            elapsed: Duration::ZERO,
            error: None,
        }
    }

    pub(crate) fn failed(mut self, class: ErrorClass, message: impl Into<String>) -> Self {
        self.error = Some((class, message.into()));
        self
    }

    /// Whether the endpoint answered 2xx.
    pub fn is_delivered(&self) -> bool {
        self.error.is_none()
    }

    /// The endpoint as given to `send` or `broadcast`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The `webhook-id` sent, the same on every attempt.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The requests actually sent (zero when nothing was sent).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The status of the last response, if any.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// How long the last attempt took.
    pub fn latency(&self) -> Duration {
        self.latency
    }

    /// How long the whole delivery took, waits between retries included.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Why the webhook was not delivered, if it was not.
    pub fn error_class(&self) -> Option<ErrorClass> {
        self.error.as_ref().map(|(class, _)| *class)
    }

    /// The last error, in words, if the webhook was not delivered.
    pub fn error(&self) -> Option<&str> {
        self.error.as_ref().map(|(_, message)| message.as_str())
    }
}

/// The outcomes of a broadcast, one per endpoint, in the order the endpoints were given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BroadcastOutcome {
    pub(crate) outcomes: Vec<Outcome>,
}

impl BroadcastOutcome {
    /// How many endpoints got the webhook.
    pub fn delivered(&self) -> usize {
        self.outcomes.iter().filter(|o| o.is_delivered()).count()
    }

    /// Whether every endpoint got the webhook.
    pub fn is_all_delivered(&self) -> bool {
        self.outcomes.iter().all(Outcome::is_delivered)
    }

    /// The number of endpoints.
    pub fn len(&self) -> usize {
        self.outcomes.len()
    }

    /// Whether the broadcast had no endpoint.
    pub fn is_empty(&self) -> bool {
        self.outcomes.is_empty()
    }

    /// The outcome for one endpoint, as given.
    pub fn get(&self, endpoint: &str) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.endpoint == endpoint)
    }

    /// The outcomes in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Outcome> {
        self.outcomes.iter()
    }

    /// The outcomes in order, owned.
    pub fn into_vec(self) -> Vec<Outcome> {
        self.outcomes
    }
}

impl<'a> IntoIterator for &'a BroadcastOutcome {
    type Item = &'a Outcome;
    type IntoIter = std::slice::Iter<'a, Outcome>;

    fn into_iter(self) -> Self::IntoIter {
        self.outcomes.iter()
    }
}
