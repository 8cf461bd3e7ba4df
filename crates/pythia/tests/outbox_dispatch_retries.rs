//! The dispatcher retries by the schedule, never early, then dead-letters; a replay delivers.

#[path = "outbox_support/mod.rs"]
mod support;

use std::time::Duration;

use pythia::outbox::{MemoryOutbox, Outbox, Replay};
use pythia::webhook::dispatch::{DeliverySchedule, Dispatcher};
use support::{delivered, drained, eventually, failed, FakeSender, Running, Step};

const DAY: Duration = Duration::from_secs(24 * 3600);

#[tokio::test(start_paused = true)]
async fn failed_attempts_are_retried_by_the_schedule_and_never_early() {
    let schedule = DeliverySchedule::new([Duration::from_secs(10), Duration::from_secs(60)]);
    let sender = FakeSender::new(schedule.clone(), |_, before| match before {
        0 | 1 => Step::Answer(failed(503)),
        _ => Step::Answer(delivered()),
    });
    let outbox = MemoryOutbox::new();
    let (running, queue) = Running::start(Dispatcher::builder(outbox.clone(), sender.clone()));

    let id = queue.send("orders", "{}").await.unwrap().id;
    drained(&outbox, DAY).await;
    running.stop().await;

    let attempts = sender.attempts_of(&id);
    assert_eq!(attempts.len(), 3);
    let first_gap = attempts[1].at - attempts[0].at;
    let second_gap = attempts[2].at - attempts[1].at;
    assert!(first_gap >= Duration::from_secs(10), "{first_gap:?}");
    assert!(first_gap < Duration::from_secs(12), "{first_gap:?}");
    assert!(second_gap >= Duration::from_secs(60), "{second_gap:?}");
    assert!(second_gap < Duration::from_secs(67), "{second_gap:?}");
}

#[tokio::test(start_paused = true)]
async fn a_spent_schedule_dead_letters_with_the_last_error_and_a_replay_delivers() {
    let schedule = DeliverySchedule::new([Duration::from_secs(1), Duration::from_secs(2)]);
    let healthy = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = healthy.clone();
    let sender = FakeSender::new(schedule, move |_, _| {
        if flag.load(std::sync::atomic::Ordering::SeqCst) {
            Step::Answer(delivered())
        } else {
            Step::Answer(failed(502))
        }
    });
    let outbox = MemoryOutbox::new();
    let (running, queue) = Running::start(Dispatcher::builder(outbox.clone(), sender.clone()));

    let id = queue.send("orders", "{}").await.unwrap().id;
    drained(&outbox, DAY).await;

    let dead = outbox.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].message.id, id);
    assert_eq!(
        dead[0].message.attempts, 2,
        "two counted failures, the third attempt buried"
    );
    assert!(
        dead[0].reason.contains("gave up after 3 attempts"),
        "{}",
        dead[0].reason
    );
    assert!(dead[0].reason.contains("502"), "{}", dead[0].reason);
    assert_eq!(sender.attempts_of(&id).len(), 3);

    healthy.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(outbox.replay(Replay::All).await.unwrap(), 1);
    eventually(DAY, || sender.attempts_of(&id).len() == 4).await;
    drained(&outbox, DAY).await;
    running.stop().await;

    assert_eq!(outbox.stats(None).await.unwrap().dead, 0);
}

#[tokio::test(start_paused = true)]
async fn a_failure_a_retry_cannot_fix_is_dead_lettered_at_once() {
    let sender = FakeSender::new(DeliverySchedule::default(), |_, _| {
        Step::Answer(failed(400))
    });
    let outbox = MemoryOutbox::new();
    let (running, queue) = Running::start(Dispatcher::builder(outbox.clone(), sender.clone()));

    let id = queue.send("orders", "{}").await.unwrap().id;
    drained(&outbox, DAY).await;
    running.stop().await;

    let dead = outbox.dead_letters(10).await.unwrap();
    assert_eq!(sender.attempts_of(&id).len(), 1);
    assert!(
        dead[0].reason.starts_with("not retryable: status 400"),
        "{}",
        dead[0].reason
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_longer_than_the_schedule_is_honoured() {
    let schedule = DeliverySchedule::new([Duration::from_secs(1)]).jitter(0.0);
    let sender = FakeSender::new(schedule, |_, before| {
        if before == 0 {
            Step::Answer(pythia::webhook::AttemptResult::Failed {
                status: Some(429),
                error: "too many requests".to_owned(),
                retryable: true,
                retry_after: Some(Duration::from_secs(120)),
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
    assert!(attempts[1].at - attempts[0].at >= Duration::from_secs(120));
}

#[tokio::test(start_paused = true)]
async fn retry_after_beyond_the_cap_waits_only_the_cap() {
    let schedule = DeliverySchedule::new([Duration::from_secs(1)]).jitter(0.0);
    let sender = FakeSender::new(schedule, |_, before| {
        if before == 0 {
            Step::Answer(pythia::webhook::AttemptResult::Failed {
                status: Some(503),
                error: "service unavailable".to_owned(),
                retryable: true,
                retry_after: Some(Duration::from_secs(365 * 24 * 3600)),
            })
        } else {
            Step::Answer(delivered())
        }
    });
    let outbox = MemoryOutbox::new();
    let builder = Dispatcher::builder(outbox.clone(), sender.clone())
        .retry_after_cap(Duration::from_secs(600));
    let (running, queue) = Running::start(builder);

    let id = queue.send("orders", "{}").await.unwrap().id;
    drained(&outbox, DAY).await;
    running.stop().await;

    let attempts = sender.attempts_of(&id);
    assert_eq!(
        attempts.len(),
        2,
        "delivered within a day, not a year later"
    );
    let gap = attempts[1].at - attempts[0].at;
    assert!(gap >= Duration::from_secs(600), "{gap:?}");
    assert!(gap < Duration::from_secs(610), "{gap:?}");
}
