//! The webhook metrics, in one place so their names and labels stay consistent.
//!
//! | metric | kind | labels |
//! | --- | --- | --- |
//! | `pythia_webhook_attempts_total` | counter | `endpoint`, `outcome` |
//! | `pythia_webhook_attempt_duration_seconds` | histogram | `endpoint` |
//! | `pythia_webhook_deliveries_total` | counter | `endpoint`, `outcome` (`delivered`, an error) |
//! | `pythia_webhook_delivery_duration_seconds` | histogram | `endpoint` (first attempt to 2xx) |
//! | `pythia_webhook_breaker_state` | gauge | `endpoint` (0 closed, 1 open, 2 half-open) |
//! | `pythia_webhook_endpoint_disabled` | gauge | `endpoint` (1 after a `410 Gone`) |
//! | `pythia_webhook_endpoints_disabled_total` | counter | `endpoint` |
//! | `pythia_webhook_verifications_total` | counter | `outcome` (`verified` or the failure) |

use std::time::Duration;

use metrics::{Key, Label, Level, Metadata};

use crate::resilience::BreakerState;

/// What the metrics macros of this module would say of themselves.
static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// The keys of what every delivered attempt of an endpoint records, built once with the
/// endpoint, so that the hot path neither allocates label values nor rebuilds keys. Other
/// outcomes go through the functions below.
#[derive(Debug)]
pub(crate) struct EndpointMetrics {
    attempts_delivered: Key,
    attempt_duration: Key,
    deliveries_delivered: Key,
    delivery_duration: Key,
    breaker_state: Key,
}

impl EndpointMetrics {
    pub(crate) fn new(endpoint: &str) -> Self {
        let key = |name: &'static str, outcome: Option<&'static str>| {
            let mut labels = vec![Label::new("endpoint", endpoint.to_owned())];
            labels.extend(outcome.map(|o| Label::from_static_parts("outcome", o)));
            Key::from_parts(name, labels)
        };
        EndpointMetrics {
            attempts_delivered: key("pythia_webhook_attempts_total", Some("delivered")),
            attempt_duration: key("pythia_webhook_attempt_duration_seconds", None),
            deliveries_delivered: key("pythia_webhook_deliveries_total", Some("delivered")),
            delivery_duration: key("pythia_webhook_delivery_duration_seconds", None),
            breaker_state: key("pythia_webhook_breaker_state", None),
        }
    }

    /// Records an attempt, like [`attempt`].
    pub(crate) fn attempt(&self, endpoint: &str, outcome: &'static str, latency: Duration) {
        if outcome != "delivered" {
            return attempt(endpoint, outcome, Some(latency));
        }
        metrics::with_recorder(|recorder| {
            recorder
                .register_counter(&self.attempts_delivered, &METADATA)
                .increment(1);
            recorder
                .register_histogram(&self.attempt_duration, &METADATA)
                .record(latency.as_secs_f64());
        });
    }

    /// Records a delivery, like [`delivery`].
    pub(crate) fn delivery(&self, endpoint: &str, outcome: &'static str, elapsed: Duration) {
        if outcome != "delivered" {
            return delivery(endpoint, outcome, elapsed);
        }
        metrics::with_recorder(|recorder| {
            recorder
                .register_counter(&self.deliveries_delivered, &METADATA)
                .increment(1);
            recorder
                .register_histogram(&self.delivery_duration, &METADATA)
                .record(elapsed.as_secs_f64());
        });
    }

    /// Sets the breaker state gauge, like [`breaker_state`].
    pub(crate) fn breaker_state(&self, state: BreakerState) {
        metrics::with_recorder(|recorder| {
            recorder
                .register_gauge(&self.breaker_state, &METADATA)
                .set(state.as_gauge());
        });
    }
}

pub(crate) fn attempt(endpoint: &str, outcome: &'static str, latency: Option<Duration>) {
    metrics::counter!(
        "pythia_webhook_attempts_total",
        "endpoint" => endpoint.to_owned(),
        "outcome" => outcome
    )
    .increment(1);
    if let Some(latency) = latency {
        metrics::histogram!(
            "pythia_webhook_attempt_duration_seconds",
            "endpoint" => endpoint.to_owned()
        )
        .record(latency.as_secs_f64());
    }
}

pub(crate) fn delivery(endpoint: &str, outcome: &'static str, elapsed: Duration) {
    metrics::counter!(
        "pythia_webhook_deliveries_total",
        "endpoint" => endpoint.to_owned(),
        "outcome" => outcome
    )
    .increment(1);
    if outcome == "delivered" {
        metrics::histogram!(
            "pythia_webhook_delivery_duration_seconds",
            "endpoint" => endpoint.to_owned()
        )
        .record(elapsed.as_secs_f64());
    }
}

pub(crate) fn endpoint_disabled(endpoint: &str, disabled: bool) {
    metrics::gauge!("pythia_webhook_endpoint_disabled", "endpoint" => endpoint.to_owned())
        .set(if disabled { 1.0 } else { 0.0 });
    if disabled {
        metrics::counter!(
            "pythia_webhook_endpoints_disabled_total",
            "endpoint" => endpoint.to_owned()
        )
        .increment(1);
    }
}
