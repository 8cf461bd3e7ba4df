//! Log lines and metrics of the poller, each event paired with a counter.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use url::Url;

use super::redact::redact_url;
use super::stats::PollerStats;
use super::target::Target;
use super::Outcome;

/// The `poller` label: the target's name unless it was given a shared
/// [`metrics_label`](super::PollerBuilder::metrics_label).
fn label(target: &Target) -> Arc<str> {
    Arc::clone(&target.metrics_label)
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

pub(crate) fn response(target: &Target, url: &Url, status: StatusCode, elapsed: Duration) {
    tracing::debug!(
        poller = %target.name,
        url = %redact_url(url),
        status = status.as_u16(),
        elapsed_ms = millis(elapsed),
        "poll response"
    );
}

pub(crate) fn poll_ok(
    target: &Target,
    stats: &PollerStats,
    outcome: &'static str,
    elapsed: Duration,
) {
    stats.poll_ok();
    if outcome == "not_modified" {
        stats.not_modified();
        metrics::counter!("pythia_poller_not_modified_total", "poller" => label(target))
            .increment(1);
    }
    metrics::counter!("pythia_poller_polls_total", "poller" => label(target), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("pythia_poller_poll_duration_seconds", "poller" => label(target))
        .record(elapsed.as_secs_f64());
    metrics::gauge!("pythia_poller_consecutive_failures", "poller" => label(target)).set(0.0);
}

pub(crate) fn recovered(target: &Target, failures: u32) {
    tracing::info!(poller = %target.name, failures, "poller recovered");
}

pub(crate) fn poll_failed(
    target: &Target,
    stats: &PollerStats,
    outcome: &'static str,
    reason: &str,
    elapsed: Duration,
    failures: u32,
) {
    stats.poll_failed();
    metrics::counter!("pythia_poller_polls_total", "poller" => label(target), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("pythia_poller_poll_duration_seconds", "poller" => label(target))
        .record(elapsed.as_secs_f64());
    metrics::gauge!("pythia_poller_consecutive_failures", "poller" => label(target))
        .set(f64::from(failures));
    let url = target.config.display_url();
    if failures == 1 {
        tracing::warn!(
            poller = %target.name, url = %url, outcome, reason, elapsed_ms = millis(elapsed),
            "poll failed"
        );
    } else {
        tracing::debug!(
            poller = %target.name, url = %url, outcome, reason, failures,
            elapsed_ms = millis(elapsed), "poll failed again"
        );
    }
}

pub(crate) fn skipped_ticks(target: &Target, stats: &PollerStats, ticks: u64) {
    stats.skipped_ticks(ticks);
    metrics::counter!("pythia_poller_skipped_ticks_total", "poller" => label(target))
        .increment(ticks);
    tracing::debug!(poller = %target.name, ticks, "tick skipped: the previous poll still runs");
}

pub(crate) fn retry_after(target: &Target, stats: &PollerStats, wait: Duration) {
    stats.retry_after();
    metrics::counter!("pythia_poller_retry_after_total", "poller" => label(target)).increment(1);
    tracing::info!(
        poller = %target.name, wait_ms = millis(wait), "retry-after pushes the next poll back"
    );
}

pub(crate) fn lease_skipped(
    target: &Target,
    stats: &PollerStats,
    error: Option<&(dyn StdError + Send + Sync)>,
) {
    stats.lease_skipped();
    metrics::counter!("pythia_poller_lease_skipped_total", "poller" => label(target)).increment(1);
    match error {
        None => tracing::debug!(poller = %target.name, "poll skipped: lease held elsewhere"),
        Some(error) => tracing::warn!(
            poller = %target.name, error = %error, "poll skipped: the lease store failed"
        ),
    }
}

pub(crate) fn state_error(
    target: &Target,
    stats: &PollerStats,
    action: &'static str,
    error: &(dyn StdError + Send + Sync),
) {
    stats.state_error();
    metrics::counter!("pythia_poller_state_errors_total", "poller" => label(target)).increment(1);
    tracing::warn!(poller = %target.name, action, error = %error, "poller state store failed");
}

pub(crate) fn page_cap(target: &Target, stats: &PollerStats, pages: u32) {
    stats.page_cap();
    metrics::counter!("pythia_poller_page_cap_total", "poller" => label(target)).increment(1);
    tracing::debug!(poller = %target.name, pages, "poll stopped at the page cap");
}

pub(crate) fn duplicate(target: &Target, stats: &PollerStats) {
    stats.duplicate();
    metrics::counter!("pythia_poller_duplicates_total", "poller" => label(target)).increment(1);
}

pub(crate) fn item(target: &Target, stats: &PollerStats) {
    stats.item();
    metrics::counter!("pythia_poller_items_total", "poller" => label(target)).increment(1);
}

pub(crate) fn handled(target: &Target, outcome: &Outcome) {
    let outcome = match outcome {
        Outcome::Processed => "processed",
        Outcome::Ignored => "ignored",
        Outcome::Report(_) => "report",
    };
    tracing::trace!(poller = %target.name, outcome, "message handled");
}

pub(crate) fn handler_error(target: &Target, stats: &PollerStats, error: &str) {
    stats.handler_error();
    metrics::counter!("pythia_poller_handler_errors_total", "poller" => label(target)).increment(1);
    tracing::warn!(poller = %target.name, error, "handler failed; polling goes on");
}
