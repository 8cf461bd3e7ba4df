//! A dispatcher's own queue hands fresh messages straight to it when it has room, never ahead
//! of messages already waiting; stopping leaves nothing claimed behind.

#[path = "outbox_support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use pythia::outbox::{
    Claimed, DeadLetter, Enqueued, Lease, MemoryOutbox, NewMessage, Outbox, OutboxError,
    OutboxStats, Replay,
};
use pythia::webhook::dispatch::{DeliverySchedule, Dispatcher};
use support::{delivered, drained, eventually, FakeSender, Running, Step};

const MINUTE: Duration = Duration::from_secs(60);

/// A memory outbox that counts its claims and the messages they returned, and its enqueues
/// made claimed. With `plain`, it says it cannot claim on enqueue, like the Redis outbox.
#[derive(Clone, Default)]
struct Counting {
    inner: MemoryOutbox,
    claims: Arc<AtomicUsize>,
    claimed: Arc<AtomicUsize>,
    enqueued_claimed: Arc<AtomicUsize>,
    plain: bool,
}

#[async_trait]
impl Outbox for Counting {
    async fn enqueue(&self, message: NewMessage) -> Result<Enqueued, OutboxError> {
        self.inner.enqueue(message).await
    }
    async fn enqueue_batch(&self, messages: Vec<NewMessage>) -> Result<Vec<Enqueued>, OutboxError> {
        self.inner.enqueue_batch(messages).await
    }
    fn claims_on_enqueue(&self) -> bool {
        !self.plain && self.inner.claims_on_enqueue()
    }
    async fn enqueue_claimed(
        &self,
        message: NewMessage,
        lease: Duration,
    ) -> Result<(Enqueued, Option<Claimed>), OutboxError> {
        self.enqueued_claimed.fetch_add(1, Ordering::SeqCst);
        self.inner.enqueue_claimed(message, lease).await
    }
    async fn claim(&self, limit: usize, lease: Duration) -> Result<Vec<Claimed>, OutboxError> {
        self.claim_except(limit, lease, &[]).await
    }
    async fn claim_except(
        &self,
        limit: usize,
        lease: Duration,
        skip: &[String],
    ) -> Result<Vec<Claimed>, OutboxError> {
        let claimed = self.inner.claim_except(limit, lease, skip).await?;
        self.claims.fetch_add(1, Ordering::SeqCst);
        self.claimed.fetch_add(claimed.len(), Ordering::SeqCst);
        Ok(claimed)
    }
    async fn ack(&self, id: &str, lease: &Lease) -> Result<(), OutboxError> {
        self.inner.ack(id, lease).await
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

fn always_delivers() -> FakeSender {
    FakeSender::new(DeliverySchedule::new([MINUTE]), |_, _| {
        Step::Answer(delivered())
    })
}

#[tokio::test(start_paused = true)]
async fn a_fresh_message_goes_from_the_queue_to_its_attempt_without_a_claim() {
    let outbox = Counting::default();
    let sender = always_delivers();
    let (running, queue) = Running::start(Dispatcher::builder(outbox.clone(), sender.clone()));
    let claims = outbox.claims.clone();
    eventually(MINUTE, || claims.load(Ordering::SeqCst) > 0).await;

    let id = queue.send("orders", "{}").await.unwrap().id;
    eventually(MINUTE, || !sender.attempts_of(&id).is_empty()).await;
    drained(&outbox, MINUTE).await;
    running.stop().await;

    assert_eq!(sender.attempts_of(&id).len(), 1);
    assert_eq!(
        outbox.claimed.load(Ordering::SeqCst),
        0,
        "the message was handed over, not claimed"
    );
}

#[tokio::test(start_paused = true)]
async fn an_outbox_that_cannot_claim_on_enqueue_gets_its_messages_claimed() {
    let outbox = Counting {
        plain: true,
        ..Counting::default()
    };
    let sender = always_delivers();
    let (running, queue) = Running::start(Dispatcher::builder(outbox.clone(), sender.clone()));
    let claims = outbox.claims.clone();
    eventually(MINUTE, || claims.load(Ordering::SeqCst) > 0).await;

    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(queue.send("orders", format!("{n}")).await.unwrap().id);
    }
    drained(&outbox, MINUTE).await;
    running.stop().await;

    for id in &ids {
        assert_eq!(sender.attempts_of(id).len(), 1, "{id} delivered once");
    }
    assert_eq!(
        outbox.enqueued_claimed.load(Ordering::SeqCst),
        0,
        "no enqueue asked for a claim the outbox cannot give"
    );
    assert_eq!(outbox.claimed.load(Ordering::SeqCst), 3, "each was claimed");
}

#[tokio::test(start_paused = true)]
async fn a_fresh_message_does_not_go_ahead_of_messages_already_due() {
    let outbox = Counting::default();
    let mut waiting = Vec::new();
    for n in 0..10 {
        let message = NewMessage::new("orders", format!("{{\"n\":{n}}}"));
        waiting.push(outbox.enqueue(message).await.unwrap().id);
    }
    let sender = always_delivers();
    let builder = Dispatcher::builder(outbox.clone(), sender.clone()).concurrency(1);
    let (running, queue) = Running::start(builder);

    let fresh = queue.send("orders", "{}").await.unwrap().id;
    drained(&outbox, MINUTE).await;
    running.stop().await;

    let order: Vec<String> = sender.seen.lock().iter().map(|s| s.id.clone()).collect();
    assert_eq!(order.len(), 11, "{order:?}");
    assert_eq!(order.last(), Some(&fresh), "the fresh message went last");
    assert_eq!(
        &order[..10],
        &waiting[..],
        "the waiting ones went oldest first"
    );
}

#[tokio::test(start_paused = true)]
async fn stopping_hands_back_what_was_claimed_ahead_and_in_flight() {
    let outbox = MemoryOutbox::new();
    for n in 0..5 {
        outbox
            .enqueue(NewMessage::new("orders", format!("{n}")))
            .await
            .unwrap();
    }
    let sender = FakeSender::new(DeliverySchedule::new([MINUTE]), |_, _| Step::Hang);
    let builder = Dispatcher::builder(outbox.clone(), sender.clone())
        .concurrency(1)
        .drain_timeout(Duration::from_secs(1));
    let (running, _queue) = Running::start(builder);
    let seen = sender.seen.clone();
    eventually(MINUTE, || !seen.lock().is_empty()).await;

    running.stop().await;

    let stats = outbox.stats(None).await.unwrap();
    assert_eq!(stats.in_flight, 0, "nothing is left claimed: {stats:?}");
    assert_eq!(stats.pending, 5);
    let due = outbox.claim(10, MINUTE).await.unwrap();
    assert_eq!(due.len(), 5, "every message is due again at once");
    assert!(
        due.iter().all(|c| c.message.attempts == 0),
        "no attempt counted"
    );
}

#[tokio::test(start_paused = true)]
async fn a_message_queued_after_the_dispatcher_stopped_is_stored_due() {
    let outbox = MemoryOutbox::new();
    let (running, queue) = Running::start(Dispatcher::builder(outbox.clone(), always_delivers()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    running.stop().await;

    let id = queue.send("orders", "{}").await.unwrap().id;

    let due = outbox.claim(10, MINUTE).await.unwrap();
    assert_eq!(
        due.len(),
        1,
        "not left claimed by a dispatcher that is gone"
    );
    assert_eq!(due[0].message.id, id);
}

#[tokio::test(start_paused = true)]
async fn fresh_messages_to_a_stuck_endpoint_do_not_hold_up_another() {
    let outbox = MemoryOutbox::new();
    let sender = FakeSender::new(DeliverySchedule::new([MINUTE]), |request, _| {
        if request.endpoint == "slow" {
            Step::Hang
        } else {
            Step::Answer(delivered())
        }
    });
    let builder = Dispatcher::builder(outbox.clone(), sender.clone())
        .concurrency(4)
        .per_endpoint_concurrency(2)
        .drain_timeout(Duration::from_secs(1));
    let (running, queue) = Running::start(builder);
    tokio::time::sleep(Duration::from_secs(1)).await;

    for n in 0..20 {
        queue.send("slow", format!("{n}")).await.unwrap();
    }
    let fast = queue.send("fast", "{}").await.unwrap().id;
    eventually(Duration::from_secs(5), || {
        !sender.attempts_of(&fast).is_empty()
    })
    .await;
    running.stop().await;

    assert_eq!(
        sender.attempts_to("slow"),
        2,
        "the stuck endpoint holds its limit"
    );
    let stats = outbox.stats(None).await.unwrap();
    assert_eq!(
        stats.pending, 20,
        "every stuck message is due again after the stop"
    );
}
