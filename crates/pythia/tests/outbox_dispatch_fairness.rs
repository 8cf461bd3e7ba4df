//! One hanging endpoint does not starve the others, and shutdown hands its messages back.

#[path = "outbox_support/mod.rs"]
mod support;

use std::time::Duration;

use pythia::outbox::{MemoryOutbox, NewMessage, Outbox};
use pythia::webhook::dispatch::{DeliverySchedule, Dispatcher};
use support::{delivered, eventually, FakeSender, Running, Step};

#[tokio::test(start_paused = true)]
async fn a_hanging_endpoint_does_not_starve_the_others() {
    let sender = FakeSender::new(DeliverySchedule::default(), |request, _| {
        if request.endpoint == "hanging" {
            Step::Hang
        } else {
            Step::Answer(delivered())
        }
    });
    let outbox = MemoryOutbox::new();
    // The hanging endpoint's backlog is older than everything else.
    let stuck = (0..200)
        .map(|i| NewMessage::new("hanging", i.to_string()))
        .collect();
    outbox.enqueue_batch(stuck).await.unwrap();
    let healthy = (0..100)
        .map(|i| NewMessage::new("healthy", i.to_string()))
        .collect();
    outbox.enqueue_batch(healthy).await.unwrap();
    let builder = Dispatcher::builder(outbox.clone(), sender.clone())
        .concurrency(8)
        .per_endpoint_concurrency(4);

    let (running, _queue) = Running::start(builder);
    eventually(Duration::from_secs(60), || {
        sender.attempts_to("healthy") == 100
    })
    .await;
    running.stop().await;

    assert_eq!(
        sender.attempts_to("hanging"),
        4,
        "capped at its share of the slots"
    );
    assert_eq!(outbox.stats(Some("healthy")).await.unwrap().depth(), 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_hands_unfinished_attempts_back_without_counting_them() {
    let sender = FakeSender::new(DeliverySchedule::default(), |_, _| Step::Hang);
    let outbox = MemoryOutbox::new();
    let builder = Dispatcher::builder(outbox.clone(), sender.clone())
        .lease(Duration::from_secs(3600))
        .drain_timeout(Duration::from_secs(5));
    let (running, queue) = Running::start(builder);
    let id = queue.send("orders", "{}").await.unwrap().id;
    eventually(Duration::from_secs(10), || {
        sender.attempts_of(&id).len() == 1
    })
    .await;

    running.stop().await;

    let stats = outbox.stats(None).await.unwrap();
    assert_eq!(
        (stats.pending, stats.in_flight),
        (1, 0),
        "handed back, not left leased"
    );
    let again = outbox.claim(1, Duration::from_secs(60)).await.unwrap();
    assert_eq!(again[0].message.id, id);
    assert_eq!(
        again[0].message.attempts, 0,
        "the interrupted attempt is not counted"
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_attempts_in_flight_finish_within_the_drain_timeout() {
    let sender = FakeSender::new(
        DeliverySchedule::default(),
        |_, _| Step::Answer(delivered()),
    );
    let slow = SlowSender(sender.clone());
    let outbox = MemoryOutbox::new();
    let builder = Dispatcher::builder(outbox.clone(), slow).drain_timeout(Duration::from_secs(5));
    let (running, queue) = Running::start(builder);
    let id = queue.send("orders", "{}").await.unwrap().id;
    eventually(Duration::from_secs(10), || {
        sender.attempts_of(&id).len() == 1
    })
    .await;

    running.stop().await;

    assert_eq!(
        outbox.stats(None).await.unwrap().depth(),
        0,
        "the attempt finished and acked"
    );
}

/// Answers after two seconds of clock time.
struct SlowSender(FakeSender);

#[async_trait::async_trait]
impl pythia::webhook::dispatch::Deliver for SlowSender {
    async fn attempt(
        &self,
        request: &pythia::webhook::AttemptRequest,
    ) -> pythia::webhook::AttemptResult {
        let result = self.0.attempt(request).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        result
    }

    fn next_delay(&self, endpoint: &str, failed: u32) -> Option<Duration> {
        self.0.next_delay(endpoint, failed)
    }
}
