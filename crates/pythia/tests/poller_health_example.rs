//! The specification's health-check poller: error responses reach the handler with their
//! status code, it counts consecutive failures, alerts at three and recovers.

#[path = "poller_support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pythia::poller::{Handler, Outcome, Poller};
use pythia::{BoxError, Message};
use pythia_testkit::{Reply, Route, TestServer};
use serde_json::json;
use support::{after, config, Running};

/// The Rust form of the specification's `HealthCheckPoller.process_message`.
#[derive(Debug, Default)]
struct HealthCheck {
    consecutive_failures: AtomicU32,
    alerted: AtomicBool,
    reports: parking_lot::Mutex<Vec<serde_json::Value>>,
}

#[async_trait]
impl Handler for HealthCheck {
    async fn process_message(&self, message: Message) -> Result<Outcome, BoxError> {
        let status = message.headers.get_number("status_code").unwrap_or(0.0) as u16;
        let healthy = (200..300).contains(&status);
        let failures = if healthy {
            self.consecutive_failures.store(0, Ordering::SeqCst);
            0
        } else {
            self.consecutive_failures.fetch_add(1, Ordering::SeqCst) + 1
        };
        if failures >= 3 {
            self.alerted.store(true, Ordering::SeqCst);
        }
        let report = json!({
            "healthy": healthy,
            "status_code": status,
            "consecutive_failures": failures,
        });
        self.reports.lock().push(report.clone());
        Ok(Outcome::Report(report))
    }
}

#[tokio::test(start_paused = true)]
async fn failures_are_counted_alerted_at_three_and_reset_on_recovery() {
    let server = TestServer::start().await;
    server.route(
        "/health",
        Route::sequence(vec![
            Reply::ok().json(json!({"status": "up"})),
            Reply::status(503),
            Reply::status(503),
            Reply::status(503),
            Reply::ok().json(json!({"status": "up"})),
        ]),
    );
    let check = Arc::new(HealthCheck::default());
    let poller = Poller::builder(config(&server.url("/health"), Duration::from_secs(30)))
        .name("health")
        .deliver_errors(true)
        .shared_handler(check.clone())
        .build()
        .unwrap();

    let running = Running::start(poller);
    after(Duration::from_secs(100)).await;
    let worker_failures = running.health.get().consecutive_failures;
    after(Duration::from_secs(30)).await;
    let recovered = running.health.get();
    running.stop().await;

    let counts: Vec<u64> = check
        .reports
        .lock()
        .iter()
        .map(|r| r["consecutive_failures"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, vec![0, 1, 2, 3, 0]);
    assert!(check.alerted.load(Ordering::SeqCst));
    assert_eq!(worker_failures, 3);
    assert!(recovered.healthy, "{recovered:?}");
    assert_eq!(recovered.consecutive_failures, 0);
}
