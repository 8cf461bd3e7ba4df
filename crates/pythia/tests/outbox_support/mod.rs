//! A scripted [`Deliver`] for dispatcher tests: it records every attempt and answers as the
//! test says, so the dispatcher's own logic (retries, breaker, fairness, drain) is what is
//! under test. Delivery through a real sender and server is tested in `outbox_crash.rs` and
//! `outbox_idempotency.rs`.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use pythia::outbox::Outbox;
use pythia::webhook::dispatch::{Deliver, DeliverySchedule, Dispatcher, DispatcherBuilder};
use pythia::webhook::{AttemptRequest, AttemptResult};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What the fake does with one attempt.
pub enum Step {
    Answer(AttemptResult),
    /// Never answers (a hanging endpoint).
    Hang,
}

/// One attempt the fake saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub at: Instant,
    pub id: String,
    pub endpoint: String,
}

type Script = dyn Fn(&AttemptRequest, usize) -> Step + Send + Sync;

#[derive(Clone)]
pub struct FakeSender {
    script: Arc<Script>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    schedule: DeliverySchedule,
}

impl FakeSender {
    /// `script` gets the request and how many attempts of that id came before.
    pub fn new(
        schedule: DeliverySchedule,
        script: impl Fn(&AttemptRequest, usize) -> Step + Send + Sync + 'static,
    ) -> Self {
        FakeSender {
            script: Arc::new(script),
            seen: Arc::default(),
            schedule,
        }
    }

    pub fn attempts_of(&self, id: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .iter()
            .filter(|s| s.id == id)
            .cloned()
            .collect()
    }

    pub fn attempts_to(&self, endpoint: &str) -> usize {
        self.seen
            .lock()
            .iter()
            .filter(|s| s.endpoint == endpoint)
            .count()
    }
}

#[async_trait]
impl Deliver for FakeSender {
    async fn attempt(&self, request: &AttemptRequest) -> AttemptResult {
        let before = self.attempts_of(&request.id).len();
        self.seen.lock().push(Seen {
            at: Instant::now(),
            id: request.id.clone(),
            endpoint: request.endpoint.clone(),
        });
        match (self.script)(request, before) {
            Step::Answer(result) => result,
            Step::Hang => std::future::pending().await,
        }
    }

    fn next_delay(&self, _endpoint: &str, failed: u32) -> Option<Duration> {
        self.schedule.delay_after(failed)
    }

    fn knows_endpoint(&self, endpoint: &str) -> bool {
        endpoint != "nowhere"
    }
}

pub fn delivered() -> AttemptResult {
    AttemptResult::Delivered {
        status: 200,
        latency: Duration::from_millis(3),
    }
}

pub fn failed(status: u16) -> AttemptResult {
    AttemptResult::Failed {
        status: Some(status),
        error: format!("status {status}"),
        retryable: status >= 500,
        retry_after: None,
    }
}

/// A running dispatcher and the means to stop it.
pub struct Running {
    stop: CancellationToken,
    handle: tokio::task::JoinHandle<()>,
}

impl Running {
    pub fn start(builder: DispatcherBuilder) -> (Running, pythia::webhook::dispatch::WebhookQueue) {
        let dispatcher: Dispatcher = builder.build();
        let queue = dispatcher.queue();
        let stop = CancellationToken::new();
        let handle = tokio::spawn(dispatcher.run_until(stop.clone().cancelled_owned()));
        (Running { stop, handle }, queue)
    }

    pub async fn stop(self) {
        self.stop.cancel();
        self.handle.await.unwrap();
    }
}

/// Waits (in paused time, so instantly) until `done` holds, for at most `limit` of clock time.
pub async fn eventually(limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < limit,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `outbox` holds nothing pending or in flight.
pub async fn drained(outbox: &impl Outbox, limit: Duration) {
    let start = Instant::now();
    loop {
        let stats = outbox.stats(None).await.unwrap();
        if stats.depth() == 0 {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "outbox still holds {stats:?} after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
