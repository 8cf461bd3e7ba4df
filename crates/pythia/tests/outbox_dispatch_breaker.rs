//! An open breaker reschedules without burning attempts; a disabled endpoint dead-letters.

#[path = "outbox_support/mod.rs"]
mod support;

use std::time::Duration;

use pythia::outbox::{MemoryOutbox, Outbox};
use pythia::webhook::dispatch::{DeliverySchedule, Dispatcher};
use pythia::webhook::AttemptResult;
use support::{delivered, drained, FakeSender, Running, Step};

const DAY: Duration = Duration::from_secs(24 * 3600);

#[tokio::test(start_paused = true)]
async fn an_open_breaker_reschedules_without_burning_an_attempt() {
    // A schedule of one attempt: a single counted failure would dead-letter the message.
    let schedule = DeliverySchedule::new([]);
    let sender = FakeSender::new(schedule, |_, before| {
        if before < 5 {
            Step::Answer(AttemptResult::BreakerOpen {
                retry_in: Duration::from_secs(30),
            })
        } else {
            Step::Answer(delivered())
        }
    });
    let outbox = MemoryOutbox::new();
    let (running, queue) = Running::start(Dispatcher::builder(outbox.clone(), sender.clone()));

    let id = queue.send("orders", "{}").await.unwrap().id;
    drained(&outbox, DAY).await;
    running.stop().await;

    let attempts = sender.attempts_of(&id);
    assert_eq!(
        attempts.len(),
        6,
        "five refusals by the breaker, then the delivery"
    );
    assert!(outbox.dead_letters(10).await.unwrap().is_empty());
    for pair in attempts.windows(2) {
        assert!(
            pair[1].at - pair[0].at >= Duration::from_secs(30),
            "waited for the breaker"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_disabled_endpoint_dead_letters_its_messages() {
    let sender = FakeSender::new(DeliverySchedule::default(), |_, _| {
        Step::Answer(AttemptResult::EndpointDisabled)
    });
    let outbox = MemoryOutbox::new();
    let (running, queue) = Running::start(Dispatcher::builder(outbox.clone(), sender.clone()));

    queue.send("gone", "{}").await.unwrap();
    drained(&outbox, DAY).await;
    running.stop().await;

    let dead = outbox.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].reason.contains("410"), "{}", dead[0].reason);
    assert_eq!(sender.attempts_to("gone"), 1);
}

#[tokio::test(start_paused = true)]
async fn the_queue_refuses_unknown_endpoints_and_oversized_payloads() {
    let sender = FakeSender::new(
        DeliverySchedule::default(),
        |_, _| Step::Answer(delivered()),
    );
    let outbox = MemoryOutbox::new();
    let dispatcher = Dispatcher::builder(outbox.clone(), sender).build();
    let queue = dispatcher.queue().max_payload_bytes(8);

    let unknown = queue.send("nowhere", "{}").await;
    let empty = queue.send("", "{}").await;
    let huge = queue.send("orders", "0123456789").await;

    assert!(unknown
        .unwrap_err()
        .to_string()
        .contains("unknown webhook endpoint"));
    assert!(empty.is_err());
    assert!(huge
        .unwrap_err()
        .to_string()
        .contains("over the limit of 8 bytes"));
    assert_eq!(
        outbox.stats(None).await.unwrap().depth(),
        0,
        "nothing was stored"
    );
}
