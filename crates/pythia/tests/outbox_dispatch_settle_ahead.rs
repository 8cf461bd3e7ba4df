//! An attempt's slot is free as soon as it has an answer: deliveries are acked in batches
//! beside the attempts, and messages claimed ahead wait leased for a slot and go back uncounted
//! on shutdown.

#[path = "outbox_support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use parking_lot::Mutex;
use pythia::outbox::{
    Claimed, DeadLetter, Enqueued, Lease, MemoryOutbox, NewMessage, Outbox, OutboxError,
    OutboxStats, Replay,
};
use pythia::webhook::dispatch::{DeliverySchedule, Dispatcher};
use support::{delivered, drained, eventually, FakeSender, Running, Step};

/// A memory outbox whose acks take `delay` of clock time, recording the size of each batch.
#[derive(Clone)]
struct SlowAcks {
    inner: MemoryOutbox,
    delay: Duration,
    batches: Arc<Mutex<Vec<usize>>>,
}

#[async_trait]
impl Outbox for SlowAcks {
    async fn enqueue(&self, message: NewMessage) -> Result<Enqueued, OutboxError> {
        self.inner.enqueue(message).await
    }

    async fn enqueue_batch(&self, messages: Vec<NewMessage>) -> Result<Vec<Enqueued>, OutboxError> {
        self.inner.enqueue_batch(messages).await
    }

    async fn claim(&self, limit: usize, lease: Duration) -> Result<Vec<Claimed>, OutboxError> {
        self.inner.claim(limit, lease).await
    }

    async fn ack(&self, id: &str, lease: &Lease) -> Result<(), OutboxError> {
        self.batches.lock().push(1);
        tokio::time::sleep(self.delay).await;
        self.inner.ack(id, lease).await
    }

    async fn ack_batch(&self, acks: &[(&str, &Lease)]) -> Vec<Result<(), OutboxError>> {
        self.batches.lock().push(acks.len());
        tokio::time::sleep(self.delay).await;
        self.inner.ack_batch(acks).await
    }

    async fn reschedule(
        &self,
        id: &str,
        lease: &Lease,
        at: SystemTime,
        count_attempt: bool,
        last_error: Option<&str>,
    ) -> Result<(), OutboxError> {
        self.inner
            .reschedule(id, lease, at, count_attempt, last_error)
            .await
    }

    async fn dead_letter(&self, id: &str, lease: &Lease, reason: &str) -> Result<(), OutboxError> {
        self.inner.dead_letter(id, lease, reason).await
    }

    async fn stats(&self, endpoint: Option<&str>) -> Result<OutboxStats, OutboxError> {
        self.inner.stats(endpoint).await
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, OutboxError> {
        self.inner.dead_letters(limit).await
    }

    async fn replay(&self, which: Replay) -> Result<u64, OutboxError> {
        self.inner.replay(which).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_ack_does_not_hold_the_slot_and_deliveries_are_acked_in_batches() {
    let sender = FakeSender::new(
        DeliverySchedule::default(),
        |_, _| Step::Answer(delivered()),
    );
    let outbox = SlowAcks {
        inner: MemoryOutbox::new(),
        delay: Duration::from_secs(10),
        batches: Arc::default(),
    };
    let messages = (0..20)
        .map(|i| NewMessage::new("orders", i.to_string()))
        .collect();
    outbox.enqueue_batch(messages).await.unwrap();
    let builder = Dispatcher::builder(outbox.clone(), sender.clone()).concurrency(2);

    let (running, _queue) = Running::start(builder);
    // Two slots, ten seconds per ack: were a slot held until its ack, five seconds would see
    // two attempts. Up to four deliveries per slot may await their ack.
    eventually(Duration::from_secs(5), || sender.attempts_to("orders") >= 8).await;
    drained(&outbox, Duration::from_secs(300)).await;
    running.stop().await;

    let batches = outbox.batches.lock().clone();
    assert_eq!(
        batches.iter().sum::<usize>(),
        20,
        "every delivery acked once"
    );
    assert!(
        batches.len() <= 6,
        "acks that pile up go together: {batches:?}"
    );
    assert_eq!(sender.attempts_to("orders"), 20, "no attempt repeated");
}

#[tokio::test(start_paused = true)]
async fn messages_claimed_ahead_wait_leased_and_go_back_uncounted_on_shutdown() {
    let sender = FakeSender::new(DeliverySchedule::default(), |_, _| Step::Hang);
    let outbox = MemoryOutbox::new();
    let messages = (0..5)
        .map(|i| NewMessage::new("orders", i.to_string()))
        .collect();
    outbox.enqueue_batch(messages).await.unwrap();
    let builder = Dispatcher::builder(outbox.clone(), sender.clone())
        .concurrency(1)
        .claim_ahead(2)
        .lease(Duration::from_secs(3600))
        .drain_timeout(Duration::from_secs(1));

    let (running, _queue) = Running::start(builder);
    eventually(Duration::from_secs(10), || {
        sender.attempts_to("orders") == 1
    })
    .await;
    let held = outbox.stats(None).await.unwrap();
    running.stop().await;

    assert_eq!(
        (held.pending, held.in_flight),
        (3, 2),
        "one attempt running and one claimed ahead (an endpoint waits at most its limit)"
    );
    assert_eq!(sender.attempts_to("orders"), 1, "one slot, one attempt");
    let after = outbox.stats(None).await.unwrap();
    assert_eq!((after.pending, after.in_flight), (5, 0), "all handed back");
    let again = outbox.claim(10, Duration::from_secs(60)).await.unwrap();
    assert!(
        again.iter().all(|c| c.message.attempts == 0),
        "nothing counted as an attempt"
    );
}
