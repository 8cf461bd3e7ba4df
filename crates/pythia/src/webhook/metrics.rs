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

use crate::resilience::BreakerState;

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

pub(crate) fn breaker_state(endpoint: &str, state: BreakerState) {
    metrics::gauge!("pythia_webhook_breaker_state", "endpoint" => endpoint.to_owned())
        .set(state.as_gauge());
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
